//! The cells of each row, as the tables and the live monitor show them: one place, so a
//! column means the same wherever it is drawn.

use super::units;
use netpilot_core::{
    Connection, ConnectionTraffic, Family, InterfaceReconciliation, ListeningPort, ProcessRef,
    ProcessTraffic, RemoteTraffic,
};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// PROTO, STATE, LOCAL, REMOTE, PROCESS, USER.
pub fn connection(c: &Connection) -> Vec<String> {
    vec![
        format!(
            "{}{}",
            c.protocol.as_str(),
            if c.family == Family::Ipv6 { "6" } else { "" }
        ),
        c.state.label().to_string(),
        c.local.to_string(),
        c.remote.map_or_else(|| "*".to_string(), |r| r.to_string()),
        processes(&c.processes),
        c.user
            .as_deref()
            .map_or_else(|| c.uid.to_string(), str::to_owned),
    ]
}

/// PROTO, PORT, SERVICE, ADDRESSES, PROCESS, USER.
pub fn port(port: &ListeningPort) -> Vec<String> {
    let addresses: Vec<String> = port.bindings.iter().map(|b| address(b.address)).collect();
    let mut holders = BTreeSet::new();
    let mut users = BTreeSet::new();
    for binding in &port.bindings {
        holders.extend(binding.processes.iter().cloned());
        users.extend(binding.user.iter().cloned());
    }
    let holders: Vec<_> = holders.into_iter().collect();
    vec![
        port.protocol.as_str().to_string(),
        port.port.to_string(),
        port.service.clone().unwrap_or_else(|| "-".into()),
        addresses.join(", "),
        processes(&holders),
        users.into_iter().collect::<Vec<_>>().join(","),
    ]
}

/// The columns of [`traffic`]; numbers are right-aligned from RX/s on.
pub const TRAFFIC: [&str; 11] = [
    "PID", "PROCESS", "USER", "RX/s", "TX/s", "RX TOTAL", "TX TOTAL", "UDP RX", "UDP TX", "CONNS",
    "UDP",
];

/// One process: its rates and totals (TCP and UDP), the UDP part, its sockets.
pub fn traffic(p: &ProcessTraffic) -> Vec<String> {
    vec![
        p.pid.to_string(),
        p.name.to_string(),
        p.user.as_deref().unwrap_or("-").to_string(),
        units::rate(p.rx_bytes_per_sec),
        units::rate(p.tx_bytes_per_sec),
        units::bytes(p.rx_bytes),
        units::bytes(p.tx_bytes),
        units::bytes(p.udp_rx_bytes),
        units::bytes(p.udp_tx_bytes),
        p.connections.total.to_string(),
        p.udp_sockets.to_string(),
    ]
}

/// The columns of [`connection_traffic`].
pub const CONNECTION_TRAFFIC: [&str; 9] = [
    "PROTO", "LOCAL", "REMOTE", "PROCESS", "USER", "RX/s", "TX/s", "RX TOTAL", "TX TOTAL",
];

pub fn connection_traffic(c: &ConnectionTraffic) -> Vec<String> {
    let process = match (c.pid, &c.process) {
        (Some(pid), Some(name)) => format!("{pid}/{name}"),
        (Some(pid), None) => pid.to_string(),
        _ => "-".to_string(),
    };
    vec![
        c.protocol.as_str().to_string(),
        c.local.to_string(),
        c.remote.to_string(),
        process,
        c.user.as_deref().unwrap_or("-").to_string(),
        units::rate(c.rx_bytes_per_sec),
        units::rate(c.tx_bytes_per_sec),
        units::bytes(c.rx_bytes),
        units::bytes(c.tx_bytes),
    ]
}

/// The columns of [`remote_traffic`].
pub const REMOTE_TRAFFIC: [&str; 8] = [
    "REMOTE",
    "NAME",
    "RX/s",
    "TX/s",
    "RX TOTAL",
    "TX TOTAL",
    "CONNS",
    "PROCESSES",
];

pub fn remote_traffic(r: &RemoteTraffic) -> Vec<String> {
    vec![
        r.address.to_string(),
        r.name.clone().unwrap_or_else(|| "-".into()),
        units::rate(r.rx_bytes_per_sec),
        units::rate(r.tx_bytes_per_sec),
        units::bytes(r.rx_bytes),
        units::bytes(r.tx_bytes),
        r.connections.to_string(),
        r.processes.join(","),
    ]
}

/// "np0: 97.8 % of 1.2 MB attributed to processes (0.1 % to sockets without a process,
/// 2.1 % to none: ICMP, ARP, forwarding…)"
pub fn reconciliation(r: &InterfaceReconciliation) -> String {
    let percent = |part: u64| {
        if r.bytes == 0 {
            0.0
        } else {
            part as f64 / r.bytes as f64 * 100.0
        }
    };
    format!(
        "{}: {:.1} % of {} attributed to processes ({:.1} % to sockets without a process, \
         {:.1} % to none: ICMP, ARP, forwarding, raw sockets…)",
        r.interface,
        r.attributed_percent(),
        units::bytes(r.bytes),
        percent(r.to_sockets_without_process),
        percent(r.unattributed),
    )
}

/// "812/sshd", "812/sshd +2", or "-" when no process can be seen.
pub fn processes(processes: &[ProcessRef]) -> String {
    match processes {
        [] => "-".to_string(),
        [first] => format!("{}/{}", first.pid, first.name),
        [first, rest @ ..] => format!("{}/{} +{}", first.pid, first.name, rest.len()),
    }
}

/// A bound address: IPv6 in brackets, as in a socket address.
fn address(address: IpAddr) -> String {
    match address {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}
