//! netpilot's ports implemented on Linux, each tested against the real kernel.
//!
//! Layer: backends. Depends on `netpilot-core` only (never on the engine). Modules:
//! [`links`] (rtnetlink link and address dumps), [`sockdiag`] (`NETLINK_SOCK_DIAG` dumps
//! and destroy notices), [`flows`] (the eBPF packet counter: bytes per socket for every
//! protocol), [`rdns`] (reverse DNS off the refresh path), [`procfs`] (socket ownership from `/proc/PID/fd`), [`netns`]
//! (`--netns NAME`), [`routes`] (default routes and their changes), [`link_watch`] (a
//! link's kernel signals), [`probe`] (probes bound to a link), [`radio`] (nl80211: interface
//! combinations, virtual stations), [`device_checks`] (`device test`), [`nm`]
//! (NetworkManager over D-Bus and the secret agent, behind the WiFi and device-link ports),
//! [`secrets`] (agent-owned secrets at rest), [`private_file`] (the rules for files only their
//! owner may read: checked, written atomically). Raw netlink and NetworkManager types never
//! leave this crate.
// Only the binary writes to stdout and stderr, so `--json` output stays clean.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod device_checks;
mod errors;
pub mod flows;
pub mod link_watch;
pub mod links;
mod netlink;
pub mod netns;
pub mod nm;
pub mod private_file;
pub mod probe;
pub mod procfs;
pub mod radio;
pub mod rdns;
pub mod routes;
pub mod secrets;
pub mod sockdiag;

pub use flows::FlowCounter;
pub use links::Links;
pub use procfs::ProcFs;
pub use sockdiag::{ClosedSocketListener, SockDiag};
