//! Issue 14: UDP bytes per process, per connection and per remote host, from the eBPF
//! packet counter, across a veth pair between two namespaces (never loopback).

use super::traffic::{Watch, within_one_percent};
use super::{NETPILOT, fresh_namespace};
use netpilot_api::monitor::TrafficDocument;
use netpilot_core::ProcessTraffic;
use netpilot_testkit::netns::Veth;
use netpilot_testkit::{Holder, wait};
use std::process::Command;
use std::time::Duration;

fn process<'a>(document: &'a TrafficDocument, name: &str) -> Option<&'a ProcessTraffic> {
    document.processes.iter().find(|p| p.name == name)
}

#[test]
fn issue_14_udp_datagrams_are_charged_to_sender_and_receiver_per_connection_and_remote() {
    if !fresh_namespace(
        "issue_14_udp_datagrams_are_charged_to_sender_and_receiver_per_connection_and_remote",
    ) {
        return;
    }
    let mut source = Holder::spawn_isolated("np-udp-src").unwrap();
    Veth::DEFAULT.connect_dual_stack(source.pid()).unwrap();
    let mut sink = Holder::spawn("np-udp-sink").unwrap();
    let (_, port4) = sink.udp("udp", Veth::DEFAULT.local_ip, 7500);
    let (_, port6) = sink.udp("udp6", Veth::LOCAL_IP6, 7501);
    let mut idle = Holder::spawn("np-udp-idle").unwrap();
    idle.udp("udp", Veth::DEFAULT.local_ip, 7502);

    let mut at_sink = Watch::start(None);
    let mut at_source = Watch::start(Some(source.pid()));
    // IPv4 unconnected (sendto), IPv4 connected (send), IPv6 unconnected.
    let (unconnected, unconnected_port) = source.udp("udp", "0.0.0.0", 0);
    let (connected, connected_port) = source.connect("udp", Veth::DEFAULT.local_ip, port4);
    let (v6, v6_port) = source.udp("udp6", "::", 0);
    // A socket that the meter has seen, then sends and closes at once, in the middle of
    // an interval: its last bytes come from the counter's map after the socket is gone.
    let (brief, _) = source.udp("udp", "0.0.0.0", 0);
    at_source.until("the source's four sockets", "np-udp-src", |p| {
        p.udp_sockets == 4
    });
    source.send_datagrams(
        unconnected,
        1_200,
        400,
        Some((Veth::DEFAULT.local_ip, port4)),
    );
    source.send_datagrams(connected, 800, 300, None);
    source.send_datagrams(v6, 1_000, 200, Some((Veth::LOCAL_IP6, port6)));
    source.send_datagrams(brief, 500, 100, Some((Veth::DEFAULT.local_ip, port4)));
    source.close(brief);
    let v4 = 400 * 1_200 + 300 * 800 + 100 * 500;
    let sent = v4 + 200 * 1_000;
    wait::until(
        "the sink to read every datagram",
        Duration::from_secs(10),
        || (sink.udp_received() == (sent, 1_000)).then_some(()),
    );

    let got = at_sink.until("the sink's UDP bytes", "np-udp-sink", |p| {
        p.udp_rx_bytes >= sent
    });
    assert!(
        within_one_percent(got.udp_rx_bytes, sent),
        "sink {} of {sent}",
        got.udp_rx_bytes
    );
    assert_eq!(got.udp_rx_bytes, sent, "the counter counts payload exactly");
    assert_eq!(
        (got.rx_bytes, got.udp_tx_bytes, got.udp_rx_dropped),
        (sent, 0, 0)
    );
    let gave = at_source.until("the source's UDP bytes", "np-udp-src", |p| {
        p.udp_tx_bytes >= sent
    });
    assert_eq!(
        (gave.udp_tx_bytes, gave.udp_rx_bytes),
        (sent, 0),
        "the closed socket's too"
    );
    let source_last = at_source.next();
    assert_eq!(
        source_last.unattributed.tx_bytes, 0,
        "{:?}",
        source_last.unattributed
    );

    let last = at_sink.next().clone();
    assert!(last.udp_bytes_measured, "{:?}", last.udp_not_measured);
    let idle_row = process(&last, "np-udp-idle").expect("the bystander is listed");
    assert_eq!((idle_row.rx_bytes, idle_row.tx_bytes), (0, 0));
    assert_eq!(idle_row.user.as_deref(), Some("root"));

    // Per connection: the sink's socket has a row per remote end, with its bytes.
    let from = |port: u16| {
        last.connections
            .iter()
            .find(|c| c.remote.port() == port)
            .unwrap_or_else(|| panic!("a row from port {port}: {:#?}", last.connections))
    };
    assert_eq!(from(unconnected_port).rx_bytes, 400 * 1_200);
    assert_eq!(from(connected_port).rx_bytes, 300 * 800);
    assert_eq!(from(v6_port).rx_bytes, 200 * 1_000);
    assert_eq!(from(v6_port).local.port(), port6);
    assert_eq!(from(connected_port).process.as_deref(), Some("np-udp-sink"));
    // Per remote host: one IPv4 and one IPv6 peer.
    let remote = |address: &str| {
        last.remotes
            .iter()
            .find(|r| r.address.to_string() == address)
            .unwrap_or_else(|| panic!("remote {address}: {:#?}", last.remotes))
    };
    assert_eq!(remote(Veth::DEFAULT.peer_ip).rx_bytes, v4);
    assert_eq!(remote(Veth::DEFAULT.peer_ip).connections, 3);
    assert_eq!(remote(Veth::PEER_IP6).rx_bytes, 200 * 1_000);
    assert_eq!(
        remote(Veth::PEER_IP6).processes,
        vec!["np-udp-sink".to_string()]
    );

    // The veth's reconciliation: every datagram's IP bytes are the sink's; the rest is
    // the kernel's own IPv6 chatter (MLD), a few hundred bytes.
    let np0 = last
        .interfaces
        .iter()
        .find(|i| i.interface == Veth::DEFAULT.local)
        .expect("np0 is reconciled");
    let datagrams_ip = sent + 800 * 28 + 200 * 48;
    assert!(np0.to_processes >= datagrams_ip, "{np0:?}");
    assert!(np0.attributed_percent() > 99.0, "{np0:?}");
}

#[test]
fn issue_14_icmp_pings_are_unattributed_in_the_reconciliation() {
    if !fresh_namespace("issue_14_icmp_pings_are_unattributed_in_the_reconciliation") {
        return;
    }
    let source = Holder::spawn_isolated("np-pinger").unwrap();
    Veth::DEFAULT.connect_to(source.pid()).unwrap();
    let mut watch = Watch::start(None);
    let ping = Command::new("nsenter")
        .args(["-t", &source.pid().to_string(), "-n"])
        .args([
            "ping",
            "-q",
            "-c",
            "50",
            "-i",
            "0.01",
            "-s",
            "972",
            Veth::DEFAULT.local_ip,
        ])
        .output()
        .expect("ping runs");
    assert!(
        ping.status.success(),
        "{}",
        String::from_utf8_lossy(&ping.stderr)
    );
    // 50 requests in and 50 replies out, 1,000 IP bytes each.
    let icmp = 100 * 1_000;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let document = watch.next().clone();
        let np0 = document
            .interfaces
            .iter()
            .find(|i| i.interface == Veth::DEFAULT.local)
            .cloned()
            .expect("np0 is reconciled");
        if np0.bytes >= icmp {
            assert_eq!(np0.bytes, icmp, "only the pings crossed np0: {np0:?}");
            assert_eq!((np0.to_processes, np0.unattributed), (0, icmp), "{np0:?}");
            assert_eq!(np0.attributed_percent(), 0.0);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the pings never showed: {np0:?}"
        );
    }
}

/// The ids of the programs process `pid` holds links to (`link_type: cgroup` and a
/// `prog_id` in /proc/PID/fdinfo of each BPF link).
fn programs_linked_by(pid: u32) -> Vec<u64> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fdinfo")).unwrap() {
        let info = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        if !info
            .lines()
            .any(|l| l.starts_with("link_type:") && l.contains("cgroup"))
        {
            continue;
        }
        ids.extend(
            info.lines()
                .filter_map(|l| l.strip_prefix("prog_id:")?.trim().parse::<u64>().ok()),
        );
    }
    ids.sort_unstable();
    ids
}

fn program_exists(id: u64) -> bool {
    Command::new("bpftool")
        .args(["prog", "show", "id", &id.to_string()])
        .output()
        .expect("bpftool runs")
        .status
        .success()
}

#[test]
fn issue_14_nothing_stays_attached_after_sigkill() {
    if !fresh_namespace("issue_14_nothing_stays_attached_after_sigkill") {
        return;
    }
    let mut watch = Watch::start(None);
    assert!(watch.next().udp_bytes_measured);
    let pid = watch.child.id();
    let ids = programs_linked_by(pid);
    assert_eq!(ids.len(), 2, "ingress and egress, linked by netpilot {pid}");
    assert!(
        ids.iter().all(|&id| program_exists(id)),
        "bpftool lists {ids:?}"
    );
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).expect("a pid"),
        rustix::process::Signal::KILL,
    )
    .expect("SIGKILL");
    let _ = watch.child.wait();
    wait::until(
        "the kernel to detach and free the programs",
        Duration::from_secs(10),
        || ids.iter().all(|&id| !program_exists(id)).then_some(()),
    );
}

/// Reverse DNS through a resolver that never answers: reports keep their pace, and the
/// remote host goes unnamed meanwhile.
#[test]
fn issue_14_a_resolver_that_never_answers_does_not_slow_a_refresh() {
    if !fresh_namespace("issue_14_a_resolver_that_never_answers_does_not_slow_a_refresh") {
        return;
    }
    let mut source = Holder::spawn_isolated("np-named").unwrap();
    Veth::DEFAULT.connect_to(source.pid()).unwrap();
    let mut sink = Holder::spawn("np-dns-sink").unwrap();
    let (_, port) = sink.udp("udp", Veth::DEFAULT.local_ip, 7600);
    // The resolver: a socket on 127.0.0.1:53 of this namespace that reads and never replies.
    let mut black_hole = Holder::spawn("np-no-dns").unwrap();
    black_hole.udp("udp", "127.0.0.1", 53);
    let dir = std::env::temp_dir().join(format!("np-resolv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let resolv = dir.join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.1\noptions timeout:5 attempts:3\n",
    )
    .unwrap();
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();

    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(format!(
            "mount --bind {} /etc/resolv.conf && mount --bind {} /etc/hosts && exec {NETPILOT} \
         traffic --by remote --json --interval 0.2",
            resolv.display(),
            hosts.display()
        ));
    let mut watch = Watch::spawn(command);
    let (id, _) = source.udp("udp", "0.0.0.0", 0);
    source.send_datagrams(id, 100, 10, Some((Veth::DEFAULT.local_ip, port)));
    watch.until("the datagrams", "np-dns-sink", |p| p.udp_rx_bytes >= 1_000);
    let mut asked = 0;
    for _ in 0..10 {
        let document = watch.next().clone();
        let peer = document
            .remotes
            .iter()
            .find(|r| r.address.to_string() == Veth::DEFAULT.peer_ip)
            .expect("the peer is a remote host");
        assert_eq!(peer.name, None, "the resolver never answers");
        // A lookup waits 15 s for this resolver; a refresh waits for none of them.
        assert!(
            document.interval_ms < 1_000,
            "a refresh took {} ms",
            document.interval_ms
        );
        asked += 1;
    }
    assert_eq!(asked, 10);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A real QUIC transfer (aioquic, installed by scripts/test into a venv): the bytes each
/// end's socket sent and received, as the QUIC stack itself counted them, are what
/// netpilot charges to each process.
#[test]
fn issue_14_a_quic_transfer_is_attributed_to_client_and_server() {
    if !fresh_namespace("issue_14_a_quic_transfer_is_attributed_to_client_and_server") {
        return;
    }
    // scripts/test's venv, unless another python with aioquic is named.
    let default = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/quic-venv/bin/python"
    );
    let python = std::env::var("NETPILOT_QUIC_PYTHON").or_else(|_| {
        match std::path::Path::new(default).exists() {
            true => Ok(default.to_string()),
            false => Err(()),
        }
    });
    let python = match python {
        Ok(python) => python,
        Err(_) if std::env::var_os("NETPILOT_REQUIRE_KERNEL").is_some_and(|v| v == "1") => {
            panic!("no python with aioquic: scripts/test installs one in target/quic-venv")
        }
        Err(_) => {
            eprintln!("skipped: no NETPILOT_QUIC_PYTHON (a python with aioquic; see scripts/test)");
            return;
        }
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../netpilot-testkit/quic.py");
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    let mut server = Command::new(&python)
        .args([
            script,
            "server",
            "np-quic-srv",
            Veth::DEFAULT.local_ip,
            "4433",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server_out = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    // The client waits in its own namespace for a line on stdin: the veth first.
    const SIZE: u64 = 3_000_000;
    let mut client = Command::new("unshare")
        .args([
            "--net",
            "--",
            "sh",
            "-c",
            "read go && exec \"$0\" \"$@\"",
            &python,
            script,
        ])
        .args([
            "client",
            "np-quic-cli",
            Veth::DEFAULT.local_ip,
            "4433",
            &SIZE.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    Veth::DEFAULT.connect_to(client.id()).unwrap();
    server_out.read_line(&mut line).unwrap();
    assert!(line.starts_with("listening"), "{line}");

    let mut at_server = Watch::start(None);
    let mut at_client = Watch::start(Some(client.id()));
    writeln!(client.stdin.as_mut().unwrap(), "go").unwrap();
    let output = client.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout).to_string();
    let words: Vec<u64> = report
        .split_whitespace()
        .skip(1)
        .map(|w| w.parse().unwrap())
        .collect();
    let [fetched, client_sent, client_received] = words[..] else {
        panic!("the client said {report:?}")
    };
    assert_eq!(fetched, SIZE, "the transfer completed");
    drop(server.stdin.take());
    line.clear();
    server_out.read_line(&mut line).unwrap();
    let served: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|w| w.parse().unwrap())
        .collect();
    let [server_sent, server_received] = served[..] else {
        panic!("the server said {line:?}")
    };
    let _ = server.wait();

    let at_srv = at_server.until("the server's QUIC bytes", "np-quic-srv", |p| {
        p.udp_tx_bytes >= server_sent && p.udp_rx_bytes >= server_received
    });
    assert!(
        within_one_percent(at_srv.udp_tx_bytes, server_sent),
        "{at_srv:?} vs {server_sent}"
    );
    assert!(
        within_one_percent(at_srv.udp_rx_bytes, server_received),
        "{at_srv:?}"
    );
    let at_cli = at_client.until("the client's QUIC bytes", "np-quic-cli", |p| {
        p.udp_tx_bytes >= client_sent && p.udp_rx_bytes >= client_received
    });
    assert!(
        within_one_percent(at_cli.udp_tx_bytes, client_sent),
        "{at_cli:?} vs {client_sent}"
    );
    // Datagrams that arrived but the client's full queue dropped count as received by
    // netpilot (and as udpRxDropped), not by the QUIC stack.
    if at_cli.udp_rx_dropped == 0 {
        assert!(
            within_one_percent(at_cli.udp_rx_bytes, client_received),
            "{at_cli:?}"
        );
    }
    assert!(
        at_cli.udp_rx_bytes >= SIZE && at_srv.udp_tx_bytes >= SIZE,
        "a real transfer"
    );
}
