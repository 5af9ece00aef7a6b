//! netpilot's domain: the types every layer speaks, the *port traits* the engine is
//! written against, and the error codes users and UIs see.
//!
//! Layer: bottom. This crate does no I/O, starts no runtime and depends on nothing of
//! netpilot's; `netpilot-engine` and `netpilot-linux` both build on it in parallel.
// Only the binary writes to stdout and stderr, so `--json` output stays clean.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod device;
pub mod error;
pub mod flows;
pub mod interface;
pub mod internet;
pub mod menu;
pub mod monitor;
pub mod network;
pub mod ports;
pub mod process;
pub mod secret;
pub mod socket;
pub mod wifi;

pub use error::{Error, ErrorCode};
pub use flows::{Flow, FlowCounters, FlowKey};
pub use interface::{Interface, InterfaceAddress, InterfaceKind, LinkCounters, OperState};
pub use monitor::{
    Connection, ConnectionCounts, ConnectionKind, ConnectionTraffic, InterfaceReconciliation,
    InterfaceSample, LinkRate, ListeningPort, PortBinding, ProcessTraffic, RemoteTraffic,
    UnattributedTraffic, Visibility,
};
pub use process::ProcessRef;
pub use secret::{Secret, SecretFlags, SecretRequest};
pub use socket::{Family, Protocol, Socket, SocketState, TcpCounters};
