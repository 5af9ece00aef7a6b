//! The daemon's two transports, one dispatcher behind both: a Unix socket (one JSON
//! object per line, peer credentials checked) and a WebSocket on loopback (one JSON object
//! per text message, a token required, foreign `Origin`s refused).
//!
//! In mini-redis's shape: listeners are bound by the caller (tests bind temporary ones),
//! a task per client, a semaphore caps clients, and `shutdown` stops accepting; a server
//! returns once every client's session has ended (after `Dispatcher::stop_sessions`) and
//! its last lines are written.

use crate::dispatch::{Dispatcher, Incoming, Monitor, serve_session};
use crate::outbox::outbox;
use crate::protocol::{MAX_FRAME, Response};
use futures_util::{SinkExt, StreamExt};
use netpilot_core::{Error, ErrorCode};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{
    ErrorResponse, Request as HttpRequest, Response as HttpResponse,
};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Frames waiting to be handled, per client: small, so a flooding client waits on its
/// own socket instead of filling the daemon's memory.
const INBOX: usize = 32;
/// Bytes a WebSocket read asks the kernel for at a time, per client.
const READ_BUFFER: usize = 4096;
/// A frame begun must be complete this soon: a client that sends half a line and waits
/// is disconnected (an idle client with nothing begun may stay for ever).
pub const FRAME_WITHIN: Duration = Duration::from_secs(10);
/// A WebSocket's HTTP handshake must be done this soon after the connection.
pub const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);
/// The daemon pings each WebSocket client this often; one that sends nothing (not even
/// the pong every WebSocket library sends by itself) for [`SILENT_AT_MOST`] is gone, or
/// stuck in the middle of a frame, and is disconnected.
pub const PING_EVERY: Duration = Duration::from_secs(30);
pub const SILENT_AT_MOST: Duration = Duration::from_secs(75);

/// Who may use the Unix socket: the daemon's own user, root, and members of `group`.
#[derive(Debug, Clone, Copy)]
pub struct PeerPolicy {
    pub uid: u32,
    pub group: Option<u32>,
}

impl PeerPolicy {
    /// `groups` are the peer's supplementary groups, read only when they matter: the
    /// group is usually one a user is added to (netdev), not their primary one.
    fn allows(&self, uid: u32, gid: u32, groups: impl FnOnce() -> Vec<u32>) -> bool {
        if uid == 0 || uid == self.uid {
            return true;
        }
        self.group
            .is_some_and(|group| gid == group || groups().contains(&group))
    }
}

/// The supplementary groups of process `pid` (`Groups:` in /proc/PID/status); none when
/// it cannot be read (the peer has gone: refused).
fn supplementary_groups(pid: Option<i32>) -> Vec<u32> {
    let Some(status) =
        pid.and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
    else {
        return Vec::new();
    };
    groups_line(&status)
}

fn groups_line(status: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Groups:"))
        .map(|groups| {
            groups
                .split_whitespace()
                .filter_map(|g| g.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Serves the Unix socket until `shutdown` resolves.
pub async fn serve_unix<M: Monitor>(
    listener: UnixListener,
    dispatcher: Arc<Dispatcher<M>>,
    policy: PeerPolicy,
    max_clients: usize,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(max_clients));
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Ok((stream, _)) = accepted else { continue };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            refuse(
                stream,
                Error::new(ErrorCode::RateLimited, "too many clients"),
            )
            .await;
            continue;
        };
        let dispatcher = Arc::clone(&dispatcher);
        let open = open.clone();
        tokio::spawn(async move {
            let _open = open;
            let allowed = stream.peer_cred().is_ok_and(|cred| {
                policy.allows(cred.uid(), cred.gid(), || supplementary_groups(cred.pid()))
            });
            if allowed {
                unix_client(stream, dispatcher).await;
            } else {
                refuse(
                    stream,
                    Error::new(
                        ErrorCode::Unauthorized,
                        "this user may not use netpilot's daemon",
                    ),
                )
                .await;
            }
            drop(permit);
        });
    }
    sessions_closed(open, &mut all_closed).await;
}

/// Waits until every session's task has ended (each holds a clone of `open`).
async fn sessions_closed(open: mpsc::Sender<()>, all_closed: &mut mpsc::Receiver<()>) {
    drop(open);
    let _ = all_closed.recv().await;
}

async fn refuse(mut stream: UnixStream, error: Error) {
    let line = Response::failed(None, error).to_line() + "\n";
    let _ = stream.write_all(line.as_bytes()).await;
}

async fn unix_client<M: Monitor>(stream: UnixStream, dispatcher: Arc<Dispatcher<M>>) {
    let (read, write) = stream.into_split();
    let (frames, inbox) = mpsc::channel(INBOX);
    let (outgoing, mut outbox) = outbox();
    let reader = tokio::spawn(read_lines(BufReader::new(read), frames));
    let writer = tokio::spawn(async move {
        let mut write = BufWriter::new(write);
        while let Some(line) = outbox.recv().await {
            if write.write_all(line.as_bytes()).await.is_err()
                || write.write_all(b"\n").await.is_err()
            {
                return;
            }
            // Batch what is queued, flush when the queue is empty.
            if outbox.is_empty() && write.flush().await.is_err() {
                return;
            }
        }
    });
    serve_session(dispatcher, inbox, outgoing).await;
    reader.abort();
    let _ = writer.await;
}

/// Splits a byte stream into lines of at most [`MAX_FRAME`] bytes; a longer line is
/// skipped and reported as [`Incoming::TooLarge`].
pub async fn read_lines(
    mut read: impl tokio::io::AsyncBufRead + Unpin,
    frames: mpsc::Sender<Incoming>,
) {
    let mut line = Vec::new();
    let mut too_large = false;
    // When the frame being read began, while one is.
    let mut begun: Option<tokio::time::Instant> = None;
    loop {
        let (consumed, done) = {
            let filled = match begun {
                None => read.fill_buf().await,
                Some(at) => match tokio::time::timeout_at(at + FRAME_WITHIN, read.fill_buf()).await
                {
                    Ok(filled) => filled,
                    Err(_) => {
                        tracing::warn!(
                            "a client sent part of a frame and nothing more for {} s: disconnected",
                            FRAME_WITHIN.as_secs()
                        );
                        return;
                    }
                },
            };
            let Ok(available) = filled else {
                return;
            };
            if available.is_empty() {
                return;
            }
            match available.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    if !too_large {
                        line.extend_from_slice(&available[..end]);
                    }
                    (end + 1, true)
                }
                None => {
                    if !too_large {
                        line.extend_from_slice(available);
                    }
                    (available.len(), false)
                }
            }
        };
        read.consume(consumed);
        if !done && begun.is_none() {
            begun = Some(tokio::time::Instant::now());
        }
        if line.len() > MAX_FRAME {
            too_large = true;
            line = Vec::new();
        }
        if done {
            begun = None;
            let frame = if too_large {
                Incoming::TooLarge
            } else {
                let text = String::from_utf8_lossy(&line)
                    .trim_end_matches('\r')
                    .to_string();
                if text.trim().is_empty() {
                    line.clear();
                    continue;
                }
                Incoming::Frame(text)
            };
            line.clear();
            too_large = false;
            if frames.send(frame).await.is_err() {
                return;
            }
        }
    }
}

/// Who may use the WebSocket: holders of the token, from pages of allowed origins.
#[derive(Debug, Clone)]
pub struct WebSocketPolicy {
    pub token: String,
    /// `Origin`s allowed besides loopback pages (`http://localhost:*`, `http://127.0.0.1:*`,
    /// `http://[::1]:*`). Requests without `Origin` (not from a browser) are allowed.
    pub origins: Vec<String>,
}

impl WebSocketPolicy {
    fn check(&self, request: &HttpRequest) -> Result<(), (u16, &'static str)> {
        if let Some(origin) = request.headers().get("origin") {
            let origin = origin.to_str().unwrap_or_default();
            if !loopback_origin(origin) && !self.origins.iter().any(|o| o == origin) {
                return Err((403, "origin not allowed"));
            }
        }
        let from_query = request
            .uri()
            .query()
            .into_iter()
            .flat_map(|q| q.split('&'))
            .find_map(|pair| pair.strip_prefix("token="));
        let from_header = request
            .headers()
            .get("authorization")
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "));
        match from_query.or(from_header) {
            Some(token) if constant_time_eq(token.as_bytes(), self.token.as_bytes()) => Ok(()),
            _ => Err((401, "a valid token is required")),
        }
    }
}

fn loopback_origin(origin: &str) -> bool {
    ["http://localhost", "http://127.0.0.1", "http://[::1]"]
        .iter()
        .any(|base| {
            origin.strip_prefix(base).is_some_and(|rest| {
                rest.is_empty()
                    || (rest.starts_with(':') && rest[1..].bytes().all(|b| b.is_ascii_digit()))
            })
        })
}

/// Compares without stopping at the first difference, so timing says nothing of the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Serves the WebSocket until `shutdown` resolves. Bind the listener on loopback.
pub async fn serve_websocket<M: Monitor>(
    listener: TcpListener,
    dispatcher: Arc<Dispatcher<M>>,
    policy: WebSocketPolicy,
    max_clients: usize,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(max_clients));
    let policy = Arc::new(policy);
    let (open, mut all_closed) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Ok((stream, _)) = accepted else { continue };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            continue;
        };
        let dispatcher = Arc::clone(&dispatcher);
        let policy = Arc::clone(&policy);
        let open = open.clone();
        tokio::spawn(async move {
            let _open = open;
            let _ = stream.set_nodelay(true);
            // tungstenite's callback type returns its (large) error response by value.
            #[allow(clippy::result_large_err)]
            let check = |request: &HttpRequest, response: HttpResponse| match policy.check(request)
            {
                Ok(()) => Ok(response),
                Err((status, reason)) => {
                    let mut refusal = ErrorResponse::new(Some(reason.to_string()));
                    *refusal.status_mut() =
                        tokio_tungstenite::tungstenite::http::StatusCode::from_u16(status)
                            .unwrap_or(tokio_tungstenite::tungstenite::http::StatusCode::FORBIDDEN);
                    Err(refusal)
                }
            };
            // Messages past the protocol's limit get an error response; only beyond
            // this much larger one does tungstenite close the connection.
            // tungstenite zero-fills its read buffer before every read: the default 128 KiB
            // was most of the CPU of an event fan-out, and resident per client. Requests
            // are small; a larger frame still grows the buffer as it arrives.
            let config = WebSocketConfig::default()
                .read_buffer_size(READ_BUFFER)
                .max_message_size(Some(16 * MAX_FRAME))
                .max_frame_size(Some(16 * MAX_FRAME));
            let handshake =
                tokio_tungstenite::accept_hdr_async_with_config(stream, check, Some(config));
            match tokio::time::timeout(HANDSHAKE_WITHIN, handshake).await {
                Ok(Ok(socket)) => websocket_client(socket, dispatcher).await,
                Ok(Err(_)) => {}
                Err(_) => tracing::warn!(
                    "a WebSocket client did not complete its handshake within {} s: disconnected",
                    HANDSHAKE_WITHIN.as_secs()
                ),
            }
            drop(permit);
        });
    }
    sessions_closed(open, &mut all_closed).await;
}

async fn websocket_client<M: Monitor>(
    socket: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    dispatcher: Arc<Dispatcher<M>>,
) {
    let (mut sink, mut stream) = socket.split();
    let (frames, inbox) = mpsc::channel(INBOX);
    let (outgoing, mut outbox) = outbox();
    let reader = tokio::spawn(async move {
        loop {
            let message = match tokio::time::timeout(SILENT_AT_MOST, stream.next()).await {
                Ok(Some(Ok(message))) => message,
                Ok(_) => return,
                Err(_) => {
                    tracing::warn!(
                        "a WebSocket client sent nothing, not even a pong, for {} s: disconnected",
                        SILENT_AT_MOST.as_secs()
                    );
                    return;
                }
            };
            let frame = match message {
                Message::Text(text) if text.len() > MAX_FRAME => Incoming::TooLarge,
                Message::Text(text) => Incoming::Frame(text.to_string()),
                Message::Binary(bytes) if bytes.len() > MAX_FRAME => Incoming::TooLarge,
                Message::Binary(bytes) => {
                    Incoming::Frame(String::from_utf8_lossy(&bytes).into_owned())
                }
                Message::Close(_) => return,
                _ => continue,
            };
            if frames.send(frame).await.is_err() {
                return;
            }
        }
    });
    let writer = tokio::spawn(async move {
        let mut pings =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
        loop {
            let line = tokio::select! {
                line = outbox.recv() => match line {
                    Some(line) => line,
                    None => break,
                },
                _ = pings.tick() => {
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            if sink.feed(Message::text(line)).await.is_err() {
                return;
            }
            if outbox.is_empty() && sink.flush().await.is_err() {
                return;
            }
        }
        let _ = sink.close().await;
    });
    serve_session(dispatcher, inbox, outgoing).await;
    reader.abort();
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_pages_are_allowed_origins_and_others_are_not() {
        assert!(loopback_origin("http://localhost"));
        assert!(loopback_origin("http://localhost:8080"));
        assert!(loopback_origin("http://127.0.0.1:3000"));
        assert!(loopback_origin("http://[::1]:3000"));
        assert!(!loopback_origin("http://localhost.evil.example"));
        assert!(!loopback_origin("http://localhost:80x"));
        assert!(!loopback_origin("https://evil.example"));
    }

    #[test]
    fn the_group_admits_members_by_primary_or_supplementary_group() {
        let policy = PeerPolicy {
            uid: 0,
            group: Some(108),
        };
        assert!(policy.allows(1000, 108, Vec::new));
        assert!(policy.allows(1000, 1000, || vec![27, 108]));
        assert!(!policy.allows(1000, 1000, || vec![27]));
        let private = PeerPolicy {
            uid: 0,
            group: None,
        };
        assert!(!private.allows(1000, 108, || vec![108]));
        assert!(private.allows(0, 0, Vec::new));
        let status = "Name:\tsh\nGid:\t1000\t1000\t1000\t1000\nGroups:\t27 108 1000 \nNStgid:\t1\n";
        assert_eq!(groups_line(status), [27, 108, 1000]);
        assert_eq!(groups_line("Groups:\n"), Vec::<u32>::new());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[tokio::test]
    async fn lines_over_the_limit_are_skipped_and_reported() {
        let mut input = Vec::new();
        input.extend_from_slice(b"{\"method\":\"a\"}\n");
        input.extend(std::iter::repeat_n(b'x', MAX_FRAME + 10));
        input.extend_from_slice(b"\n\n{\"method\":\"b\"}\r\n");
        let (frames, mut inbox) = mpsc::channel(8);
        read_lines(BufReader::new(&input[..]), frames).await;
        let mut seen = Vec::new();
        while let Ok(frame) = inbox.try_recv() {
            seen.push(match frame {
                Incoming::Frame(text) => text,
                Incoming::TooLarge => "<too large>".into(),
            });
        }
        assert_eq!(
            seen,
            ["{\"method\":\"a\"}", "<too large>", "{\"method\":\"b\"}"]
        );
    }
}
