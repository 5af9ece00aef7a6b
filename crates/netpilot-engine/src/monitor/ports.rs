//! `netpilot ports`: listening TCP and bound UDP sockets grouped by protocol and port.

use super::connections::{ConnectionFilter, collect_connections};
use super::services::service_name;
use netpilot_core::ConnectionKind;
use netpilot_core::ports::{ProcessSource, SocketSource};
use netpilot_core::{Connection, Error, ListeningPort, PortBinding, Visibility};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortsSnapshot {
    pub ports: Vec<ListeningPort>,
    pub visibility: Visibility,
}

pub fn collect_ports<S, P>(sockets: &S, procs: &P) -> Result<PortsSnapshot, Error>
where
    S: SocketSource,
    P: ProcessSource + Sync,
{
    let filter = ConnectionFilter {
        kind: ConnectionKind::Listen,
        ..Default::default()
    };
    let snapshot = collect_connections(sockets, procs, &filter)?;
    Ok(PortsSnapshot {
        ports: group_ports(snapshot.connections),
        visibility: snapshot.visibility,
    })
}

/// Groups listening sockets by (protocol, port), ordered by protocol then port.
pub fn group_ports(listening: Vec<Connection>) -> Vec<ListeningPort> {
    let mut groups: BTreeMap<_, Vec<PortBinding>> = BTreeMap::new();
    for c in listening.into_iter().filter(|c| c.state.is_listening()) {
        groups
            .entry((c.protocol, c.local.port()))
            .or_default()
            .push(PortBinding {
                address: c.local.ip(),
                family: c.family,
                user: c.user,
                processes: c.processes,
            });
    }
    groups
        .into_iter()
        .map(|((protocol, port), mut bindings)| {
            bindings.sort_by_key(|b| (b.family, b.address));
            ListeningPort {
                protocol,
                port,
                service: service_name(protocol, port).map(str::to_owned),
                bindings,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeProcesses, FakeSockets, tcp_socket};
    use netpilot_core::{Family, Protocol, Socket, SocketState};

    fn listening(inode: u64, protocol: Protocol, address: std::net::IpAddr, port: u16) -> Socket {
        Socket {
            protocol,
            family: if address.is_ipv4() {
                Family::Ipv4
            } else {
                Family::Ipv6
            },
            local: (address, port).into(),
            remote: None,
            state: match protocol {
                Protocol::Tcp => SocketState::Listen,
                Protocol::Udp => SocketState::Unconnected,
            },
            ..tcp_socket(inode)
        }
    }

    #[test]
    fn sockets_on_one_port_form_one_group_per_protocol() {
        let v4 = std::net::Ipv4Addr::UNSPECIFIED.into();
        let v6 = std::net::Ipv6Addr::UNSPECIFIED.into();
        let sockets = FakeSockets::new(vec![
            listening(1, Protocol::Tcp, v6, 22),
            listening(2, Protocol::Tcp, v4, 22),
            listening(3, Protocol::Udp, v4, 53),
            listening(4, Protocol::Tcp, v4, 53),
            tcp_socket(5),
        ]);
        let procs = FakeProcesses::new()
            .with(100, "sshd", &[1, 2])
            .with(200, "dnsd", &[3, 4]);
        let ports = collect_ports(&sockets, &procs).unwrap().ports;
        let keys: Vec<_> = ports.iter().map(|p| (p.protocol, p.port)).collect();
        assert_eq!(
            keys,
            vec![
                (Protocol::Tcp, 22),
                (Protocol::Tcp, 53),
                (Protocol::Udp, 53)
            ]
        );
        assert_eq!(ports[0].service.as_deref(), Some("ssh"));
        let addresses: Vec<_> = ports[0].bindings.iter().map(|b| b.address).collect();
        assert_eq!(addresses, vec![v4, v6]);
        assert_eq!(&*ports[0].bindings[0].processes[0].name, "sshd");
        assert_eq!(ports[2].service.as_deref(), Some("domain"));
    }
}
