//! Sampling on its own thread: a slow `/proc` scan never holds up the keyboard or the
//! screen. Each refresh is one traffic sample (which keeps the socket → process map and
//! reuses the last dump while TCP stands still), the connection rows and ports derived
//! from it, and one link dump for the interface rates.

use super::Message;
use crate::traffic_sampler::TrafficSampler;
use netpilot_api::monitor::ConnectionSummary;
use netpilot_core::InterfaceReconciliation;
use netpilot_core::{Connection, Error, Interface, InterfaceSample, ListeningPort};
use netpilot_engine::monitor::TrafficSample;
use netpilot_engine::monitor::interfaces::{with_rates, without_rates};
use netpilot_engine::monitor::ports::group_ports;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

/// Everything one refresh shows: the screen is drawn from this alone.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub interfaces: Vec<InterfaceSample>,
    /// Ordered as `netpilot connections` orders them.
    pub connections: Vec<Connection>,
    /// Totals by state of `connections`, counted once here rather than on every draw.
    pub summary: ConnectionSummary,
    pub ports: Vec<ListeningPort>,
    pub traffic: TrafficSample,
    /// How much of each interface's traffic was attributed (with the packet counter).
    pub reconciliation: Vec<InterfaceReconciliation>,
}

/// The kernel interfaces a refresh reads, opened before the screen is taken so that a
/// failure is an ordinary error message.
pub struct Sampler {
    traffic: TrafficSampler,
    /// The last link dump and when it was taken, for rates.
    previous: Option<(Vec<Interface>, Instant)>,
}

impl Sampler {
    pub fn open(resolve_names: bool) -> Result<Self, Error> {
        Ok(Sampler {
            traffic: TrafficSampler::open(resolve_names)?,
            previous: None,
        })
    }

    /// One refresh.
    pub fn take(&mut self) -> Result<Snapshot, Error> {
        let now = Instant::now();
        let sampled = self.traffic.sample(now)?;
        let took = now.elapsed();
        let connections = self.traffic.meter().connections();
        tracing::trace!(sample = ?took, rows = ?(now.elapsed() - took), "refresh steps");
        let listening = connections
            .iter()
            .filter(|c| c.state.is_listening())
            .cloned()
            .collect();
        let links = sampled.links;
        let interfaces = match self.previous.take() {
            Some((before, at)) => with_rates(&before, links.clone(), now - at),
            None => without_rates(links.clone()),
        };
        self.previous = Some((links, now));
        Ok(Snapshot {
            interfaces,
            summary: ConnectionSummary::of(&connections),
            connections,
            ports: group_ports(listening),
            traffic: sampled.sample,
            reconciliation: sampled.reconciliation,
        })
    }

    /// Refreshes every `interval` until the screen goes away.
    pub fn spawn(mut self, interval: Duration, screen: Sender<Message>) {
        std::thread::spawn(move || {
            let mut deadline = Instant::now();
            loop {
                let started = Instant::now();
                let message = match self.take() {
                    Ok(snapshot) => {
                        tracing::debug!(
                            took = ?started.elapsed(),
                            connections = snapshot.connections.len(),
                            "refreshed"
                        );
                        Message::Snapshot(Box::new(snapshot))
                    }
                    Err(error) => {
                        tracing::warn!(%error, "refresh failed");
                        Message::Failed(error.to_string())
                    }
                };
                if screen.send(message).is_err() {
                    return;
                }
                // A fixed schedule; one refresh that overran starts a new one.
                deadline += interval;
                let now = Instant::now();
                if deadline < now {
                    deadline = now + interval;
                }
                std::thread::sleep(deadline - now);
            }
        });
    }
}
