mod connections;
mod ethernet;
mod interfaces;
pub(crate) mod metrics;
mod monitor;
mod netns;
mod ports;
mod traffic;
mod udp;
mod unprivileged;

use serde::de::DeserializeOwned;
use std::process::{Command, Output};

pub const NETPILOT: &str = env!("CARGO_BIN_EXE_netpilot");

/// Enters a fresh namespace, or returns false (printing why) when not root.
pub fn fresh_namespace(test: &str) -> bool {
    if !netpilot_testkit::require_root(test) {
        return false;
    }
    netpilot_testkit::netns::enter_fresh().expect("a fresh network namespace");
    true
}

/// Runs netpilot in the calling thread's namespace.
pub fn netpilot(args: &[&str]) -> Output {
    Command::new(NETPILOT)
        .args(args)
        .output()
        .expect("netpilot runs")
}

/// Runs `netpilot ARGS --json`, expects success, and parses the document.
pub fn netpilot_json<T: DeserializeOwned>(args: &[&str]) -> T {
    let mut args = args.to_vec();
    args.push("--json");
    let output = netpilot(&args);
    assert!(
        output.status.success(),
        "netpilot {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "netpilot {args:?} printed a document the schema rejects ({e}):\n{}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
