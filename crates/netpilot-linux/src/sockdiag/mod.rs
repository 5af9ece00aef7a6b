//! The socket table over `NETLINK_SOCK_DIAG` (the interface `ss` uses), never by parsing
//! `/proc/net/tcp`.

mod closed;

pub use closed::ClosedSocketListener;

use crate::errors::netlink_to_error;
use crate::netlink::{Netlink, NetlinkError};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::nlas::Nla;
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponse, SocketId, StateFlags,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netpilot_core::ports::{SocketQuery, SocketSource};
use netpilot_core::{Error, Family, Protocol, Socket, SocketState, TcpCounters};
use std::net::SocketAddr;

/// Internet sockets of the network namespace this was opened in.
pub struct SockDiag {
    netlink: Netlink,
}

impl SockDiag {
    pub fn open() -> Result<Self, Error> {
        let netlink =
            Netlink::open(NETLINK_SOCK_DIAG).map_err(|e| netlink_to_error("sock_diag", e))?;
        Ok(SockDiag { netlink })
    }

    fn dump(
        &self,
        protocol: Protocol,
        family: Family,
        states: u32,
        tcp_counters: bool,
        out: &mut Vec<Socket>,
    ) -> Result<(), NetlinkError> {
        let request = InetRequest {
            family: match family {
                Family::Ipv4 => AF_INET,
                Family::Ipv6 => AF_INET6,
            },
            protocol: match protocol {
                Protocol::Tcp => IPPROTO_TCP,
                Protocol::Udp => IPPROTO_UDP,
            },
            extensions: if tcp_counters && protocol == Protocol::Tcp {
                ExtensionFlags::INFO
            } else {
                ExtensionFlags::empty()
            },
            states: StateFlags::from_bits_retain(states),
            socket_id: match family {
                Family::Ipv4 => SocketId::new_v4(),
                Family::Ipv6 => SocketId::new_v6(),
            },
        };
        self.netlink.dump(SockDiagMessage::InetRequest(request), |reply: SockDiagMessage| {
            if let SockDiagMessage::InetResponse(response) = reply {
                out.push(socket_from(protocol, family, &response));
            }
            Ok(())
        })
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
            for family in [Family::Ipv4, Family::Ipv6] {
                self.dump(protocol, family, states, query.tcp_counters, &mut sockets)
                    .map_err(|e| netlink_to_error("sock_diag", e))?;
            }
        }
        Ok(sockets)
    }
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

fn socket_from(protocol: Protocol, family: Family, response: &InetResponse) -> Socket {
    let header = &response.header;
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
        cookie: u64::from_ne_bytes(id.cookie),
        recv_queue: header.recv_queue,
        send_queue: header.send_queue,
        tcp: tcp_counters(response),
    }
}

pub(crate) fn tcp_counters(response: &InetResponse) -> Option<TcpCounters> {
    response.nlas.iter().find_map(|nla| match nla {
        Nla::TcpInfo(info) => Some(TcpCounters {
            bytes_acked: info.bytes_acked,
            bytes_received: info.bytes_received,
            bytes_sent: info.bytes_sent,
            bytes_retrans: info.bytes_retrans,
        }),
        _ => None,
    })
}


#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(kernel_state_mask(Protocol::Udp, Some(&[SocketState::Listen])), 0);
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
