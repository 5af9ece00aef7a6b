use super::{dump, fresh_namespace, inode_of};
use netpilot_core::ports::{ClosedSocketFeed, SocketQuery};
use netpilot_core::{Family, Protocol, Socket, SocketState};
use netpilot_linux::ClosedSocketListener;
use netpilot_testkit::wait;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

fn find(sockets: &[Socket], inode: u64) -> &Socket {
    sockets
        .iter()
        .find(|s| s.inode == inode)
        .unwrap_or_else(|| panic!("inode {inode} in {sockets:#?}"))
}

#[test]
fn a_listener_and_both_ends_of_a_connection_are_dumped_with_their_inodes() {
    if !fresh_namespace("a_listener_and_both_ends_of_a_connection_are_dumped_with_their_inodes") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = listener.local_addr().unwrap();
    let client = TcpStream::connect(server_addr).unwrap();
    let (accepted, _) = listener.accept().unwrap();

    let sockets = dump(&SocketQuery::all());
    let l = find(&sockets, inode_of(&listener));
    assert_eq!(
        (l.protocol, l.family, l.state),
        (Protocol::Tcp, Family::Ipv4, SocketState::Listen)
    );
    assert_eq!((l.local, l.remote), (server_addr, None));
    assert_eq!(l.uid, 0);
    let c = find(&sockets, inode_of(&client));
    assert_eq!(c.state, SocketState::Established);
    assert_eq!(
        (c.local, c.remote),
        (client.local_addr().unwrap(), Some(server_addr))
    );
    let a = find(&sockets, inode_of(&accepted));
    assert_eq!(
        (a.local, a.remote),
        (server_addr, Some(client.local_addr().unwrap()))
    );
    assert_eq!(
        sockets.len(),
        3,
        "a fresh namespace holds only our sockets: {sockets:#?}"
    );
    assert_ne!(c.cookie, a.cookie);
}

#[test]
fn ipv4_mapped_addresses_of_ipv6_sockets_are_shown_as_ipv4() {
    if !fresh_namespace("ipv4_mapped_addresses_of_ipv6_sockets_are_shown_as_ipv4") {
        return;
    }
    let listener = TcpListener::bind("[::]:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let sockets = dump(&SocketQuery::all());
    let a = find(&sockets, inode_of(&accepted));
    assert_eq!(a.family, Family::Ipv6);
    assert_eq!(a.local, SocketAddr::from(([127, 0, 0, 1], port)));
    assert_eq!(a.remote, Some(client.local_addr().unwrap()));
    let l = find(&sockets, inode_of(&listener));
    assert_eq!(
        l.local,
        SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port))
    );
}

#[test]
fn udp_sockets_are_unconnected_or_established() {
    if !fresh_namespace("udp_sockets_are_unconnected_or_established") {
        return;
    }
    let bound = UdpSocket::bind("[::1]:0").unwrap();
    let connected = UdpSocket::bind("127.0.0.1:0").unwrap();
    connected.connect("127.0.0.1:9").unwrap();
    let sockets = dump(&SocketQuery::all());
    let b = find(&sockets, inode_of(&bound));
    assert_eq!(
        (b.protocol, b.family, b.state),
        (Protocol::Udp, Family::Ipv6, SocketState::Unconnected)
    );
    assert_eq!(b.remote, None);
    let c = find(&sockets, inode_of(&connected));
    assert_eq!(c.state, SocketState::Established);
    assert_eq!(c.remote, Some(SocketAddr::from(([127, 0, 0, 1], 9))));
}

#[test]
fn state_filters_are_applied_by_the_kernel() {
    if !fresh_namespace("state_filters_are_applied_by_the_kernel") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let _udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let query = SocketQuery {
        protocols: vec![Protocol::Tcp],
        states: Some(vec![SocketState::Listen]),
        tcp_counters: false,
    };
    let sockets = dump(&query);
    assert_eq!(sockets.len(), 1, "{sockets:#?}");
    assert_eq!(sockets[0].inode, inode_of(&listener));
}

/// Sends `n` bytes from a client to an accepted socket and reads them all.
fn transfer(n: usize) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    client.write_all(&vec![7u8; n]).unwrap();
    let mut got = vec![0u8; n];
    server.read_exact(&mut got).unwrap();
    (client, server)
}

#[test]
fn tcp_counters_give_the_exact_payload_in_each_direction() {
    if !fresh_namespace("tcp_counters_give_the_exact_payload_in_each_direction") {
        return;
    }
    const N: usize = 1_234_567;
    let (client, server) = transfer(N);
    let query = SocketQuery {
        tcp_counters: true,
        ..SocketQuery::all()
    };
    let counters = |inode| {
        wait::until("all data acked", Duration::from_secs(5), || {
            let sockets = dump(&query);
            let s = find(&sockets, inode).clone();
            let c = s.tcp.expect("tcp_info was asked for");
            (c.payload_sent() == N as u64 || inode != inode_of(&client)).then_some((s, c))
        })
    };
    let (_, sent) = counters(inode_of(&client));
    // bytes_acked counts the SYN on the connecting side; payload_sent() removes it.
    assert_eq!(sent.bytes_acked, N as u64 + 1, "{sent:?}");
    assert_eq!(sent.payload_sent(), N as u64);
    let (_, received) = counters(inode_of(&server));
    assert_eq!(received.payload_received(false), N as u64, "{received:?}");

    // The peer's FIN counts one byte of bytes_received; the state says it arrived.
    client.shutdown(Shutdown::Write).unwrap();
    let (state, received) = wait::until("the FIN to arrive", Duration::from_secs(5), || {
        let (s, c) = counters(inode_of(&server));
        (s.state == SocketState::CloseWait).then_some((s.state, c))
    });
    assert_eq!(received.bytes_received, N as u64 + 1, "{received:?}");
    assert_eq!(
        received.payload_received(state.peer_fin_received()),
        N as u64
    );
}

#[test]
fn the_final_counters_of_a_closed_socket_are_broadcast() {
    if !fresh_namespace("the_final_counters_of_a_closed_socket_are_broadcast") {
        return;
    }
    let mut listener = ClosedSocketListener::start().expect("root may listen for destroy notices");
    const N: usize = 300_000;
    let (client, server) = transfer(N);
    let query = SocketQuery {
        tcp_counters: true,
        ..SocketQuery::all()
    };
    let sockets = dump(&query);
    let client_cookie = find(&sockets, inode_of(&client)).cookie;
    let server_cookie = find(&sockets, inode_of(&server)).cookie;
    drop(client);
    drop(server);
    let mut notices = Vec::new();
    let (client_final, server_final) = wait::until(
        "destroy notices for both ends",
        Duration::from_secs(10),
        || {
            notices.extend(listener.take_closed());
            let of = |cookie| {
                notices
                    .iter()
                    .find(|n| n.cookie == cookie)
                    .map(|n| n.counters)
            };
            Some((of(client_cookie)?, of(server_cookie)?))
        },
    );
    assert_eq!(client_final.payload_sent(), N as u64, "{client_final:?}");
    assert_eq!(
        server_final.payload_received(true),
        N as u64,
        "{server_final:?}"
    );
    assert_eq!(listener.lost(), 0);
}

#[test]
fn tcp_activity_moves_with_segments_of_this_namespace_only() {
    if !fresh_namespace("tcp_activity_moves_with_segments_of_this_namespace_only") {
        return;
    }
    use netpilot_core::ports::SocketSource;
    let diag = netpilot_linux::SockDiag::open().unwrap();
    let (mut client, _server) = transfer(10);
    let quiet = diag
        .tcp_activity()
        .expect("/proc/thread-self/net/snmp is readable");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(diag.tcp_activity(), Some(quiet), "nothing moved");
    client.write_all(b"one more segment").unwrap();
    wait::until("the segment to be counted", Duration::from_secs(5), || {
        (diag.tcp_activity() != Some(quiet)).then_some(())
    });
    // Traffic in another namespace does not count here. (A new thread starts in its
    // parent's namespace, so it moves to a fresh one first.)
    let moved = diag.tcp_activity();
    std::thread::spawn(|| {
        netpilot_testkit::netns::enter_fresh().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _c = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(diag.tcp_activity(), moved);
}
