use super::{NETPILOT, fresh_namespace};
use netpilot_api::monitor::ConnectionsDocument;
use netpilot_testkit::Holder;
use std::path::PathBuf;
use std::process::Command;

/// A copy of the binary that `nobody` may run (the build tree may sit in a directory only
/// root can enter, such as a clone under /root), removed on drop.
struct RunnableCopy(PathBuf);

impl RunnableCopy {
    fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("np-unprivileged-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::copy(NETPILOT, dir.join("netpilot")).unwrap();
        RunnableCopy(dir)
    }

    /// Runs netpilot as `nobody`, as an ordinary user would.
    fn as_nobody(&self, args: &[&str]) -> std::process::Output {
        Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(self.0.join("netpilot"))
            .args(args)
            .output()
            .expect("setpriv runs")
    }
}

impl Drop for RunnableCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn without_privileges_root_sockets_are_shown_without_owner_and_the_gap_is_explained() {
    if !fresh_namespace(
        "without_privileges_root_sockets_are_shown_without_owner_and_the_gap_is_explained",
    ) {
        return;
    }
    let mut root_owned = Holder::spawn("np-rootd").unwrap();
    root_owned.listen("tcp", "127.0.0.1", 7400);
    root_owned.bind_udp("udp", "127.0.0.1", 7401);

    let netpilot = RunnableCopy::new();
    let output = netpilot.as_nobody(&["connections", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: ConnectionsDocument = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        document.connections.len(),
        2,
        "the sockets themselves are visible"
    );
    assert!(document.connections.iter().all(|c| c.processes.is_empty()));
    assert_eq!(document.visibility.unattributed_sockets, 2);
    assert!(document.visibility.unreadable_processes >= 1);
    let note = String::from_utf8(output.stderr).unwrap();
    assert!(
        note.contains("2 sockets could not be attributed to a process"),
        "{note}"
    );
    assert!(note.contains("sudo netpilot connections"), "{note}");
    assert!(
        note.contains("cap_sys_ptrace,cap_dac_read_search"),
        "{note}"
    );

    let quiet = netpilot.as_nobody(&["ports", "--quiet"]);
    assert!(quiet.status.success());
    assert!(quiet.stderr.is_empty(), "--quiet silences notes");
    let table = String::from_utf8(quiet.stdout).unwrap();
    assert!(table.contains("7400") && table.contains("7401"), "{table}");

    let traffic = netpilot.as_nobody(&["traffic", "--count", "1", "--interval", "0.1"]);
    assert!(
        traffic.status.success(),
        "{}",
        String::from_utf8_lossy(&traffic.stderr)
    );
}

#[test]
fn issue_14_without_privileges_tcp_is_measured_and_udp_says_why_not() {
    if !fresh_namespace("issue_14_without_privileges_tcp_is_measured_and_udp_says_why_not") {
        return;
    }
    let netpilot = RunnableCopy::new();
    let output = netpilot.as_nobody(&["traffic", "--json", "--count", "1", "--interval", "0.1"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: netpilot_api::monitor::TrafficDocument =
        serde_json::from_slice(&output.stdout).unwrap();
    assert!(!document.udp_bytes_measured);
    let why = document.udp_not_measured.expect("the reason is given");
    assert_eq!(
        why.code,
        netpilot_core::ErrorCode::PermissionDenied,
        "{why:?}"
    );
    assert!(
        why.message.contains("UDP bytes are not measured"),
        "{}",
        why.message
    );
    assert!(why.message.contains("CAP_BPF"), "{}", why.message);
    assert!(
        why.hint.as_deref().is_some_and(|h| h.contains("setcap")),
        "{why:?}"
    );
    let note = String::from_utf8(output.stderr).unwrap();
    assert!(
        note.contains("UDP bytes are not measured") && note.contains("setcap"),
        "{note}"
    );

    let table = netpilot.as_nobody(&["traffic", "--count", "1", "--interval", "0.1"]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("TCP payload over") && text.contains("UDP bytes not measured"),
        "{text}"
    );
}
