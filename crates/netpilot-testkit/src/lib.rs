//! Dev-only helpers for netpilot's kernel tests (tier 2): a fresh network namespace per
//! test, the root gate, processes that hold known sockets, and bounded waits.
#![allow(clippy::print_stderr)]

pub mod bus;
pub mod gate;
pub mod holder;
pub mod keyring;
pub mod netns;
pub mod networkmanager;
pub mod wait;

pub use gate::{require_root, require_tool};
pub use holder::Holder;
