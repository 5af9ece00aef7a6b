//! Tier-2 tests of the Linux backends: against the real kernel, each in a fresh network
//! namespace (root; see docs/testing.md), and the secret agent over a real D-Bus
//! connection (peer to peer, no privileges).
// Helpers here are not `#[test]` functions, which clippy.toml already lets unwrap.
#![allow(clippy::unwrap_used)]

mod dbus;
mod kernel;
