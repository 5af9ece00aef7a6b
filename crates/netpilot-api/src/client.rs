//! The typed protocol v1 client, for every program that talks to a daemon: the CLI, the
//! tests, the benchmark. Where the daemon listens ([`default_socket`], [`sockets`]); one
//! connection over any transport (the Unix socket, the WebSocket, or a session with a
//! dispatcher in this very process); requests answered with typed results
//! ([`Client::call`]), events read as [`Event`]s.

use crate::dispatch::{Dispatcher, Incoming, Monitor, serve_session};
use crate::protocol::{Event, Message, Response};
use futures_util::{SinkExt, StreamExt};
use netpilot_core::{Error, ErrorCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// The system daemon's socket (the systemd unit's).
pub const SYSTEM_SOCKET: &str = "/run/netpilot/netpilot.sock";

/// Where `netpilot daemon` listens unless told: `$NETPILOT_SOCKET` if set; the system path
/// for root (a service); a per-user one under `$XDG_RUNTIME_DIR` otherwise.
pub fn default_socket() -> PathBuf {
    if let Some(path) = std::env::var_os("NETPILOT_SOCKET") {
        return PathBuf::from(path);
    }
    if rustix::process::geteuid().is_root() {
        return PathBuf::from(SYSTEM_SOCKET);
    }
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    runtime.join("netpilot/netpilot.sock")
}

/// Where a client looks for a daemon, in order: the socket it was given; else this user's
/// default, then the system daemon's (a user's commands may use the machine's daemon).
pub fn sockets(given: Option<PathBuf>) -> Vec<PathBuf> {
    let mut candidates = match given {
        Some(socket) => vec![socket],
        None => vec![default_socket(), PathBuf::from(SYSTEM_SOCKET)],
    };
    candidates.dedup();
    candidates
}

/// The way to the daemon.
enum Link {
    Unix {
        lines: Lines<BufReader<OwnedReadHalf>>,
        write: OwnedWriteHalf,
    },
    WebSocket(Box<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>>),
    /// A dispatcher in this process, served as a daemon serves a client.
    Session {
        frames: mpsc::Sender<Incoming>,
        lines: crate::outbox::Outgoing,
    },
}

/// One connection to a daemon: requests and their responses in order, events queued as
/// they come between them.
pub struct Client {
    link: Link,
    next_id: u64,
    /// Events that came while waiting for a response.
    events: VecDeque<Event>,
    /// Every frame received, when recording (tests search it for secrets).
    transcript: Option<String>,
    /// How long a request may wait for its response (see [`Client::answer_within`]).
    answer_within: Duration,
}

/// How long a request waits for its response unless told otherwise: the daemon answers
/// every method in well under a second, except the ones that wait for a network or a
/// device (their callers give them longer).
pub const ANSWER_WITHIN: Duration = Duration::from_secs(30);

impl Client {
    fn over(link: Link) -> Client {
        Client {
            link,
            next_id: 0,
            events: VecDeque::new(),
            transcript: None,
            answer_within: ANSWER_WITHIN,
        }
    }

    /// How long each request waits for its response from now on: past it, the call fails
    /// with `daemon-unavailable` (a daemon that accepted the connection and never answers
    /// must not hang its client).
    pub fn answer_within(&mut self, within: Duration) {
        self.answer_within = within;
    }

    /// The daemon on `socket`.
    pub async fn unix(socket: &Path) -> std::io::Result<Client> {
        let stream = tokio::net::UnixStream::connect(socket).await?;
        let (read, write) = stream.into_split();
        Ok(Client::over(Link::Unix {
            lines: BufReader::new(read).lines(),
            write,
        }))
    }

    /// The daemon on the socket given, else the first of [`sockets`] that answers.
    pub async fn find(given: Option<PathBuf>) -> Result<Client, Error> {
        let candidates = sockets(given);
        for socket in &candidates {
            if let Ok(client) = Client::unix(socket).await {
                return Ok(client);
            }
        }
        let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        Err(Error::new(
            ErrorCode::DaemonUnavailable,
            format!(
                "the netpilot daemon is not running (nothing answers on {})",
                tried.join(" or ")
            ),
        )
        .with_hint(
            "start it: sudo netpilot daemon (or sudo systemctl start netpilot: the .deb \
             installs the unit; from source, contrib/systemd/netpilot.service)",
        ))
    }

    /// The daemon's WebSocket at `address`, with its token, as a page from `origin` would
    /// connect (`None`: no Origin header, as a program).
    pub async fn websocket(
        address: std::net::SocketAddr,
        token: &str,
        origin: Option<&str>,
    ) -> Result<Client, Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let refused = |e: String| {
            Error::new(
                ErrorCode::DaemonUnavailable,
                format!("no netpilot WebSocket at {address}: {e}"),
            )
        };
        let mut request = format!("ws://{address}/?token={token}")
            .into_client_request()
            .map_err(|e| refused(e.to_string()))?;
        if let Some(origin) = origin {
            let value = origin.parse().map_err(|_| {
                Error::new(
                    ErrorCode::InvalidArgument,
                    format!("{origin:?} is not an origin"),
                )
            })?;
            request.headers_mut().insert("Origin", value);
        }
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| refused(e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (socket, _) = tokio_tungstenite::client_async(request, stream)
            .await
            .map_err(|e| refused(e.to_string()))?;
        Ok(Client::over(Link::WebSocket(Box::new(socket))))
    }

    /// A session with `dispatcher`, in this process: the same protocol, the same rules, with
    /// no socket in between (a command that runs the engine itself when no daemon does).
    pub fn session<M: Monitor>(dispatcher: Arc<Dispatcher<M>>) -> Client {
        let (frames, incoming) = mpsc::channel(32);
        let (outgoing, lines) = crate::outbox::outbox();
        tokio::spawn(serve_session(dispatcher, incoming, outgoing));
        Client::over(Link::Session { frames, lines })
    }

    /// Keeps every frame received from now on (see [`Client::transcript`]).
    pub fn record(&mut self) {
        self.transcript.get_or_insert_with(String::new);
    }

    /// Every frame received since [`Client::record`], one per line.
    pub fn transcript(&self) -> &str {
        self.transcript.as_deref().unwrap_or_default()
    }

    /// Sends one frame as it is (tests send malformed ones).
    pub async fn send_frame(&mut self, frame: &str) -> Result<(), Error> {
        let failed = |e: String| {
            Error::new(
                ErrorCode::DaemonUnavailable,
                format!("cannot write to the netpilot daemon: {e}"),
            )
        };
        match &mut self.link {
            Link::Unix { write, .. } => {
                let mut line = String::with_capacity(frame.len() + 1);
                line.push_str(frame);
                line.push('\n');
                write
                    .write_all(line.as_bytes())
                    .await
                    .map_err(|e| failed(e.to_string()))
            }
            Link::WebSocket(socket) => socket
                .send(WsMessage::text(frame))
                .await
                .map_err(|e| failed(e.to_string())),
            Link::Session { frames, .. } => frames
                .send(Incoming::Frame(frame.to_string()))
                .await
                .map_err(|_| failed("the session has ended".into())),
        }
    }

    /// Sends a request without waiting for its response; its id.
    pub async fn request(&mut self, method: &str, params: impl Serialize) -> Result<u64, Error> {
        self.next_id += 1;
        let id = self.next_id;
        let frame = json!({ "id": id, "method": method, "params": params }).to_string();
        self.send_frame(&frame).await?;
        Ok(id)
    }

    /// The next frame from the daemon, whatever it is.
    pub async fn receive(&mut self) -> Result<Message, Error> {
        let gone = || {
            Error::new(
                ErrorCode::DaemonUnavailable,
                "the netpilot daemon closed the connection",
            )
            .with_hint("see the daemon's log (journalctl -u netpilot, or its terminal)")
        };
        let frame = loop {
            match &mut self.link {
                Link::Unix { lines, .. } => {
                    break lines
                        .next_line()
                        .await
                        .map_err(|_| gone())?
                        .ok_or_else(gone)?;
                }
                Link::WebSocket(socket) => match socket.next().await {
                    Some(Ok(WsMessage::Text(text))) => break text.to_string(),
                    Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => return Err(gone()),
                    Some(Ok(_)) => continue,
                },
                Link::Session { lines, .. } => break lines.recv().await.ok_or_else(gone)?,
            }
        };
        if let Some(transcript) = &mut self.transcript {
            transcript.push_str(&frame);
            transcript.push('\n');
        }
        Message::parse(&frame)
    }

    /// Sends a request and waits for its response, success or not; events that come
    /// meanwhile wait for [`Client::next_event`].
    pub async fn reply(&mut self, method: &str, params: impl Serialize) -> Result<Response, Error> {
        let within = self.answer_within;
        let answered = async {
            let id = self.request(method, params).await?;
            loop {
                match self.receive().await? {
                    Message::Response(response) if response.id == Some(json!(id)) => {
                        return Ok(response);
                    }
                    Message::Event(event) => self.events.push_back(event),
                    // An answer to a request given up on, an event of a newer daemon.
                    Message::Response(_) | Message::Unknown { .. } => {}
                }
            }
        };
        match tokio::time::timeout(within, answered).await {
            Ok(answer) => answer,
            Err(_) => Err(Error::new(
                ErrorCode::DaemonUnavailable,
                format!(
                    "the netpilot daemon did not answer {method} within {} s",
                    within.as_secs()
                ),
            )
            .with_hint(
                "it accepted the connection but is stuck: see its log (journalctl -u netpilot, \
                 or its terminal) and restart it (sudo systemctl restart netpilot)",
            )),
        }
    }

    /// Calls `method`; its result as `R` (`()` or `Value` when there is none to read), or
    /// the daemon's error.
    pub async fn call<R: DeserializeOwned>(
        &mut self,
        method: &str,
        params: impl Serialize,
    ) -> Result<R, Error> {
        let response = self.reply(method, params).await?;
        if !response.success {
            return Err(response.error.map(Error::from).unwrap_or_else(|| {
                Error::new(
                    ErrorCode::Protocol,
                    format!("the daemon refused: {}", response.message),
                )
            }));
        }
        serde_json::from_value(response.result.unwrap_or(Value::Null)).map_err(|e| {
            Error::new(
                ErrorCode::Protocol,
                format!("the daemon's answer to {method} is not what this netpilot expects: {e}"),
            )
            .with_hint("is the daemon the same version as this command?")
        })
    }

    /// The next event: one that came while waiting for a response, else the next to come.
    pub async fn next_event(&mut self) -> Result<Event, Error> {
        if let Some(event) = self.events.pop_front() {
            return Ok(event);
        }
        loop {
            match self.receive().await? {
                Message::Event(event) => return Ok(event),
                Message::Response(_) | Message::Unknown { .. } => {}
            }
        }
    }

    /// Forgets the events queued so far (what came before a request matters no more).
    pub fn clear_events(&mut self) {
        self.events.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_socket_is_the_only_one_tried() {
        assert_eq!(
            sockets(Some(PathBuf::from("/tmp/x.sock"))),
            [PathBuf::from("/tmp/x.sock")]
        );
        let looked = sockets(None);
        assert_eq!(looked.last(), Some(&PathBuf::from(SYSTEM_SOCKET)));
        assert_eq!(looked.first(), Some(&default_socket()));
    }
}
