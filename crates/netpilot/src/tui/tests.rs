//! Each view drawn from fixed data into ratatui's test backend, and keys driving the app.

use super::app::{App, Tab};
use super::sampler::Snapshot;
use super::view;
use netpilot_api::monitor::ConnectionSummary;
use netpilot_core::{
    Connection, ConnectionCounts, Family, Interface, InterfaceAddress, InterfaceKind,
    InterfaceSample, LinkCounters, LinkRate, OperState, ProcessRef, ProcessTraffic, Protocol,
    SocketState, UnattributedTraffic, Visibility,
};
use netpilot_core::{ConnectionTraffic, RemoteTraffic};
use netpilot_engine::monitor::ports::group_ports;
use netpilot_engine::monitor::{TrafficSample, UdpStatus};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use std::time::Duration;

fn interface(index: u32, name: &str, kind: InterfaceKind, address: &str, prefix: u8) -> Interface {
    Interface {
        index,
        name: name.into(),
        kind,
        link_kind: None,
        admin_up: true,
        oper_state: OperState::Up,
        carrier: true,
        mac: None,
        mtu: 1500,
        ipv4: vec![InterfaceAddress {
            address: address.parse().expect("an address"),
            prefix_len: prefix,
        }],
        ipv6: vec![],
        counters: LinkCounters::default(),
    }
}

fn rate(rx: f64, tx: f64) -> Option<LinkRate> {
    Some(LinkRate {
        rx_bytes_per_sec: rx,
        tx_bytes_per_sec: tx,
        rx_packets_per_sec: 0.0,
        tx_packets_per_sec: 0.0,
    })
}

fn connection(
    protocol: Protocol,
    state: SocketState,
    local: &str,
    remote: Option<&str>,
    process: (u32, &str),
    user: &str,
) -> Connection {
    let local: std::net::SocketAddr = local.parse().expect("an address");
    Connection {
        protocol,
        family: if local.is_ipv4() {
            Family::Ipv4
        } else {
            Family::Ipv6
        },
        local,
        remote: remote.map(|r| r.parse().expect("an address")),
        state,
        uid: 0,
        user: Some(user.into()),
        inode: 1,
        recv_queue: 0,
        send_queue: 0,
        processes: vec![ProcessRef {
            pid: process.0,
            name: process.1.into(),
        }],
    }
}

fn traffic(pid: u32, name: &str, rx: f64, tx: f64, conns: u32, udp: u32) -> ProcessTraffic {
    ProcessTraffic {
        pid,
        name: name.into(),
        user: Some("root".into()),
        rx_bytes_per_sec: rx,
        tx_bytes_per_sec: tx,
        rx_bytes: (rx * 10.0) as u64,
        tx_bytes: (tx * 10.0) as u64,
        udp_rx_bytes: 0,
        udp_tx_bytes: 0,
        udp_rx_dropped: 0,
        connections: ConnectionCounts {
            total: conns,
            established: conns.saturating_sub(1),
            listening: 1,
        },
        udp_sockets: udp,
    }
}

/// A small machine: loopback and eth0, sshd, nginx, avahi and curl.
fn snapshot() -> Snapshot {
    use Protocol::*;
    use SocketState::*;
    let connections = vec![
        connection(Tcp, Listen, "0.0.0.0:22", None, (812, "sshd"), "root"),
        connection(
            Tcp,
            Established,
            "192.168.1.10:22",
            Some("192.168.1.20:51000"),
            (900, "sshd"),
            "root",
        ),
        connection(
            Tcp,
            Established,
            "192.168.1.10:40000",
            Some("1.1.1.1:443"),
            (3000, "curl"),
            "alice",
        ),
        connection(Tcp, Listen, "[::]:80", None, (1200, "nginx"), "www-data"),
        connection(
            Udp,
            Unconnected,
            "0.0.0.0:5353",
            None,
            (700, "avahi-daemon"),
            "avahi",
        ),
    ];
    let listening = connections
        .iter()
        .filter(|c| c.state.is_listening())
        .cloned()
        .collect();
    Snapshot {
        summary: ConnectionSummary::of(&connections),
        interfaces: vec![
            InterfaceSample {
                interface: interface(1, "lo", InterfaceKind::Loopback, "127.0.0.1", 8),
                rate: rate(1024.0, 1024.0),
            },
            InterfaceSample {
                interface: interface(2, "eth0", InterfaceKind::Ethernet, "192.168.1.10", 24),
                rate: rate(2.5 * 1024.0 * 1024.0, 512.0),
            },
        ],
        ports: group_ports(listening),
        connections,
        traffic: TrafficSample {
            interval: Some(Duration::from_secs(1)),
            processes: vec![
                traffic(3000, "curl", 2.5 * 1024.0 * 1024.0, 4096.0, 1, 0),
                traffic(900, "sshd", 300.0, 1200.0, 2, 0),
                traffic(700, "avahi-daemon", 0.0, 0.0, 1, 1),
            ],
            unattributed: UnattributedTraffic::default(),
            closed_sockets_tracked: true,
            lost_notices: 0,
            visibility: Visibility::default(),
            udp: UdpStatus::NotMeasured(netpilot_core::Error::new(
                netpilot_core::ErrorCode::PermissionDenied,
                "UDP bytes are not measured: the kernel refused it",
            )),
            connections: vec![
                connection_traffic("192.168.1.10:40000", "1.1.1.1:443", (3000, "curl"), 2048.0),
                connection_traffic(
                    "192.168.1.10:5353",
                    "192.168.1.30:5353",
                    (700, "avahi-daemon"),
                    10.0,
                ),
                connection_traffic(
                    "192.168.1.10:22",
                    "192.168.1.20:51000",
                    (900, "sshd"),
                    300.0,
                ),
            ],
            remotes: vec![
                remote_traffic("1.1.1.1", Some("one.one.one.one"), 2048.0),
                remote_traffic("192.168.1.20", None, 300.0),
            ],
            interface_shares: vec![],
        },
        reconciliation: vec![],
    }
}

fn connection_traffic(
    local: &str,
    remote: &str,
    (pid, name): (u32, &str),
    rx: f64,
) -> ConnectionTraffic {
    ConnectionTraffic {
        protocol: if local.ends_with(":5353") {
            Protocol::Udp
        } else {
            Protocol::Tcp
        },
        local: local.parse().unwrap(),
        remote: remote.parse().unwrap(),
        pid: Some(pid),
        process: Some(name.into()),
        user: Some("root".into()),
        rx_bytes_per_sec: rx,
        tx_bytes_per_sec: 0.0,
        rx_bytes: (rx * 10.0) as u64,
        tx_bytes: 0,
    }
}

fn remote_traffic(address: &str, name: Option<&str>, rx: f64) -> RemoteTraffic {
    RemoteTraffic {
        address: address.parse().unwrap(),
        name: name.map(str::to_owned),
        rx_bytes_per_sec: rx,
        tx_bytes_per_sec: 0.0,
        rx_bytes: (rx * 10.0) as u64,
        tx_bytes: 0,
        connections: 1,
        processes: vec!["curl".into()],
    }
}

fn app() -> App {
    let mut app = App::new(Duration::from_secs(1), true, None);
    app.on_snapshot(snapshot());
    app
}

fn press(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// The screen's text, line by line, trailing blanks trimmed.
fn screen(app: &mut App, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("a test terminal");
    app.set_page(view::page(app, Rect::new(0, 0, width, height)));
    terminal
        .draw(|frame| view::render(app, frame))
        .expect("drawn");
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            let line: String = (0..width).map(|x| buffer[(x, y)].symbol()).collect();
            line.trim_end().to_string()
        })
        .collect()
}

#[test]
fn the_connections_view_lists_every_socket_with_its_process_and_totals() {
    let mut app = app();
    assert_eq!(
        screen(&mut app, 100, 12),
        [
            " netpilot  1 Interfaces  2 Connections  3 Ports  4 Traffic   every 1 s",
            "PROTO ▲ STATE       LOCAL                      REMOTE                     PROCESS           USER",
            "tcp     LISTEN      0.0.0.0:22                 *                          812/sshd          root",
            "tcp     ESTAB       192.168.1.10:22            192.168.1.20:51000         900/sshd          root",
            "tcp     ESTAB       192.168.1.10:40000         1.1.1.1:443                3000/curl         alice",
            "tcp6    LISTEN      [::]:80                    *                          1200/nginx        www-data",
            "udp     UNCONN      0.0.0.0:5353               *                          700/avahi-daemon  avahi",
            "",
            "",
            "",
            "",
            "5 of 5 sockets · ESTAB 2, LISTEN 2, UNCONN 1 · all  ? keys · q quit",
        ]
    );
}

#[test]
fn filter_keys_search_and_sort_change_the_rows() {
    let mut app = app();
    let rows = |app: &mut App| -> Vec<String> {
        let lines = screen(app, 100, 12);
        lines[2..]
            .iter()
            .filter(|l| !l.is_empty())
            .cloned()
            .collect()
    };
    press(&mut app, KeyCode::Char('e'));
    let shown = rows(&mut app);
    assert!(
        shown[0].contains("900/sshd") && shown[1].contains("3000/curl"),
        "{shown:#?}"
    );
    assert!(shown[2].starts_with("2 of 5 sockets"), "{shown:#?}");

    press(&mut app, KeyCode::Char('u'));
    assert!(rows(&mut app)[0].contains("avahi"));

    press(&mut app, KeyCode::Char('a'));
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "ngin");
    let lines = screen(&mut app, 100, 12);
    assert!(lines[2].contains("1200/nginx"), "{lines:#?}");
    assert_eq!(lines[3], "");
    assert!(
        lines[11].starts_with("/ngin"),
        "the search field: {lines:#?}"
    );
    press(&mut app, KeyCode::Enter);
    // Keys are commands again; the search stays.
    press(&mut app, KeyCode::Char('q'));
    assert!(screen(&mut app, 100, 12)[11].contains("1 of 5 sockets"));
    press(&mut app, KeyCode::Esc);
    assert!(screen(&mut app, 100, 12)[11].contains("5 of 5 sockets"));

    // By remote address, then the other way round: no peer sorts first.
    press(&mut app, KeyCode::Char('s'));
    press(&mut app, KeyCode::Char('s'));
    press(&mut app, KeyCode::Char('s'));
    let lines = screen(&mut app, 100, 12);
    assert!(lines[1].contains("REMOTE ▲"), "{lines:#?}");
    assert!(lines[5].contains("1.1.1.1:443") && lines[6].contains("192.168.1.20"));
    press(&mut app, KeyCode::Char('r'));
    let lines = screen(&mut app, 100, 12);
    assert!(
        lines[1].contains("REMOTE ▼") && lines[2].contains("192.168.1.20"),
        "{lines:#?}"
    );
}

#[test]
fn a_search_matches_ports_and_pids_too() {
    let mut app = app();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "5353");
    assert_eq!(app.shown.len(), 1);
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "3000");
    assert_eq!(app.shown.len(), 1, "pid 3000 (curl)");
}

#[test]
fn tens_of_thousands_of_rows_scroll_a_page_at_a_time() {
    let mut app = App::new(Duration::from_secs(1), true, None);
    let mut snapshot = snapshot();
    let template = snapshot.connections[2].clone();
    snapshot.connections = (0..50_000u32)
        .map(|i| {
            let mut c = template.clone();
            c.local.set_port((i % 60_000) as u16 + 1024);
            c.processes[0].pid = i;
            c
        })
        .collect();
    snapshot.summary = ConnectionSummary::of(&snapshot.connections);
    app.on_snapshot(snapshot);
    let lines = screen(&mut app, 100, 12);
    assert!(lines[2].contains("0/curl"));
    // Nine rows on screen (12 lines: title, header, status, and one blank line below).
    press(&mut app, KeyCode::PageDown);
    let lines = screen(&mut app, 100, 12);
    assert!(
        lines[2].contains(" 1/curl"),
        "the page moved by one screen: {lines:#?}"
    );
    press(&mut app, KeyCode::End);
    let lines = screen(&mut app, 100, 12);
    assert!(lines[10].contains("49999/curl"), "{lines:#?}");
    assert!(
        lines[11].starts_with("50,000 of 50,000 sockets"),
        "{lines:#?}"
    );
}

#[test]
fn the_interfaces_view_charts_the_selected_interface() {
    let mut app = app();
    press(&mut app, KeyCode::Char('1'));
    for _ in 0..5 {
        app.on_snapshot(snapshot());
    }
    press(&mut app, KeyCode::Down);
    let lines = screen(&mut app, 90, 14);
    assert_eq!(
        lines[1],
        "NAME         KIND       STATE    ADDRESSES                         RX/s        TX/s"
    );
    assert!(
        lines[2].starts_with("lo           loopback   UP       127.0.0.1/8"),
        "{lines:#?}"
    );
    assert!(
        lines[3].contains("2.5 MiB/s") && lines[3].contains("512 B/s"),
        "{lines:#?}"
    );
    assert!(
        lines[4].contains("eth0 received: 2.5 MiB/s · peak 2.5 MiB/s"),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("eth0 sent: 512 B/s")),
        "{lines:#?}"
    );
    assert_eq!(
        lines[13],
        "2 interfaces · ↑↓ choose the one charted  ? keys · q quit"
    );
}

#[test]
fn the_ports_view_lists_each_binding() {
    let mut app = app();
    press(&mut app, KeyCode::Char('3'));
    let lines = screen(&mut app, 90, 12);
    assert_eq!(
        &lines[1..5],
        [
            "PROTO  PORT   SERVICE      ADDRESS                     PROCESS                    USER",
            "tcp    22     ssh          0.0.0.0                     812/sshd                   root",
            "tcp    80     http         ::                          1200/nginx                 www-data",
            "udp    5353   mdns         0.0.0.0                     700/avahi-daemon           avahi",
        ]
    );
}

#[test]
fn the_traffic_view_ranks_processes_and_marks_what_is_not_measured() {
    let mut app = app();
    press(&mut app, KeyCode::Char('4'));
    let lines = screen(&mut app, 110, 12);
    assert!(lines[1].starts_with("PID     PROCESS"), "{lines:#?}");
    assert!(
        lines[2].starts_with("3000    curl") && lines[2].contains("2.5 MiB/s"),
        "{lines:#?}"
    );
    assert!(lines[4].starts_with("700     avahi-daemon *"), "{lines:#?}");
    assert!(
        lines[11].contains("* UDP not measured: the kernel refused it"),
        "{lines:#?}"
    );
}

#[test]
fn issue_14_the_traffic_view_switches_between_processes_connections_and_remote_hosts() {
    let mut app = app();
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Char('v'));
    let lines = screen(&mut app, 120, 12);
    assert!(lines[1].starts_with("PROTO LOCAL"), "{lines:#?}");
    assert!(
        lines[2].contains("1.1.1.1:443") && lines[2].contains("3000/curl"),
        "{lines:#?}"
    );
    assert!(
        lines[11].starts_with("per connection (v: next view)"),
        "{lines:#?}"
    );
    press(&mut app, KeyCode::Char('v'));
    let lines = screen(&mut app, 120, 12);
    assert!(lines[1].starts_with("REMOTE"), "{lines:#?}");
    assert!(
        lines[2].starts_with("1.1.1.1") && lines[2].contains("one.one.one.one"),
        "{lines:#?}"
    );
    assert!(
        lines[3].starts_with("192.168.1.20") && lines[3].contains(" - "),
        "{lines:#?}"
    );
    press(&mut app, KeyCode::Char('v'));
    assert!(screen(&mut app, 120, 12)[1].starts_with("PID"));
}

#[test]
fn issue_14_traffic_and_ports_sort_and_search_like_connections() {
    let mut app = app();
    press(&mut app, KeyCode::Char('4'));
    // s: by PID (the first column) ▲, then r: ▼.
    press(&mut app, KeyCode::Char('s'));
    let lines = screen(&mut app, 120, 12);
    assert!(lines[1].starts_with("PID ▲"), "{lines:#?}");
    let pids: Vec<&str> = lines[2..5]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(pids, ["700", "900", "3000"]);
    press(&mut app, KeyCode::Char('r'));
    let lines = screen(&mut app, 120, 12);
    assert!(
        lines[1].starts_with("PID ▼") && lines[2].starts_with("3000"),
        "{lines:#?}"
    );
    // Search: only sshd's row.
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "ssh");
    press(&mut app, KeyCode::Enter);
    let lines = screen(&mut app, 120, 12);
    assert!(
        lines[2].starts_with("900") && lines[3].trim().is_empty(),
        "{lines:#?}"
    );
    press(&mut app, KeyCode::Esc);

    press(&mut app, KeyCode::Char('3'));
    press(&mut app, KeyCode::Char('s'));
    press(&mut app, KeyCode::Char('s')); // by PORT
    press(&mut app, KeyCode::Char('r'));
    let lines = screen(&mut app, 90, 12);
    assert!(lines[1].contains("PORT ▼"), "{lines:#?}");
    assert!(lines[2].starts_with("udp    5353"), "{lines:#?}");
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "nginx");
    press(&mut app, KeyCode::Enter);
    let lines = screen(&mut app, 90, 12);
    assert!(
        lines[2].contains("1200/nginx") && lines[3].trim().is_empty(),
        "{lines:#?}"
    );
    assert!(
        lines[11].starts_with("1 of 3 listening sockets"),
        "{lines:#?}"
    );
}

#[test]
fn tab_cycles_the_views_and_q_or_ctrl_c_quit() {
    let mut app = app();
    assert_eq!(app.tab, Tab::Connections);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.tab, Tab::Ports);
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.tab, Tab::Interfaces);
    press(&mut app, KeyCode::BackTab);
    assert_eq!(app.tab, Tab::Traffic);
    use super::app::Flow;
    assert_eq!(
        app.on_key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)),
        Flow::Quit
    );
    assert_eq!(
        app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        Flow::Quit
    );
}

#[test]
fn help_lists_the_keys_and_any_key_closes_it() {
    let mut app = app();
    press(&mut app, KeyCode::Char('?'));
    let lines = screen(&mut app, 100, 20);
    assert!(
        lines.iter().any(|l| l.contains("keys (any key closes)")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("q Ctrl-C  quit")),
        "{lines:#?}"
    );
    press(&mut app, KeyCode::Char('x'));
    assert!(!app.help);
}

#[test]
fn a_too_small_terminal_gets_a_message() {
    let mut app = app();
    let lines = screen(&mut app, 40, 6);
    assert_eq!(lines[0], "netpilot monitor needs a terminal of at");
}

#[test]
fn an_unprivileged_run_says_what_is_hidden_and_a_failed_refresh_is_shown() {
    let mut app = App::new(Duration::from_secs(1), false, Some("lab".into()));
    let mut data = snapshot();
    data.traffic.visibility = Visibility {
        unattributed_sockets: 12,
        unreadable_processes: 3,
    };
    app.on_snapshot(data);
    let lines = screen(&mut app, 100, 12);
    assert!(lines[0].ends_with("every 1 s · netns lab"), "{lines:#?}");
    assert_eq!(
        lines[1],
        "12 sockets without a process: other users' processes are hidden without root: sudo netpilot monitor"
    );
    app.error = Some("netlink: permission denied".into());
    assert_eq!(
        screen(&mut app, 100, 12)[1],
        "refresh failed: netlink: permission denied"
    );
}

#[test]
fn an_empty_view_says_why() {
    let mut app = app();
    press(&mut app, KeyCode::Char('/'));
    type_text(&mut app, "nothing-like-this");
    let lines = screen(&mut app, 100, 12);
    assert_eq!(
        lines[2],
        "no socket matches (a: all, Esc: clear the search)"
    );
    let mut data = snapshot();
    data.traffic.processes.clear();
    app.on_snapshot(data);
    press(&mut app, KeyCode::Enter);
    press(&mut app, KeyCode::Char('4'));
    let lines = screen(&mut app, 100, 12);
    assert_eq!(
        lines[2],
        "no process with sockets that this user may inspect"
    );
}
