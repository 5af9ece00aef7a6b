//! How much of each interface's traffic was attributed: the packet counter's IP bytes of
//! known sockets against the interface's own counters, since sampling began.

use super::fastmap::FastMap;
use super::traffic::InterfaceShare;
use netpilot_core::{Interface, InterfaceReconciliation};

/// Ethernet's header, which the link counters include and IP bytes do not. Loopback,
/// veth, bridges and WiFi (as the kernel counts it) all carry one; links without a
/// hardware address (tun, WireGuard) carry none.
const ETHERNET_HEADER: u64 = 14;

/// Remembers each interface's counters when sampling began.
#[derive(Debug, Default)]
pub struct Reconciler {
    start: FastMap<u32, (String, u64)>,
}

/// An interface's IP bytes (both directions) as its counters tell them.
fn ip_bytes(interface: &Interface) -> u64 {
    let c = &interface.counters;
    let header = if interface.mac.is_some() {
        ETHERNET_HEADER
    } else {
        0
    };
    (c.rx_bytes + c.tx_bytes).saturating_sub((c.rx_packets + c.tx_packets) * header)
}

impl Reconciler {
    /// The reconciliation of each interface since the first call (which sets the start
    /// and reports nothing moved). `shares` are the meter's bytes per interface since
    /// its own baseline, taken at the same time as the first call's interfaces.
    pub fn reconcile(
        &mut self,
        interfaces: &[Interface],
        shares: &[InterfaceShare],
    ) -> Vec<InterfaceReconciliation> {
        let mut rows = Vec::with_capacity(interfaces.len());
        for interface in interfaces {
            let now = ip_bytes(interface);
            let start = self
                .start
                .entry(interface.index)
                .or_insert_with(|| (interface.name.clone(), now));
            // A new link under an old index starts afresh.
            if start.0 != interface.name || now < start.1 {
                *start = (interface.name.clone(), now);
            }
            let bytes = now - start.1;
            let share = shares
                .iter()
                .find(|s| s.ifindex == interface.index)
                .copied()
                .unwrap_or_default();
            // Packets the counter sees and the link does not count as such (a datagram
            // fragmented after the counter ran) can make the shares exceed the link's
            // bytes by a header or two: the split is capped at what the link carried.
            let to_processes = share.to_processes.min(bytes);
            let to_sockets = share.to_sockets_without_process.min(bytes - to_processes);
            rows.push(InterfaceReconciliation {
                interface: interface.name.clone(),
                bytes,
                to_processes,
                to_sockets_without_process: to_sockets,
                unattributed: bytes - to_processes - to_sockets,
            });
        }
        self.start
            .retain(|index, _| interfaces.iter().any(|i| i.index == *index));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::interface;

    fn with_counters(mut i: Interface, bytes: u64, packets: u64) -> Interface {
        i.counters.rx_bytes = bytes;
        i.counters.rx_packets = packets;
        i
    }

    #[test]
    fn attributed_bytes_are_a_share_of_the_ip_bytes_since_the_start() {
        let mut reconciler = Reconciler::default();
        let eth = interface(2, "eth0");
        let first = reconciler.reconcile(&[with_counters(eth.clone(), 10_000, 10)], &[]);
        assert_eq!(first[0].bytes, 0);
        // 100 frames of 1,014 bytes: 100,000 IP bytes, of which 90,000 a process's and
        // 5,000 a socket's without one; the rest (pings, ARP…) nobody's.
        let share = InterfaceShare {
            ifindex: 2,
            to_processes: 90_000,
            to_sockets_without_process: 5_000,
        };
        let rows = reconciler.reconcile(&[with_counters(eth, 10_000 + 101_400, 110)], &[share]);
        assert_eq!(
            rows[0],
            InterfaceReconciliation {
                interface: "eth0".into(),
                bytes: 100_000,
                to_processes: 90_000,
                to_sockets_without_process: 5_000,
                unattributed: 5_000,
            }
        );
        assert_eq!(rows[0].attributed_percent(), 90.0);
    }

    #[test]
    fn shares_never_exceed_what_the_link_carried() {
        let mut reconciler = Reconciler::default();
        let mut tun = interface(5, "wg0");
        tun.mac = None;
        reconciler.reconcile(&[tun.clone()], &[]);
        let share = InterfaceShare {
            ifindex: 5,
            to_processes: 1_200,
            to_sockets_without_process: 10,
        };
        let rows = reconciler.reconcile(&[with_counters(tun, 1_000, 1)], &[share]);
        assert_eq!((rows[0].to_processes, rows[0].unattributed), (1_000, 0));
    }
}
