//! Traffic per connection and per remote host (`netpilot traffic --by connection|remote`):
//! the same bytes the meter charges to processes, kept by connection (a TCP socket, or a
//! UDP socket and one remote end) and summed by remote address.

use super::fastmap::FastMap;
use netpilot_core::{ConnectionTraffic, Protocol, RemoteTraffic};
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Remote hosts remembered at most; past that, those with no live connection go.
const MAX_REMOTES: usize = 65_536;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    pub rx: u64,
    pub tx: u64,
}

/// What is known of a connection's socket when bytes are charged to it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub protocol: Protocol,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub owner: Option<u32>,
    pub uid: u32,
}

#[derive(Debug)]
struct Row {
    endpoint: Endpoint,
    total: Moved,
    interval: Moved,
}

#[derive(Debug, Default)]
struct Remote {
    total: Moved,
    interval: Moved,
    connections: u32,
    processes: BTreeSet<String>,
}

/// Rows of the last interval and totals since sampling began.
#[derive(Debug, Default)]
pub struct TrafficViews {
    rows: FastMap<(u64, SocketAddr), Row>,
    remotes: FastMap<IpAddr, Remote>,
}

impl TrafficViews {
    /// Charges `moved` to the connection of socket `cookie` with `endpoint.remote`.
    pub fn charge(&mut self, cookie: u64, endpoint: &Endpoint, moved: Moved) {
        if moved.rx == 0 && moved.tx == 0 {
            return;
        }
        let key = (cookie, endpoint.remote);
        let new = !self.rows.contains_key(&key);
        let row = self.rows.entry(key).or_insert_with(|| Row {
            endpoint: endpoint.clone(),
            total: Moved::default(),
            interval: Moved::default(),
        });
        // The owner can become known later (a socket found in a later /proc scan).
        if endpoint.owner.is_some() {
            row.endpoint.owner = endpoint.owner;
        }
        for m in [&mut row.total, &mut row.interval] {
            m.rx += moved.rx;
            m.tx += moved.tx;
        }
        let remote = self.remotes.entry(endpoint.remote.ip()).or_default();
        if new {
            remote.connections += 1;
        }
        for m in [&mut remote.total, &mut remote.interval] {
            m.rx += moved.rx;
            m.tx += moved.tx;
        }
    }

    /// The sockets with rows.
    pub fn cookies(&self) -> impl Iterator<Item = u64> + '_ {
        self.rows.keys().map(|&(cookie, _)| cookie)
    }

    /// The interval's rows, busiest first, and starts the next interval. Rows of sockets
    /// that are no longer `alive` are reported one last time, then dropped.
    pub fn report(
        &mut self,
        seconds: f64,
        alive: impl Fn(u64) -> bool,
        process_name: &mut impl FnMut(u32) -> Option<String>,
        user_name: &mut impl FnMut(u32) -> Option<Arc<str>>,
    ) -> (Vec<ConnectionTraffic>, Vec<RemoteTraffic>) {
        let rate = |bytes: u64| {
            if seconds > 0.0 {
                bytes as f64 / seconds
            } else {
                0.0
            }
        };
        let mut connections = Vec::with_capacity(self.rows.len());
        for row in self.rows.values() {
            let process = row.endpoint.owner.and_then(&mut *process_name);
            if let Some(name) = &process
                && let Some(remote) = self.remotes.get_mut(&row.endpoint.remote.ip())
                && !remote.processes.contains(name)
            {
                remote.processes.insert(name.clone());
            }
            connections.push(ConnectionTraffic {
                protocol: row.endpoint.protocol,
                local: row.endpoint.local,
                remote: row.endpoint.remote,
                pid: row.endpoint.owner,
                process,
                user: user_name(row.endpoint.uid),
                rx_bytes_per_sec: rate(row.interval.rx),
                tx_bytes_per_sec: rate(row.interval.tx),
                rx_bytes: row.total.rx,
                tx_bytes: row.total.tx,
            });
        }
        connections.sort_by(|a, b| {
            let busy = |c: &ConnectionTraffic| c.rx_bytes_per_sec + c.tx_bytes_per_sec;
            busy(b)
                .total_cmp(&busy(a))
                .then((b.rx_bytes + b.tx_bytes).cmp(&(a.rx_bytes + a.tx_bytes)))
                .then(a.local.cmp(&b.local))
                .then(a.remote.cmp(&b.remote))
        });
        let mut remotes: Vec<RemoteTraffic> = self
            .remotes
            .iter()
            .map(|(&address, r)| RemoteTraffic {
                address,
                name: None,
                rx_bytes_per_sec: rate(r.interval.rx),
                tx_bytes_per_sec: rate(r.interval.tx),
                rx_bytes: r.total.rx,
                tx_bytes: r.total.tx,
                connections: r.connections,
                processes: r.processes.iter().cloned().collect(),
            })
            .collect();
        remotes.sort_by(|a, b| {
            let busy = |r: &RemoteTraffic| r.rx_bytes_per_sec + r.tx_bytes_per_sec;
            busy(b)
                .total_cmp(&busy(a))
                .then((b.rx_bytes + b.tx_bytes).cmp(&(a.rx_bytes + a.tx_bytes)))
                .then(a.address.cmp(&b.address))
        });

        self.rows.retain(|&(cookie, _), row| {
            row.interval = Moved::default();
            alive(cookie)
        });
        for remote in self.remotes.values_mut() {
            remote.interval = Moved::default();
        }
        if self.remotes.len() > MAX_REMOTES {
            let live: BTreeSet<IpAddr> =
                self.rows.values().map(|r| r.endpoint.remote.ip()).collect();
            self.remotes.retain(|address, _| live.contains(address));
        }
        (connections, remotes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(local_port: u16, remote: &str, owner: Option<u32>) -> Endpoint {
        Endpoint {
            protocol: Protocol::Udp,
            local: ([10, 0, 0, 1], local_port).into(),
            remote: remote.parse().unwrap(),
            owner,
            uid: 1000,
        }
    }

    fn names() -> (
        impl FnMut(u32) -> Option<String>,
        impl FnMut(u32) -> Option<Arc<str>>,
    ) {
        (
            |pid| Some(format!("p{pid}")),
            |uid| Some(Arc::from(format!("u{uid}").as_str())),
        )
    }

    #[test]
    fn an_unconnected_socket_has_a_row_per_remote_and_remotes_sum_their_connections() {
        let mut views = TrafficViews::default();
        let a = endpoint(5353, "10.0.0.2:53", Some(7));
        let b = endpoint(5353, "10.0.0.3:53", Some(7));
        let c = endpoint(6000, "10.0.0.2:443", Some(8));
        views.charge(1, &a, Moved { rx: 100, tx: 10 });
        views.charge(1, &b, Moved { rx: 300, tx: 30 });
        views.charge(2, &c, Moved { rx: 1_000, tx: 0 });
        let (mut process, mut user) = names();
        let (connections, remotes) = views.report(2.0, |_| true, &mut process, &mut user);
        let rows: Vec<(String, u64, f64)> = connections
            .iter()
            .map(|c| (c.remote.to_string(), c.rx_bytes, c.rx_bytes_per_sec))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("10.0.0.2:443".to_string(), 1_000, 500.0),
                ("10.0.0.3:53".to_string(), 300, 150.0),
                ("10.0.0.2:53".to_string(), 100, 50.0),
            ]
        );
        assert_eq!(connections[0].process.as_deref(), Some("p8"));
        assert_eq!(connections[0].user.as_deref(), Some("u1000"));
        let first = &remotes[0];
        assert_eq!(first.address.to_string(), "10.0.0.2");
        assert_eq!(
            (first.rx_bytes, first.tx_bytes, first.connections),
            (1_100, 10, 2)
        );
        assert_eq!(first.processes, vec!["p7".to_string(), "p8".to_string()]);
        assert_eq!(remotes[1].rx_bytes, 300);
    }

    #[test]
    fn totals_stay_and_rates_fall_when_nothing_moves_and_closed_rows_go_after_one_report() {
        let mut views = TrafficViews::default();
        views.charge(
            1,
            &endpoint(1, "10.0.0.2:53", None),
            Moved { rx: 0, tx: 40 },
        );
        let (mut process, mut user) = names();
        views.report(1.0, |_| true, &mut process, &mut user);
        let (connections, remotes) = views.report(1.0, |_| false, &mut process, &mut user);
        assert_eq!(
            (connections[0].tx_bytes, connections[0].tx_bytes_per_sec),
            (40, 0.0)
        );
        assert_eq!(connections[0].process, None);
        assert_eq!(remotes[0].tx_bytes, 40);
        let (connections, remotes) = views.report(1.0, |_| false, &mut process, &mut user);
        assert!(connections.is_empty(), "the closed socket's row is gone");
        assert_eq!(remotes[0].tx_bytes, 40, "the remote's totals stay");
    }
}
