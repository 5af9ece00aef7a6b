//! The ARP probe: a who-has for the device's address, broadcast on the link. Every IPv4
//! device answers it whatever its firmware (a robot that ignores pings must still answer
//! ARP, or nothing could reach it), and it never touches the device's own protocol: no
//! datagram reaches its ports, so no session of its is disturbed or reset.

use super::unreachable;
use netpilot_core::{Error, ErrorCode};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const ETH_P_ARP: u16 = 0x0806;
const REQUEST: u16 = 1;

/// One ARP request for `address` on `interface`, from the interface's own address (so the
/// device learns nothing wrong): broadcast the first time, then unicast to the hardware
/// address that answered; the time until the device answered for it.
pub fn arp(address: Ipv4Addr, interface: &str, timeout: Duration) -> Result<Duration, Error> {
    let socket = Socket::new(
        Domain::PACKET,
        Type::DGRAM,
        Some(Protocol::from(i32::from(ETH_P_ARP.to_be()))),
    )
    .map_err(|e| {
        Error::new(
            ErrorCode::PermissionDenied,
            format!("cannot open a packet socket for the ARP probe: {e}"),
        )
        .with_hint("the arp probe needs root (CAP_NET_RAW); or configure --probe icmp or tcp:PORT")
    })?;
    let link = Link::of(interface)?;
    socket
        .bind(&link.address([0; 6]))
        .map_err(|e| unreachable(address, interface, e))?;
    let request = request(link.mac, link.ipv4, address);
    // To the address it answered from last time, as the kernel's own checks do: one
    // frame for the device, not one for every host on the link.
    let known = answered_from(interface, address);
    let started = Instant::now();
    socket
        .send_to(&request, &link.address(known.unwrap_or([0xff; 6])))
        .map_err(|e| unreachable(address, interface, e))?;
    let mut answered_by = None;
    let answered = super::reply(&socket, started, timeout, address, interface, |packet| {
        let from = is_from(packet, address, link.mac);
        if from {
            answered_by = packet[8..14].try_into().ok();
        }
        from
    });
    match &answered {
        Ok(_) => remember(interface, address, answered_by),
        // Unanswered, the next one asks everyone: another device may hold the address now.
        Err(error) if error.code == ErrorCode::Timeout => remember(interface, address, None),
        Err(_) => {}
    }
    answered
}

type Answered = std::collections::HashMap<(String, Ipv4Addr), [u8; 6]>;

/// The hardware address each probed device last answered from.
fn answers() -> std::sync::MutexGuard<'static, Answered> {
    static ANSWERED: std::sync::OnceLock<std::sync::Mutex<Answered>> = std::sync::OnceLock::new();
    ANSWERED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

fn answered_from(interface: &str, address: Ipv4Addr) -> Option<[u8; 6]> {
    answers().get(&(interface.to_string(), address)).copied()
}

fn remember(interface: &str, address: Ipv4Addr, mac: Option<[u8; 6]>) {
    let mut answers = answers();
    match mac {
        Some(mac) => {
            answers.insert((interface.to_string(), address), mac);
        }
        None => {
            answers.remove(&(interface.to_string(), address));
        }
    }
}

/// The interface as the probe needs it.
struct Link {
    index: i32,
    mac: [u8; 6],
    ipv4: Ipv4Addr,
}

impl Link {
    /// From the kernel's own tables (one rtnetlink dump): no ioctl, no guess.
    fn of(interface: &str) -> Result<Link, Error> {
        use netpilot_core::ports::LinkSource;
        let found = crate::Links::open()?
            .interfaces()?
            .into_iter()
            .find(|i| i.name == interface)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::NotFound,
                    format!("{interface} is not an interface here"),
                )
            })?;
        let mac = found.mac.as_deref().and_then(parse_mac).ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidArgument,
                format!("{interface} has no Ethernet address: ARP cannot probe on it"),
            )
            .with_hint("configure --probe icmp or tcp:PORT for this link")
        })?;
        let ipv4 = found
            .ipv4
            .iter()
            .find_map(|a| match a.address {
                std::net::IpAddr::V4(v4) => Some(v4),
                std::net::IpAddr::V6(_) => None,
            })
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::Timeout,
                    format!("{interface} has no IPv4 address yet: nothing to ask the device from"),
                )
                .with_hint("the device's DHCP has not answered; or give the link --address")
            })?;
        Ok(Link {
            index: found.index as i32,
            mac,
            ipv4,
        })
    }

    /// The link-layer address `mac` on this interface, for ARP frames.
    #[allow(unsafe_code)]
    fn address(&self, mac: [u8; 6]) -> SockAddr {
        let mut value = aya_libc::sockaddr_ll {
            sll_family: aya_libc::AF_PACKET as u16,
            sll_protocol: ETH_P_ARP.to_be(),
            sll_ifindex: self.index,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 6,
            sll_addr: [0; 8],
        };
        value.sll_addr[..6].copy_from_slice(&mac);
        // SAFETY: a sockaddr_ll fits in the storage (socket2 hands a sockaddr_storage),
        // and is written whole, with its true length.
        let (_, address) = unsafe {
            SockAddr::try_init(|storage, length| {
                storage.cast::<aya_libc::sockaddr_ll>().write(value);
                *length = std::mem::size_of::<aya_libc::sockaddr_ll>() as u32;
                Ok(())
            })
        }
        .expect("writing an address cannot fail");
        address
    }
}

/// `aa:bb:cc:dd:ee:ff`.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// An ARP request (RFC 826, Ethernet and IPv4): who has `target`, tell `ipv4` at `mac`.
fn request(mac: [u8; 6], ipv4: Ipv4Addr, target: Ipv4Addr) -> [u8; 28] {
    let mut packet = [0u8; 28];
    packet[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    packet[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    packet[4] = 6;
    packet[5] = 4;
    packet[6..8].copy_from_slice(&REQUEST.to_be_bytes());
    packet[8..14].copy_from_slice(&mac);
    packet[14..18].copy_from_slice(&ipv4.octets());
    // The target's hardware address is what is asked: zero.
    packet[24..28].copy_from_slice(&target.octets());
    packet
}

/// Whether `packet` was sent by the device at `address` (a reply to anyone, or a request
/// of its own: either way it is there), not by this machine.
fn is_from(packet: &[u8], address: Ipv4Addr, own_mac: [u8; 6]) -> bool {
    packet.len() >= 28
        && packet[0..2] == 1u16.to_be_bytes()
        && packet[2..4] == 0x0800u16.to_be_bytes()
        && packet[8..14] != own_mac
        && packet[14..18] == address.octets()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_read_as_the_kernel_writes_them() {
        assert_eq!(parse_mac("02:00:0a:ff:00:01"), Some([2, 0, 10, 255, 0, 1]));
        assert_eq!(parse_mac("02:00:0a:ff:00"), None);
        assert_eq!(parse_mac("02:00:0a:ff:00:01:02"), None);
        assert_eq!(parse_mac("00:00:00:00:00:zz"), None);
    }

    #[test]
    fn a_request_asks_for_the_target_from_our_address() {
        let mac = [2, 0, 0, 0, 0, 1];
        let packet = request(
            mac,
            Ipv4Addr::new(172, 31, 1, 100),
            Ipv4Addr::new(172, 31, 1, 1),
        );
        assert_eq!(packet[6..8], [0, 1]);
        assert_eq!(packet[8..14], mac);
        assert_eq!(packet[14..18], [172, 31, 1, 100]);
        assert_eq!(packet[18..24], [0; 6]);
        assert_eq!(packet[24..28], [172, 31, 1, 1]);
        // Our own request is not the device's answer.
        assert!(!is_from(&packet, Ipv4Addr::new(172, 31, 1, 100), mac));
    }

    #[test]
    fn the_devices_reply_is_recognised_and_another_hosts_is_not() {
        let device_mac = [2, 0, 0, 0, 0, 9];
        let mut reply = request(
            device_mac,
            Ipv4Addr::new(172, 31, 1, 1),
            Ipv4Addr::new(172, 31, 1, 100),
        );
        reply[6..8].copy_from_slice(&2u16.to_be_bytes());
        let ours = [2, 0, 0, 0, 0, 1];
        assert!(is_from(&reply, Ipv4Addr::new(172, 31, 1, 1), ours));
        assert!(!is_from(&reply, Ipv4Addr::new(172, 31, 1, 2), ours));
        assert!(!is_from(&reply[..20], Ipv4Addr::new(172, 31, 1, 1), ours));
    }
}
