//! The port traits: what the engine needs from the operating system, as data.
//!
//! `netpilot-linux` implements them against the real kernel; `netpilot-engine::testing`
//! has fakes for engine unit tests. The monitor's ports are synchronous: each call is one
//! kernel dump or one directory read with nothing to wait for, so an async signature
//! would add a runtime to every one-shot command and buy nothing. Long-lived callers
//! (the TUI, the daemon) run them on a thread of their own.

use crate::{Error, Interface, Protocol, Socket, SocketState, TcpCounters};

/// The link table: interfaces with addresses and counters.
pub trait LinkSource {
    fn interfaces(&self) -> Result<Vec<Interface>, Error>;
}

/// Which sockets to dump. Filters are applied by the kernel where it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketQuery {
    pub protocols: Vec<Protocol>,
    /// `None` means every state.
    pub states: Option<Vec<SocketState>>,
    /// Ask the kernel for `tcp_info` byte counters (costs a little more per socket).
    pub tcp_counters: bool,
}

impl SocketQuery {
    pub fn all() -> Self {
        SocketQuery {
            protocols: vec![Protocol::Tcp, Protocol::Udp],
            states: None,
            tcp_counters: false,
        }
    }

    pub fn wants(&self, protocol: Protocol, state: SocketState) -> bool {
        self.protocols.contains(&protocol)
            && self
                .states
                .as_ref()
                .is_none_or(|states| states.contains(&state))
    }
}

/// The socket table (sock_diag).
pub trait SocketSource {
    fn sockets(&self, query: &SocketQuery) -> Result<Vec<Socket>, Error>;

    /// A number that changes whenever any TCP socket of the namespace sends or receives
    /// a segment, opens or closes (the sum of its TCP MIB counters); `None` when unknown.
    fn tcp_activity(&self) -> Option<u64> {
        None
    }
}

/// A TCP socket the kernel freed, with its final counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosedSocket {
    pub cookie: u64,
    pub counters: TcpCounters,
}

/// Notices of TCP sockets the kernel destroyed, so bytes they moved after the last sample
/// are not lost. What the kernel will not tell (no permission, buffer overrun) is reported
/// by `lost()`.
pub trait ClosedSocketFeed {
    fn take_closed(&mut self) -> Vec<ClosedSocket>;
    /// Notices dropped since the last call (receive buffer overrun).
    fn lost(&mut self) -> u64;
}

/// Why a process's fd table could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdTableError {
    /// The process exited while we looked.
    Gone,
    /// Another user's process, and we lack CAP_SYS_PTRACE / CAP_DAC_READ_SEARCH.
    Denied,
}

/// Processes and their open sockets (`/proc`).
pub trait ProcessSource {
    /// Every process id visible now.
    fn pids(&self) -> Result<Vec<u32>, Error>;
    /// Appends the inode of every socket `pid` holds open to `inodes`.
    fn socket_inodes(&self, pid: u32, inodes: &mut Vec<u64>) -> Result<(), FdTableError>;
    /// How many fds `pid` has open, when the kernel says so cheaply (Linux ≥ 6.2); a
    /// hint that its fd table changed.
    fn fd_count(&self, pid: u32) -> Option<u64>;
    fn process_name(&self, pid: u32) -> Option<String>;
    fn user_name(&self, uid: u32) -> Option<String>;
}
