//! Packets counted per socket by the kernel (netpilot's eBPF counter): what each socket
//! moved with each remote end on each interface, for every protocol.

use std::net::SocketAddr;

/// One socket's exchange with one remote end on one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// The socket's cookie, as sock_diag reports it.
    pub cookie: u64,
    pub ifindex: u32,
    /// The transport protocol number (`IPPROTO_UDP` = 17, `IPPROTO_TCP` = 6, ICMP…).
    pub ip_protocol: u8,
    /// The remote address (IPv4 as IPv4) and port (0 for protocols without ports).
    pub remote: SocketAddr,
}

/// Cumulative counters of a flow since counting began.
///
/// `payload` is what follows the IP header and, for TCP and UDP, the transport header:
/// the bytes an application wrote or read, as `tcp_info` counts them for TCP. `wire` is
/// the IP packets as they crossed the interface (one IP and transport header per
/// segment of a GSO/GRO packet), for comparison with the interface's own counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowCounters {
    pub rx_payload: u64,
    pub rx_packets: u64,
    pub rx_wire: u64,
    pub tx_payload: u64,
    pub tx_packets: u64,
    pub tx_wire: u64,
}

impl FlowCounters {
    /// The growth from `earlier` to `self` (counters only grow; a reset reads as zero).
    pub fn since(&self, earlier: &FlowCounters) -> FlowCounters {
        FlowCounters {
            rx_payload: self.rx_payload.saturating_sub(earlier.rx_payload),
            rx_packets: self.rx_packets.saturating_sub(earlier.rx_packets),
            rx_wire: self.rx_wire.saturating_sub(earlier.rx_wire),
            tx_payload: self.tx_payload.saturating_sub(earlier.tx_payload),
            tx_packets: self.tx_packets.saturating_sub(earlier.tx_packets),
            tx_wire: self.tx_wire.saturating_sub(earlier.tx_wire),
        }
    }

    pub fn add(&mut self, other: &FlowCounters) {
        self.rx_payload += other.rx_payload;
        self.rx_packets += other.rx_packets;
        self.rx_wire += other.rx_wire;
        self.tx_payload += other.tx_payload;
        self.tx_packets += other.tx_packets;
        self.tx_wire += other.tx_wire;
    }

    pub fn is_zero(&self) -> bool {
        *self == FlowCounters::default()
    }
}

/// A flow and its counters as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub key: FlowKey,
    pub counters: FlowCounters,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_per_counter_and_never_negative() {
        let before = FlowCounters {
            rx_payload: 100,
            tx_payload: 50,
            ..FlowCounters::default()
        };
        let after = FlowCounters {
            rx_payload: 160,
            tx_payload: 40,
            rx_packets: 2,
            ..FlowCounters::default()
        };
        let grown = after.since(&before);
        assert_eq!(
            (grown.rx_payload, grown.tx_payload, grown.rx_packets),
            (60, 0, 2)
        );
        let mut sum = grown;
        sum.add(&grown);
        assert_eq!(sum.rx_payload, 120);
        assert!(FlowCounters::default().is_zero() && !sum.is_zero());
    }
}
