//! `netpilot interfaces`: rates from two link-table samples.

use netpilot_core::{Interface, InterfaceSample, LinkCounters, LinkRate};
use std::time::Duration;

/// Pairs each interface of `after` with its rate since `before`, taken `elapsed` earlier.
/// An interface absent from `before` (or whose counters went backwards: recreated under
/// the same index) gets no rate rather than a wrong one.
pub fn with_rates(
    before: &[Interface],
    after: Vec<Interface>,
    elapsed: Duration,
) -> Vec<InterfaceSample> {
    after
        .into_iter()
        .map(|interface| {
            let rate = before
                .iter()
                .find(|b| b.index == interface.index && b.name == interface.name)
                .and_then(|b| rate(&b.counters, &interface.counters, elapsed));
            InterfaceSample { interface, rate }
        })
        .collect()
}

/// Interfaces without rates (`--no-rate`).
pub fn without_rates(interfaces: Vec<Interface>) -> Vec<InterfaceSample> {
    interfaces
        .into_iter()
        .map(|interface| InterfaceSample {
            interface,
            rate: None,
        })
        .collect()
}

fn rate(before: &LinkCounters, after: &LinkCounters, elapsed: Duration) -> Option<LinkRate> {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 {
        return None;
    }
    let per_second = |b: u64, a: u64| a.checked_sub(b).map(|delta| delta as f64 / seconds);
    Some(LinkRate {
        rx_bytes_per_sec: per_second(before.rx_bytes, after.rx_bytes)?,
        tx_bytes_per_sec: per_second(before.tx_bytes, after.tx_bytes)?,
        rx_packets_per_sec: per_second(before.rx_packets, after.rx_packets)?,
        tx_packets_per_sec: per_second(before.tx_packets, after.tx_packets)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netpilot_core::{InterfaceKind, OperState};

    fn interface(index: u32, rx_bytes: u64, tx_bytes: u64) -> Interface {
        Interface {
            index,
            name: format!("eth{index}"),
            kind: InterfaceKind::Ethernet,
            link_kind: None,
            admin_up: true,
            oper_state: OperState::Up,
            carrier: true,
            mac: None,
            mtu: 1500,
            ipv4: vec![],
            ipv6: vec![],
            counters: LinkCounters {
                rx_bytes,
                tx_bytes,
                rx_packets: rx_bytes / 100,
                tx_packets: tx_bytes / 100,
                ..LinkCounters::default()
            },
        }
    }

    #[test]
    fn rates_are_deltas_per_second() {
        let before = vec![interface(1, 1_000, 0)];
        let after = vec![interface(1, 6_000, 2_000), interface(2, 5, 5)];
        let samples = with_rates(&before, after, Duration::from_millis(500));
        let rate = samples[0].rate.unwrap();
        assert_eq!(rate.rx_bytes_per_sec, 10_000.0);
        assert_eq!(rate.tx_bytes_per_sec, 4_000.0);
        assert_eq!(rate.rx_packets_per_sec, 100.0);
        assert_eq!(samples[1].rate, None, "a new interface has no rate yet");
    }

    #[test]
    fn counters_that_went_backwards_give_no_rate() {
        let samples = with_rates(
            &[interface(1, 9_000, 0)],
            vec![interface(1, 10, 0)],
            Duration::from_secs(1),
        );
        assert_eq!(samples[0].rate, None);
    }
}
