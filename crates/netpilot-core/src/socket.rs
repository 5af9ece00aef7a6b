//! Internet sockets as the kernel's socket diagnostics (sock_diag) describe them.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// The socket's address family. An IPv6 socket talking to an IPv4 peer through an
/// IPv4-mapped address stays `Ipv6` here while its addresses are shown as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        }
    }
}

/// A socket's state. TCP states follow `include/net/tcp_states.h`; a UDP socket is either
/// `Established` (connected) or `Unconnected` (bound, receiving from anyone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SocketState {
    Established,
    SynSent,
    SynRecv,
    #[serde(rename = "fin-wait-1")]
    FinWait1,
    #[serde(rename = "fin-wait-2")]
    FinWait2,
    TimeWait,
    Closed,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    Unconnected,
}

impl SocketState {
    pub const ALL: [SocketState; 12] = [
        SocketState::Established,
        SocketState::SynSent,
        SocketState::SynRecv,
        SocketState::FinWait1,
        SocketState::FinWait2,
        SocketState::TimeWait,
        SocketState::Closed,
        SocketState::CloseWait,
        SocketState::LastAck,
        SocketState::Listen,
        SocketState::Closing,
        SocketState::Unconnected,
    ];

    /// The name tables show, as `ss` spells it.
    pub fn label(self) -> &'static str {
        match self {
            SocketState::Established => "ESTAB",
            SocketState::SynSent => "SYN-SENT",
            SocketState::SynRecv => "SYN-RECV",
            SocketState::FinWait1 => "FIN-WAIT-1",
            SocketState::FinWait2 => "FIN-WAIT-2",
            SocketState::TimeWait => "TIME-WAIT",
            SocketState::Closed => "CLOSED",
            SocketState::CloseWait => "CLOSE-WAIT",
            SocketState::LastAck => "LAST-ACK",
            SocketState::Listen => "LISTEN",
            SocketState::Closing => "CLOSING",
            SocketState::Unconnected => "UNCONN",
        }
    }

    /// The name the JSON documents (and the metrics' `state` label) use.
    pub fn as_str(self) -> &'static str {
        match self {
            SocketState::Established => "established",
            SocketState::SynSent => "syn-sent",
            SocketState::SynRecv => "syn-recv",
            SocketState::FinWait1 => "fin-wait-1",
            SocketState::FinWait2 => "fin-wait-2",
            SocketState::TimeWait => "time-wait",
            SocketState::Closed => "closed",
            SocketState::CloseWait => "close-wait",
            SocketState::LastAck => "last-ack",
            SocketState::Listen => "listen",
            SocketState::Closing => "closing",
            SocketState::Unconnected => "unconnected",
        }
    }

    /// Waiting for peers: a TCP listener or an unconnected (bound) UDP socket.
    pub fn is_listening(self) -> bool {
        matches!(self, SocketState::Listen | SocketState::Unconnected)
    }

    /// The peer's FIN has been received, so the kernel's `bytes_received` counts it as
    /// one byte beyond the payload.
    pub fn peer_fin_received(self) -> bool {
        matches!(
            self,
            SocketState::CloseWait
                | SocketState::LastAck
                | SocketState::Closing
                | SocketState::TimeWait
        )
    }
}

/// One internet socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Socket {
    pub protocol: Protocol,
    pub family: Family,
    /// Local address; IPv4-mapped IPv6 addresses are given as IPv4.
    pub local: SocketAddr,
    /// Peer address; absent for listeners and unconnected UDP sockets.
    pub remote: Option<SocketAddr>,
    pub state: SocketState,
    /// Owner uid as the kernel records it (the creator's effective uid).
    pub uid: u32,
    /// The socket inode, the `N` in `/proc/PID/fd/* -> socket:[N]`; 0 once no process
    /// holds it (TIME-WAIT, orphaned FIN-WAIT).
    pub inode: u64,
    /// The kernel's unique, never-reused socket cookie.
    pub cookie: u64,
    pub recv_queue: u32,
    pub send_queue: u32,
    /// TCP byte counters from `tcp_info`, when they were asked for and exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpCounters>,
    /// Packets the socket dropped since it was created (`SK_MEMINFO_DROPS`: a full
    /// receive queue, above all), for UDP sockets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drops: Option<u32>,
}

/// The kernel's own per-socket TCP byte counters (`struct tcp_info`).
///
/// `bytes_acked` also counts our SYN and FIN (one sequence number each) and
/// `bytes_received` the peer's FIN; [`TcpCounters::payload_sent`] and
/// [`TcpCounters::payload_received`] take those out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpCounters {
    pub bytes_acked: u64,
    pub bytes_received: u64,
    /// Payload bytes transmitted, retransmissions included.
    pub bytes_sent: u64,
    pub bytes_retrans: u64,
}

impl TcpCounters {
    /// Payload bytes the peer has acknowledged. Acked payload can exceed neither the
    /// acked sequence space nor the distinct payload sent, and the minimum removes the
    /// SYN and FIN from `bytes_acked` whenever everything sent has been acked.
    pub fn payload_sent(&self) -> u64 {
        let distinct_sent = self.bytes_sent.saturating_sub(self.bytes_retrans);
        self.bytes_acked.min(distinct_sent)
    }

    /// Payload bytes received in order; `peer_fin` says whether the peer's FIN was counted.
    pub fn payload_received(&self, peer_fin: bool) -> u64 {
        self.bytes_received.saturating_sub(u64::from(peer_fin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_str_is_the_serialised_name() {
        for state in SocketState::ALL {
            let json = serde_json::to_string(&state).expect("serialised");
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
    }

    #[test]
    fn payload_sent_removes_syn_and_fin_once_all_is_acked() {
        let c = TcpCounters {
            bytes_acked: 1002,
            bytes_received: 0,
            bytes_sent: 1000,
            bytes_retrans: 0,
        };
        assert_eq!(c.payload_sent(), 1000);
    }

    #[test]
    fn payload_sent_ignores_retransmissions() {
        let c = TcpCounters {
            bytes_acked: 5001,
            bytes_received: 0,
            bytes_sent: 6000,
            bytes_retrans: 1000,
        };
        assert_eq!(c.payload_sent(), 5000);
    }

    #[test]
    fn payload_sent_is_bounded_by_acks_while_data_is_in_flight() {
        let c = TcpCounters {
            bytes_acked: 301,
            bytes_received: 0,
            bytes_sent: 1000,
            bytes_retrans: 0,
        };
        assert_eq!(c.payload_sent(), 301);
    }

    #[test]
    fn payload_received_drops_the_peer_fin() {
        let c = TcpCounters {
            bytes_received: 11,
            ..TcpCounters::default()
        };
        assert_eq!(c.payload_received(true), 10);
        assert_eq!(c.payload_received(false), 11);
        assert_eq!(TcpCounters::default().payload_received(true), 0);
    }

    #[test]
    fn state_names_serialise_like_the_docs_say() {
        let json = serde_json::to_string(&SocketState::FinWait1).unwrap();
        assert_eq!(json, "\"fin-wait-1\"");
        let json = serde_json::to_string(&SocketState::TimeWait).unwrap();
        assert_eq!(json, "\"time-wait\"");
    }
}
