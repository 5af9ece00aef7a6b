//! The packet counter's flows, read as growth since the last read.
//!
//! The kernel's map keeps a flow's counters after its socket is gone (a cookie is never
//! reused), so a socket that closed between two samples keeps its bytes: the map is read
//! *before* the sockets are dumped, and a flow whose socket was missing from a dump is
//! read once more (the read after that dump holds its final counts) and only then
//! forgotten, in the kernel and here.

use super::fastmap::FastMap;
use netpilot_core::ports::FlowSource;
use netpilot_core::{Error, FlowCounters, FlowKey};

/// A flow and how much it grew since the last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Growth {
    pub key: FlowKey,
    pub grown: FlowCounters,
}

pub struct FlowLedger<C> {
    source: C,
    /// Each flow's counters at the last read.
    last: FastMap<FlowKey, FlowCounters>,
    /// Flows whose socket was missing from the last dump: their final counts are in the
    /// next read, after which they are forgotten.
    closing: Vec<FlowKey>,
}

impl<C: FlowSource> FlowLedger<C> {
    pub fn new(source: C) -> Self {
        FlowLedger {
            source,
            last: FastMap::default(),
            closing: Vec::new(),
        }
    }

    pub fn source(&self) -> &C {
        &self.source
    }

    pub fn source_mut(&mut self) -> &mut C {
        &mut self.source
    }

    /// Reads every flow and returns those that grew. On the `baseline` read, flows only
    /// set their starting point; after it, a new flow grew by all it holds (the map was
    /// empty when counting began, and forgotten flows start again from zero).
    pub fn read(&mut self, baseline: bool) -> Result<Vec<Growth>, Error> {
        let flows = self.source.flows()?;
        let mut grown = Vec::new();
        for flow in flows {
            let before = self.last.insert(flow.key, flow.counters);
            let delta = match before {
                Some(before) => flow.counters.since(&before),
                None if baseline => FlowCounters::default(),
                None => flow.counters,
            };
            if !delta.is_zero() {
                grown.push(Growth {
                    key: flow.key,
                    grown: delta,
                });
            }
        }
        // Their sockets were gone before the dump that followed the last read, so this
        // read had their last packets.
        let closing = std::mem::take(&mut self.closing);
        for key in &closing {
            self.last.remove(key);
        }
        self.source.forget(&closing);
        Ok(grown)
    }

    /// After the dump that followed [`FlowLedger::read`]: flows of sockets missing from
    /// it are read once more, then forgotten.
    pub fn settle(&mut self, alive: impl Fn(u64) -> bool) {
        self.closing = self
            .last
            .keys()
            .filter(|key| !alive(key.cookie))
            .copied()
            .collect();
    }

    /// The cookies of every flow held.
    pub fn cookies(&self) -> impl Iterator<Item = u64> + '_ {
        self.last.keys().map(|k| k.cookie)
    }

    /// Cookies of the flows to be read once more and forgotten.
    pub fn closing_cookies(&self) -> std::collections::BTreeSet<u64> {
        self.closing.iter().map(|k| k.cookie).collect()
    }

    /// Flows held now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.last.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FakeFlows;

    fn key(cookie: u64) -> FlowKey {
        FlowKey {
            cookie,
            ifindex: 2,
            ip_protocol: 17,
            remote: ([10, 0, 0, 2], 53).into(),
        }
    }

    fn tx(bytes: u64) -> FlowCounters {
        FlowCounters {
            tx_payload: bytes,
            tx_packets: 1,
            tx_wire: bytes + 28,
            ..FlowCounters::default()
        }
    }

    #[test]
    fn a_flow_of_a_closed_socket_is_read_once_more_then_forgotten() {
        let flows = FakeFlows::default();
        flows.set(key(1), tx(100));
        let mut ledger = FlowLedger::new(flows.clone());
        assert_eq!(
            ledger.read(true).unwrap(),
            vec![],
            "the baseline charges nothing"
        );
        ledger.settle(|_| true);

        // It sends 50 more bytes, then closes before the dump.
        flows.set(key(1), tx(150));
        let grown = ledger.read(false).unwrap();
        assert_eq!(grown[0].grown.tx_payload, 50);
        ledger.settle(|_| false);
        // The close's last bytes arrive before the next read: still charged.
        flows.set(key(1), tx(170));
        let grown = ledger.read(false).unwrap();
        assert_eq!(grown[0].grown.tx_payload, 20);
        assert_eq!(flows.forgotten(), vec![key(1)]);
        assert_eq!(ledger.len(), 0);
        assert!(ledger.read(false).unwrap().is_empty());
    }

    #[test]
    fn a_new_flow_after_the_baseline_is_charged_in_full() {
        let flows = FakeFlows::default();
        let mut ledger = FlowLedger::new(flows.clone());
        ledger.read(true).unwrap();
        ledger.settle(|_| true);
        flows.set(key(9), tx(1_000));
        let grown = ledger.read(false).unwrap();
        assert_eq!(grown.len(), 1);
        assert_eq!(grown[0].grown.tx_payload, 1_000);
        // Nothing moved: nothing reported, nothing forgotten while the socket lives.
        ledger.settle(|cookie| cookie == 9);
        assert!(ledger.read(false).unwrap().is_empty());
        assert!(flows.forgotten().is_empty());
    }
}
