//! The traffic meter as every caller wires it (the `traffic` command, the live monitor,
//! the daemon): sock_diag, /proc, the kernel's destroy notices and the eBPF packet
//! counter, with the interfaces' reconciliation and the remote hosts' names.

use netpilot_api::monitor::TrafficDocument;
use netpilot_core::ports::LinkSource;
use netpilot_core::{Error, Interface, InterfaceReconciliation};
use netpilot_engine::monitor::{Reconciler, TrafficMeter, TrafficSample};
use netpilot_linux::rdns::ReverseDns;
use netpilot_linux::{ClosedSocketListener, FlowCounter, Links, ProcFs, SockDiag};
use std::time::Instant;

pub type Meter = TrafficMeter<SockDiag, ProcFs, ClosedSocketListener, FlowCounter>;

/// One sample with what the engine cannot know by itself.
pub struct Sampled {
    pub sample: TrafficSample,
    pub reconciliation: Vec<InterfaceReconciliation>,
    /// The link dump taken with the sample (the monitor's rates use it too).
    pub links: Vec<Interface>,
}

impl Sampled {
    pub fn document(self) -> TrafficDocument {
        let mut document = TrafficDocument::from(self.sample);
        document.interfaces = self.reconciliation;
        document
    }
}

pub struct TrafficSampler {
    meter: Meter,
    links: Links,
    reconciler: Reconciler,
    /// `None` with `-n`: addresses stay numeric.
    dns: Option<ReverseDns>,
}

impl TrafficSampler {
    /// Opens everything in the calling thread's network namespace. The packet counter
    /// failing to start (no privileges, an old kernel, built without clang) is no
    /// failure: the samples then say why UDP bytes are not measured.
    pub fn open(resolve_names: bool) -> Result<Self, Error> {
        let counter = FlowCounter::start();
        if let Err(why) = &counter {
            tracing::info!(reason = %why.message, "UDP bytes not measured");
        }
        let meter = TrafficMeter::new(
            SockDiag::open()?,
            ProcFs::open()?,
            ClosedSocketListener::start(),
        )
        .with_flows(counter);
        Ok(TrafficSampler {
            meter,
            links: Links::open()?,
            reconciler: Reconciler::default(),
            dns: resolve_names.then(ReverseDns::new),
        })
    }

    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Whether destroy notices arrive (so bytes moved just before a close count).
    pub fn closed_sockets_tracked(&self) -> bool {
        self.meter.closed_sockets_tracked()
    }

    pub fn sample(&mut self, now: Instant) -> Result<Sampled, Error> {
        let mut sample = self.meter.sample(now)?;
        let links = self.links.interfaces()?;
        let reconciliation = self.reconciler.reconcile(&links, &sample.interface_shares);
        if let Some(dns) = &self.dns {
            for remote in &mut sample.remotes {
                remote.name = dns.name(remote.address);
            }
        }
        Ok(Sampled {
            sample,
            reconciliation,
            links,
        })
    }
}
