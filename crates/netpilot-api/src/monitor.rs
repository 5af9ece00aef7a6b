//! Documents of the monitor commands.

use netpilot_core::{
    Connection, Error, InterfaceSample, ListeningPort, ProcessTraffic, SocketState,
    UnattributedTraffic, Visibility,
};
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

/// `netpilot ports --json`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortsDocument {
    pub ports: Vec<ListeningPort>,
    pub visibility: Visibility,
}

/// `netpilot traffic --json`: one document per interval (JSON Lines).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficDocument {
    pub interval_ms: u64,
    /// Processes holding sockets, busiest first.
    pub processes: Vec<ProcessTraffic>,
    pub unattributed: UnattributedTraffic,
    /// Always `false` for now: the kernel keeps no per-socket UDP byte counters, so UDP
    /// sockets are counted but their bytes are not measured.
    pub udp_bytes_measured: bool,
    /// Whether bytes moved by sockets that closed between samples are counted (needs the
    /// kernel's socket-destroy notices).
    pub closed_sockets_tracked: bool,
    /// Destroy notices the kernel dropped during this interval.
    pub lost_notices: u64,
    pub visibility: Visibility,
}

/// What `--json` prints when a command fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorDocument {
    pub error: Error,
}
