//! The device probes over a real veth to a host in another namespace: a device that
//! ignores pings still answers the ARP probe; a device that is gone answers neither.

use netpilot_core::ErrorCode;
use netpilot_linux::probe;
use netpilot_testkit::netns::{NamedNetns, ip, run};
use std::net::Ipv4Addr;
use std::time::Duration;

#[test]
fn a_device_that_ignores_pings_answers_the_arp_probe_and_one_that_is_gone_answers_neither() {
    if !super::fresh_namespace("a_device_that_ignores_pings_answers_the_arp_probe") {
        return;
    }
    let robot = NamedNetns::create("np-robot").unwrap();
    ip(&[
        "link", "add", "np-link", "type", "veth", "peer", "name", "np-robot",
    ])
    .unwrap();
    ip(&["link", "set", "np-robot", "netns", &robot.name]).unwrap();
    ip(&["addr", "add", "172.31.1.100/24", "dev", "np-link"]).unwrap();
    ip(&["link", "set", "np-link", "up"]).unwrap();
    ip(&[
        "-n",
        &robot.name,
        "addr",
        "add",
        "172.31.1.1/24",
        "dev",
        "np-robot",
    ])
    .unwrap();
    ip(&["-n", &robot.name, "link", "set", "np-robot", "up"]).unwrap();
    // Its firmware ignores pings.
    run(
        "ip",
        &[
            "netns",
            "exec",
            &robot.name,
            "sysctl",
            "-qw",
            "net.ipv4.icmp_echo_ignore_all=1",
        ],
    )
    .unwrap();
    let device = Ipv4Addr::new(172, 31, 1, 1);
    let timeout = Duration::from_millis(500);

    let rtt = probe::arp(device, "np-link", timeout).expect("the device answers ARP");
    assert!(rtt < timeout);
    // Again: now asked at the hardware address it answered from.
    probe::arp(device, "np-link", timeout).expect("the device answers a unicast ARP");
    let ping = probe::icmp(device, "np-link", timeout).unwrap_err();
    assert_eq!(ping.code, ErrorCode::Timeout, "{ping:?}");

    // Another address on the link: nobody answers for it.
    let nobody = probe::arp(Ipv4Addr::new(172, 31, 1, 2), "np-link", timeout).unwrap_err();
    assert_eq!(nobody.code, ErrorCode::Timeout, "{nobody:?}");
    assert!(nobody.message.contains("172.31.1.2"), "{nobody:?}");

    // The device switched off (its link down): no answer within the timeout.
    ip(&["-n", &robot.name, "link", "set", "np-robot", "down"]).unwrap();
    let gone = probe::arp(device, "np-link", timeout).unwrap_err();
    assert_eq!(gone.code, ErrorCode::Timeout, "{gone:?}");

    // An interface without IPv4 has nothing to ask from; an unknown one is named.
    ip(&["addr", "flush", "dev", "np-link"]).unwrap();
    let unaddressed = probe::arp(device, "np-link", timeout).unwrap_err();
    assert!(
        unaddressed.message.contains("no IPv4 address"),
        "{unaddressed:?}"
    );
    let unknown = probe::arp(device, "np-nothing", timeout).unwrap_err();
    assert_eq!(unknown.code, ErrorCode::NotFound, "{unknown:?}");
}
