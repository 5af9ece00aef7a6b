//! Network interfaces as the kernel's link and address tables describe them.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// One network interface with its addresses and lifetime counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Interface {
    pub index: u32,
    pub name: String,
    pub kind: InterfaceKind,
    /// The kernel's link kind for virtual links (`veth`, `bridge`, `wireguard`…).
    pub link_kind: Option<String>,
    /// Administratively up (`ip link set … up`).
    pub admin_up: bool,
    pub oper_state: OperState,
    /// The lower layer reports a link (cable in, associated, peer up).
    pub carrier: bool,
    /// Hardware address, `aa:bb:cc:dd:ee:ff`; absent for links without one.
    pub mac: Option<String>,
    pub mtu: u32,
    pub ipv4: Vec<InterfaceAddress>,
    pub ipv6: Vec<InterfaceAddress>,
    pub counters: LinkCounters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterfaceKind {
    Loopback,
    Ethernet,
    Wifi,
    /// Software links: veth, bridge, bond, tun, wireguard, vlan, dummy…
    Virtual,
    Other,
}

impl InterfaceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InterfaceKind::Loopback => "loopback",
            InterfaceKind::Ethernet => "ethernet",
            InterfaceKind::Wifi => "wifi",
            InterfaceKind::Virtual => "virtual",
            InterfaceKind::Other => "other",
        }
    }
}

/// RFC 2863 operational state, as `IFLA_OPERSTATE` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperState {
    Up,
    Down,
    Dormant,
    LowerLayerDown,
    NotPresent,
    Testing,
    Unknown,
}

impl OperState {
    pub fn as_str(self) -> &'static str {
        match self {
            OperState::Up => "up",
            OperState::Down => "down",
            OperState::Dormant => "dormant",
            OperState::LowerLayerDown => "lower-layer-down",
            OperState::NotPresent => "not-present",
            OperState::Testing => "testing",
            OperState::Unknown => "unknown",
        }
    }
}

/// An address assigned to an interface, with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InterfaceAddress {
    pub address: IpAddr,
    pub prefix_len: u8,
}

impl std::fmt::Display for InterfaceAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// Lifetime counters of a link (`IFLA_STATS64`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkCounters {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
}
