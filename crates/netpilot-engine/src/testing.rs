//! Fakes of the ports, for unit tests of engine logic. They never stand in for testing a
//! real backend: those are tested against the kernel in `netpilot-linux`.

use netpilot_core::ports::{
    ClosedSocket, ClosedSocketFeed, FdTableError, LinkSource, ProcessSource, SocketQuery,
    SocketSource,
};
use netpilot_core::{Error, Family, Interface, Protocol, Socket, SocketState, TcpCounters};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Clone)]
enum FakeProcess {
    Readable { name: String, inodes: Vec<u64> },
    Denied,
}

/// A process table held in memory; records which fd tables were read.
#[derive(Debug, Default)]
pub struct FakeProcesses {
    processes: Mutex<BTreeMap<u32, FakeProcess>>,
    reads: Mutex<Vec<u32>>,
}

impl FakeProcesses {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(self, pid: u32, name: &str, inodes: &[u64]) -> Self {
        self.add(pid, name, inodes);
        self
    }

    pub fn denied(self, pid: u32) -> Self {
        self.lock().insert(pid, FakeProcess::Denied);
        self
    }

    pub fn add(&self, pid: u32, name: &str, inodes: &[u64]) {
        let process = FakeProcess::Readable {
            name: name.into(),
            inodes: inodes.to_vec(),
        };
        self.lock().insert(pid, process);
    }

    /// Replaces the sockets `pid` holds.
    pub fn set(&self, pid: u32, inodes: &[u64]) {
        if let Some(FakeProcess::Readable { inodes: held, .. }) = self.lock().get_mut(&pid) {
            *held = inodes.to_vec();
        }
    }

    pub fn remove(&self, pid: u32) {
        self.lock().remove(&pid);
    }

    /// The pids whose fd tables were read, in order.
    pub fn reads(&self) -> Vec<u32> {
        self.reads.lock().expect("not poisoned").clone()
    }

    pub fn clear_reads(&self) {
        self.reads.lock().expect("not poisoned").clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, FakeProcess>> {
        self.processes.lock().expect("not poisoned")
    }
}

impl ProcessSource for FakeProcesses {
    fn pids(&self) -> Result<Vec<u32>, Error> {
        Ok(self.lock().keys().copied().collect())
    }

    fn socket_inodes(&self, pid: u32, inodes: &mut Vec<u64>) -> Result<(), FdTableError> {
        self.reads.lock().expect("not poisoned").push(pid);
        match self.lock().get(&pid) {
            Some(FakeProcess::Readable { inodes: held, .. }) => {
                inodes.extend(held);
                Ok(())
            }
            Some(FakeProcess::Denied) => Err(FdTableError::Denied),
            None => Err(FdTableError::Gone),
        }
    }

    fn fd_count(&self, pid: u32) -> Option<u64> {
        match self.lock().get(&pid) {
            Some(FakeProcess::Readable { inodes, .. }) => Some(inodes.len() as u64 + 3),
            _ => None,
        }
    }

    fn process_name(&self, pid: u32) -> Option<String> {
        match self.lock().get(&pid) {
            Some(FakeProcess::Readable { name, .. }) => Some(name.clone()),
            _ => None,
        }
    }

    fn user_name(&self, uid: u32) -> Option<String> {
        (uid == 0).then(|| "root".to_string())
    }
}

/// A socket table held in memory; answers queries as the kernel filters them.
#[derive(Debug, Default)]
pub struct FakeSockets {
    sockets: Mutex<Vec<Socket>>,
    pub queries: Mutex<Vec<SocketQuery>>,
    /// What `tcp_activity` answers; `None` (unknown) unless a test sets it.
    pub activity: Mutex<Option<u64>>,
}

impl FakeSockets {
    pub fn new(sockets: Vec<Socket>) -> Self {
        FakeSockets {
            sockets: Mutex::new(sockets),
            ..Self::default()
        }
    }

    pub fn replace(&self, sockets: Vec<Socket>) {
        *self.sockets.lock().expect("not poisoned") = sockets;
    }
}

impl SocketSource for FakeSockets {
    fn sockets(&self, query: &SocketQuery) -> Result<Vec<Socket>, Error> {
        self.queries
            .lock()
            .expect("not poisoned")
            .push(query.clone());
        let sockets = self.sockets.lock().expect("not poisoned");
        Ok(sockets
            .iter()
            .filter(|s| query.wants(s.protocol, s.state))
            .cloned()
            .map(|mut s| {
                if !query.tcp_counters {
                    s.tcp = None;
                }
                s
            })
            .collect())
    }

    fn tcp_activity(&self) -> Option<u64> {
        *self.activity.lock().expect("not poisoned")
    }
}

/// A link table held in memory.
#[derive(Debug, Default)]
pub struct FakeLinks(pub Mutex<Vec<Interface>>);

impl LinkSource for FakeLinks {
    fn interfaces(&self) -> Result<Vec<Interface>, Error> {
        Ok(self.0.lock().expect("not poisoned").clone())
    }
}

/// Destroy notices queued by the test.
#[derive(Debug, Default)]
pub struct FakeClosedFeed {
    pub closed: Vec<ClosedSocket>,
    pub lost: u64,
}

impl ClosedSocketFeed for FakeClosedFeed {
    fn take_closed(&mut self) -> Vec<ClosedSocket> {
        std::mem::take(&mut self.closed)
    }

    fn lost(&mut self) -> u64 {
        std::mem::take(&mut self.lost)
    }
}

/// An established IPv4 TCP socket 10.0.0.1:40000+inode → 10.0.0.2:443 with `inode`
/// (and the inode as its cookie).
pub fn tcp_socket(inode: u64) -> Socket {
    Socket {
        protocol: Protocol::Tcp,
        family: Family::Ipv4,
        local: ([10, 0, 0, 1], 40000 + (inode % 20000) as u16).into(),
        remote: Some(([10, 0, 0, 2], 443).into()),
        state: SocketState::Established,
        uid: 1000,
        inode,
        cookie: inode,
        recv_queue: 0,
        send_queue: 0,
        tcp: Some(TcpCounters::default()),
    }
}
