//! Tier-2 tests of the Linux backends against the real kernel, each in a fresh network
//! namespace. They need root; see docs/testing.md.
// Helpers here are not `#[test]` functions, which clippy.toml already lets unwrap.
#![allow(clippy::unwrap_used)]

mod kernel;
