//! The monitor: connections, listening ports, interface rates and per-process traffic.

pub mod connections;
mod fastmap;
pub mod interfaces;
mod names;
pub mod owners;
pub mod ports;
pub mod services;
pub mod traffic;

pub use connections::{ConnectionFilter, ConnectionsSnapshot, collect_connections};
pub use owners::SocketOwners;
pub use ports::{PortsSnapshot, collect_ports};
pub use traffic::{TrafficMeter, TrafficSample};
