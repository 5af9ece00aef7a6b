//! The eBPF packet counter against the real kernel: datagrams of known sizes between two
//! namespaces over a veth pair, counted per socket cookie on both ends.

use super::fresh_namespace;
use netpilot_core::ports::{FlowSource, SocketQuery, SocketSource};
use netpilot_core::{Flow, FlowCounters, Protocol, Socket};
use netpilot_linux::{FlowCounter, SockDiag};
use netpilot_testkit::netns::Veth;
use netpilot_testkit::{Holder, wait};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Runs `f` on a thread in the network namespace `pid` lives in (netlink sockets and the
/// counter's namespace are those of the thread that opens them).
fn in_namespace_of<T: Send + 'static>(pid: u32, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
        rustix::thread::move_into_link_name_space(
            std::os::fd::AsFd::as_fd(&ns),
            Some(rustix::thread::LinkNameSpaceType::Network),
        )
        .unwrap();
        f()
    })
    .join()
    .unwrap()
}

fn udp_sockets() -> Vec<Socket> {
    let query = SocketQuery {
        protocols: vec![Protocol::Udp],
        states: None,
        tcp_counters: false,
    };
    SockDiag::open().unwrap().sockets(&query).unwrap()
}

fn cookie_on_port(sockets: &[Socket], port: u16) -> u64 {
    sockets
        .iter()
        .find(|s| s.local.port() == port)
        .unwrap_or_else(|| panic!("a UDP socket on port {port}: {sockets:#?}"))
        .cookie
}

/// Every flow of one socket, summed.
fn of_socket(flows: &[Flow], cookie: u64) -> FlowCounters {
    let mut sum = FlowCounters::default();
    for flow in flows.iter().filter(|f| f.key.cookie == cookie) {
        sum.add(&flow.counters);
    }
    sum
}

fn udp_to_each_end(family: &str) {
    let v6 = family == "udp6";
    let mut source = Holder::spawn_isolated("np-udp-src").unwrap();
    if v6 {
        Veth::DEFAULT.connect_dual_stack(source.pid()).unwrap();
    } else {
        Veth::DEFAULT.connect_to(source.pid()).unwrap();
    }
    let (local_ip, peer_ip) = if v6 {
        (Veth::LOCAL_IP6, Veth::PEER_IP6)
    } else {
        (Veth::DEFAULT.local_ip, Veth::DEFAULT.peer_ip)
    };
    let mut sink = Holder::spawn("np-udp-dst").unwrap();
    let (_, sink_port) = sink.udp(family, local_ip, 7300);
    let mut bystander = Holder::spawn("np-udp-idle").unwrap();
    let (_, idle_port) = bystander.udp(family, local_ip, 7301);

    let mut counter = FlowCounter::start().expect("the counter starts as root");
    let mut counter_there = in_namespace_of(source.pid(), FlowCounter::start).unwrap();
    // Unconnected: sendto() each datagram; connected: send() to the socket's peer.
    let wildcard = if v6 { "::" } else { "0.0.0.0" };
    let (unconnected, unconnected_port) = source.udp(family, wildcard, 0);
    source.send_datagrams(unconnected, 1_000, 200, Some((local_ip, sink_port)));
    let (connected, connected_port) = source.connect(family, local_ip, sink_port);
    source.send_datagrams(connected, 500, 300, None);
    let payload = 200 * 1_000 + 300 * 500;
    wait::until(
        "the sink to read every datagram",
        Duration::from_secs(10),
        || (sink.udp_received() == (payload, 500)).then_some(()),
    );

    let flows = counter.flows().unwrap();
    let flows_there = counter_there.flows().unwrap();
    let here = udp_sockets();
    let there = in_namespace_of(source.pid(), udp_sockets);
    let headers: u64 = if v6 { 40 + 8 } else { 20 + 8 };

    let sink_cookie = cookie_on_port(&here, sink_port);
    let got = of_socket(&flows, sink_cookie);
    assert_eq!(
        (got.rx_payload, got.rx_packets, got.tx_payload),
        (payload, 500, 0),
        "the sink received exactly what was sent"
    );
    assert_eq!(
        got.rx_wire,
        payload + 500 * headers,
        "IP and UDP headers, once per datagram"
    );
    // One flow per remote end, with the sender's address and port.
    let remotes: Vec<SocketAddr> = flows
        .iter()
        .filter(|f| f.key.cookie == sink_cookie)
        .map(|f| f.key.remote)
        .collect();
    let peer: IpAddr = peer_ip.parse().unwrap();
    let mut expected = vec![
        SocketAddr::new(peer, unconnected_port),
        SocketAddr::new(peer, connected_port),
    ];
    let mut remotes_sorted = remotes.clone();
    remotes_sorted.sort();
    expected.sort();
    assert_eq!(remotes_sorted, expected);
    assert!(
        flows
            .iter()
            .filter(|f| f.key.cookie == sink_cookie)
            .all(|f| f.key.ip_protocol == 17)
    );

    if counter.this_namespace_only() {
        // Each counter sees its own namespace's sockets only.
        assert!(
            flows
                .iter()
                .all(|f| there.iter().all(|s| s.cookie != f.key.cookie))
        );
        assert!(flows_there.iter().all(|f| f.key.cookie != sink_cookie));
    }
    let sent_unconnected = of_socket(&flows_there, cookie_on_port(&there, unconnected_port));
    assert_eq!(
        (
            sent_unconnected.tx_payload,
            sent_unconnected.tx_packets,
            sent_unconnected.rx_payload
        ),
        (200_000, 200, 0)
    );
    let sent_connected = of_socket(&flows_there, cookie_on_port(&there, connected_port));
    assert_eq!(
        (sent_connected.tx_payload, sent_connected.tx_packets),
        (150_000, 300)
    );
    assert!(
        of_socket(&flows, cookie_on_port(&here, idle_port)).is_zero(),
        "the bystander moved nothing"
    );
}

#[test]
fn udp_over_ipv4_is_counted_per_socket_at_both_ends() {
    if !fresh_namespace("udp_over_ipv4_is_counted_per_socket_at_both_ends") {
        return;
    }
    udp_to_each_end("udp");
}

#[test]
fn udp_over_ipv6_is_counted_per_socket_at_both_ends() {
    if !fresh_namespace("udp_over_ipv6_is_counted_per_socket_at_both_ends") {
        return;
    }
    udp_to_each_end("udp6");
}

/// The map entry outlives the socket (the cookie is never reused), so a socket closed
/// between two reads keeps its bytes until the reader forgets it.
#[test]
fn a_closed_socket_keeps_its_counts_until_forgotten() {
    if !fresh_namespace("a_closed_socket_keeps_its_counts_until_forgotten") {
        return;
    }
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut counter = FlowCounter::start().unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender_port = sender.local_addr().unwrap().port();
    let cookie = cookie_on_port(&udp_sockets(), sender_port);
    for _ in 0..10 {
        sender
            .send_to(&[7; 321], receiver.local_addr().unwrap())
            .unwrap();
    }
    drop(sender);
    assert!(
        udp_sockets().iter().all(|s| s.cookie != cookie),
        "the socket is gone"
    );
    let flows = counter.flows().unwrap();
    assert_eq!(of_socket(&flows, cookie).tx_payload, 3_210);
    let keys: Vec<_> = flows
        .iter()
        .filter(|f| f.key.cookie == cookie)
        .map(|f| f.key)
        .collect();
    counter.forget(&keys);
    assert!(of_socket(&counter.flows().unwrap(), cookie).is_zero());
    assert_eq!(counter.missed(), 0);
}

fn bpftool_knows_program(id: u32) -> bool {
    std::process::Command::new("bpftool")
        .args(["prog", "show", "id", &id.to_string()])
        .output()
        .expect("bpftool runs (scripts/test installs it)")
        .status
        .success()
}

#[test]
fn two_counters_count_at_once_and_a_dropped_one_leaves_nothing_attached() {
    if !fresh_namespace("two_counters_count_at_once_and_a_dropped_one_leaves_nothing_attached") {
        return;
    }
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let cookie = cookie_on_port(&udp_sockets(), sender.local_addr().unwrap().port());
    let mut first = FlowCounter::start().unwrap();
    let mut second = FlowCounter::start().unwrap();
    let ids = first.program_ids();
    assert_eq!(ids.len(), 2, "ingress and egress");
    assert!(ids.iter().all(|&id| bpftool_knows_program(id)));
    for _ in 0..5 {
        sender
            .send_to(&[1; 100], receiver.local_addr().unwrap())
            .unwrap();
    }
    assert_eq!(of_socket(&first.flows().unwrap(), cookie).tx_payload, 500);
    assert_eq!(of_socket(&second.flows().unwrap(), cookie).tx_payload, 500);
    drop(first);
    wait::until(
        "the kernel to free the dropped counter's programs",
        Duration::from_secs(5),
        || {
            ids.iter()
                .all(|&id| !bpftool_knows_program(id))
                .then_some(())
        },
    );
    sender
        .send_to(&[1; 100], receiver.local_addr().unwrap())
        .unwrap();
    assert_eq!(
        of_socket(&second.flows().unwrap(), cookie).tx_payload,
        600,
        "the other one still counts"
    );
}

/// Without privileges the counter says why and what would fix it. Capabilities are per
/// thread: this one gives up root's before starting the counter.
#[test]
fn without_privileges_the_counter_says_why() {
    if !fresh_namespace("without_privileges_the_counter_says_why") {
        return;
    }
    let error = std::thread::spawn(|| {
        let nobody = rustix::process::Uid::from_raw(65534);
        rustix::thread::set_thread_res_uid(nobody, nobody, nobody).unwrap();
        FlowCounter::start()
            .err()
            .expect("an unprivileged thread cannot load it")
    })
    .join()
    .unwrap();
    assert_eq!(
        error.code,
        netpilot_core::ErrorCode::PermissionDenied,
        "{error:?}"
    );
    assert!(
        error.message.contains("UDP bytes are not measured"),
        "{}",
        error.message
    );
    assert!(
        error.hint.as_deref().unwrap_or("").contains("setcap"),
        "{error:?}"
    );
}

/// Where no cgroup2 is mounted, one is mounted in a mount namespace of a helper thread's
/// own and let go at once: the counter attached through it still counts, and the host's
/// mount table and temporary directory show nothing of it.
#[test]
fn a_private_cgroup2_mount_attaches_and_leaves_nothing_behind() {
    if !fresh_namespace("a_private_cgroup2_mount_attaches_and_leaves_nothing_behind") {
        return;
    }
    let how = netpilot_linux::flows::Start {
        private_mount: true,
        every_namespace: false,
    };
    let mut counter = FlowCounter::start_with(how).unwrap();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains("netpilot-cgroup2"),
        "no mount is left:\n{mounts}"
    );
    let prefix = format!("netpilot-cgroup2-{}-", std::process::id());
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let cookie = cookie_on_port(&udp_sockets(), sender.local_addr().unwrap().port());
    sender
        .send_to(&[0; 200], receiver.local_addr().unwrap())
        .unwrap();
    assert_eq!(of_socket(&counter.flows().unwrap(), cookie).tx_payload, 200);
}

/// The program for kernels before 6.14 (no namespace filter) loads and counts too; it
/// sees other namespaces' sockets, which the meter then leaves out.
#[test]
fn the_program_without_the_namespace_filter_counts_every_namespace() {
    if !fresh_namespace("the_program_without_the_namespace_filter_counts_every_namespace") {
        return;
    }
    let how = netpilot_linux::flows::Start {
        private_mount: false,
        every_namespace: true,
    };
    let mut counter = FlowCounter::start_with(how).unwrap();
    assert!(!counter.this_namespace_only());
    let elsewhere = std::thread::spawn(|| {
        netpilot_testkit::netns::enter_fresh().unwrap();
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let cookie = cookie_on_port(&udp_sockets(), sender.local_addr().unwrap().port());
        sender
            .send_to(&[0; 300], receiver.local_addr().unwrap())
            .unwrap();
        cookie
    })
    .join()
    .unwrap();
    assert_eq!(
        of_socket(&counter.flows().unwrap(), elsewhere).tx_payload,
        300
    );
}

/// The UDP dump carries each socket's drop counter: datagrams the counter saw arrive that
/// a full receive queue then refused.
#[test]
fn the_udp_dump_counts_datagrams_a_full_queue_dropped() {
    if !fresh_namespace("the_udp_dump_counts_datagrams_a_full_queue_dropped") {
        return;
    }
    let receiver = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    receiver.set_recv_buffer_size(4096).unwrap();
    receiver
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let receiver: std::net::UdpSocket = receiver.into();
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..100 {
        sender
            .send_to(&[9; 1_000], receiver.local_addr().unwrap())
            .unwrap();
    }
    let port = receiver.local_addr().unwrap().port();
    let drops = udp_sockets()
        .iter()
        .find(|s| s.local.port() == port)
        .and_then(|s| s.drops)
        .expect("the drop counter is dumped");
    receiver.set_nonblocking(true).unwrap();
    let mut queued = 0;
    while receiver.recv(&mut [0; 2_000]).is_ok() {
        queued += 1;
    }
    assert!(drops > 0, "a 4 KiB queue cannot hold 100 KB");
    assert_eq!(
        u64::from(drops) + queued,
        100,
        "each datagram was queued or dropped"
    );
}
