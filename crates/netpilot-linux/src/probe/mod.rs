//! Reachability probes, bound to one interface (`SO_BINDTODEVICE`) so that they prove a
//! path, not just an address: an ARP request ([`arp`]), an ICMP echo, or a TCP connection
//! attempt where a refusal counts as an answer. Blocking calls with a timeout; async
//! callers use [`run`].

mod arp;
pub use arp::arp;

use netpilot_core::{Error, ErrorCode};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Runs a blocking probe off the async runtime.
pub async fn run<T: Send + 'static>(
    probe: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(probe)
        .await
        .unwrap_or_else(|e| Err(Error::new(ErrorCode::Io, format!("probe failed: {e}"))))
}

/// One probe of a device at `address` through `interface`, of the kind its link uses.
pub fn device(
    probe: netpilot_core::device::Probe,
    address: Ipv4Addr,
    interface: &str,
    timeout: Duration,
) -> Result<Duration, Error> {
    use netpilot_core::device::Probe;
    match probe {
        Probe::Arp => arp(address, interface, timeout),
        Probe::Icmp => icmp(address, interface, timeout),
        Probe::Tcp { port } => tcp(SocketAddr::from((address, port)), Some(interface), timeout),
    }
}

/// One ICMP echo to `address` through `interface`; the round trip.
pub fn icmp(address: Ipv4Addr, interface: &str, timeout: Duration) -> Result<Duration, Error> {
    // A raw socket needs CAP_NET_RAW (the daemon has it); an unprivileged ping socket
    // needs net.ipv4.ping_group_range to include the user.
    let (socket, raw) = match Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)) {
        Ok(socket) => (socket, true),
        Err(_) => (
            Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4)).map_err(|e| {
                Error::new(
                    ErrorCode::PermissionDenied,
                    format!("cannot open an ICMP socket: {e}"),
                )
                .with_hint("run as root, or allow ping sockets (sysctl net.ipv4.ping_group_range)")
            })?,
            false,
        ),
    };
    bind(&socket, interface)?;
    let identifier = (std::process::id() & 0xffff) as u16;
    let sequence = next_sequence();
    let request = echo_request(identifier, sequence);
    let started = Instant::now();
    socket
        .send_to(&request, &SockAddr::from(SocketAddrV4::new(address, 0)))
        .map_err(|e| unreachable(address, interface, e))?;
    reply(&socket, started, timeout, address, interface, |packet| {
        // A raw socket sees every ICMP packet with its IP header; a ping socket only its
        // own replies (the kernel sets the identifier), without the header.
        let (source, icmp) = if raw {
            let header = usize::from(packet.first().copied().unwrap_or(0x45) & 0x0f) * 4;
            let source = packet
                .get(12..16)
                .map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3]));
            (source, packet.get(header..).unwrap_or_default())
        } else {
            (Some(address), packet)
        };
        icmp.len() >= 8
            && icmp[0] == 0
            && u16::from_be_bytes([icmp[6], icmp[7]]) == sequence
            && (!raw || u16::from_be_bytes([icmp[4], icmp[5]]) == identifier)
            && source == Some(address)
    })
}

/// Reads from `socket` until a packet `is_reply` accepts, or until `timeout` from
/// `started`; the time until the reply. A timeout is `no_answer`; any other error says the
/// address is unreachable.
fn reply(
    socket: &Socket,
    started: Instant,
    timeout: Duration,
    address: Ipv4Addr,
    interface: &str,
    mut is_reply: impl FnMut(&[u8]) -> bool,
) -> Result<Duration, Error> {
    let mut buffer = [0u8; 1500];
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(no_answer(address, interface, timeout));
        }
        socket
            .set_read_timeout(Some(left))
            .map_err(|e| Error::new(ErrorCode::Io, e.to_string()))?;
        let length = match (&*socket).read(&mut buffer) {
            Ok(length) => length,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(no_answer(address, interface, timeout));
            }
            Err(e) => return Err(unreachable(address, interface, e)),
        };
        if is_reply(&buffer[..length]) {
            return Ok(started.elapsed());
        }
    }
}

/// A TCP connection attempt to `address` through `interface`: accepted or refused, the
/// host answered.
pub fn tcp(
    address: SocketAddr,
    interface: Option<&str>,
    timeout: Duration,
) -> Result<Duration, Error> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(|e| Error::new(ErrorCode::Io, format!("cannot open a TCP socket: {e}")))?;
    if let Some(interface) = interface {
        bind(&socket, interface)?;
    }
    let started = Instant::now();
    match socket.connect_timeout(&address.into(), timeout) {
        Ok(()) => Ok(started.elapsed()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(started.elapsed()),
        Err(e)
            if e.kind() == std::io::ErrorKind::TimedOut
                || e.kind() == std::io::ErrorKind::WouldBlock =>
        {
            Err(no_answer(
                address,
                interface.unwrap_or("any interface"),
                timeout,
            ))
        }
        Err(e) => Err(unreachable(
            address,
            interface.unwrap_or("any interface"),
            e,
        )),
    }
}

/// Resolves `host:port` with the system's resolver (so DNS is tested too), then [`tcp`].
pub fn tcp_by_name(
    target: &str,
    interface: Option<&str>,
    timeout: Duration,
) -> Result<(SocketAddr, Duration), Error> {
    let address = target
        .to_socket_addrs()
        .map_err(|e| {
            Error::new(ErrorCode::NotFound, format!("cannot resolve {target}: {e}"))
                .with_hint("DNS does not answer, or the name is wrong")
        })?
        .find(SocketAddr::is_ipv4)
        .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("{target} has no IPv4 address")))?;
    Ok((address, tcp(address, interface, timeout)?))
}

fn bind(socket: &Socket, interface: &str) -> Result<(), Error> {
    socket.bind_device(Some(interface.as_bytes())).map_err(|e| {
        Error::new(
            ErrorCode::PermissionDenied,
            format!("cannot bind a probe to {interface}: {e}"),
        )
        .with_hint("probes through one interface need root (CAP_NET_RAW)")
    })
}

fn next_sequence() -> u16 {
    static SEQUENCE: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(1);
    SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn echo_request(identifier: u16, sequence: u16) -> [u8; 16] {
    let mut packet = [0u8; 16];
    packet[0] = 8; // echo request
    packet[4..6].copy_from_slice(&identifier.to_be_bytes());
    packet[6..8].copy_from_slice(&sequence.to_be_bytes());
    packet[8..16].copy_from_slice(b"netpilot");
    let checksum = checksum(&packet);
    packet[2..4].copy_from_slice(&checksum.to_be_bytes());
    packet
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn no_answer(address: impl std::fmt::Display, interface: &str, timeout: Duration) -> Error {
    Error::new(
        ErrorCode::Timeout,
        format!(
            "no answer from {address} on {interface} within {} ms",
            timeout.as_millis()
        ),
    )
}

fn unreachable(address: impl std::fmt::Display, interface: &str, e: std::io::Error) -> Error {
    Error::new(
        ErrorCode::Io,
        format!("{address} unreachable on {interface}: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_of_a_packet_with_its_checksum_is_zero() {
        let packet = echo_request(0x1234, 7);
        assert_eq!(checksum(&packet), 0);
        assert_ne!(packet[2..4], [0, 0]);
    }

    #[test]
    fn a_refused_connection_is_an_answer() {
        // A port nobody listens on: the kernel refuses at once.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let rtt = tcp(address, None, Duration::from_secs(2)).unwrap();
        assert!(rtt < Duration::from_secs(1));
        let error =
            tcp_by_name("no-such-host.invalid:80", None, Duration::from_secs(2)).unwrap_err();
        assert_eq!(error.code, ErrorCode::NotFound);
    }
}
