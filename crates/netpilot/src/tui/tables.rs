//! The Ports and Traffic tabs as tables of cells (those of `output::rows`, as the commands
//! print them) with a sort key per cell: searched and sorted the way Connections is,
//! rebuilt once per refresh or key, drawn a page at a time.

use super::sampler::Snapshot;
use crate::output::rows;
use netpilot_engine::monitor::UdpStatus;
use std::cmp::Ordering;

/// The Traffic tab's views, in the order `v` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficView {
    Processes,
    Connections,
    Remotes,
}

impl TrafficView {
    pub fn next(self) -> TrafficView {
        match self {
            TrafficView::Processes => TrafficView::Connections,
            TrafficView::Connections => TrafficView::Remotes,
            TrafficView::Remotes => TrafficView::Processes,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TrafficView::Processes => "per process",
            TrafficView::Connections => "per connection",
            TrafficView::Remotes => "per remote host",
        }
    }
}

/// How a column sorts.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Number(f64),
    Text(String),
}

impl Key {
    fn compare(&self, other: &Key) -> Ordering {
        match (self, other) {
            (Key::Number(a), Key::Number(b)) => a.total_cmp(b),
            (Key::Text(a), Key::Text(b)) => a.cmp(b),
            (Key::Number(_), Key::Text(_)) => Ordering::Less,
            (Key::Text(_), Key::Number(_)) => Ordering::Greater,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CellTable {
    pub titles: Vec<&'static str>,
    /// Columns from this one on hold numbers (right-aligned, sized alike).
    pub first_number: usize,
    pub cells: Vec<Vec<String>>,
    keys: Vec<Vec<Key>>,
    /// Indexes of the rows that match the search, in the order shown.
    pub shown: Vec<usize>,
}

impl CellTable {
    /// Filters by `needle` (lower case, in any cell) and sorts by `sort` (`None`: the
    /// snapshot's own order, busiest first for traffic).
    pub fn refilter(&mut self, needle: &str, sort: Option<usize>, descending: bool) {
        self.shown = (0..self.cells.len())
            .filter(|&i| {
                needle.is_empty()
                    || self.cells[i]
                        .iter()
                        .any(|c| c.to_lowercase().contains(needle))
            })
            .collect();
        if let Some(column) = sort.filter(|&c| c < self.titles.len()) {
            let keys = &self.keys;
            self.shown
                .sort_by(|&a, &b| keys[a][column].compare(&keys[b][column]).then(a.cmp(&b)));
        }
        if descending {
            self.shown.reverse();
        }
    }

    fn push(&mut self, cells: Vec<String>, keys: Vec<Key>) {
        self.cells.push(cells);
        self.keys.push(keys);
    }
}

fn text(s: &str) -> Key {
    Key::Text(s.to_lowercase())
}

fn number(n: impl Into<f64>) -> Key {
    Key::Number(n.into())
}

/// One row per listening socket.
pub fn ports(snapshot: &Snapshot) -> CellTable {
    let mut table = CellTable {
        titles: vec!["PROTO", "PORT", "SERVICE", "ADDRESS", "PROCESS", "USER"],
        first_number: usize::MAX,
        ..CellTable::default()
    };
    for port in &snapshot.ports {
        for binding in &port.bindings {
            let cells = vec![
                port.protocol.as_str().to_string(),
                port.port.to_string(),
                port.service.clone().unwrap_or_default(),
                binding.address.to_string(),
                rows::processes(&binding.processes),
                binding.user.as_deref().unwrap_or("").to_string(),
            ];
            let keys = vec![
                text(port.protocol.as_str()),
                number(port.port),
                text(&cells[2]),
                text(&cells[3]),
                text(&cells[4]),
                text(&cells[5]),
            ];
            table.push(cells, keys);
        }
    }
    table
}

pub fn traffic(snapshot: &Snapshot, view: TrafficView) -> CellTable {
    let sample = &snapshot.traffic;
    let measured = matches!(sample.udp, UdpStatus::Measured { .. });
    let mut table = CellTable::default();
    match view {
        TrafficView::Processes => {
            table.titles = rows::TRAFFIC.to_vec();
            table.first_number = 3;
            for p in &sample.processes {
                let mut cells = rows::traffic(p);
                if !measured && p.udp_sockets > 0 {
                    cells[1].push_str(" *"); // its UDP bytes are not measured
                }
                let keys = vec![
                    number(p.pid),
                    text(&p.name),
                    text(&cells[2]),
                    number(p.rx_bytes_per_sec),
                    number(p.tx_bytes_per_sec),
                    number(p.rx_bytes as f64),
                    number(p.tx_bytes as f64),
                    number(p.udp_rx_bytes as f64),
                    number(p.udp_tx_bytes as f64),
                    number(p.connections.total),
                    number(p.udp_sockets),
                ];
                table.push(cells, keys);
            }
        }
        TrafficView::Connections => {
            table.titles = rows::CONNECTION_TRAFFIC.to_vec();
            table.first_number = 5;
            for c in &sample.connections {
                let cells = rows::connection_traffic(c);
                let keys = vec![
                    text(c.protocol.as_str()),
                    text(&cells[1]),
                    text(&cells[2]),
                    text(&cells[3]),
                    text(&cells[4]),
                    number(c.rx_bytes_per_sec),
                    number(c.tx_bytes_per_sec),
                    number(c.rx_bytes as f64),
                    number(c.tx_bytes as f64),
                ];
                table.push(cells, keys);
            }
        }
        TrafficView::Remotes => {
            table.titles = rows::REMOTE_TRAFFIC.to_vec();
            table.first_number = 2;
            for r in &sample.remotes {
                let cells = rows::remote_traffic(r);
                let keys = vec![
                    text(&cells[0]),
                    text(&cells[1]),
                    number(r.rx_bytes_per_sec),
                    number(r.tx_bytes_per_sec),
                    number(r.rx_bytes as f64),
                    number(r.tx_bytes as f64),
                    number(r.connections),
                    text(&cells[7]),
                ];
                table.push(cells, keys);
            }
        }
    }
    table
}
