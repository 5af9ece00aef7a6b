//! Which processes hold which sockets: the socket inode → pid map.
//!
//! A full scan reads every fd of every process. Long-lived samplers (`traffic`, the TUI)
//! keep the map and [`SocketOwners::refresh`] it: when every live socket already has a
//! known owner nothing under `/proc/PID/fd` is read at all, and when new sockets appear
//! the processes most likely to hold them are read first, stopping as soon as all are
//! found.

use super::fastmap::FastMap;
use netpilot_core::Socket;
use netpilot_core::ports::{FdTableError, ProcessSource};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

/// After this many refreshes an inode nobody was found to hold is looked for again
/// (its owner may have been between `socket()` and our read of its fd table).
const RETRY_UNATTRIBUTED_AFTER: u32 = 10;

/// The processes holding one socket: nearly always one, so no allocation for it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holders {
    One(u32),
    /// Ascending.
    Many(Vec<u32>),
}

impl Holders {
    fn as_slice(&self) -> &[u32] {
        match self {
            Holders::One(pid) => std::slice::from_ref(pid),
            Holders::Many(pids) => pids,
        }
    }

    fn add(&mut self, pid: u32) {
        match self {
            Holders::One(first) if *first == pid => {}
            Holders::One(first) => {
                *self = Holders::Many(if *first < pid {
                    vec![*first, pid]
                } else {
                    vec![pid, *first]
                })
            }
            Holders::Many(pids) => {
                if let Err(at) = pids.binary_search(&pid) {
                    pids.insert(at, pid);
                }
            }
        }
    }

    /// Removes `pid`; false when none is left.
    fn remove(&mut self, pid: u32) -> bool {
        match self {
            Holders::One(first) => *first != pid,
            Holders::Many(pids) => {
                pids.retain(|&p| p != pid);
                !pids.is_empty()
            }
        }
    }
}

/// One process's fd table as read.
#[derive(Debug)]
pub struct FdTable {
    pub pid: u32,
    pub sockets: Result<Vec<u64>, FdTableError>,
    /// Its fd count when read, where the kernel tells (see [`ProcessSource::fd_count`]).
    pub fd_count: Option<u64>,
}

impl FdTable {
    pub fn read<P: ProcessSource>(procs: &P, pid: u32) -> Self {
        let fd_count = procs.fd_count(pid);
        let mut sockets = Vec::new();
        let sockets = procs.socket_inodes(pid, &mut sockets).map(|()| sockets);
        FdTable {
            pid,
            sockets,
            fd_count,
        }
    }
}

/// Pids whose fd tables are still to be read, shared by the threads reading them.
pub struct ScanQueue {
    pids: Vec<u32>,
    next: AtomicUsize,
}

impl ScanQueue {
    pub fn new(pids: Vec<u32>) -> Self {
        ScanQueue {
            pids,
            next: AtomicUsize::new(0),
        }
    }

    /// Reads fd tables until none is left; call it from as many threads as help.
    pub fn read_all<P: ProcessSource>(&self, procs: &P) -> Vec<FdTable> {
        let mut tables = Vec::new();
        while let Some(&pid) = self.pids.get(self.next.fetch_add(1, Ordering::Relaxed)) {
            tables.push(FdTable::read(procs, pid));
        }
        tables
    }
}

#[derive(Debug, Default)]
pub struct SocketOwners {
    by_inode: FastMap<u64, Holders>,
    /// pid → the socket inodes it held when last read.
    held: FastMap<u32, Vec<u64>>,
    /// pid → its fd count when last read (a hint that its fd table changed).
    fd_counts: FastMap<u32, u64>,
    /// Processes whose fd tables we may not read.
    unreadable: HashSet<u32>,
    /// Inodes looked for everywhere and not found, with the refresh that gave up on them.
    unattributed: FastMap<u64, u32>,
    refreshes: u32,
}

impl SocketOwners {
    /// Reads the fd table of every process, or of `only` when given, on this thread.
    pub fn scan<P: ProcessSource>(procs: &P, only: Option<u32>) -> Self {
        let pids = match only {
            Some(pid) => vec![pid],
            None => procs.pids().unwrap_or_default(),
        };
        Self::from_tables(ScanQueue::new(pids).read_all(procs))
    }

    pub fn from_tables(tables: impl IntoIterator<Item = FdTable>) -> Self {
        let mut owners = SocketOwners::default();
        for table in tables {
            owners.record(table);
        }
        owners
    }

    /// The pids holding `inode`, lowest first.
    pub fn of(&self, inode: u64) -> &[u32] {
        self.by_inode.get(&inode).map_or(&[], Holders::as_slice)
    }

    /// Whether `pid` was read and has not exited since.
    pub fn knows(&self, pid: u32) -> bool {
        self.held.contains_key(&pid)
    }

    pub fn unreadable_processes(&self) -> u32 {
        self.unreadable.len() as u32
    }

    /// Brings the map up to date for `sockets`, reading as few fd tables as it can.
    pub fn refresh<'a, P: ProcessSource>(
        &mut self,
        procs: &P,
        sockets: impl IntoIterator<Item = &'a Socket>,
    ) {
        self.refreshes += 1;
        let Ok(pids) = procs.pids() else { return };
        let alive: HashSet<u32> = pids.iter().copied().collect();
        let gone: Vec<u32> = self
            .held
            .keys()
            .copied()
            .filter(|p| !alive.contains(p))
            .collect();
        for pid in gone {
            self.forget(pid);
        }
        self.unreadable.retain(|pid| alive.contains(pid));
        let refreshes = self.refreshes;
        self.unattributed
            .retain(|_, since| refreshes - *since < RETRY_UNATTRIBUTED_AFTER);

        let mut missing: HashSet<u64> = sockets
            .into_iter()
            .map(|s| s.inode)
            .filter(|&inode| {
                inode != 0
                    && !self.by_inode.contains_key(&inode)
                    && !self.unattributed.contains_key(&inode)
            })
            .collect();
        if missing.is_empty() {
            return;
        }

        // Most likely holders first: processes never read, processes whose fd count
        // moved, processes that already hold sockets; then everyone else.
        let mut order: Vec<(u8, u32)> = pids
            .iter()
            .map(|&pid| {
                let rank = if !self.held.contains_key(&pid) && !self.unreadable.contains(&pid) {
                    0
                } else if self
                    .fd_counts
                    .get(&pid)
                    .is_some_and(|&n| Some(n) != procs.fd_count(pid))
                {
                    1
                } else if self.held.get(&pid).is_some_and(|h| !h.is_empty()) {
                    2
                } else {
                    3
                };
                (rank, pid)
            })
            .collect();
        order.sort_unstable();

        for (_, pid) in order {
            if missing.is_empty() {
                break;
            }
            let table = FdTable::read(procs, pid);
            if let Ok(inodes) = &table.sockets {
                for inode in inodes {
                    missing.remove(inode);
                }
            }
            self.record(table);
        }
        for inode in missing {
            self.unattributed.insert(inode, refreshes);
        }
    }

    /// Takes in what was read of one process, replacing what we knew of it.
    fn record(&mut self, table: FdTable) {
        let pid = table.pid;
        self.forget(pid);
        if let Some(count) = table.fd_count {
            self.fd_counts.insert(pid, count);
        }
        match table.sockets {
            Ok(inodes) => {
                for &inode in &inodes {
                    self.by_inode
                        .entry(inode)
                        .and_modify(|holders| holders.add(pid))
                        .or_insert(Holders::One(pid));
                }
                self.held.insert(pid, inodes);
            }
            Err(FdTableError::Denied) => {
                self.unreadable.insert(pid);
            }
            Err(FdTableError::Gone) => {}
        }
    }

    fn forget(&mut self, pid: u32) {
        self.fd_counts.remove(&pid);
        self.unreadable.remove(&pid);
        for inode in self.held.remove(&pid).unwrap_or_default() {
            if let Some(holders) = self.by_inode.get_mut(&inode)
                && !holders.remove(pid)
            {
                self.by_inode.remove(&inode);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeProcesses, tcp_socket};

    #[test]
    fn a_full_scan_maps_every_inode_to_its_holders() {
        let procs = FakeProcesses::new()
            .with(10, "a", &[100, 101])
            .with(20, "b", &[101]);
        let owners = SocketOwners::scan(&procs, None);
        assert_eq!(owners.of(100), &[10]);
        assert_eq!(owners.of(101), &[10, 20]);
        assert!(owners.of(102).is_empty());
    }

    #[test]
    fn a_scan_of_one_pid_reads_nothing_else() {
        let procs = FakeProcesses::new()
            .with(10, "a", &[100])
            .with(20, "b", &[200]);
        let owners = SocketOwners::scan(&procs, Some(20));
        assert_eq!(procs.reads(), vec![20]);
        assert_eq!(owners.of(200), &[20]);
        assert!(owners.of(100).is_empty());
    }

    #[test]
    fn unreadable_processes_are_counted() {
        let procs = FakeProcesses::new().with(10, "a", &[100]).denied(30);
        let owners = SocketOwners::scan(&procs, None);
        assert_eq!(owners.unreadable_processes(), 1);
    }

    #[test]
    fn refresh_reads_nothing_while_every_socket_has_an_owner() {
        let procs = FakeProcesses::new()
            .with(10, "a", &[100])
            .with(20, "b", &[200]);
        let mut owners = SocketOwners::scan(&procs, None);
        procs.clear_reads();
        owners.refresh(&procs, &[tcp_socket(100), tcp_socket(200), tcp_socket(0)]);
        assert!(procs.reads().is_empty());
    }

    #[test]
    fn refresh_reads_the_likely_holder_first_and_stops_when_found() {
        let procs = FakeProcesses::new()
            .with(10, "a", &[100])
            .with(20, "b", &[200])
            .with(30, "c", &[300]);
        let mut owners = SocketOwners::scan(&procs, None);
        procs.clear_reads();
        procs.set(20, &[200, 201]);
        owners.refresh(&procs, &[tcp_socket(100), tcp_socket(201)]);
        assert_eq!(
            procs.reads(),
            vec![20],
            "the process whose fd count changed is read first"
        );
        assert_eq!(owners.of(201), &[20]);
    }

    #[test]
    fn refresh_finds_sockets_of_new_processes_and_forgets_exited_ones() {
        let procs = FakeProcesses::new().with(10, "a", &[100]);
        let mut owners = SocketOwners::scan(&procs, None);
        procs.remove(10);
        procs.add(40, "d", &[400]);
        owners.refresh(&procs, &[tcp_socket(400)]);
        assert_eq!(owners.of(400), &[40]);
        assert!(owners.of(100).is_empty());
    }

    #[test]
    fn an_inode_nobody_holds_is_not_searched_for_on_every_refresh() {
        let procs = FakeProcesses::new()
            .with(10, "a", &[100])
            .with(20, "b", &[200]);
        let mut owners = SocketOwners::scan(&procs, None);
        owners.refresh(&procs, &[tcp_socket(999)]);
        procs.clear_reads();
        owners.refresh(&procs, &[tcp_socket(999)]);
        assert!(procs.reads().is_empty());
        for _ in 0..RETRY_UNATTRIBUTED_AFTER {
            owners.refresh(&procs, &[tcp_socket(999)]);
        }
        assert!(
            !procs.reads().is_empty(),
            "it is looked for again eventually"
        );
    }
}
