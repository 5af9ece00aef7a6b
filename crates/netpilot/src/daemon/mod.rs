//! `netpilot daemon`: the composition root, the one place where the Linux backends are
//! handed to the engine and the API. NetworkManager (through the lazy backend, so the
//! daemon starts without it), the network service, the monitor, and the two transports.

mod listen;
mod monitor;
pub mod private;

use listen::{bind_socket, random_token, token};
use monitor::{LinuxMonitor, sample_traffic};
use netpilot_api::device::DeviceApi;
use netpilot_api::dispatch::{Dispatcher, RateLimit};
use netpilot_api::server::{PeerPolicy, WebSocketPolicy, serve_unix, serve_websocket};
use netpilot_core::ports::WifiEvent;
use netpilot_core::wifi::DeviceState;
use netpilot_core::{Error, ErrorCode};
use netpilot_engine::connect::Timeouts;
use netpilot_engine::device::{DeviceService, Supervision};
use netpilot_engine::network::{self, Config};
use netpilot_linux::nm::NetworkManagerBackend;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
}

/// Passes the backend's events on to the network service and, whenever a WiFi device
/// becomes connected, adopts the device links that came up without `device up`.
fn adopt_on_connect(
    devices: Arc<DeviceService<NetworkManagerBackend>>,
    mut events: tokio::sync::mpsc::Receiver<WifiEvent>,
) -> tokio::sync::mpsc::Receiver<WifiEvent> {
    let (forward, forwarded) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let WifiEvent::Device {
                state: DeviceState::Connected,
                ..
            } = &event
            {
                let devices = Arc::clone(&devices);
                tokio::spawn(async move {
                    if let Err(error) = devices.adopt().await {
                        tracing::debug!(%error, "could not adopt device links");
                    }
                });
            }
            if forward.send(event).await.is_err() {
                return;
            }
        }
    });
    forwarded
}

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let (backend, events) = NetworkManagerBackend::new("dev.netpilot.daemon");
    tokio::spawn(backend.clone().supervise());
    let config = Config {
        timeouts: settings.timeouts,
        debounce: Duration::from_millis(50),
        tokens: Box::new(random_token),
        claims: netpilot_engine::network::no_claims(),
    };
    let devices = DeviceService::new(Arc::new(backend.clone()), settings.supervision);
    // Links already up (a daemon restart) are supervised too, once NetworkManager answers;
    // and so are links it joins later by itself (autoconnect, nmcli).
    let adopting = Arc::clone(&devices);
    tokio::spawn(async move {
        for _ in 0..60 {
            if adopting.adopt().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let events = adopt_on_connect(Arc::clone(&devices), events);
    let network = network::spawn(backend, events, config);
    let (traffic, _) = tokio::sync::broadcast::channel(16);
    let dispatcher = Arc::new(Dispatcher::new(
        network,
        LinuxMonitor,
        Arc::new(DeviceApi::new(devices, settings.internet_probe)),
        traffic,
        RateLimit::default(),
    ));
    tokio::spawn(sample_traffic(Arc::clone(&dispatcher)));

    let listener = bind_socket(&settings.socket, settings.group)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let policy = PeerPolicy {
        uid: rustix::process::geteuid().as_raw(),
        group: settings.group,
    };
    let unix = tokio::spawn(serve_unix(
        listener,
        Arc::clone(&dispatcher),
        policy,
        4096,
        until_stopped(stopped.clone()),
    ));
    let mut listening = format!("listening on {}", settings.socket.display());
    let websocket = match settings.websocket {
        Some(address) => {
            if !address.ip().is_loopback() {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    format!("the WebSocket listens on loopback only, not {address}"),
                )
                .with_hint("use 127.0.0.1:PORT or [::1]:PORT")
                .into());
            }
            let token = token(&settings.token_file)?;
            let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
                Error::new(ErrorCode::Io, format!("cannot listen on {address}: {e}"))
            })?;
            let bound = listener.local_addr().unwrap_or(address);
            listening.push_str(&format!(
                ", ws://{bound}/ (token in {})",
                settings.token_file.display()
            ));
            let policy = WebSocketPolicy {
                token,
                origins: settings.origins,
            };
            Some(tokio::spawn(serve_websocket(
                listener,
                Arc::clone(&dispatcher),
                policy,
                4096,
                until_stopped(stopped.clone()),
            )))
        }
        None => None,
    };
    tracing::info!("{listening}");
    eprintln!("netpilot daemon: {listening}");

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    let _ = stop.send(true);
    let _ = unix.await;
    if let Some(websocket) = websocket {
        let _ = websocket.await;
    }
    let _ = std::fs::remove_file(&settings.socket);
    Ok(())
}
