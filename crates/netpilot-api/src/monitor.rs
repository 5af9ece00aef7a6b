//! Documents of the monitor commands.

use netpilot_core::{
    Connection, ConnectionTraffic, Error, InterfaceReconciliation, InterfaceSample, ListeningPort,
    ProcessTraffic, RemoteTraffic, SocketState, UnattributedTraffic, Visibility,
};
use netpilot_engine::monitor::{ConnectionsSnapshot, PortsSnapshot, TrafficSample, UdpStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `netpilot interfaces --json`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InterfacesDocument {
    /// How long rates were sampled over; absent with `--no-rate`.
    pub interval_ms: Option<u64>,
    pub interfaces: Vec<InterfaceSample>,
}

/// `netpilot connections --json`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionsDocument {
    pub connections: Vec<Connection>,
    pub summary: ConnectionSummary,
    pub visibility: Visibility,
}

/// Totals of the rows shown.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionSummary {
    pub total: u32,
    pub by_state: BTreeMap<SocketState, u32>,
}

impl ConnectionSummary {
    pub fn of(connections: &[Connection]) -> Self {
        let mut by_state = BTreeMap::new();
        for c in connections {
            *by_state.entry(c.state).or_insert(0) += 1;
        }
        ConnectionSummary {
            total: connections.len() as u32,
            by_state,
        }
    }
}

impl From<ConnectionsSnapshot> for ConnectionsDocument {
    fn from(snapshot: ConnectionsSnapshot) -> Self {
        ConnectionsDocument {
            summary: ConnectionSummary::of(&snapshot.connections),
            connections: snapshot.connections,
            visibility: snapshot.visibility,
        }
    }
}

/// `netpilot ports --json`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortsDocument {
    pub ports: Vec<ListeningPort>,
    pub visibility: Visibility,
}

impl From<PortsSnapshot> for PortsDocument {
    fn from(snapshot: PortsSnapshot) -> Self {
        PortsDocument {
            ports: snapshot.ports,
            visibility: snapshot.visibility,
        }
    }
}

/// `netpilot traffic --json`: one document per interval (JSON Lines).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficDocument {
    pub interval_ms: u64,
    /// Processes holding sockets, busiest first.
    pub processes: Vec<ProcessTraffic>,
    pub unattributed: UnattributedTraffic,
    /// Whether UDP bytes are counted (by netpilot's eBPF packet counter). When not, the
    /// processes' bytes are TCP's alone, and `udpNotMeasured` says why and what to do.
    pub udp_bytes_measured: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_not_measured: Option<Error>,
    /// Packets the counter could not count since it started (its table was full).
    #[serde(default)]
    pub udp_missed_packets: u64,
    /// Traffic per connection: TCP connections, and UDP sockets per remote end.
    #[serde(default)]
    pub connections: Vec<ConnectionTraffic>,
    /// Traffic per remote host.
    #[serde(default)]
    pub remotes: Vec<RemoteTraffic>,
    /// How much of each interface's traffic since sampling began was attributed.
    #[serde(default)]
    pub interfaces: Vec<InterfaceReconciliation>,
    /// Whether bytes moved by sockets that closed between samples are counted (needs the
    /// kernel's socket-destroy notices).
    pub closed_sockets_tracked: bool,
    /// Destroy notices the kernel dropped during this interval.
    pub lost_notices: u64,
    pub visibility: Visibility,
}

/// The interfaces' reconciliation is not in the sample (it needs the link counters): the
/// caller adds it, and the remote hosts' names.
impl From<TrafficSample> for TrafficDocument {
    fn from(sample: TrafficSample) -> Self {
        let (udp_bytes_measured, udp_not_measured, udp_missed_packets) = match sample.udp {
            UdpStatus::Measured { missed_packets } => (true, None, missed_packets),
            UdpStatus::NotMeasured(why) => (false, Some(why), 0),
        };
        TrafficDocument {
            interval_ms: sample.interval.map_or(0, |i| i.as_millis() as u64),
            processes: sample.processes,
            unattributed: sample.unattributed,
            udp_bytes_measured,
            udp_not_measured,
            udp_missed_packets,
            connections: sample.connections,
            remotes: sample.remotes,
            interfaces: Vec::new(),
            closed_sockets_tracked: sample.closed_sockets_tracked,
            lost_notices: sample.lost_notices,
            visibility: sample.visibility,
        }
    }
}

/// What `--json` prints when a command fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDocument {
    pub error: Error,
}
