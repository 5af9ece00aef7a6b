//! A device link's signals from the kernel: rtnetlink's multicast groups for links, IPv4
//! addresses and neighbours, narrowed to the link's interface and the device's address.
//! The interface is followed by name, so a virtual interface deleted and made again is
//! still watched.

use crate::netlink::{NetlinkError, messages};
use netlink_packet_core::NetlinkDeserializable;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};
use netlink_sys::{AsyncSocket, AsyncSocketExt, SocketAddr, TokioSocket, protocols::NETLINK_ROUTE};
use netpilot_core::device::LinkSignal;
use std::collections::VecDeque;
use std::net::Ipv4Addr;

/// rtnetlink's legacy multicast group bits (`RTMGRP_*` in `linux/rtnetlink.h`).
const GROUP_LINK: u32 = 0x1;
const GROUP_NEIGH: u32 = 0x4;
const GROUP_IPV4_ADDRESS: u32 = 0x10;

/// What the kernel says about one interface and one neighbour on it.
pub struct KernelWatch {
    socket: TokioSocket,
    target: Target,
    pending: VecDeque<LinkSignal>,
    buffer: Vec<u8>,
}

impl KernelWatch {
    /// Watches `interface` (which may not exist yet) and `device` on it.
    pub fn open(interface: &str, device: Ipv4Addr) -> Result<Self, NetlinkError> {
        let mut socket = TokioSocket::new(NETLINK_ROUTE).map_err(NetlinkError::Open)?;
        socket
            .socket_mut()
            .bind(&SocketAddr::new(
                0,
                GROUP_LINK | GROUP_NEIGH | GROUP_IPV4_ADDRESS,
            ))
            .map_err(NetlinkError::Open)?;
        // In the socket's namespace; a missing interface is learnt from its first event.
        let index = rustix::net::netdevice::name_to_index(socket.socket_ref(), interface).ok();
        Ok(KernelWatch {
            socket,
            target: Target::new(interface, device, index),
            pending: VecDeque::new(),
            buffer: Vec::with_capacity(64 * 1024),
        })
    }

    /// The next signal; `None` if the socket failed. Cancel-safe: nothing is read until
    /// the socket is readable, and what was read is kept in `pending`.
    pub async fn next(&mut self) -> Option<LinkSignal> {
        loop {
            if let Some(signal) = self.pending.pop_front() {
                return Some(signal);
            }
            self.buffer.clear();
            match self.socket.recv(&mut self.buffer).await {
                Ok(()) => self.read(),
                Err(error)
                    if error.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) =>
                {
                    // Events were dropped: the link may have changed, so probe.
                    self.pending.push_back(LinkSignal::Changed);
                }
                Err(error) => {
                    tracing::warn!(%error, "the kernel's link events stopped");
                    return None;
                }
            }
        }
    }

    fn read(&mut self) {
        for message in messages(&self.buffer) {
            let Ok((header, payload)) = message else {
                return;
            };
            if let Ok(message) = RouteNetlinkMessage::deserialize(&header, payload)
                && let Some(signal) = self.target.signal(&message)
            {
                self.pending.push_back(signal);
            }
        }
    }
}

/// The interface and the device it leads to, as the kernel last described them.
#[derive(Debug)]
struct Target {
    interface: String,
    device: Ipv4Addr,
    index: Option<u32>,
    carrier: bool,
}

impl Target {
    /// Watching starts with the link up (carrier on).
    fn new(interface: &str, device: Ipv4Addr, index: Option<u32>) -> Self {
        Target {
            interface: interface.to_string(),
            device,
            index,
            carrier: true,
        }
    }

    /// What a kernel event means for the link, if anything.
    fn signal(&mut self, message: &RouteNetlinkMessage) -> Option<LinkSignal> {
        match message {
            RouteNetlinkMessage::NewLink(link) if self.is_ours(link) => {
                self.index = Some(link.header.index);
                let carrier = link
                    .header
                    .flags
                    .contains(LinkFlags::Up | LinkFlags::LowerUp);
                let was = std::mem::replace(&mut self.carrier, carrier);
                match (was, carrier) {
                    (true, false) => Some(LinkSignal::Lost(format!(
                        "{} lost its carrier (disconnected from the access point)",
                        self.interface
                    ))),
                    (false, true) => Some(LinkSignal::Changed),
                    _ => None,
                }
            }
            RouteNetlinkMessage::DelLink(link) if self.is_ours(link) => {
                self.index = None;
                self.carrier = false;
                Some(LinkSignal::Lost(format!("{} was removed", self.interface)))
            }
            RouteNetlinkMessage::NewAddress(address)
                if Some(address.header.index) == self.index =>
            {
                Some(LinkSignal::Changed)
            }
            RouteNetlinkMessage::NewNeighbour(neighbour) if self.is_device(neighbour) => {
                (neighbour.header.state == NeighbourState::Failed).then(|| {
                    LinkSignal::Lost(format!(
                        "{} does not answer ARP on {}",
                        self.device, self.interface
                    ))
                })
            }
            _ => None,
        }
    }

    fn is_ours(&self, link: &LinkMessage) -> bool {
        link.attributes.iter().any(
            |attribute| matches!(attribute, LinkAttribute::IfName(name) if *name == self.interface),
        ) || Some(link.header.index) == self.index
    }

    fn is_device(&self, neighbour: &NeighbourMessage) -> bool {
        Some(neighbour.header.ifindex) == self.index
            && neighbour.attributes.iter().any(|attribute| {
                matches!(attribute, NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) if *a == self.device)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::address::AddressMessage;

    fn link(name: &str, index: u32, flags: LinkFlags) -> LinkMessage {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.flags = flags;
        link.attributes.push(LinkAttribute::IfName(name.into()));
        link
    }

    fn neighbour(index: u32, address: Ipv4Addr, state: NeighbourState) -> NeighbourMessage {
        let mut neighbour = NeighbourMessage::default();
        neighbour.header.ifindex = index;
        neighbour.header.state = state;
        neighbour
            .attributes
            .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(
                address,
            )));
        neighbour
    }

    const ROBOT: Ipv4Addr = Ipv4Addr::new(172, 31, 1, 1);

    #[test]
    fn carrier_loss_and_return_are_signalled_once_each() {
        let mut target = Target::new("wlan1", ROBOT, Some(4));
        let up = LinkFlags::Up | LinkFlags::LowerUp | LinkFlags::Running;
        let no_carrier = RouteNetlinkMessage::NewLink(link("wlan1", 4, LinkFlags::Up));
        let carrier = RouteNetlinkMessage::NewLink(link("wlan1", 4, up));
        assert_eq!(target.signal(&carrier), None, "already up");
        assert!(
            matches!(target.signal(&no_carrier), Some(LinkSignal::Lost(r)) if r.contains("wlan1 lost its carrier"))
        );
        assert_eq!(target.signal(&no_carrier), None, "already lost");
        assert_eq!(target.signal(&carrier), Some(LinkSignal::Changed));
        let other = RouteNetlinkMessage::NewLink(link("wlan0", 3, LinkFlags::Up));
        assert_eq!(target.signal(&other), None, "another interface");
    }

    #[test]
    fn a_recreated_interface_is_followed_by_name() {
        let mut target = Target::new("np-cozmo", ROBOT, Some(7));
        let gone = RouteNetlinkMessage::DelLink(link("np-cozmo", 7, LinkFlags::empty()));
        assert_eq!(
            target.signal(&gone),
            Some(LinkSignal::Lost("np-cozmo was removed".into()))
        );
        let again =
            RouteNetlinkMessage::NewLink(link("np-cozmo", 9, LinkFlags::Up | LinkFlags::LowerUp));
        assert_eq!(target.signal(&again), Some(LinkSignal::Changed));
        let mut address = AddressMessage::default();
        address.header.index = 9;
        assert_eq!(
            target.signal(&RouteNetlinkMessage::NewAddress(address)),
            Some(LinkSignal::Changed),
            "an address on the new index"
        );
    }

    #[test]
    fn only_a_failed_entry_for_the_device_is_a_loss() {
        let mut target = Target::new("wlan1", ROBOT, Some(4));
        let failed = RouteNetlinkMessage::NewNeighbour(neighbour(4, ROBOT, NeighbourState::Failed));
        assert_eq!(
            target.signal(&failed),
            Some(LinkSignal::Lost(
                "172.31.1.1 does not answer ARP on wlan1".into()
            ))
        );
        let reachable =
            RouteNetlinkMessage::NewNeighbour(neighbour(4, ROBOT, NeighbourState::Reachable));
        assert_eq!(target.signal(&reachable), None);
        let elsewhere =
            RouteNetlinkMessage::NewNeighbour(neighbour(3, ROBOT, NeighbourState::Failed));
        assert_eq!(
            target.signal(&elsewhere),
            None,
            "the same address on another link"
        );
        let other = RouteNetlinkMessage::NewNeighbour(neighbour(
            4,
            Ipv4Addr::new(172, 31, 1, 9),
            NeighbourState::Failed,
        ));
        assert_eq!(target.signal(&other), None, "another neighbour");
    }
}
