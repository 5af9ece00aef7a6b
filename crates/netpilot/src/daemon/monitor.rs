//! The monitor as the daemon serves it: the Linux ports behind the dispatcher's
//! [`Monitor`], each call on a blocking thread, and the `monitor.traffic` sampler.

use crate::traffic_sampler::TrafficSampler;
use netpilot_api::dispatch::{Dispatcher, Monitor};
use netpilot_api::monitor::{
    ConnectionsDocument, InterfacesDocument, PortsDocument, TrafficDocument,
};
use netpilot_core::ports::LinkSource;
use netpilot_core::{ConnectionKind, Error, ErrorCode};
use netpilot_engine::monitor::interfaces::{with_rates, without_rates};
use netpilot_engine::monitor::{ConnectionFilter, collect_connections, collect_ports};
use netpilot_linux::{Links, ProcFs, SockDiag};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Publishes a traffic sample every second while someone listens; sleeps otherwise.
pub async fn sample_traffic<M: Monitor>(dispatcher: Arc<Dispatcher<M>>) {
    loop {
        dispatcher.traffic_listened().await;
        let Ok(Ok(mut meter)) = tokio::task::spawn_blocking(|| {
            let mut sampler = TrafficSampler::open(true)?;
            sampler.sample(Instant::now())?;
            Ok::<_, Error>(sampler)
        })
        .await
        else {
            tokio::time::sleep(Duration::from_secs(5)).await;
            continue;
        };
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        while dispatcher.traffic_listeners() > 0 {
            ticks.tick().await;
            let sampled = tokio::task::spawn_blocking(move || {
                let sample = meter.sample(Instant::now());
                (meter, sample)
            })
            .await;
            let Ok((returned, sample)) = sampled else {
                break;
            };
            meter = returned;
            if let Ok(sampled) = sample
                && sampled.sample.interval.is_some()
            {
                dispatcher.publish_traffic(sampled.document());
            }
        }
    }
}

/// The monitor over the Linux ports, each call on a blocking thread.
pub struct LinuxMonitor;

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| Error::new(ErrorCode::Io, format!("monitor task failed: {e}")))?
}

impl Monitor for LinuxMonitor {
    async fn interfaces(&self, rates: bool) -> Result<InterfacesDocument, Error> {
        blocking(move || {
            let links = Links::open()?;
            let before = links.interfaces()?;
            if !rates {
                return Ok(InterfacesDocument {
                    interval_ms: None,
                    interfaces: without_rates(before),
                });
            }
            let start = Instant::now();
            std::thread::sleep(Duration::from_secs(1));
            let after = links.interfaces()?;
            let elapsed = start.elapsed();
            Ok(InterfacesDocument {
                interval_ms: Some(elapsed.as_millis() as u64),
                interfaces: with_rates(&before, after, elapsed),
            })
        })
        .await
    }

    async fn connections(&self, kind: ConnectionKind) -> Result<ConnectionsDocument, Error> {
        blocking(move || {
            let filter = ConnectionFilter {
                kind,
                ..ConnectionFilter::default()
            };
            let snapshot = collect_connections(&SockDiag::open()?, &ProcFs::open()?, &filter)?;
            Ok(ConnectionsDocument::from(snapshot))
        })
        .await
    }

    async fn ports(&self) -> Result<PortsDocument, Error> {
        blocking(|| {
            let snapshot = collect_ports(&SockDiag::open()?, &ProcFs::open()?)?;
            Ok(PortsDocument::from(snapshot))
        })
        .await
    }

    async fn traffic(&self) -> Result<TrafficDocument, Error> {
        blocking(|| {
            // Numeric: one request is one second, never longer for a name.
            let mut sampler = TrafficSampler::open(false)?;
            sampler.sample(Instant::now())?;
            std::thread::sleep(Duration::from_secs(1));
            Ok(sampler.sample(Instant::now())?.document())
        })
        .await
    }
}
