//! `netpilot daemon`: the composition root, the one place where the Linux backends are
//! handed to the engine and the API. [`run`] wires and waits: NetworkManager (through the
//! lazy backend, so the daemon starts without it), the device-link and network services
//! sharing the radios' roles, the dispatcher, the monitor's sampler, and the doors
//! ([`listen`]); before all that, [`harden`] (non-dumpable, a private secret store).
//! Policies live in the engine; the monitor adaptor in [`monitor`].

mod harden;
mod listen;
pub mod metrics;
mod monitor;
pub mod private;

use listen::{Doors, random_token};
use monitor::{LinuxMonitor, sample_traffic};
use netpilot_api::device::DeviceApi;
use netpilot_api::dispatch::{Dispatcher, RateLimit};
use netpilot_engine::connect::Timeouts;
use netpilot_engine::device::{DeviceService, Supervision};
use netpilot_engine::network::{self, Config};
use netpilot_linux::nm::NetworkManagerBackend;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long the daemon takes at most to stop once asked (SIGTERM, Ctrl-C).
const STOP_WITHIN: Duration = Duration::from_millis(1800);

pub struct Settings {
    pub socket: PathBuf,
    pub group: Option<u32>,
    pub websocket: Option<SocketAddr>,
    pub token_file: PathBuf,
    pub origins: Vec<String>,
    pub timeouts: Timeouts,
    pub supervision: Supervision,
    /// What `device.test` connects to, to prove the internet answers (HOST:PORT).
    pub internet_probe: String,
    /// How the internet link is supervised.
    pub internet: netpilot_engine::device::InternetWatch,
    /// Serve `/metrics` for Prometheus (`--metrics`).
    pub metrics: Option<metrics::MetricsSettings>,
}

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    harden::before_any_secret()?;
    open_files_for_every_client();
    // Bound first: a port in use is said before anything else starts.
    let scrapes = match &settings.metrics {
        Some(wanted) => Some(metrics::bind(wanted).await?),
        None => None,
    };
    let (backend, events) = NetworkManagerBackend::new("dev.netpilot.daemon");
    tokio::spawn(backend.clone().supervise());
    let devices = DeviceService::new(Arc::new(backend.clone()), settings.supervision);
    let config = Config {
        timeouts: settings.timeouts,
        debounce: Duration::from_millis(50),
        tokens: Box::new(random_token),
        claims: devices.claims(),
    };
    let network = network::spawn(backend.clone(), events, config);
    // The roles of the radios: device links follow them (adoption, the internet taking a
    // waiting link's radio), the network service follows the links' claims.
    devices.follow(network.radios());
    devices.supervise_internet(settings.internet.clone());
    let followed = (network.clone(), Arc::clone(&devices));
    let (traffic, _) = tokio::sync::broadcast::channel(16);
    let dispatcher = Arc::new(Dispatcher::new(
        network,
        LinuxMonitor,
        Arc::new(DeviceApi::new(devices, settings.internet_probe.clone())),
        traffic,
        RateLimit::default(),
    ));
    tokio::spawn(sample_traffic(Arc::clone(&dispatcher)));
    let doors = Doors::open(&settings, &dispatcher).await?;
    let mut listening = doors.listening.clone();
    if let (Some((listener, registry)), Some(wanted)) = (scrapes, &settings.metrics) {
        let bound = listener.local_addr().unwrap_or(wanted.address);
        listening.push_str(&format!(", metrics at http://{bound}/metrics"));
        let (network, devices) = followed;
        tokio::spawn(metrics::follow(Arc::clone(&registry), network, devices));
        let counted = Arc::clone(&dispatcher);
        tokio::spawn(metrics::serve(listener, registry, move || {
            counted.clients()
        }));
    }
    tracing::info!("{listening}");
    eprintln!("netpilot daemon: {listening}");

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    let stopping = tokio::time::Instant::now();
    // In order: no new clients; pending prompts withdrawn (the sessions pass it on); each
    // session ends once its current response is out; the secret agent unregistered.
    doors.stop_accepting();
    let deadline = stopping + STOP_WITHIN;
    let _ = tokio::time::timeout_at(deadline, dispatcher.network().withdraw()).await;
    dispatcher.stop_sessions();
    if tokio::time::timeout_at(deadline, doors.closed())
        .await
        .is_err()
    {
        tracing::warn!("sessions still busy at the stop deadline: closed anyway");
    }
    let _ = tokio::time::timeout_at(deadline + Duration::from_millis(150), backend.close()).await;
    tracing::info!(took = ?stopping.elapsed(), "stopped");
    Ok(())
}

/// Each client is a descriptor (two for the WebSocket's), and the daemon takes up to 4,096
/// of them: the usual soft limit of 1,024 open files would refuse clients long before.
/// Raised to the hard limit, which the system (or the unit's `LimitNOFILE`) sets.
fn open_files_for_every_client() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(error) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(%error, "the open files limit could not be raised");
        }
    }
}
