//! Tier-2 tests need root for network namespaces. Locally they skip with a printed
//! reason; with `NETPILOT_REQUIRE_KERNEL=1` (as `.ci/run` sets) a skip is a failure.

/// Whether the test may run. Call first thing: `if !require_root("name") { return; }`.
pub fn require_root(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    let reason = format!("skipped: {test} needs CAP_NET_ADMIN and CAP_SYS_ADMIN (run as root)");
    if std::env::var_os("NETPILOT_REQUIRE_KERNEL").is_some_and(|v| v == "1") {
        panic!("{reason}, and NETPILOT_REQUIRE_KERNEL=1 forbids skipping");
    }
    eprintln!("{reason}");
    false
}
