//! Tests of the `netpilot` binary: tier 1 (CLI shape, JSON schema docs) and tier 2
//! (the real binary against known sockets and links in fresh network namespaces).
// Helpers here are not `#[test]` functions, which clippy.toml already lets unwrap.
#![allow(clippy::unwrap_used)]

mod cli;
pub(crate) mod daemon;
mod e2e;
mod lab;
mod private_files;
mod schema;
