//! The socket table over `NETLINK_SOCK_DIAG` (the interface `ss` uses), never by parsing
//! `/proc/net/tcp`.

mod closed;

pub use closed::ClosedSocketListener;

use crate::errors::netlink_to_error;
use crate::netlink::{Netlink, NetlinkError};
use netlink_packet_core::{NetlinkSerializable, NlasIterator, Parseable};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{
    AF_INET, AF_INET6, INET_DIAG_INFO, INET_DIAG_SKMEMINFO, IPPROTO_UDP, SOCK_DIAG_BY_FAMILY,
};
use netlink_packet_sock_diag::inet::nlas::TcpInfo;
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponseHeader, SocketId, StateFlags,
};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netpilot_core::ports::{ClosedSocket, SocketQuery, SocketSource};
use netpilot_core::{Error, Family, Protocol, Socket, SocketState, TcpCounters};
use std::cell::Cell;
use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::sync::{Mutex, PoisonError};

/// A dump with counters of at least this many sockets is split in two halves, dumped at
/// once on two netlink sockets: the kernel's work per socket (`tcp_info`) then runs on
/// two cores. Smaller dumps are not worth a thread.
const SPLIT_FROM: usize = 4096;

/// Internet sockets of the network namespace this was opened in.
pub struct SockDiag {
    netlink: Netlink,
    /// A second socket in the same namespace, opened on the first split dump, for the half
    /// dumped on a helper thread.
    helper: Mutex<Option<Netlink>>,
    /// How to halve the next dump with counters, learned from the last one.
    split: Cell<Option<Split>>,
    /// `/proc/thread-self/net/snmp` of that namespace, for [`SocketSource::tcp_activity`].
    snmp: Option<File>,
}

impl SockDiag {
    pub fn open() -> Result<Self, Error> {
        let netlink =
            Netlink::open(NETLINK_SOCK_DIAG).map_err(|e| netlink_to_error("sock_diag", e))?;
        // thread-self, not self: /proc/self/net is the main thread's namespace, and this
        // thread may have entered another one.
        let snmp = File::open("/proc/thread-self/net/snmp").ok();
        Ok(SockDiag {
            netlink,
            helper: Mutex::new(None),
            split: Cell::new(None),
            snmp,
        })
    }

    /// TCP of both families in one walk of the kernel's hash tables (see
    /// [`TcpBothFamilies`]); with counters and many sockets, in two halves at once.
    fn dump_tcp(
        &self,
        states: u32,
        tcp_counters: bool,
        out: &mut Vec<Socket>,
    ) -> Result<(), NetlinkError> {
        let extensions = if tcp_counters {
            ExtensionFlags::INFO.bits()
        } else {
            0
        };
        let request = move |filter| TcpBothFamilies {
            states,
            extensions,
            filter,
        };
        let start = out.len();
        match self.split.get().filter(|_| tcp_counters) {
            None => dump_tcp_with(&self.netlink, request(None), out)?,
            Some(split) => {
                let slot = &self.helper;
                let upper = std::thread::scope(|scope| {
                    let helper = scope.spawn(move || {
                        let mut helper = slot.lock().unwrap_or_else(PoisonError::into_inner);
                        let netlink = match &mut *helper {
                            Some(netlink) => netlink,
                            empty => empty.insert(Netlink::open(NETLINK_SOCK_DIAG)?),
                        };
                        let mut upper = Vec::new();
                        dump_tcp_with(netlink, request(Some(split.upper())), &mut upper)
                            .map(|()| upper)
                    });
                    let lower = dump_tcp_with(&self.netlink, request(Some(split.lower())), out);
                    let upper = helper
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                    lower.and(upper)
                })?;
                out.extend(upper);
            }
        }
        if tcp_counters {
            self.split.set(Split::choose(&out[start..]));
        }
        Ok(())
    }

    /// UDP of one family (UDP has no both-families request; its tables are small).
    fn dump_udp(
        &self,
        family: Family,
        states: u32,
        out: &mut Vec<Socket>,
    ) -> Result<(), NetlinkError> {
        let request = InetRequest {
            family: match family {
                Family::Ipv4 => AF_INET,
                Family::Ipv6 => AF_INET6,
            },
            protocol: IPPROTO_UDP,
            // Socket memory, for the drop counter (datagrams a full queue refused).
            extensions: ExtensionFlags::SKMEMINFO,
            states: StateFlags::from_bits_retain(states),
            socket_id: match family {
                Family::Ipv4 => SocketId::new_v4(),
                Family::Ipv6 => SocketId::new_v6(),
            },
        };
        self.netlink
            .dump_raw(SockDiagMessage::InetRequest(request), |header, payload| {
                if header.message_type == SOCK_DIAG_BY_FAMILY {
                    out.push(socket_from(Protocol::Udp, payload)?);
                }
                Ok(())
            })
    }
}

fn dump_tcp_with(
    netlink: &Netlink,
    request: TcpBothFamilies,
    out: &mut Vec<Socket>,
) -> Result<(), NetlinkError> {
    netlink.dump_raw(request, |header, payload| {
        if header.message_type == TCPDIAG_GETSOCK {
            out.push(socket_from(Protocol::Tcp, payload)?);
        }
        Ok(())
    })
}

/// Which port divides a dump in two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Port {
    Local,
    Remote,
}

impl Port {
    fn of(self, socket: &Socket) -> u16 {
        match self {
            Port::Local => socket.local.port(),
            Port::Remote => socket.remote.map_or(0, |r| r.port()),
        }
    }
}

/// Halves of a dump: sockets whose `port` is below `at`, and the others. A server's
/// sockets share their local port and a client's their remote one, so whichever port
/// divides the last dump more evenly is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Split {
    port: Port,
    at: u16,
}

/// `INET_DIAG_REQ_BYTECODE`, and the comparisons of `include/uapi/linux/inet_diag.h`.
const INET_DIAG_REQ_BYTECODE: u16 = 1;
const INET_DIAG_BC_S_GE: u8 = 2;
const INET_DIAG_BC_S_LE: u8 = 3;
const INET_DIAG_BC_D_GE: u8 = 4;
const INET_DIAG_BC_D_LE: u8 = 5;

impl Split {
    /// The most even split of `sockets`; `None` when they are too few to be worth it, or
    /// when no port puts at least a quarter on each side.
    fn choose(sockets: &[Socket]) -> Option<Split> {
        if sockets.len() < SPLIT_FROM {
            return None;
        }
        let mut best: Option<(usize, Split)> = None;
        for port in [Port::Local, Port::Remote] {
            let mut ports: Vec<u16> = sockets.iter().map(|s| port.of(s)).collect();
            let middle = ports.len() / 2;
            let median = *ports.select_nth_unstable(middle).1;
            // Many sockets may share the median (a listener's port): it goes with
            // whichever half that evens out.
            for at in [median, median.saturating_add(1)] {
                let below = ports.iter().filter(|&&p| p < at).count();
                let imbalance = below.abs_diff(sockets.len() - below);
                if at > 0 && best.is_none_or(|(b, _)| imbalance < b) {
                    best = Some((imbalance, Split { port, at }));
                }
            }
        }
        best.filter(|&(imbalance, _)| imbalance <= sockets.len() / 2)
            .map(|(_, split)| split)
    }

    /// Bytecode accepting the lower half (port ≤ at - 1).
    fn lower(self) -> [u8; 8] {
        let code = match self.port {
            Port::Local => INET_DIAG_BC_S_LE,
            Port::Remote => INET_DIAG_BC_D_LE,
        };
        comparison(code, self.at - 1)
    }

    /// Bytecode accepting the upper half (port ≥ at).
    fn upper(self) -> [u8; 8] {
        let code = match self.port {
            Port::Local => INET_DIAG_BC_S_GE,
            Port::Remote => INET_DIAG_BC_D_GE,
        };
        comparison(code, self.at)
    }
}

/// One port comparison (`struct inet_diag_bc_op` twice): when it holds, jump to the end
/// of the 8-byte program (accept); otherwise past it (reject).
fn comparison(code: u8, port: u16) -> [u8; 8] {
    let mut op = [0u8; 8];
    op[0] = code;
    op[1] = 8; // yes: the end
    op[2..4].copy_from_slice(&12u16.to_ne_bytes()); // no: past the end
    op[6..8].copy_from_slice(&port.to_ne_bytes());
    op
}

/// `TCPDIAG_GETSOCK`, the request that predates `SOCK_DIAG_BY_FAMILY`.
const TCPDIAG_GETSOCK: u16 = 18;

/// The `TCPDIAG_GETSOCK` request (`struct inet_diag_req`, 60 bytes). The kernel serves it
/// with one walk of the TCP hash tables for both families (`inet_diag_dump_compat` sets
/// `AF_UNSPEC`), while `SOCK_DIAG_BY_FAMILY` takes a walk per family, each stepping over
/// every socket of the other family.
/// With a `filter`, the kernel runs that bytecode on each socket and dumps those it
/// accepts.
#[derive(Debug)]
struct TcpBothFamilies {
    states: u32,
    extensions: u8,
    filter: Option<[u8; 8]>,
}

impl NetlinkSerializable for TcpBothFamilies {
    fn message_type(&self) -> u16 {
        TCPDIAG_GETSOCK
    }

    fn buffer_len(&self) -> usize {
        60 + self.filter.map_or(0, |f| 4 + f.len())
    }

    fn serialize(&self, buffer: &mut [u8]) {
        buffer.fill(0); // family (unused), prefix lengths, and the socket id: all zero
        buffer[3] = self.extensions;
        buffer[52..56].copy_from_slice(&self.states.to_ne_bytes());
        if let Some(filter) = self.filter {
            let length = (4 + filter.len()) as u16;
            buffer[60..62].copy_from_slice(&length.to_ne_bytes());
            buffer[62..64].copy_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
            buffer[64..72].copy_from_slice(&filter);
        }
    }
}

impl SocketSource for SockDiag {
    fn sockets(&self, query: &SocketQuery) -> Result<Vec<Socket>, Error> {
        let mut sockets = Vec::new();
        for &protocol in &query.protocols {
            let states = kernel_state_mask(protocol, query.states.as_deref());
            if states == 0 {
                continue;
            }
            let dumped = match protocol {
                Protocol::Tcp => self.dump_tcp(states, query.tcp_counters, &mut sockets),
                Protocol::Udp => self
                    .dump_udp(Family::Ipv4, states, &mut sockets)
                    .and_then(|()| self.dump_udp(Family::Ipv6, states, &mut sockets)),
            };
            dumped.map_err(|e| netlink_to_error("sock_diag", e))?;
        }
        Ok(sockets)
    }

    fn tcp_activity(&self) -> Option<u64> {
        let mut text = [0u8; 8192]; // the whole file (about 2 KiB) in one read
        let length = self.snmp.as_ref()?.read_at(&mut text, 0).ok()?;
        tcp_activity(std::str::from_utf8(&text[..length]).ok()?)
    }
}

/// The sum of the TCP MIB counters that move whenever a TCP socket sends or receives a
/// segment, opens, fails or resets, from `/proc/net/snmp`'s two `Tcp:` lines (names,
/// then values). All are monotonic, so the sum changes exactly when one of them does.
fn tcp_activity(snmp: &str) -> Option<u64> {
    const MOVING: [&str; 9] = [
        "ActiveOpens",
        "PassiveOpens",
        "AttemptFails",
        "EstabResets",
        "InSegs",
        "OutSegs",
        "RetransSegs",
        "InErrs",
        "OutRsts",
    ];
    let mut tcp = snmp.lines().filter_map(|line| line.strip_prefix("Tcp:"));
    let (names, values) = (tcp.next()?, tcp.next()?);
    let mut sum = 0u64;
    let mut found = 0;
    for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
        if MOVING.contains(&name) {
            sum = sum.wrapping_add(value.parse::<u64>().ok()?);
            found += 1;
        }
    }
    (found == MOVING.len()).then_some(sum)
}

// Kernel socket states, include/net/tcp_states.h. UDP reuses ESTABLISHED for connected
// sockets and CLOSE for bound, unconnected ones.
const TCP_ESTABLISHED: u8 = 1;
const TCP_SYN_SENT: u8 = 2;
const TCP_SYN_RECV: u8 = 3;
const TCP_FIN_WAIT1: u8 = 4;
const TCP_FIN_WAIT2: u8 = 5;
const TCP_TIME_WAIT: u8 = 6;
const TCP_CLOSE: u8 = 7;
const TCP_CLOSE_WAIT: u8 = 8;
const TCP_LAST_ACK: u8 = 9;
const TCP_LISTEN: u8 = 10;
const TCP_CLOSING: u8 = 11;
const TCP_NEW_SYN_RECV: u8 = 12;

fn kernel_states(protocol: Protocol, state: SocketState) -> &'static [u8] {
    match (protocol, state) {
        (_, SocketState::Established) => &[TCP_ESTABLISHED],
        (Protocol::Udp, SocketState::Unconnected) => &[TCP_CLOSE],
        (Protocol::Udp, _) => &[],
        (Protocol::Tcp, SocketState::SynSent) => &[TCP_SYN_SENT],
        (Protocol::Tcp, SocketState::SynRecv) => &[TCP_SYN_RECV, TCP_NEW_SYN_RECV],
        (Protocol::Tcp, SocketState::FinWait1) => &[TCP_FIN_WAIT1],
        (Protocol::Tcp, SocketState::FinWait2) => &[TCP_FIN_WAIT2],
        (Protocol::Tcp, SocketState::TimeWait) => &[TCP_TIME_WAIT],
        (Protocol::Tcp, SocketState::Closed) => &[TCP_CLOSE],
        (Protocol::Tcp, SocketState::CloseWait) => &[TCP_CLOSE_WAIT],
        (Protocol::Tcp, SocketState::LastAck) => &[TCP_LAST_ACK],
        (Protocol::Tcp, SocketState::Listen) => &[TCP_LISTEN],
        (Protocol::Tcp, SocketState::Closing) => &[TCP_CLOSING],
        (Protocol::Tcp, SocketState::Unconnected) => &[],
    }
}

/// The `idiag_states` bitmask that asks the kernel for exactly these states.
fn kernel_state_mask(protocol: Protocol, states: Option<&[SocketState]>) -> u32 {
    let all = SocketState::ALL;
    states
        .unwrap_or(&all)
        .iter()
        .flat_map(|&state| kernel_states(protocol, state))
        .fold(0, |mask, &bit| mask | 1 << bit)
}

fn socket_state(protocol: Protocol, state: u8) -> SocketState {
    match (protocol, state) {
        (_, TCP_ESTABLISHED) => SocketState::Established,
        (Protocol::Udp, _) => SocketState::Unconnected,
        (Protocol::Tcp, TCP_SYN_SENT) => SocketState::SynSent,
        (Protocol::Tcp, TCP_SYN_RECV | TCP_NEW_SYN_RECV) => SocketState::SynRecv,
        (Protocol::Tcp, TCP_FIN_WAIT1) => SocketState::FinWait1,
        (Protocol::Tcp, TCP_FIN_WAIT2) => SocketState::FinWait2,
        (Protocol::Tcp, TCP_TIME_WAIT) => SocketState::TimeWait,
        (Protocol::Tcp, TCP_CLOSE_WAIT) => SocketState::CloseWait,
        (Protocol::Tcp, TCP_LAST_ACK) => SocketState::LastAck,
        (Protocol::Tcp, TCP_LISTEN) => SocketState::Listen,
        (Protocol::Tcp, TCP_CLOSING) => SocketState::Closing,
        (Protocol::Tcp, _) => SocketState::Closed,
    }
}

/// `sizeof(struct inet_diag_msg)`; attributes follow it.
const INET_DIAG_MSG_LEN: usize = 72;

/// Decodes one `inet_diag_msg` and, of its attributes, only `INET_DIAG_INFO`: a dump is
/// 100,000 of these, and the rest would be decoded (and allocated) for nothing.
fn socket_from(protocol: Protocol, payload: &[u8]) -> Result<Socket, NetlinkError> {
    let decode = |e: netlink_packet_core::DecodeError| NetlinkError::Decode(e.to_string());
    let header = InetResponseHeader::parse(payload).map_err(decode)?;
    let attributes = payload.get(INET_DIAG_MSG_LEN..).unwrap_or_default();
    let mut socket = socket_with(protocol, &header, tcp_counters(attributes));
    if protocol == Protocol::Udp {
        socket.drops = drops(attributes);
    }
    Ok(socket)
}

/// `SK_MEMINFO_DROPS` of the `INET_DIAG_SKMEMINFO` attribute (an array of u32s,
/// include/uapi/linux/sock_diag.h).
fn drops(attributes: &[u8]) -> Option<u32> {
    const SK_MEMINFO_DROPS: usize = 8;
    let nla = NlasIterator::new(attributes)
        .filter_map(Result::ok)
        .find(|nla| nla.kind() == INET_DIAG_SKMEMINFO)?;
    let at = SK_MEMINFO_DROPS * 4;
    let bytes = nla.value().get(at..at + 4)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

fn socket_with(
    protocol: Protocol,
    header: &InetResponseHeader,
    tcp: Option<TcpCounters>,
) -> Socket {
    let family = if header.family == AF_INET {
        Family::Ipv4
    } else {
        Family::Ipv6
    };
    let id = &header.socket_id;
    let local = SocketAddr::new(id.source_address.to_canonical(), id.source_port);
    let remote = SocketAddr::new(id.destination_address.to_canonical(), id.destination_port);
    let has_peer = remote.port() != 0 || !remote.ip().is_unspecified();
    Socket {
        protocol,
        family,
        local,
        remote: has_peer.then_some(remote),
        state: socket_state(protocol, header.state),
        uid: header.uid,
        inode: u64::from(header.inode),
        cookie: cookie(id),
        recv_queue: header.recv_queue,
        send_queue: header.send_queue,
        tcp,
        drops: None,
    }
}

/// The cookie and final counters of a destroy notice.
pub(crate) fn closed_from(payload: &[u8]) -> Option<ClosedSocket> {
    let header = InetResponseHeader::parse(payload).ok()?;
    let counters = tcp_counters(payload.get(INET_DIAG_MSG_LEN..)?)?;
    Some(ClosedSocket {
        cookie: cookie(&header.socket_id),
        counters,
    })
}

/// The socket cookie as one number; the kernel sends it as two native-endian u32s.
pub(crate) fn cookie(id: &SocketId) -> u64 {
    u64::from_ne_bytes(id.cookie)
}

/// The byte counters in the `INET_DIAG_INFO` attribute (`struct tcp_info`), if present.
pub(crate) fn tcp_counters(attributes: &[u8]) -> Option<TcpCounters> {
    NlasIterator::new(attributes)
        .filter_map(Result::ok)
        .find(|nla| nla.kind() == INET_DIAG_INFO)
        .and_then(|nla| TcpInfo::parse(nla.value()).ok())
        .map(|info| TcpCounters {
            bytes_acked: info.bytes_acked,
            bytes_received: info.bytes_received,
            bytes_sent: info.bytes_sent,
            bytes_retrans: info.bytes_retrans,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected(local: u16, remote: u16) -> Socket {
        Socket {
            protocol: Protocol::Tcp,
            family: Family::Ipv4,
            local: ([127, 0, 0, 1], local).into(),
            remote: Some(([127, 0, 0, 1], remote).into()),
            state: SocketState::Established,
            uid: 0,
            inode: 1,
            cookie: 1,
            recv_queue: 0,
            send_queue: 0,
            tcp: None,
            drops: None,
        }
    }

    #[test]
    fn a_dump_is_split_by_whichever_port_divides_it_evenly() {
        // A server's sockets: one local port, remote ports all different.
        let server: Vec<Socket> = (0..5000).map(|i| connected(443, 30000 + i)).collect();
        assert_eq!(
            Split::choose(&server),
            Some(Split {
                port: Port::Remote,
                at: 32500
            })
        );
        // A client's: the other way round.
        let client: Vec<Socket> = (0..5000).map(|i| connected(30000 + i, 443)).collect();
        assert_eq!(Split::choose(&client).map(|s| s.port), Some(Port::Local));
        // Too few to be worth a thread; or nothing divides them.
        assert_eq!(Split::choose(&server[..100]), None);
        let same: Vec<Socket> = (0..5000).map(|_| connected(443, 30000)).collect();
        assert_eq!(Split::choose(&same), None);
    }

    #[test]
    fn a_port_comparison_is_one_op_and_its_port() {
        let op = comparison(INET_DIAG_BC_S_GE, 0x1234);
        assert_eq!(&op[..2], [INET_DIAG_BC_S_GE, 8]);
        assert_eq!(u16::from_ne_bytes([op[2], op[3]]), 12);
        assert_eq!(u16::from_ne_bytes([op[6], op[7]]), 0x1234);
    }

    /// The kernel halves: each holds what its bytecode says, together every socket once.
    #[test]
    fn a_split_dump_with_counters_returns_every_socket_once() {
        let test = "a_split_dump_with_counters_returns_every_socket_once";
        if !netpilot_testkit::require_root(test) {
            return;
        }
        netpilot_testkit::netns::enter_fresh().expect("a fresh namespace");
        netpilot_testkit::netns::ip(&["link", "set", "lo", "up"]).expect("lo up");
        let mut limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        limit.current = limit.maximum;
        rustix::process::setrlimit(rustix::process::Resource::Nofile, limit).expect("more fds");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
        let mut held = Vec::new();
        for _ in 0..SPLIT_FROM / 2 + 100 {
            held.push(std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap());
            held.push(listener.accept().unwrap().0);
        }
        let query = SocketQuery {
            protocols: vec![Protocol::Tcp],
            states: Some(vec![SocketState::Established]),
            tcp_counters: true,
        };
        let diag = SockDiag::open().unwrap();
        let inodes = |sockets: Vec<Socket>| {
            let mut inodes: Vec<u64> = sockets.iter().map(|s| s.inode).collect();
            inodes.sort_unstable();
            inodes
        };
        let whole = inodes(diag.sockets(&query).unwrap());
        assert_eq!(whole.len(), held.len());
        let split = diag
            .split
            .get()
            .expect("a dump this size is split next time");
        let halved = inodes(diag.sockets(&query).unwrap());
        assert_eq!(halved, whole, "the halves hold every socket once");
        assert!(
            diag.helper.lock().unwrap().is_some(),
            "the second half had its own socket"
        );

        let request = |filter| TcpBothFamilies {
            states: kernel_state_mask(Protocol::Tcp, Some(&[SocketState::Established])),
            extensions: 0,
            filter: Some(filter),
        };
        let mut lower = Vec::new();
        dump_tcp_with(&diag.netlink, request(split.lower()), &mut lower).unwrap();
        assert!(lower.iter().all(|s| split.port.of(s) < split.at));
        let mut upper = Vec::new();
        dump_tcp_with(&diag.netlink, request(split.upper()), &mut upper).unwrap();
        assert!(upper.iter().all(|s| split.port.of(s) >= split.at));
        assert_eq!(lower.len() + upper.len(), whole.len());
        assert!(lower.len() >= whole.len() / 4 && upper.len() >= whole.len() / 4);
    }

    #[test]
    fn listen_kind_asks_tcp_for_listen_and_udp_for_unconnected() {
        let listening = [SocketState::Listen, SocketState::Unconnected];
        assert_eq!(kernel_state_mask(Protocol::Tcp, Some(&listening)), 1 << 10);
        assert_eq!(kernel_state_mask(Protocol::Udp, Some(&listening)), 1 << 7);
    }

    #[test]
    fn all_states_cover_new_syn_recv() {
        let mask = kernel_state_mask(Protocol::Tcp, None);
        assert_eq!(mask, (1..=12).fold(0, |m, bit| m | 1 << bit));
    }

    #[test]
    fn udp_has_no_listen_state() {
        assert_eq!(
            kernel_state_mask(Protocol::Udp, Some(&[SocketState::Listen])),
            0
        );
    }

    #[test]
    fn the_message_header_length_is_that_of_inet_diag_msg() {
        // 4 one-byte fields, the 48-byte inet_diag_sockid, five u32s.
        assert_eq!(INET_DIAG_MSG_LEN, 4 + 48 + 5 * 4);
    }

    #[test]
    fn tcp_activity_sums_the_moving_counters() {
        let snmp = "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
            Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors\n\
            Tcp: 1 200 120000 -1 63 2 0 45 7 2064 1665 3 0 67 0\n\
            Udp: InDatagrams\nUdp: 5\n";
        assert_eq!(tcp_activity(snmp), Some(63 + 2 + 45 + 2064 + 1665 + 3 + 67));
        assert_eq!(
            tcp_activity("Tcp: InSegs\nTcp: 5\n"),
            None,
            "all counters must be there"
        );
        assert_eq!(tcp_activity(""), None);
    }

    #[test]
    fn kernel_states_round_trip() {
        for state in SocketState::ALL {
            for protocol in [Protocol::Tcp, Protocol::Udp] {
                for &bit in kernel_states(protocol, state) {
                    assert_eq!(socket_state(protocol, bit), state, "{protocol:?} {state:?}");
                }
            }
        }
    }
}
