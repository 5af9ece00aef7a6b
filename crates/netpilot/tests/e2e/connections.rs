use super::{fresh_namespace, netpilot, netpilot_json};
use netpilot_api::monitor::ConnectionsDocument;
use netpilot_core::{Connection, Family, Protocol, SocketState};
use netpilot_testkit::{Holder, wait};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

/// (protocol, family, state, local, remote, pids, process names)
type Row = (
    Protocol,
    Family,
    SocketState,
    SocketAddr,
    Option<SocketAddr>,
    Vec<u32>,
    Vec<String>,
);

fn rows(connections: &[Connection]) -> BTreeSet<Row> {
    connections
        .iter()
        .map(|c| {
            let pids = c.processes.iter().map(|p| p.pid).collect();
            let names = c.processes.iter().map(|p| p.name.to_string()).collect();
            (
                c.protocol, c.family, c.state, c.local, c.remote, pids, names,
            )
        })
        .collect()
}

struct Scene {
    server: Holder,
    client: Holder,
    expected: BTreeSet<Row>,
}

/// A server with IPv4/IPv6 TCP listeners and UDP sockets, and a client connected to it.
fn scene() -> Scene {
    let mut server = Holder::spawn("np-server").unwrap();
    let mut client = Holder::spawn("np-client").unwrap();
    server.listen("tcp", "127.0.0.1", 7001);
    server.listen("tcp6only", "::1", 7002);
    server.bind_udp("udp", "127.0.0.1", 7003);
    server.bind_udp("udp6", "::1", 7004);
    let (_, c1) = client.connect("tcp", "127.0.0.1", 7001);
    let (_, c2) = client.connect("tcp6", "::1", 7002);
    let (_, c3) = client.connect("udp", "127.0.0.1", 7003);
    wait::until(
        "the server to accept both connections",
        Duration::from_secs(5),
        || (server.accepted() == 2).then_some(()),
    );

    let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
    let s = (vec![server.pid()], vec!["np-server".to_string()]);
    let c = (vec![client.pid()], vec!["np-client".to_string()]);
    use {Family::*, Protocol::*, SocketState::*};
    let row = |p, f, st, l: &str, r: Option<String>, who: &(Vec<u32>, Vec<String>)| {
        (
            p,
            f,
            st,
            addr(l),
            r.map(|r| addr(&r)),
            who.0.clone(),
            who.1.clone(),
        )
    };
    let expected = BTreeSet::from([
        row(Tcp, Ipv4, Listen, "127.0.0.1:7001", None, &s),
        row(
            Tcp,
            Ipv4,
            Established,
            "127.0.0.1:7001",
            Some(format!("127.0.0.1:{c1}")),
            &s,
        ),
        row(
            Tcp,
            Ipv4,
            Established,
            &format!("127.0.0.1:{c1}"),
            Some("127.0.0.1:7001".into()),
            &c,
        ),
        row(Tcp, Ipv6, Listen, "[::1]:7002", None, &s),
        row(
            Tcp,
            Ipv6,
            Established,
            "[::1]:7002",
            Some(format!("[::1]:{c2}")),
            &s,
        ),
        row(
            Tcp,
            Ipv6,
            Established,
            &format!("[::1]:{c2}"),
            Some("[::1]:7002".into()),
            &c,
        ),
        row(Udp, Ipv4, Unconnected, "127.0.0.1:7003", None, &s),
        row(Udp, Ipv6, Unconnected, "[::1]:7004", None, &s),
        row(
            Udp,
            Ipv4,
            Established,
            &format!("127.0.0.1:{c3}"),
            Some("127.0.0.1:7003".into()),
            &c,
        ),
    ]);
    Scene {
        server,
        client,
        expected,
    }
}

fn connections(args: &[&str]) -> ConnectionsDocument {
    let mut all = vec!["connections"];
    all.extend_from_slice(args);
    netpilot_json(&all)
}

#[test]
fn connections_reports_exactly_the_sockets_of_known_processes() {
    if !fresh_namespace("connections_reports_exactly_the_sockets_of_known_processes") {
        return;
    }
    let scene = scene();
    let document = connections(&[]);
    assert_eq!(rows(&document.connections), scene.expected);
    assert!(
        document
            .connections
            .iter()
            .all(|c| c.user.as_deref() == Some("root") && c.uid == 0)
    );
    assert_eq!(document.summary.total, 9);
    assert_eq!(document.summary.by_state[&SocketState::Established], 5);
    assert_eq!(document.visibility.unattributed_sockets, 0);
}

#[test]
fn connections_filters_by_kind_pid_process_and_port() {
    if !fresh_namespace("connections_filters_by_kind_pid_process_and_port") {
        return;
    }
    let scene = scene();
    let only = |keep: &dyn Fn(&Row) -> bool| -> BTreeSet<Row> {
        scene.expected.iter().filter(|r| keep(r)).cloned().collect()
    };
    let listen = connections(&["--kind", "listen"]);
    assert_eq!(rows(&listen.connections), only(&|r| r.2.is_listening()));
    let udp = connections(&["--kind", "udp"]);
    assert_eq!(rows(&udp.connections), only(&|r| r.0 == Protocol::Udp));
    let tcp = connections(&["--kind", "tcp"]);
    assert_eq!(rows(&tcp.connections), only(&|r| r.0 == Protocol::Tcp));
    let established = connections(&["--kind", "established"]);
    assert_eq!(
        rows(&established.connections),
        only(&|r| r.2 == SocketState::Established)
    );
    let client_pid = scene.client.pid().to_string();
    let by_pid = connections(&["--pid", &client_pid]);
    assert_eq!(
        rows(&by_pid.connections),
        only(&|r| r.5 == vec![scene.client.pid()])
    );
    let by_name = connections(&["--process", "np-server"]);
    assert_eq!(
        rows(&by_name.connections),
        only(&|r| r.5 == vec![scene.server.pid()])
    );
    let by_port = connections(&["--port", "7003"]);
    assert_eq!(
        rows(&by_port.connections),
        only(&|r| r.3.port() == 7003 || r.4.is_some_and(|a| a.port() == 7003))
    );
    assert_eq!(by_port.connections.len(), 2);
}

#[test]
fn connections_agrees_with_ss() {
    if !fresh_namespace("connections_agrees_with_ss") {
        return;
    }
    let _scene = scene();
    let document = connections(&[]);
    let ours: BTreeSet<_> = document
        .connections
        .iter()
        .map(|c| {
            (
                c.protocol.as_str().to_string(),
                c.local,
                c.remote,
                c.processes.iter().map(|p| p.pid).collect::<Vec<_>>(),
            )
        })
        .collect();
    let ss = Command::new("ss").arg("-tunapH").output().expect("ss runs");
    assert!(ss.status.success());
    let theirs: BTreeSet<_> = String::from_utf8(ss.stdout)
        .unwrap()
        .lines()
        .map(parse_ss_line)
        .collect();
    assert_eq!(ours, theirs);
}

/// One line of `ss -tunapH`: "tcp ESTAB 0 0 127.0.0.1:7001 127.0.0.1:4242 users:((\"x\",pid=7,fd=4))".
fn parse_ss_line(line: &str) -> (String, SocketAddr, Option<SocketAddr>, Vec<u32>) {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let address = |text: &str| -> Option<SocketAddr> {
        let (host, port) = text.rsplit_once(':').expect("host:port");
        if port == "*" {
            return None;
        }
        let host = host
            .split('%')
            .next()
            .unwrap()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let host = if host == "*" { "::" } else { host };
        let ip: std::net::IpAddr = host
            .parse()
            .unwrap_or_else(|_| panic!("an address in {line:?}"));
        Some(SocketAddr::new(ip.to_canonical(), port.parse().unwrap()))
    };
    let mut pids: Vec<u32> = fields
        .get(6)
        .map(|users| {
            users
                .split("pid=")
                .skip(1)
                .map(|s| s.split(',').next().unwrap().parse().unwrap())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    pids.dedup();
    (
        fields[0].to_string(),
        address(fields[4]).expect("a local address"),
        address(fields[5]),
        pids,
    )
}

#[test]
fn the_table_shows_process_and_summary() {
    if !fresh_namespace("the_table_shows_process_and_summary") {
        return;
    }
    let scene = scene();
    let output = netpilot(&["connections", "--kind", "listen"]);
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["PROTO", "STATE", "LOCAL", "REMOTE", "PROCESS", "USER"]
    );
    let server = format!("{}/np-server", scene.server.pid());
    assert!(
        lines[1].contains("127.0.0.1:7001") && lines[1].contains(&server),
        "{table}"
    );
    assert_eq!(lines.last(), Some(&"4 sockets: LISTEN 2, UNCONN 2"));
    assert!(
        output.stderr.is_empty(),
        "nothing hidden, nothing to note: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
