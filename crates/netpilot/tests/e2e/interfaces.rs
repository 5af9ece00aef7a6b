use super::{NETPILOT, fresh_namespace, netpilot, netpilot_json};
use netpilot_api::monitor::InterfacesDocument;
use netpilot_core::{Interface, InterfaceKind, LinkCounters};
use netpilot_testkit::Holder;
use netpilot_testkit::netns::Veth;
use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

const DATAGRAMS: u64 = 500;
const PAYLOAD: usize = 1000;
/// UDP payload + UDP header + IPv4 header + Ethernet header, as the veth counts it.
const FRAME: u64 = PAYLOAD as u64 + 8 + 20 + 14;

fn np0(document: &InterfacesDocument) -> &Interface {
    &document
        .interfaces
        .iter()
        .find(|s| s.interface.name == "np0")
        .expect("np0 is listed")
        .interface
}

fn delta(before: &LinkCounters, after: &LinkCounters) -> LinkCounters {
    LinkCounters {
        rx_bytes: after.rx_bytes - before.rx_bytes,
        tx_bytes: after.tx_bytes - before.tx_bytes,
        rx_packets: after.rx_packets - before.rx_packets,
        tx_packets: after.tx_packets - before.tx_packets,
        rx_errors: after.rx_errors - before.rx_errors,
        tx_errors: after.tx_errors - before.tx_errors,
        rx_dropped: after.rx_dropped - before.rx_dropped,
        tx_dropped: after.tx_dropped - before.tx_dropped,
    }
}

/// Sends DATAGRAMS datagrams to the peer's bound UDP port across the veth.
fn send_burst() {
    let socket = UdpSocket::bind("10.77.0.1:0").unwrap();
    for _ in 0..DATAGRAMS {
        socket.send_to(&[0u8; PAYLOAD], "10.77.0.2:9000").unwrap();
    }
}

#[test]
fn interfaces_counts_exactly_the_frames_sent_over_a_veth_and_their_rate() {
    if !fresh_namespace("interfaces_counts_exactly_the_frames_sent_over_a_veth_and_their_rate") {
        return;
    }
    let mut peer = Holder::spawn_isolated("np-peer").unwrap();
    Veth::DEFAULT.connect_to(peer.pid()).unwrap();
    peer.bind_udp("udp", "10.77.0.2", 9000);

    let before: InterfacesDocument = netpilot_json(&["interfaces", "--no-rate"]);
    assert_eq!(before.interval_ms, None);
    let link = np0(&before);
    assert_eq!(
        (link.kind, link.link_kind.as_deref()),
        (InterfaceKind::Virtual, Some("veth"))
    );
    assert_eq!(link.mac.as_deref(), Some("02:00:00:00:77:01"));
    assert!(link.carrier && link.admin_up);
    assert_eq!(link.ipv4[0].to_string(), "10.77.0.1/24");
    assert!(before.interfaces.iter().all(|s| s.rate.is_none()));

    send_burst();
    let after: InterfacesDocument = netpilot_json(&["interfaces", "--no-rate"]);
    let moved = delta(&np0(&before).counters, &np0(&after).counters);
    assert_eq!(
        moved,
        LinkCounters {
            tx_packets: DATAGRAMS,
            tx_bytes: DATAGRAMS * FRAME,
            ..LinkCounters::default()
        }
    );

    // A rate sampled over an interval that contains the burst.
    let sampler = Command::new(NETPILOT)
        .args(["interfaces", "--interval", "3", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    send_burst();
    let output = sampler.wait_with_output().unwrap();
    assert!(output.status.success());
    let sampled: InterfacesDocument = serde_json::from_slice(&output.stdout).unwrap();
    let seconds = sampled.interval_ms.expect("an interval") as f64 / 1000.0;
    assert!((3.0..3.5).contains(&seconds), "{seconds}");
    let rate = sampled
        .interfaces
        .iter()
        .find(|s| s.interface.name == "np0")
        .unwrap()
        .rate
        .unwrap();
    let tx_bytes = rate.tx_bytes_per_sec * seconds;
    let expected = (DATAGRAMS * FRAME) as f64;
    assert!(
        (tx_bytes - expected).abs() / expected < 0.01,
        "{tx_bytes} vs {expected}"
    );
    assert!(
        (rate.tx_packets_per_sec * seconds - DATAGRAMS as f64).abs() < 5.0,
        "{rate:?}"
    );
    assert_eq!(rate.rx_bytes_per_sec, 0.0);
}

#[test]
fn the_interfaces_table_shows_state_addresses_and_counters() {
    if !fresh_namespace("the_interfaces_table_shows_state_addresses_and_counters") {
        return;
    }
    let output = netpilot(&["interfaces", "--no-rate"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "1: lo  loopback  UNKNOWN  carrier  mtu 65536",
        "{text}"
    );
    assert_eq!(lines[1], "    inet   127.0.0.1/8");
    assert_eq!(lines[2], "    inet6  ::1/128");
    assert!(
        lines[3].starts_with("    RX  ") && lines[3].contains(" packets  "),
        "{text}"
    );
}
