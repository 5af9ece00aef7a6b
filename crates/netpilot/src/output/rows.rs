//! The cells of each row, as the tables and the live monitor show them: one place, so a
//! column means the same wherever it is drawn.

use super::units;
use netpilot_core::{Connection, Family, ListeningPort, ProcessRef, ProcessTraffic};
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

/// PID, PROCESS, RX/s, TX/s, RX TOTAL, TX TOTAL, CONNS, ESTAB, LISTEN, UDP.
pub fn traffic(p: &ProcessTraffic) -> Vec<String> {
    vec![
        p.pid.to_string(),
        p.name.to_string(),
        units::rate(p.rx_bytes_per_sec),
        units::rate(p.tx_bytes_per_sec),
        units::bytes(p.rx_bytes),
        units::bytes(p.tx_bytes),
        p.connections.total.to_string(),
        p.connections.established.to_string(),
        p.connections.listening.to_string(),
        p.udp_sockets.to_string(),
    ]
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
