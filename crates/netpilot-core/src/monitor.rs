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
    /// TCP payload received and acknowledged-sent, per second, over the last interval.
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
    /// TCP payload since sampling began.
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub connections: ConnectionCounts,
    /// UDP sockets held; their bytes are not measured.
    pub udp_sockets: u32,
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

/// TCP payload no process could be named for: sockets opened and closed between two
/// samples, or held by processes we may not inspect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnattributedTraffic {
    pub rx_bytes_per_sec: f64,
    pub tx_bytes_per_sec: f64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}
