//! The monitor: connections, listening ports, interface rates and per-process traffic.

pub mod connections;
mod fastmap;
mod flows;
pub mod interfaces;
mod names;
pub mod owners;
pub mod ports;
mod reconcile;
pub mod services;
pub mod traffic;
mod views;

pub use connections::{ConnectionFilter, ConnectionsSnapshot, collect_connections};
pub use owners::SocketOwners;
pub use ports::{PortsSnapshot, collect_ports};
pub use reconcile::Reconciler;
pub use traffic::{InterfaceShare, NoFlows, TrafficMeter, TrafficSample, UdpStatus};
