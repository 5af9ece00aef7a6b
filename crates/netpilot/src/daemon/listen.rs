//! The daemon's doors: the Unix socket (0600, or 0660 for a group; never briefly
//! world-usable; a live daemon's socket is never taken over), the loopback WebSocket and
//! its token file (refused if others can read it; see `netpilot_linux::private_file`);
//! and closing them when the daemon stops.

use super::Settings;
use netpilot_api::dispatch::{Dispatcher, Monitor};
use netpilot_api::server::{PeerPolicy, WebSocketPolicy, serve_unix, serve_websocket};
use netpilot_core::{Error, ErrorCode};
use netpilot_linux::private_file;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Clients connecting at once, per transport.
const MAX_CLIENTS: usize = 4096;

/// The transports being served.
pub struct Doors {
    /// Set to stop accepting clients.
    stop: watch::Sender<bool>,
    /// The servers: each returns once it accepts no more and its sessions have ended.
    servers: Vec<JoinHandle<()>>,
    socket: PathBuf,
    /// "listening on …", for the log and the terminal.
    pub listening: String,
}

impl Doors {
    /// Binds the socket (and the WebSocket, if asked) and serves `dispatcher` on them.
    pub async fn open<M: Monitor>(
        settings: &Settings,
        dispatcher: &Arc<Dispatcher<M>>,
    ) -> Result<Doors, Error> {
        let (stop, stopped) = watch::channel(false);
        let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        // Refusals first (a WebSocket beyond loopback, a token file others can read), so a
        // daemon that will not start never binds its socket.
        let token = match settings.websocket {
            Some(address) if !address.ip().is_loopback() => {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    format!("the WebSocket listens on loopback only, not {address}"),
                )
                .with_hint("use 127.0.0.1:PORT or [::1]:PORT"));
            }
            Some(_) => Some(token(&settings.token_file)?),
            None => None,
        };
        let listener = bind_socket(&settings.socket, settings.group)?;
        let policy = PeerPolicy {
            uid: rustix::process::geteuid().as_raw(),
            group: settings.group,
        };
        let mut servers = vec![tokio::spawn(serve_unix(
            listener,
            Arc::clone(dispatcher),
            policy,
            MAX_CLIENTS,
            until_stopped(stopped.clone()),
        ))];
        let mut listening = format!("listening on {}", settings.socket.display());
        if let (Some(address), Some(token)) = (settings.websocket, token) {
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
                origins: settings.origins.clone(),
            };
            servers.push(tokio::spawn(serve_websocket(
                listener,
                Arc::clone(dispatcher),
                policy,
                MAX_CLIENTS,
                until_stopped(stopped),
            )));
        }
        Ok(Doors {
            stop,
            servers,
            socket: settings.socket.clone(),
            listening,
        })
    }

    /// No new clients from now on.
    pub fn stop_accepting(&self) {
        self.stop.send_replace(true);
    }

    /// Waits for the servers (their sessions ended), then removes the socket.
    pub async fn closed(self) {
        for server in self.servers {
            let _ = server.await;
        }
        let _ = std::fs::remove_file(&self.socket);
    }
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

/// The WebSocket token: read from its file, or made and written there (0600, atomically
/// and durably). A token file others could read, or another user's, is refused: the
/// daemon does not start (`private_file` says why and how to fix it).
fn token(path: &Path) -> Result<String, Error> {
    const WHAT: &str = "the WebSocket token file";
    if let Some(existing) = private_file::read(path, WHAT)? {
        let existing = String::from_utf8_lossy(&existing).trim().to_string();
        if existing.len() >= 32 {
            return Ok(existing);
        }
    }
    let token = random_token();
    private_file::write(path, token.as_bytes(), WHAT)?;
    Ok(token)
}

/// 128 random bits from the kernel, as hex: prompt tokens and the WebSocket token.
pub fn random_token() -> String {
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
