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

/// Whether `tool` runs here (`tool -V` or `--version` answers); a skip otherwise, as
/// [`require_root`]'s: `if !require_tool("name", "strace", "strace") { return; }`.
pub fn require_tool(test: &str, tool: &str, package: &str) -> bool {
    let answers = ["-V", "--version"].iter().any(|flag| {
        std::process::Command::new(tool)
            .arg(flag)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    if answers {
        return true;
    }
    let reason = format!("skipped: {test} needs {tool} (apt-get install {package})");
    if std::env::var_os("NETPILOT_REQUIRE_KERNEL").is_some_and(|v| v == "1") {
        panic!("{reason}, and NETPILOT_REQUIRE_KERNEL=1 forbids skipping");
    }
    eprintln!("{reason}");
    false
}
