//! `netpilot connections`: sockets joined with the processes that hold them.

use super::names::Names;
use super::owners::{ScanQueue, SocketOwners};
use netpilot_core::ports::{ProcessSource, SocketQuery, SocketSource};
use netpilot_core::{Connection, ConnectionKind, Error, Protocol, Socket, SocketState, Visibility};
use std::net::IpAddr;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionFilter {
    pub kind: ConnectionKind,
    pub pid: Option<u32>,
    /// Process name as in `/proc/PID/comm`.
    pub process: Option<String>,
    /// Matches the local or the remote port.
    pub port: Option<u16>,
}

impl ConnectionFilter {
    /// What to ask the kernel for, so it filters before copying sockets to us.
    pub fn query(&self) -> SocketQuery {
        let (protocols, states) = match self.kind {
            ConnectionKind::All => (vec![Protocol::Tcp, Protocol::Udp], None),
            ConnectionKind::Tcp => (vec![Protocol::Tcp], None),
            ConnectionKind::Udp => (vec![Protocol::Udp], None),
            ConnectionKind::Established => (
                vec![Protocol::Tcp, Protocol::Udp],
                Some(vec![SocketState::Established]),
            ),
            ConnectionKind::Listen => (
                vec![Protocol::Tcp, Protocol::Udp],
                Some(vec![SocketState::Listen, SocketState::Unconnected]),
            ),
        };
        SocketQuery {
            protocols,
            states,
            tcp_counters: false,
        }
    }

    fn matches_socket(&self, socket: &Socket) -> bool {
        self.port.is_none_or(|port| {
            socket.local.port() == port || socket.remote.is_some_and(|r| r.port() == port)
        })
    }

    fn needs_owner(&self) -> bool {
        self.pid.is_some() || self.process.is_some()
    }
}

/// A comm name is cut to 15 bytes (TASK_COMM_LEN - 1), so a longer name given by the
/// user matches on its first 15 bytes.
pub fn process_name_matches(wanted: &str, comm: &str) -> bool {
    const COMM_MAX: usize = 15;
    if wanted.len() > COMM_MAX && comm.len() == COMM_MAX {
        wanted.as_bytes().starts_with(comm.as_bytes())
    } else {
        wanted == comm
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionsSnapshot {
    pub connections: Vec<Connection>,
    pub visibility: Visibility,
}

/// Dumps the sockets and reads `/proc` at the same time: a helper thread starts on the
/// fd tables while this one dumps, then helps with what is left. The two kernel-bound
/// steps thus share both cores, and the result is joined once.
pub fn collect_connections<S, P>(
    sockets: &S,
    procs: &P,
    filter: &ConnectionFilter,
) -> Result<ConnectionsSnapshot, Error>
where
    S: SocketSource,
    P: ProcessSource + Sync,
{
    let pids = match filter.pid {
        Some(pid) => vec![pid],
        None => procs.pids()?,
    };
    let queue = ScanQueue::new(pids);
    let (dumped, tables) = std::thread::scope(|scope| {
        let helper = scope.spawn(|| queue.read_all(procs));
        let dumped = sockets.sockets(&filter.query());
        let mut tables = queue.read_all(procs);
        tables.extend(
            helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        );
        (dumped, tables)
    });
    let dumped = dumped?;
    let owners = SocketOwners::from_tables(tables);
    let mut names = Names::new(procs);
    let mut visibility = Visibility {
        unattributed_sockets: 0,
        unreadable_processes: owners.unreadable_processes(),
    };
    let mut shown: Vec<&Socket> = Vec::with_capacity(dumped.len());
    for socket in &dumped {
        if !filter.matches_socket(socket) {
            continue;
        }
        let pids = owners.of(socket.inode);
        if filter.needs_owner() {
            let wanted = pids.iter().any(|&pid| {
                filter.pid.is_none_or(|p| p == pid)
                    && filter.process.as_deref().is_none_or(|name| {
                        names
                            .process(pid)
                            .is_some_and(|comm| process_name_matches(name, comm))
                    })
            });
            if !wanted {
                continue;
            }
        } else if pids.is_empty() && socket.inode != 0 {
            visibility.unattributed_sockets += 1;
        }
        shown.push(socket);
    }
    // Sort packed integer keys, not rows: comparing them touches no socket, and a row is
    // ten times the size of a key.
    shown.sort_unstable_by_key(|s| sort_key(s));
    let connections = shown
        .into_iter()
        .map(|s| connection(s, owners.of(s.inode), &mut names))
        .collect();
    Ok(ConnectionsSnapshot {
        connections,
        visibility,
    })
}

/// Orders rows by protocol, local port, local address, peer and inode, as integers
/// (IPv4 before IPv6 and no peer before a peer, as `IpAddr` and `Option` order them).
type SortKey = (u32, (bool, u128), Option<((bool, u128), u16)>, u64);

pub(super) fn sort_key(socket: &Socket) -> SortKey {
    let address = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => (false, u128::from(v4.to_bits())),
        IpAddr::V6(v6) => (true, v6.to_bits()),
    };
    (
        (socket.protocol as u32) << 16 | u32::from(socket.local.port()),
        address(socket.local.ip()),
        socket.remote.map(|r| (address(r.ip()), r.port())),
        socket.inode,
    )
}

pub(super) fn connection<P: ProcessSource>(
    socket: &Socket,
    pids: &[u32],
    names: &mut Names<'_, P>,
) -> Connection {
    Connection {
        protocol: socket.protocol,
        family: socket.family,
        local: socket.local,
        remote: socket.remote,
        state: socket.state,
        uid: socket.uid,
        user: names.user(socket.uid),
        inode: socket.inode,
        recv_queue: socket.recv_queue,
        send_queue: socket.send_queue,
        processes: names.processes(pids),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeProcesses, FakeSockets, tcp_socket};
    use netpilot_core::{Family, ProcessRef};

    fn udp_unconnected(inode: u64, port: u16) -> Socket {
        Socket {
            protocol: Protocol::Udp,
            family: Family::Ipv6,
            local: (std::net::Ipv6Addr::UNSPECIFIED, port).into(),
            remote: None,
            state: SocketState::Unconnected,
            tcp: None,
            drops: None,
            ..tcp_socket(inode)
        }
    }

    fn listener(inode: u64, port: u16) -> Socket {
        Socket {
            local: ([0, 0, 0, 0], port).into(),
            remote: None,
            state: SocketState::Listen,
            ..tcp_socket(inode)
        }
    }

    #[test]
    fn sockets_are_joined_with_every_process_holding_them() {
        let sockets = FakeSockets::new(vec![tcp_socket(7)]);
        let procs = FakeProcesses::new()
            .with(20, "worker", &[7])
            .with(10, "server", &[7]);
        let snapshot = collect_connections(&sockets, &procs, &ConnectionFilter::default()).unwrap();
        assert_eq!(
            snapshot.connections[0].processes,
            vec![
                ProcessRef {
                    pid: 10,
                    name: "server".into()
                },
                ProcessRef {
                    pid: 20,
                    name: "worker".into()
                }
            ]
        );
    }

    #[test]
    fn unattributed_sockets_are_counted_but_ownerless_ones_are_not() {
        let mut time_wait = tcp_socket(0);
        time_wait.state = SocketState::TimeWait;
        let sockets = FakeSockets::new(vec![tcp_socket(7), tcp_socket(8), time_wait]);
        let procs = FakeProcesses::new().with(10, "a", &[7]).denied(11);
        let snapshot = collect_connections(&sockets, &procs, &ConnectionFilter::default()).unwrap();
        assert_eq!(snapshot.connections.len(), 3);
        assert_eq!(
            snapshot.visibility,
            Visibility {
                unattributed_sockets: 1,
                unreadable_processes: 1
            }
        );
    }

    #[test]
    fn listen_kind_asks_the_kernel_for_listeners_and_unconnected_udp() {
        let sockets =
            FakeSockets::new(vec![tcp_socket(1), listener(2, 80), udp_unconnected(3, 53)]);
        let procs = FakeProcesses::new();
        let filter = ConnectionFilter {
            kind: ConnectionKind::Listen,
            ..Default::default()
        };
        let snapshot = collect_connections(&sockets, &procs, &filter).unwrap();
        let inodes: Vec<u64> = snapshot.connections.iter().map(|c| c.inode).collect();
        assert_eq!(inodes, vec![2, 3]);
        assert_eq!(sockets.queries.lock().unwrap()[0], filter.query());
    }

    #[test]
    fn pid_filter_reads_one_process_and_keeps_its_sockets() {
        let sockets = FakeSockets::new(vec![tcp_socket(1), tcp_socket(2)]);
        let procs = FakeProcesses::new().with(10, "a", &[1]).with(20, "b", &[2]);
        let filter = ConnectionFilter {
            pid: Some(20),
            ..Default::default()
        };
        let snapshot = collect_connections(&sockets, &procs, &filter).unwrap();
        assert_eq!(procs.reads(), vec![20]);
        assert_eq!(snapshot.connections.len(), 1);
        assert_eq!(snapshot.connections[0].inode, 2);
    }

    #[test]
    fn process_filter_matches_the_comm_name() {
        let sockets = FakeSockets::new(vec![tcp_socket(1), tcp_socket(2)]);
        let procs = FakeProcesses::new()
            .with(10, "nginx", &[1])
            .with(20, "curl", &[2]);
        let filter = ConnectionFilter {
            process: Some("curl".into()),
            ..Default::default()
        };
        let snapshot = collect_connections(&sockets, &procs, &filter).unwrap();
        assert_eq!(snapshot.connections.len(), 1);
        assert_eq!(&*snapshot.connections[0].processes[0].name, "curl");
    }

    #[test]
    fn port_filter_matches_local_or_remote() {
        let sockets = FakeSockets::new(vec![tcp_socket(1), listener(2, 8080)]);
        let procs = FakeProcesses::new();
        let by_remote = ConnectionFilter {
            port: Some(443),
            ..Default::default()
        };
        assert_eq!(
            collect_connections(&sockets, &procs, &by_remote)
                .unwrap()
                .connections
                .len(),
            1
        );
        let by_local = ConnectionFilter {
            port: Some(8080),
            ..Default::default()
        };
        let snapshot = collect_connections(&sockets, &procs, &by_local).unwrap();
        assert_eq!(snapshot.connections[0].inode, 2);
    }

    #[test]
    fn long_names_match_their_truncated_comm() {
        assert!(process_name_matches("systemd-resolved", "systemd-resolve"));
        assert!(!process_name_matches("systemd-resolvedX", "systemd-resolv"));
        assert!(process_name_matches("sshd", "sshd"));
        assert!(!process_name_matches("ssh", "sshd"));
    }
}
