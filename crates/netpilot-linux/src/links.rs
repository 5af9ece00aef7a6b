//! The link table over rtnetlink: `RTM_GETLINK` and `RTM_GETADDR` dumps.

use crate::errors::netlink_to_error;
use crate::netlink::{Netlink, NetlinkError};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    LinkAttribute, LinkFlags, LinkInfo, LinkLayerType, LinkMessage, State,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::protocols::NETLINK_ROUTE;
use netpilot_core::ports::LinkSource;
use netpilot_core::{Error, Interface, InterfaceAddress, InterfaceKind, LinkCounters, OperState};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

/// Interfaces of the network namespace this was opened in.
pub struct Links {
    netlink: Netlink,
}

impl Links {
    pub fn open() -> Result<Self, Error> {
        let netlink = Netlink::open(NETLINK_ROUTE).map_err(|e| netlink_to_error("rtnetlink", e))?;
        Ok(Links { netlink })
    }

    fn dump_links(&self) -> Result<Vec<Interface>, NetlinkError> {
        let mut interfaces = Vec::new();
        let request = RouteNetlinkMessage::GetLink(LinkMessage::default());
        self.netlink.dump(request, |reply: RouteNetlinkMessage| {
            if let RouteNetlinkMessage::NewLink(link) = reply {
                interfaces.push(interface_from(link));
            }
            Ok(())
        })?;
        Ok(interfaces)
    }

    fn dump_addresses(&self) -> Result<HashMap<u32, Vec<InterfaceAddress>>, NetlinkError> {
        let mut by_index: HashMap<u32, Vec<InterfaceAddress>> = HashMap::new();
        let request = RouteNetlinkMessage::GetAddress(AddressMessage::default());
        self.netlink.dump(request, |reply: RouteNetlinkMessage| {
            if let RouteNetlinkMessage::NewAddress(message) = reply
                && let Some(address) = address_from(&message)
            {
                by_index
                    .entry(message.header.index)
                    .or_default()
                    .push(address);
            }
            Ok(())
        })?;
        Ok(by_index)
    }
}

impl LinkSource for Links {
    fn interfaces(&self) -> Result<Vec<Interface>, Error> {
        let mut interfaces = self
            .dump_links()
            .map_err(|e| netlink_to_error("rtnetlink", e))?;
        let mut addresses = self
            .dump_addresses()
            .map_err(|e| netlink_to_error("rtnetlink", e))?;
        for interface in &mut interfaces {
            for address in addresses.remove(&interface.index).unwrap_or_default() {
                match address.address {
                    IpAddr::V4(_) => interface.ipv4.push(address),
                    IpAddr::V6(_) => interface.ipv6.push(address),
                }
            }
        }
        interfaces.sort_by_key(|i| i.index);
        Ok(interfaces)
    }
}

fn interface_from(link: LinkMessage) -> Interface {
    let flags = link.header.flags;
    let mut interface = Interface {
        index: link.header.index,
        name: String::new(),
        kind: InterfaceKind::Other,
        link_kind: None,
        admin_up: flags.contains(LinkFlags::Up),
        oper_state: OperState::Unknown,
        carrier: flags.contains(LinkFlags::LowerUp),
        mac: None,
        mtu: 0,
        ipv4: Vec::new(),
        ipv6: Vec::new(),
        counters: LinkCounters::default(),
    };
    let mut hardware_address = None;
    for attribute in link.attributes {
        match attribute {
            LinkAttribute::IfName(name) => interface.name = name,
            LinkAttribute::Mtu(mtu) => interface.mtu = mtu,
            LinkAttribute::Carrier(carrier) => interface.carrier = carrier != 0,
            LinkAttribute::OperState(state) => interface.oper_state = oper_state(state),
            LinkAttribute::Address(bytes) => hardware_address = Some(bytes),
            LinkAttribute::Stats64(s) => {
                interface.counters = LinkCounters {
                    rx_bytes: s.rx_bytes,
                    tx_bytes: s.tx_bytes,
                    rx_packets: s.rx_packets,
                    tx_packets: s.tx_packets,
                    rx_errors: s.rx_errors,
                    tx_errors: s.tx_errors,
                    rx_dropped: s.rx_dropped,
                    tx_dropped: s.tx_dropped,
                }
            }
            LinkAttribute::LinkInfo(infos) => {
                interface.link_kind = infos.into_iter().find_map(|info| match info {
                    LinkInfo::Kind(kind) => Some(kind.to_string()),
                    _ => None,
                })
            }
            _ => {}
        }
    }
    interface.kind = match link.header.link_layer_type {
        LinkLayerType::Loopback => InterfaceKind::Loopback,
        _ if interface.link_kind.is_some() => InterfaceKind::Virtual,
        LinkLayerType::Ether if is_wireless(&interface.name, interface.index) => {
            InterfaceKind::Wifi
        }
        LinkLayerType::Ether => InterfaceKind::Ethernet,
        LinkLayerType::Ieee80211
        | LinkLayerType::Ieee80211Prism
        | LinkLayerType::Ieee80211Radiotap => InterfaceKind::Wifi,
        _ => InterfaceKind::Other,
    };
    if interface.kind != InterfaceKind::Loopback {
        interface.mac = hardware_address
            .filter(|b| b.len() == 6)
            .map(|b| format_mac(&b));
    }
    interface
}

/// A WiFi station is an Ethernet-type link backed by a cfg80211 wiphy. sysfs shows the
/// devices of the namespace it was mounted in, so the ifindex must match too.
fn is_wireless(name: &str, index: u32) -> bool {
    let device = Path::new("/sys/class/net").join(name);
    let same_device = std::fs::read_to_string(device.join("ifindex"))
        .is_ok_and(|s| s.trim().parse::<u32>() == Ok(index));
    same_device && (device.join("wireless").exists() || device.join("phy80211").exists())
}

fn oper_state(state: State) -> OperState {
    match state {
        State::Up => OperState::Up,
        State::Down => OperState::Down,
        State::Dormant => OperState::Dormant,
        State::LowerLayerDown => OperState::LowerLayerDown,
        State::NotPresent => OperState::NotPresent,
        State::Testing => OperState::Testing,
        _ => OperState::Unknown,
    }
}

fn address_from(message: &AddressMessage) -> Option<InterfaceAddress> {
    // IFA_LOCAL is the interface's own address on point-to-point links, where
    // IFA_ADDRESS is the peer's; elsewhere they are equal (rtnetlink(7)).
    let mut address = None;
    let mut local = None;
    for attribute in &message.attributes {
        match attribute {
            AddressAttribute::Address(a) => address = Some(*a),
            AddressAttribute::Local(a) => local = Some(*a),
            _ => {}
        }
    }
    let address = match message.header.family {
        AddressFamily::Inet => local.or(address),
        _ => address.or(local),
    }?;
    Some(InterfaceAddress {
        address,
        prefix_len: message.header.prefix_len,
    })
}

fn format_mac(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_is_lowercase_colon_separated() {
        assert_eq!(
            format_mac(&[0x02, 0xAB, 0, 1, 0x10, 0xff]),
            "02:ab:00:01:10:ff"
        );
    }
}
