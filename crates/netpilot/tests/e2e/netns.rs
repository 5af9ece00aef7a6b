use super::{netpilot, netpilot_json};
use netpilot_api::monitor::{
    ConnectionsDocument, ErrorDocument, InterfacesDocument, PortsDocument,
};
use netpilot_core::ErrorCode;
use netpilot_testkit::Holder;
use netpilot_testkit::netns::NamedNetns;

#[test]
fn every_monitor_command_inspects_a_named_namespace() {
    if !netpilot_testkit::require_root("every_monitor_command_inspects_a_named_namespace") {
        return;
    }
    let netns = NamedNetns::create("np-named").unwrap();
    let mut holder =
        Holder::spawn_with(&["ip", "netns", "exec", &netns.name], "np-inside").unwrap();
    holder.listen("tcp", "127.0.0.1", 7300);

    let connections: ConnectionsDocument = netpilot_json(&["connections", "--netns", &netns.name]);
    assert_eq!(connections.connections.len(), 1, "{connections:#?}");
    assert_eq!(connections.connections[0].local.port(), 7300);
    assert_eq!(&*connections.connections[0].processes[0].name, "np-inside");

    let ports: PortsDocument = netpilot_json(&["ports", "--netns", &netns.name]);
    assert_eq!(
        ports.ports.iter().map(|p| p.port).collect::<Vec<_>>(),
        vec![7300]
    );

    let interfaces: InterfacesDocument =
        netpilot_json(&["interfaces", "--no-rate", "--netns", &netns.name]);
    let names: Vec<&str> = interfaces
        .interfaces
        .iter()
        .map(|i| i.interface.name.as_str())
        .collect();
    assert_eq!(names, vec!["lo"]);

    let output = netpilot(&[
        "traffic",
        "--count",
        "1",
        "--interval",
        "0.1",
        "--netns",
        &netns.name,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .contains("np-inside")
    );
}

#[test]
fn an_unknown_namespace_is_a_usage_error_with_a_hint() {
    let output = netpilot(&["connections", "--netns", "np-does-not-exist"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("no network namespace named \"np-does-not-exist\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: list them with: ip netns list"),
        "{stderr}"
    );

    let output = netpilot(&["ports", "--netns", "np-does-not-exist", "--json"]);
    assert_eq!(output.status.code(), Some(2));
    let document: ErrorDocument = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document.error.code, ErrorCode::NetnsNotFound);
}
