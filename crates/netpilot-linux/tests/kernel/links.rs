use netpilot_core::ports::LinkSource;
use netpilot_core::{InterfaceKind, OperState};
use netpilot_linux::Links;
use netpilot_testkit::netns::ip;

#[test]
fn loopback_and_a_veth_pair_are_listed_with_kind_addresses_and_state() {
    if !super::fresh_namespace("loopback_and_a_veth_pair_are_listed_with_kind_addresses_and_state")
    {
        return;
    }
    ip(&[
        "link",
        "add",
        "np0",
        "address",
        "02:00:00:00:00:01",
        "mtu",
        "1400",
        "type",
        "veth",
        "peer",
        "name",
        "np1",
    ])
    .unwrap();
    ip(&["addr", "add", "10.99.0.1/24", "dev", "np0"]).unwrap();
    ip(&["addr", "add", "fd99::1/64", "dev", "np0", "nodad"]).unwrap();
    ip(&["link", "set", "np0", "up"]).unwrap();

    let interfaces = Links::open().unwrap().interfaces().unwrap();
    let mut names: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, vec!["lo", "np0", "np1"]);
    let lo = interfaces.iter().find(|i| i.name == "lo").unwrap();
    assert_eq!(lo.kind, InterfaceKind::Loopback);
    assert_eq!(lo.mac, None);
    assert_eq!(lo.ipv4[0].to_string(), "127.0.0.1/8");

    let np0 = interfaces.iter().find(|i| i.name == "np0").unwrap();
    assert_eq!(np0.kind, InterfaceKind::Virtual);
    assert_eq!(np0.link_kind.as_deref(), Some("veth"));
    assert_eq!(np0.mac.as_deref(), Some("02:00:00:00:00:01"));
    assert_eq!(np0.mtu, 1400);
    assert!(np0.admin_up);
    assert_eq!(
        np0.ipv4.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        vec!["10.99.0.1/24"]
    );
    assert!(
        np0.ipv6.iter().any(|a| a.to_string() == "fd99::1/64"),
        "{:?}",
        np0.ipv6
    );
    // Its peer is down, so it has no carrier.
    assert!(!np0.carrier);
    assert_eq!(np0.oper_state, OperState::LowerLayerDown);

    let np1 = interfaces.iter().find(|i| i.name == "np1").unwrap();
    assert!(!np1.admin_up);
    assert_eq!(np1.oper_state, OperState::Down);
}
