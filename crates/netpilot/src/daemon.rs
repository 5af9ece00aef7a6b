//! `netpilot daemon`: the composition root, the one place where the Linux backends are
//! handed to the engine and the API. NetworkManager (through the lazy backend, so the
//! daemon starts without it), the network service, the monitor, and the two transports.

use netpilot_api::device::DeviceApi;
use netpilot_api::dispatch::{Dispatcher, Monitor, RateLimit};
use netpilot_api::monitor::{
    ConnectionSummary, ConnectionsDocument, InterfacesDocument, PortsDocument, TrafficDocument,
};
use netpilot_api::server::{PeerPolicy, WebSocketPolicy, serve_unix, serve_websocket};
use netpilot_core::ports::{LinkSource, WifiEvent};
use netpilot_core::wifi::DeviceState;
use netpilot_core::{Error, ErrorCode};
use netpilot_engine::connect::Timeouts;
use netpilot_engine::device::{DeviceService, Supervision};
use netpilot_engine::monitor::interfaces::{with_rates, without_rates};
use netpilot_engine::monitor::{
    ConnectionFilter, ConnectionKind, TrafficMeter, collect_connections, collect_ports,
};
use netpilot_engine::network::{self, Config};
use netpilot_linux::nm::NetworkManagerBackend;
use netpilot_linux::{ClosedSocketListener, Links, ProcFs, SockDiag};
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// The default socket: `$NETPILOT_SOCKET` if set; a system path for root (a service), a
/// per-user one otherwise.
pub fn default_socket() -> PathBuf {
    if let Some(path) = std::env::var_os("NETPILOT_SOCKET") {
        return PathBuf::from(path);
    }
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/run/netpilot/netpilot.sock");
    }
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    runtime.join("netpilot/netpilot.sock")
}

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let (backend, events) = NetworkManagerBackend::new("dev.netpilot.daemon");
    tokio::spawn(backend.clone().supervise());
    let config = Config {
        timeouts: settings.timeouts,
        debounce: Duration::from_millis(50),
        tokens: Box::new(random_token),
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

/// Binds the socket 0600 (0660 with a group), replacing a stale one, refusing to take
/// over a live one.
fn bind_socket(path: &PathBuf, group: Option<u32>) -> Result<tokio::net::UnixListener, Error> {
    let io = |what: &str, e: std::io::Error| {
        Error::new(ErrorCode::Io, format!("{what} {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent() {
        let mode = if rustix::process::geteuid().is_root() {
            0o755
        } else {
            0o700
        };
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create the directory of", e))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode));
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("a daemon already listens on {}", path.display()),
            )
            .with_hint("stop it first, or give another --socket"));
        }
        std::fs::remove_file(path).map_err(|e| io("cannot remove the stale socket", e))?;
    }
    // Created private, then opened to the group if asked: never briefly world-usable.
    let umask = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = tokio::net::UnixListener::bind(path);
    rustix::process::umask(umask);
    let listener = bound.map_err(|e| io("cannot listen on", e))?;
    if let Some(gid) = group {
        rustix::fs::chown(path, None, Some(rustix::fs::Gid::from_raw(gid)))
            .map_err(|e| io("cannot give the group", e.into()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
            .map_err(|e| io("cannot open to the group", e))?;
    }
    Ok(listener)
}

/// The WebSocket token: read from the file, or made and written 0600.
fn token(path: &PathBuf) -> Result<String, Error> {
    if let Ok(existing) = std::fs::read_to_string(path)
        && existing.trim().len() >= 32
    {
        return Ok(existing.trim().to_string());
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let token = random_token();
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(token.as_bytes()))
        .map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    Ok(token)
}

/// 128 random bits from the kernel, as hex: prompt tokens and the WebSocket token.
fn random_token() -> String {
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while filled < bytes.len() {
        match rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => panic!("the kernel gave no random bytes: {e}"),
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Publishes a traffic sample every second while someone listens; sleeps otherwise.
async fn sample_traffic<M: Monitor>(dispatcher: Arc<Dispatcher<M>>) {
    loop {
        dispatcher.traffic_listened().await;
        let Ok(Ok(mut meter)) = tokio::task::spawn_blocking(|| {
            Ok::<_, Error>(TrafficMeter::new(
                SockDiag::open()?,
                ProcFs::open()?,
                ClosedSocketListener::start(),
            ))
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
            if let Ok(sample) = sample
                && sample.interval.is_some()
            {
                dispatcher.publish_traffic(crate::cli::traffic_document(sample));
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

    async fn connections(&self, kind: &str) -> Result<ConnectionsDocument, Error> {
        let kind = match kind {
            "all" => ConnectionKind::All,
            "tcp" => ConnectionKind::Tcp,
            "udp" => ConnectionKind::Udp,
            "established" => ConnectionKind::Established,
            "listen" => ConnectionKind::Listen,
            other => {
                return Err(Error::new(
                    ErrorCode::InvalidParams,
                    format!("kind {other:?} is not one of all, tcp, udp, established, listen"),
                ));
            }
        };
        blocking(move || {
            let filter = ConnectionFilter {
                kind,
                ..ConnectionFilter::default()
            };
            let snapshot = collect_connections(&SockDiag::open()?, &ProcFs::open()?, &filter)?;
            let summary = ConnectionSummary::of(&snapshot.connections);
            Ok(ConnectionsDocument {
                connections: snapshot.connections,
                summary,
                visibility: snapshot.visibility,
            })
        })
        .await
    }

    async fn ports(&self) -> Result<PortsDocument, Error> {
        blocking(|| {
            let snapshot = collect_ports(&SockDiag::open()?, &ProcFs::open()?)?;
            Ok(PortsDocument {
                ports: snapshot.ports,
                visibility: snapshot.visibility,
            })
        })
        .await
    }

    async fn traffic(&self) -> Result<TrafficDocument, Error> {
        blocking(|| {
            let mut meter = TrafficMeter::new(
                SockDiag::open()?,
                ProcFs::open()?,
                ClosedSocketListener::start(),
            );
            meter.sample(Instant::now())?;
            std::thread::sleep(Duration::from_secs(1));
            Ok(crate::cli::traffic_document(meter.sample(Instant::now())?))
        })
        .await
    }
}
