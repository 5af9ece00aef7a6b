//! Tests of the `netpilot` binary: tier 1 (CLI shape, JSON schema docs) and tier 2
//! (the real binary against known sockets and links in fresh network namespaces).

mod cli;
mod e2e;
