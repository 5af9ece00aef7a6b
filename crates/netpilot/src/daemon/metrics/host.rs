//! What the kernel says of the machine, sampled on a thread of its own every few seconds
//! (a dump of 10,000 sockets takes milliseconds, and the daemon's runtime has one thread):
//! a scrape reads the last sample and never waits for the kernel.

use super::processes::{Bytes, ProcessLedger, Seen};
use crate::traffic_sampler::TrafficSampler;
use netpilot_core::ports::{LinkSource, SocketQuery, SocketSource};
use netpilot_core::{Interface, LinkCounters};
use netpilot_engine::monitor::UdpStatus;
use netpilot_linux::{Links, SockDiag};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The last sample.
#[derive(Debug, Default)]
pub struct HostFigures {
    pub interfaces: Vec<(String, LinkCounters, bool)>,
    /// Sockets by protocol and state ("tcp", "established").
    pub sockets: BTreeMap<(&'static str, &'static str), u64>,
    /// Per-process payload: the busiest names, then `other`.
    pub processes: Vec<(String, Bytes)>,
    /// Whether UDP payload is in the per-process bytes (the eBPF counter runs).
    pub udp_measured: bool,
    /// How long the sample took.
    pub took: Duration,
}

/// Samples every `every` until the process ends; `top` process names get a series.
pub fn spawn(figures: Arc<Mutex<HostFigures>>, top: usize, every: Duration) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("netpilot-metrics".into())
        .spawn(move || {
            let mut sampler = Sampler::new(top);
            loop {
                let started = Instant::now();
                let mut sample = sampler.sample();
                sample.took = started.elapsed();
                if let Ok(mut shared) = figures.lock() {
                    *shared = sample;
                }
                std::thread::sleep(every.saturating_sub(started.elapsed()));
            }
        })
        .map(drop)
}

struct Sampler {
    /// Opened once, kept: a sample is then two dumps, not two sockets made anew.
    links: Option<Links>,
    sockets: Option<SockDiag>,
    ledger: ProcessLedger,
    traffic: Option<TrafficSampler>,
    /// Said once: why per-process bytes are missing.
    traffic_failed: bool,
}

impl Sampler {
    fn new(top: usize) -> Self {
        Sampler {
            links: None,
            sockets: None,
            ledger: ProcessLedger::new(top),
            traffic: None,
            traffic_failed: false,
        }
    }

    fn sample(&mut self) -> HostFigures {
        let mut figures = HostFigures::default();
        if self.links.is_none() {
            self.links = Links::open().ok();
        }
        let read = self.links.as_ref().map(|links| links.interfaces());
        match read {
            Some(Ok(interfaces)) => {
                figures.interfaces = interfaces.into_iter().map(counters).collect()
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "metrics: the interfaces could not be read");
                self.links = None;
            }
            None => tracing::warn!("metrics: no rtnetlink socket"),
        }
        if self.sockets.is_none() {
            self.sockets = SockDiag::open().ok();
        }
        let dumped = self
            .sockets
            .as_ref()
            .map(|diag| diag.sockets(&SocketQuery::all()));
        match dumped {
            None => tracing::warn!("metrics: no sock_diag socket"),
            Some(Err(error)) => {
                tracing::warn!(%error, "metrics: the sockets could not be read");
                self.sockets = None;
            }
            Some(Ok(sockets)) => {
                for socket in sockets {
                    *figures
                        .sockets
                        .entry((socket.protocol.as_str(), socket.state.as_str()))
                        .or_default() += 1;
                }
            }
        }
        self.processes(&mut figures);
        figures
    }

    fn processes(&mut self, figures: &mut HostFigures) {
        if self.traffic.is_none() {
            match TrafficSampler::open(false) {
                Ok(opened) => self.traffic = Some(opened),
                Err(error) if !self.traffic_failed => {
                    self.traffic_failed = true;
                    tracing::warn!(%error, "metrics: no per-process bytes");
                }
                Err(_) => {}
            }
        }
        let Some(traffic) = &mut self.traffic else {
            return;
        };
        match traffic.sample(Instant::now()) {
            Ok(sampled) => {
                figures.udp_measured = matches!(sampled.sample.udp, UdpStatus::Measured { .. });
                self.ledger
                    .record(sampled.sample.processes.iter().map(|p| Seen {
                        pid: p.pid,
                        name: &p.name,
                        total: Bytes {
                            rx: p.rx_bytes,
                            tx: p.tx_bytes,
                        },
                    }));
            }
            Err(error) => {
                tracing::warn!(%error, "metrics: the traffic sample failed; reopening");
                self.traffic = None;
            }
        }
        figures.processes = self
            .ledger
            .series()
            .map(|(name, bytes)| (name.to_string(), bytes))
            .collect();
    }
}

fn counters(interface: Interface) -> (String, LinkCounters, bool) {
    let up = interface.admin_up && interface.carrier;
    (interface.name, interface.counters, up)
}

/// The last sample, encoded at each scrape.
#[derive(Debug)]
pub struct HostCollector(pub Arc<Mutex<HostFigures>>);

/// node_exporter's names for the same counters (`node_network_receive_bytes_total`…),
/// with the same `device` label, so dashboards built for it work with `netpilot_` too.
/// A counter's name, its help, and where its value is.
type Described<T> = (&'static str, &'static str, fn(&T) -> u64);

const INTERFACE_COUNTERS: [Described<LinkCounters>; 8] = [
    (
        "network_receive_bytes",
        "Bytes received by the interface",
        |c| c.rx_bytes,
    ),
    (
        "network_transmit_bytes",
        "Bytes sent by the interface",
        |c| c.tx_bytes,
    ),
    (
        "network_receive_packets",
        "Packets received by the interface",
        |c| c.rx_packets,
    ),
    (
        "network_transmit_packets",
        "Packets sent by the interface",
        |c| c.tx_packets,
    ),
    (
        "network_receive_errs",
        "Receive errors of the interface",
        |c| c.rx_errors,
    ),
    (
        "network_transmit_errs",
        "Transmit errors of the interface",
        |c| c.tx_errors,
    ),
    (
        "network_receive_drop",
        "Received packets the interface dropped",
        |c| c.rx_dropped,
    ),
    (
        "network_transmit_drop",
        "Packets to send the interface dropped",
        |c| c.tx_dropped,
    ),
];

impl Collector for HostCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Ok(figures) = self.0.lock() else {
            return Ok(());
        };
        if !figures.interfaces.is_empty() {
            for (name, help, value) in INTERFACE_COUNTERS {
                let mut family =
                    encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
                for (device, counters, _) in &figures.interfaces {
                    let labels = [("device", device.as_str())];
                    ConstCounter::new(value(counters)).encode(family.encode_family(&labels)?)?;
                }
            }
            let mut family = encoder.encode_descriptor(
                "network_up",
                "Whether the interface is up with a carrier (1) or not (0)",
                None,
                MetricType::Gauge,
            )?;
            for (device, _, up) in &figures.interfaces {
                let labels = [("device", device.as_str())];
                ConstGauge::new(i64::from(*up)).encode(family.encode_family(&labels)?)?;
            }
        }
        if !figures.sockets.is_empty() {
            let mut family = encoder.encode_descriptor(
                "sockets",
                "TCP and UDP sockets by protocol and state",
                None,
                MetricType::Gauge,
            )?;
            for ((protocol, state), count) in &figures.sockets {
                let labels = [("protocol", *protocol), ("state", *state)];
                ConstGauge::new(*count as i64).encode(family.encode_family(&labels)?)?;
            }
        }
        if !figures.processes.is_empty() {
            let directions: [Described<Bytes>; 2] = [
                (
                    "process_receive_bytes",
                    "Payload received by the busiest processes (TCP, and UDP when measured); `other` is the rest",
                    |b| b.rx,
                ),
                (
                    "process_transmit_bytes",
                    "Payload sent by the busiest processes (TCP, and UDP when measured); `other` is the rest",
                    |b| b.tx,
                ),
            ];
            for (name, help, value) in directions {
                let mut family =
                    encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
                for (process, bytes) in &figures.processes {
                    let labels = [("process", process.as_str())];
                    ConstCounter::new(value(bytes)).encode(family.encode_family(&labels)?)?;
                }
            }
            ConstGauge::new(i64::from(figures.udp_measured)).encode(encoder.encode_descriptor(
                "process_udp_measured",
                "Whether UDP payload is counted in the per-process bytes (1), or TCP only (0)",
                None,
                MetricType::Gauge,
            )?)?;
        }
        ConstGauge::new(figures.took.as_secs_f64()).encode(encoder.encode_descriptor(
            "host_sample_duration_seconds",
            "How long the last sample of interfaces, sockets and processes took",
            None,
            MetricType::Gauge,
        )?)?;
        Ok(())
    }
}
