//! The meter over fake sockets, processes and flows: TCP from `tcp_info`, destroy
//! notices, UDP from the packet counter, and what is reused while TCP is quiet.

use super::*;
use crate::testing::{FakeClosedFeed, FakeFlows, FakeProcesses, FakeSockets, tcp_socket};
use netpilot_core::{FlowCounters, TcpCounters};

/// A socket whose counters say it sent `tx` and received `rx` payload bytes
/// (acked includes the SYN, as on the connecting side).
fn moving(inode: u64, rx: u64, tx: u64) -> Socket {
    let mut socket = tcp_socket(inode);
    socket.tcp = Some(TcpCounters {
        bytes_acked: tx + 1,
        bytes_received: rx,
        bytes_sent: tx,
        bytes_retrans: 0,
    });
    socket
}

fn closed(cookie: u64, rx_raw: u64, tx: u64) -> ClosedSocket {
    ClosedSocket {
        cookie,
        counters: TcpCounters {
            bytes_acked: tx + 2,
            bytes_received: rx_raw,
            bytes_sent: tx,
            bytes_retrans: 0,
        },
    }
}

type Meter = TrafficMeter<FakeSockets, FakeProcesses, FakeClosedFeed>;

fn meter(sockets: Vec<Socket>, procs: FakeProcesses) -> (Meter, Instant) {
    let meter = TrafficMeter::new(
        FakeSockets::new(sockets),
        procs,
        Some(FakeClosedFeed::default()),
    );
    (meter, Instant::now())
}

/// Queues a destroy notice for the meter's next sample.
fn notify(meter: &mut Meter, notice: ClosedSocket) {
    meter
        .closed
        .as_mut()
        .expect("the meter has a feed")
        .closed
        .push(notice);
}

fn secs(start: Instant, s: u64) -> Instant {
    start + Duration::from_secs(s)
}

fn row(sample: &TrafficSample, pid: u32) -> &ProcessTraffic {
    sample
        .processes
        .iter()
        .find(|p| p.pid == pid)
        .expect("process is reported")
}

#[test]
fn connection_rows_come_from_the_sample_and_a_quiet_refresh_reads_no_fd_table() {
    let mut listener = tcp_socket(2);
    listener.state = SocketState::Listen;
    listener.remote = None;
    listener.local = ([0, 0, 0, 0], 80).into();
    let mut udp = tcp_socket(3);
    udp.protocol = Protocol::Udp;
    udp.state = SocketState::Unconnected;
    udp.remote = None;
    let procs = FakeProcesses::new()
        .with(10, "curl", &[1])
        .with(20, "nginx", &[2, 3]);
    let (mut meter, t0) = meter(vec![tcp_socket(1), listener, udp], procs);
    *meter.sockets.activity.lock().unwrap() = Some(7);
    meter.sample(t0).unwrap();
    let rows = |meter: &Meter| -> Vec<(u64, Protocol, SocketState, Vec<String>)> {
        meter
            .connections()
            .into_iter()
            .map(|c| {
                let names = c.processes.iter().map(|p| p.name.to_string()).collect();
                (c.inode, c.protocol, c.state, names)
            })
            .collect()
    };
    let expected = vec![
        (
            2,
            Protocol::Tcp,
            SocketState::Listen,
            vec!["nginx".to_string()],
        ),
        (
            1,
            Protocol::Tcp,
            SocketState::Established,
            vec!["curl".to_string()],
        ),
        (
            3,
            Protocol::Udp,
            SocketState::Unconnected,
            vec!["nginx".to_string()],
        ),
    ];
    assert_eq!(rows(&meter), expected);

    // TCP stood still: the rows stay, and no process's fd table is read again.
    meter.procs.clear_reads();
    meter.sample(secs(t0, 1)).unwrap();
    assert_eq!(rows(&meter), expected);
    assert_eq!(meter.procs.reads(), Vec::<u32>::new());
}

#[test]
fn thousands_of_rows_are_all_there_in_order_with_their_processes() {
    let n = 5000;
    let sockets: Vec<Socket> = (1..=n).rev().map(tcp_socket).collect();
    let inodes: Vec<u64> = (1..=n).collect();
    let (even, odd): (Vec<u64>, Vec<u64>) = inodes.iter().partition(|&&i| i % 2 == 0);
    let procs = FakeProcesses::new()
        .with(10, "even", &even)
        .with(11, "odd", &odd);
    let (mut meter, t0) = meter(sockets, procs);
    meter.sample(t0).unwrap();
    let rows = meter.connections();
    assert_eq!(rows.len() as u64, n);
    // tcp_socket(i) has local port 40000 + i (below 20000 sockets): ordered by port.
    let order: Vec<u64> = rows.iter().map(|c| c.inode).collect();
    assert_eq!(order, inodes);
    for c in &rows {
        let expected = if c.inode % 2 == 0 { "even" } else { "odd" };
        assert_eq!(&*c.processes[0].name, expected, "inode {}", c.inode);
    }
}

#[test]
fn the_first_sample_is_a_baseline_and_later_growth_is_charged() {
    let (mut meter, t0) = meter(
        vec![moving(1, 5_000, 7_000)],
        FakeProcesses::new().with(10, "curl", &[1]),
    );
    let first = meter.sample(t0).unwrap();
    assert_eq!(first.interval, None);
    assert_eq!(row(&first, 10).rx_bytes, 0);

    meter.sockets.replace(vec![moving(1, 9_000, 8_000)]);
    let second = meter.sample(secs(t0, 2)).unwrap();
    let curl = row(&second, 10);
    assert_eq!((curl.rx_bytes, curl.tx_bytes), (4_000, 1_000));
    assert_eq!(
        (curl.rx_bytes_per_sec, curl.tx_bytes_per_sec),
        (2_000.0, 500.0)
    );
    assert_eq!(
        curl.connections,
        ConnectionCounts {
            total: 1,
            established: 1,
            listening: 0
        }
    );
}

#[test]
fn a_socket_opened_between_samples_is_charged_in_full_without_its_syn() {
    let (mut meter, t0) = meter(vec![], FakeProcesses::new().with(10, "wget", &[2]));
    meter.sample(t0).unwrap();
    meter.sockets.replace(vec![moving(2, 300, 100)]);
    let sample = meter.sample(secs(t0, 1)).unwrap();
    assert_eq!(
        (row(&sample, 10).rx_bytes, row(&sample, 10).tx_bytes),
        (300, 100)
    );
}

#[test]
fn a_socket_its_process_closed_stays_charged_to_that_process() {
    let procs = FakeProcesses::new().with(10, "app", &[3]);
    let (mut meter, t0) = meter(vec![moving(3, 0, 1_000)], procs);
    meter.sample(t0).unwrap();
    // close(): the fd is gone, the socket lingers in FIN-WAIT with inode 0 while the
    // last data is acked.
    meter.procs.set(10, &[]);
    let mut orphan = moving(3, 0, 1_500);
    orphan.inode = 0;
    orphan.state = SocketState::FinWait1;
    meter.sockets.replace(vec![orphan]);
    let sample = meter.sample(secs(t0, 1)).unwrap();
    assert_eq!(row(&sample, 10).tx_bytes, 500);
}

#[test]
fn a_destroy_notice_charges_the_bytes_after_the_last_sample_once() {
    let procs = FakeProcesses::new().with(10, "scp", &[4]);
    let (mut meter, t0) = meter(vec![moving(4, 100, 1_000)], procs);
    meter.sample(t0).unwrap();
    meter.sockets.replace(vec![]);
    // Received 50 more bytes and the peer's FIN; sent 200 more, all acked.
    notify(&mut meter, closed(4, 151, 1_200));
    let sample = meter.sample(secs(t0, 1)).unwrap();
    assert_eq!(
        (row(&sample, 10).rx_bytes, row(&sample, 10).tx_bytes),
        (50, 200)
    );
    // A second notice for a settled socket charges nothing anywhere.
    notify(&mut meter, closed(4, 151, 1_200));
    let sample = meter.sample(secs(t0, 2)).unwrap();
    assert_eq!(
        sample.unattributed.rx_bytes + sample.unattributed.tx_bytes,
        0
    );
    assert!(sample.processes.iter().all(|p| p.pid != 10));
}

#[test]
fn a_late_destroy_notice_is_still_charged_to_the_owner() {
    let procs = FakeProcesses::new().with(10, "rsync", &[5]);
    let (mut meter, t0) = meter(vec![moving(5, 0, 10)], procs);
    meter.sample(t0).unwrap();
    meter.sockets.replace(vec![]);
    meter.sample(secs(t0, 1)).unwrap();
    notify(&mut meter, closed(5, 0, 60));
    let sample = meter.sample(secs(t0, 2)).unwrap();
    assert_eq!(row(&sample, 10).tx_bytes, 50);
}

#[test]
fn a_socket_both_dumped_and_destroyed_in_one_interval_is_not_double_counted() {
    let procs = FakeProcesses::new().with(10, "git", &[6]);
    let (mut meter, t0) = meter(vec![], procs);
    meter.sample(t0).unwrap();
    meter.sockets.replace(vec![moving(6, 0, 400)]);
    notify(&mut meter, closed(6, 0, 500));
    let sample = meter.sample(secs(t0, 1)).unwrap();
    assert_eq!(row(&sample, 10).tx_bytes, 500);
}

#[test]
fn short_lived_sockets_no_process_was_seen_with_are_unattributed() {
    let (mut meter, t0) = meter(vec![], FakeProcesses::new());
    meter.sample(t0).unwrap();
    notify(&mut meter, closed(7, 1_001, 300));
    let sample = meter.sample(secs(t0, 1)).unwrap();
    assert_eq!(
        (sample.unattributed.rx_bytes, sample.unattributed.tx_bytes),
        (1_000, 300)
    );
    assert!(sample.processes.is_empty());
}

#[test]
fn udp_sockets_are_counted_and_their_bytes_are_not_claimed() {
    let mut udp = tcp_socket(8);
    udp.protocol = Protocol::Udp;
    udp.state = SocketState::Unconnected;
    udp.tcp = None;
    let (mut meter, t0) = meter(vec![udp], FakeProcesses::new().with(10, "dnsmasq", &[8]));
    meter.sample(t0).unwrap();
    let sample = meter.sample(secs(t0, 1)).unwrap();
    let dnsmasq = row(&sample, 10);
    assert_eq!(dnsmasq.udp_sockets, 1);
    assert_eq!(dnsmasq.connections.listening, 1);
    assert_eq!(dnsmasq.rx_bytes + dnsmasq.tx_bytes, 0);
}

fn udp_socket(inode: u64, port: u16) -> Socket {
    let mut udp = tcp_socket(inode);
    udp.protocol = Protocol::Udp;
    udp.state = SocketState::Unconnected;
    udp.remote = None;
    udp.local = ([10, 0, 0, 1], port).into();
    udp.tcp = None;
    udp.drops = Some(0);
    udp
}

fn flow(cookie: u64, remote: &str, ip_protocol: u8) -> FlowKey {
    FlowKey {
        cookie,
        ifindex: 2,
        ip_protocol,
        remote: remote.parse().unwrap(),
    }
}

fn moved(rx: u64, tx: u64) -> FlowCounters {
    FlowCounters {
        rx_payload: rx,
        rx_packets: rx.div_ceil(1000),
        rx_wire: rx + 28 * rx.div_ceil(1000),
        tx_payload: tx,
        tx_packets: tx.div_ceil(1000),
        tx_wire: tx + 28 * tx.div_ceil(1000),
    }
}

type UdpMeter = TrafficMeter<FakeSockets, FakeProcesses, FakeClosedFeed, FakeFlows>;

fn udp_meter(sockets: Vec<Socket>, procs: FakeProcesses) -> (UdpMeter, FakeFlows, Instant) {
    let flows = FakeFlows::default();
    let (meter, t0) = meter(sockets, procs);
    (meter.with_flows(Ok(flows.clone())), flows, t0)
}

#[test]
fn udp_payload_is_charged_to_the_socket_owner_per_remote_end() {
    let procs = FakeProcesses::new()
        .with(10, "quic", &[8])
        .with(11, "idle", &[9]);
    let (mut meter, flows, t0) = udp_meter(vec![udp_socket(8, 4433), udp_socket(9, 5000)], procs);
    meter.sample(t0).unwrap();
    flows.set(flow(8, "10.0.0.2:50000", 17), moved(30_000, 2_000));
    flows.set(flow(8, "10.0.0.3:50001", 17), moved(10_000, 1_000));
    let sample = meter.sample(secs(t0, 2)).unwrap();
    assert_eq!(sample.udp, UdpStatus::Measured { missed_packets: 0 });
    let quic = row(&sample, 10);
    assert_eq!((quic.rx_bytes, quic.tx_bytes), (40_000, 3_000));
    assert_eq!((quic.udp_rx_bytes, quic.udp_tx_bytes), (40_000, 3_000));
    assert_eq!(quic.rx_bytes_per_sec, 20_000.0);
    let idle = row(&sample, 11);
    assert_eq!(idle.rx_bytes + idle.tx_bytes, 0);
    let remotes: Vec<(String, u64)> = sample
        .connections
        .iter()
        .map(|c| (c.remote.to_string(), c.rx_bytes))
        .collect();
    assert_eq!(
        remotes,
        vec![
            ("10.0.0.2:50000".to_string(), 30_000),
            ("10.0.0.3:50001".to_string(), 10_000)
        ]
    );
    assert_eq!(sample.connections[0].process.as_deref(), Some("quic"));
    assert_eq!(sample.remotes.len(), 2);
    assert_eq!(
        sample.interface_shares,
        vec![InterfaceShare {
            ifindex: 2,
            to_processes: 43_000 + 28 * 43,
            to_sockets_without_process: 0
        }]
    );
}

#[test]
fn a_udp_socket_closed_between_samples_keeps_its_bytes_and_its_process() {
    let procs = FakeProcesses::new().with(10, "dig", &[8]);
    let (mut meter, flows, t0) = udp_meter(vec![udp_socket(8, 5353)], procs);
    meter.sample(t0).unwrap();
    flows.set(flow(8, "10.0.0.2:53", 17), moved(0, 100));
    meter.sample(secs(t0, 1)).unwrap();
    // It sends again and closes; the next dump has no socket, no fd holds it.
    flows.set(flow(8, "10.0.0.2:53", 17), moved(900, 300));
    meter.sockets.replace(vec![]);
    meter.procs.set(10, &[]);
    let sample = meter.sample(secs(t0, 2)).unwrap();
    let dig = row(&sample, 10);
    assert_eq!((dig.rx_bytes, dig.tx_bytes), (900, 300));
    assert_eq!(
        flows.forgotten(),
        vec![],
        "read once more before it is forgotten"
    );
    // A last datagram in flight when it closed arrives before the next read.
    flows.set(flow(8, "10.0.0.2:53", 17), moved(1_900, 300));
    let sample = meter.sample(secs(t0, 3)).unwrap();
    assert_eq!(row(&sample, 10).rx_bytes, 1_900);
    assert_eq!(flows.forgotten(), vec![flow(8, "10.0.0.2:53", 17)]);
    assert_eq!(sample.unattributed.rx_bytes, 0);
}

#[test]
fn a_udp_socket_that_first_moves_and_closes_within_one_interval_keeps_its_process() {
    let procs = FakeProcesses::new().with(10, "ntpdate", &[8]);
    let (mut meter, flows, t0) = udp_meter(vec![udp_socket(8, 123)], procs);
    meter.sample(t0).unwrap();
    flows.set(flow(8, "10.0.0.2:123", 17), moved(48, 48));
    meter.sockets.replace(vec![]);
    meter.procs.set(10, &[]);
    let sample = meter.sample(secs(t0, 1)).unwrap();
    assert_eq!(row(&sample, 10).rx_bytes, 48);
    assert_eq!(sample.unattributed.rx_bytes, 0);
}

#[test]
fn udp_of_a_socket_never_dumped_is_unattributed_only_when_the_counter_sees_this_namespace() {
    let (mut meter, flows, t0) = udp_meter(vec![], FakeProcesses::new());
    meter.sample(t0).unwrap();
    flows.set(flow(77, "10.0.0.2:53", 17), moved(500, 50));
    // ICMP (protocol 1) of a ping socket is no UDP payload of anyone's.
    flows.set(flow(78, "10.0.0.2:0", 1), moved(64, 64));
    let sample = meter.sample(secs(t0, 1)).unwrap();
    assert_eq!(
        (sample.unattributed.rx_bytes, sample.unattributed.tx_bytes),
        (500, 50)
    );
    assert!(
        sample.interface_shares.is_empty(),
        "unknown sockets are nobody's share"
    );

    let (mut meter, flows, t0) = udp_meter(vec![], FakeProcesses::new());
    flows.count_every_namespace();
    meter.sample(t0).unwrap();
    flows.set(flow(77, "10.0.0.2:53", 17), moved(500, 50));
    let sample = meter.sample(secs(t0, 1)).unwrap();
    assert_eq!(
        sample.unattributed.rx_bytes, 0,
        "may be another namespace's"
    );
}

#[test]
fn datagrams_a_full_queue_dropped_are_counted_per_process() {
    let procs = FakeProcesses::new().with(10, "sink", &[8]);
    let (mut meter, _flows, t0) = udp_meter(vec![udp_socket(8, 9)], procs);
    meter.sample(t0).unwrap();
    let mut flooded = udp_socket(8, 9);
    flooded.drops = Some(908);
    meter.sockets.replace(vec![flooded]);
    let sample = meter.sample(secs(t0, 1)).unwrap();
    assert_eq!(row(&sample, 10).udp_rx_dropped, 908);
}

#[test]
fn tcp_flows_are_shares_of_their_interface_but_their_bytes_come_from_tcp_info() {
    let procs = FakeProcesses::new().with(10, "curl", &[1]);
    let (mut meter, flows, t0) = udp_meter(vec![moving(1, 0, 0)], procs);
    meter.sample(t0).unwrap();
    meter.sockets.replace(vec![moving(1, 5_000, 0)]);
    flows.set(flow(1, "10.0.0.2:443", 6), moved(5_000, 0));
    let sample = meter.sample(secs(t0, 1)).unwrap();
    let curl = row(&sample, 10);
    assert_eq!(
        (curl.rx_bytes, curl.udp_rx_bytes),
        (5_000, 0),
        "counted once"
    );
    assert_eq!(sample.interface_shares[0].to_processes, 5_000 + 28 * 5);
    assert_eq!(sample.connections[0].rx_bytes, 5_000);
}

#[test]
fn without_a_counter_udp_says_why() {
    let (meter, t0) = meter(vec![], FakeProcesses::new());
    let why = Error::new(
        ErrorCode::PermissionDenied,
        "UDP bytes are not measured: root",
    );
    let mut meter = meter.with_flows::<FakeFlows>(Err(why.clone()));
    meter.sample(t0).unwrap();
    let sample = meter.sample(secs(t0, 1)).unwrap();
    assert_eq!(sample.udp, UdpStatus::NotMeasured(why));
}

#[test]
fn busiest_processes_come_first() {
    let procs = FakeProcesses::new()
        .with(10, "idle", &[1])
        .with(20, "busy", &[2]);
    let (mut meter, t0) = meter(vec![moving(1, 0, 0), moving(2, 0, 0)], procs);
    meter.sample(t0).unwrap();
    meter
        .sockets
        .replace(vec![moving(1, 10, 0), moving(2, 10_000, 0)]);
    let sample = meter.sample(secs(t0, 1)).unwrap();
    let order: Vec<u32> = sample.processes.iter().map(|p| p.pid).collect();
    assert_eq!(order, vec![20, 10]);
}

#[test]
fn while_tcp_is_quiet_connections_are_not_dumped_again_and_counts_hold() {
    let (mut meter, t0) = meter(
        vec![moving(1, 0, 0), moving(2, 0, 0)],
        FakeProcesses::new().with(10, "idle", &[1, 2]),
    );
    *meter.sockets.activity.lock().unwrap() = Some(7);
    meter.sample(t0).unwrap();
    meter.sockets.queries.lock().unwrap().clear();
    let sample = meter.sample(secs(t0, 1)).unwrap();
    let queries = meter.sockets.queries.lock().unwrap().clone();
    assert!(
        queries.iter().all(|q| !q.tcp_counters),
        "no dump with counters: {queries:?}"
    );
    assert_eq!(row(&sample, 10).connections.established, 2);

    // A segment moves: the connected sockets are dumped and charged again.
    *meter.sockets.activity.lock().unwrap() = Some(8);
    meter
        .sockets
        .replace(vec![moving(1, 500, 0), moving(2, 0, 0)]);
    let sample = meter.sample(secs(t0, 2)).unwrap();
    assert_eq!(row(&sample, 10).rx_bytes, 500);
}

#[test]
fn a_listener_opened_while_tcp_is_quiet_is_counted() {
    let (mut meter, t0) = meter(
        vec![moving(1, 0, 0)],
        FakeProcesses::new().with(10, "srv", &[1, 3]),
    );
    *meter.sockets.activity.lock().unwrap() = Some(7);
    meter.sample(t0).unwrap();
    let mut listener = tcp_socket(3);
    listener.state = SocketState::Listen;
    listener.remote = None;
    meter.sockets.replace(vec![moving(1, 0, 0), listener]);
    let sample = meter.sample(secs(t0, 1)).unwrap();
    assert_eq!(
        row(&sample, 10).connections,
        ConnectionCounts {
            total: 2,
            established: 1,
            listening: 1
        }
    );
}
