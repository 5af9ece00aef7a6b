//! What the monitor reports: rows built by the engine from sockets, processes and links.

use crate::{Family, Interface, ProcessRef, Protocol, SocketState};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Which sockets to show: `connections --kind` and the protocol's `monitor.connections`
/// spell it the same way (the one definition both parse).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionKind {
    #[default]
    All,
    Tcp,
    Udp,
    Established,
    /// Listening TCP and bound, unconnected UDP sockets.
    Listen,
}

impl ConnectionKind {
    pub const ALL: [ConnectionKind; 5] = [
        ConnectionKind::All,
        ConnectionKind::Tcp,
        ConnectionKind::Udp,
        ConnectionKind::Established,
        ConnectionKind::Listen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::All => "all",
            ConnectionKind::Tcp => "tcp",
            ConnectionKind::Udp => "udp",
            ConnectionKind::Established => "established",
            ConnectionKind::Listen => "listen",
        }
    }
}

impl std::str::FromStr for ConnectionKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ConnectionKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = ConnectionKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("{text:?} is not one of {}", names.join(", "))
            })
    }
}

/// A socket with the processes that hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Connection {
    pub protocol: Protocol,
    pub family: Family,
    pub local: SocketAddr,
    pub remote: Option<SocketAddr>,
    pub state: SocketState,
    pub uid: u32,
    pub user: Option<Arc<str>>,
    pub inode: u64,
    pub recv_queue: u32,
    pub send_queue: u32,
    /// Every process holding the socket open, lowest pid first; empty when none can be
    /// seen (another user's process without privileges, or no process at all: TIME-WAIT).
    pub processes: Vec<ProcessRef>,
}

/// Listening TCP and bound UDP sockets on one port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListeningPort {
    pub protocol: Protocol,
    pub port: u16,
    /// The well-known service on this port, if any (`ssh`, `https`…).
    pub service: Option<String>,
    pub bindings: Vec<PortBinding>,
}

/// One socket listening on a port: which address, which family, held by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortBinding {
    pub address: IpAddr,
    pub family: Family,
    pub user: Option<Arc<str>>,
    pub processes: Vec<ProcessRef>,
}

/// An interface with its throughput over the last sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")] // `deny_unknown_fields` cannot be combined with `flatten`
pub struct InterfaceSample {
    #[serde(flatten)]
    pub interface: Interface,
    /// Absent when no rate was sampled (`--no-rate`) or the interface is new.
    pub rate: Option<LinkRate>,
}

/// Throughput of a link, per second, over a sample interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkRate {
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
    pub rx_packets_per_sec: f64,
    pub tx_packets_per_sec: f64,
}

/// One process's network use over the last interval and since sampling began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProcessTraffic {
    pub pid: u32,
    pub name: String,
    /// The owner of its sockets (their creator's effective uid), by name when known.
    pub user: Option<Arc<str>>,
    /// Payload received and sent, per second, over the last interval: TCP (received,
    /// and sent and acknowledged) plus UDP when UDP is measured.
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
    /// Payload since sampling began, TCP plus UDP.
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Of those, UDP payload (the datagrams without IP and UDP headers), since sampling
    /// began; 0 when UDP is not measured.
    pub udp_rx_bytes: u64,
    pub udp_tx_bytes: u64,
    /// Datagrams that reached its UDP sockets and were dropped there, their receive
    /// queue being full (sock_diag `SK_MEMINFO_DROPS`), since sampling began. Their bytes
    /// are in `udpRxBytes`: they crossed the network to this process.
    pub udp_rx_dropped: u64,
    pub connections: ConnectionCounts,
    /// UDP sockets held.
    pub udp_sockets: u32,
}

/// One connection's traffic: a TCP connection, or what a UDP socket exchanged with one
/// remote end (an unconnected socket has a row per remote it talked to).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionTraffic {
    pub protocol: Protocol,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub pid: Option<u32>,
    pub process: Option<String>,
    pub user: Option<Arc<str>>,
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// Traffic with one remote host, over every connection to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RemoteTraffic {
    pub address: IpAddr,
    /// Its name by reverse DNS, once known (never waited for).
    pub name: Option<String>,
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    /// Connections (TCP connections and UDP socket–remote pairs) seen with it.
    pub connections: u32,
    /// Processes that exchanged bytes with it, by name.
    pub processes: Vec<String>,
}

/// How much of an interface's traffic since sampling began was attributed: IP bytes as
/// they crossed the interface (its own counters, less one link-layer header per packet),
/// split into bytes of sockets whose process is known, bytes of sockets netpilot knows
/// with no process, and the rest (forwarded packets, ICMP, ARP, raw sockets, sockets
/// opened and closed between two samples…).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InterfaceReconciliation {
    pub interface: String,
    pub bytes: u64,
    pub to_processes: u64,
    pub to_sockets_without_process: u64,
    pub unattributed: u64,
}

impl InterfaceReconciliation {
    /// The share of the bytes attributed to a process, in percent (100 with no bytes).
    pub fn attributed_percent(&self) -> f64 {
        if self.bytes == 0 {
            100.0
        } else {
            self.to_processes as f64 / self.bytes as f64 * 100.0
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionCounts {
    /// TCP and UDP sockets held.
    pub total: u32,
    pub established: u32,
    /// Listening TCP plus unconnected UDP sockets.
    pub listening: u32,
}

/// What could not be seen, and why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Visibility {
    /// Sockets held by some process whose owner could not be found.
    pub unattributed_sockets: u32,
    /// Processes whose fd table could not be read (another user's, without privileges).
    pub unreadable_processes: u32,
}

/// Payload no process could be named for: sockets opened and closed between two samples
/// (TCP through the kernel's destroy notices; UDP through the packet counter), or held
/// by processes we may not inspect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnattributedTraffic {
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}
