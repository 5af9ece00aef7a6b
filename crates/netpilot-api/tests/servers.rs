//! The servers over real sockets, with the fake backend.

use crate::harness::Daemon;
use futures_util::{SinkExt, StreamExt};
use netpilot_api::dispatch::RateLimit;
use netpilot_api::server::{PeerPolicy, WebSocketPolicy, serve_unix, serve_websocket};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio_tungstenite::tungstenite::Message;

struct UnixServer {
    path: PathBuf,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Drop for UnixServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn unix_server(daemon: &Daemon, name: &str) -> UnixServer {
    let path = std::env::temp_dir().join(format!("np-api-{name}-{}.sock", std::process::id()));
    unix_server_at(daemon, path)
}

fn unix_server_at(daemon: &Daemon, path: PathBuf) -> UnixServer {
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let policy = PeerPolicy {
        uid: rustix_uid(),
        group: None,
    };
    tokio::spawn(serve_unix(
        listener,
        daemon.dispatcher.clone(),
        policy,
        64,
        async move {
            let _ = stopped.await;
        },
    ));
    UnixServer { path, _stop: stop }
}

fn rustix_uid() -> u32 {
    // The test's own uid, read the portable way.
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0)
}

struct LineClient {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
}

impl LineClient {
    async fn connect(server: &UnixServer) -> LineClient {
        let (read, write) = UnixStream::connect(&server.path)
            .await
            .unwrap()
            .into_split();
        LineClient {
            read: BufReader::new(read),
            write,
        }
    }

    async fn send(&mut self, request: Value) {
        self.send_raw(request.to_string().as_bytes()).await;
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.write.write_all(bytes).await.unwrap();
        self.write.write_all(b"\n").await.unwrap();
    }

    /// The next line, within 5 s.
    async fn next(&mut self) -> Value {
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(5), self.read.read_line(&mut line))
            .await
            .expect("a line within 5 s")
            .unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Lines until one matches.
    async fn until(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        loop {
            let line = self.next().await;
            if matches(&line) {
                return line;
            }
        }
    }
}

fn is_prompt(line: &Value) -> bool {
    line["service"] == "network.credentials"
        && line["data"]["token"].is_string()
        && line["data"]["reason"].is_string()
}

#[tokio::test]
async fn subscribing_gives_the_state_at_once() {
    let daemon = Daemon::start(RateLimit::default()).await;
    let server = unix_server(&daemon, "snapshot");
    let mut client = LineClient::connect(&server).await;
    client
        .send(json!({"id": 1, "method": "subscribe", "params": {"services": ["network"]}}))
        .await;
    assert_eq!(client.next().await["message"], "subscribed");
    let snapshot = client.next().await;
    assert_eq!(snapshot["service"], "network");
    assert_eq!(snapshot["data"]["isConnecting"], false);
}

#[tokio::test]
async fn a_late_subscriber_receives_the_pending_prompt_and_the_first_answer_wins() {
    let mut daemon = Daemon::start(RateLimit::default()).await;
    let server = unix_server(&daemon, "race");
    let mut asker = LineClient::connect(&server).await;
    asker.send(json!({"id": 1, "method": "subscribe", "params": {"services": ["network.credentials"]}})).await;
    asker.next().await;
    asker
        .send(json!({"id": 2, "method": "network.wifi.connect", "params": {"ssid": "np-home"}}))
        .await;
    assert_eq!(asker.next().await["message"], "connecting");
    tokio::time::sleep(Duration::from_millis(50)).await;
    daemon.secrets_requested("np-home", false).await;
    let prompt = asker.until(is_prompt).await;
    let token = prompt["data"]["token"].as_str().unwrap().to_string();

    // The client that asked goes away mid-prompt: the prompt stays for others.
    drop(asker);
    let mut late = LineClient::connect(&server).await;
    late.send(
        json!({"id": 1, "method": "subscribe", "params": {"services": ["network.credentials"]}}),
    )
    .await;
    late.next().await;
    assert_eq!(
        late.next().await["data"]["token"],
        token.as_str(),
        "re-delivered on subscribe"
    );
    let mut rival = LineClient::connect(&server).await;
    rival.send(json!({"id": 1, "method": "subscribe", "params": {"services": ["network.credentials"]}})).await;
    rival.next().await;
    rival.next().await;

    let answer = json!({"method": "network.credentials.submit", "params": {"token": token, "secrets": {"psk": "home-secret-1"}}});
    late.send(answer.clone()).await;
    rival.send(answer).await;
    let first = late.until(|l| l.get("success").is_some()).await;
    let second = rival.until(|l| l.get("success").is_some()).await;
    let outcomes = [
        first["success"].as_bool().unwrap(),
        second["success"].as_bool().unwrap(),
    ];
    assert_eq!(
        outcomes.iter().filter(|ok| **ok).count(),
        1,
        "exactly one answer wins: {first} {second}"
    );
    let loser = if outcomes[0] { &second } else { &first };
    assert_eq!(loser["error"]["code"], "unknown-token");
    // Both see the prompt resolved.
    for client in [&mut late, &mut rival] {
        let resolved = client.until(|l| l["data"]["resolved"].is_string()).await;
        assert_eq!(resolved["data"]["resolved"], "answered");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(matches!(
        daemon.responders[0].answer(),
        Some(netpilot_core::ports::SecretAnswer::Secrets(_))
    ));
}

#[tokio::test]
async fn an_oversize_frame_is_an_error_and_the_connection_stays_up() {
    let daemon = Daemon::start(RateLimit::default()).await;
    let server = unix_server(&daemon, "oversize");
    let mut client = LineClient::connect(&server).await;
    let huge = format!(
        "{{\"method\": \"network.status\", \"params\": {{\"pad\": \"{}\"}}}}",
        "x".repeat(1024 * 1024 + 1)
    );
    client.send_raw(huge.as_bytes()).await;
    assert_eq!(client.next().await["error"]["code"], "frame-too-large");
    client
        .send(json!({"id": 2, "method": "network.status"}))
        .await;
    assert_eq!(client.next().await["success"], true);
}

#[tokio::test]
async fn a_flooding_client_is_slowed_and_others_are_still_served() {
    let daemon = Daemon::start(RateLimit {
        burst: 50.0,
        per_second: 100.0,
    })
    .await;
    let server = unix_server(&daemon, "flood");
    let mut flooder = LineClient::connect(&server).await;
    let mut burst = Vec::new();
    for id in 0..500 {
        burst.extend_from_slice(
            json!({"id": id, "method": "network.status"})
                .to_string()
                .as_bytes(),
        );
        burst.push(b'\n');
    }
    flooder.write.write_all(&burst).await.unwrap();
    let mut limited = 0;
    for _ in 0..500 {
        let line = flooder.next().await;
        if line["error"]["code"] == "rate-limited" {
            limited += 1;
        }
    }
    assert!(
        limited >= 400,
        "most of a 500-request burst over a 50 budget is refused: {limited}"
    );
    let mut other = LineClient::connect(&server).await;
    other
        .send(json!({"id": 1, "method": "network.status"}))
        .await;
    assert_eq!(
        other.next().await["success"],
        true,
        "another client is served"
    );
    flooder
        .send(json!({"id": 9, "method": "network.status"}))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        flooder.next().await.get("success").is_some(),
        "the flooder's connection is still up"
    );
}

async fn websocket_server(daemon: &Daemon) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let policy = WebSocketPolicy {
        token: "test-token-0123456789".into(),
        origins: Vec::new(),
    };
    tokio::spawn(serve_websocket(
        listener,
        daemon.dispatcher.clone(),
        policy,
        64,
        async move {
            let _ = stopped.await;
        },
    ));
    (format!("ws://{address}/"), stop)
}

#[tokio::test]
async fn the_websocket_wants_the_token_and_a_loopback_origin() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let daemon = Daemon::start(RateLimit::default()).await;
    let (url, _stop) = websocket_server(&daemon).await;

    let refused = tokio_tungstenite::connect_async(url.clone())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
    let refused = tokio_tungstenite::connect_async(format!("{url}?token=wrong"))
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
    let mut foreign = format!("{url}?token=test-token-0123456789")
        .into_client_request()
        .unwrap();
    foreign
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let refused = tokio_tungstenite::connect_async(foreign).await.unwrap_err();
    assert!(refused.to_string().contains("403"), "{refused}");

    let mut local = format!("{url}?token=test-token-0123456789")
        .into_client_request()
        .unwrap();
    local
        .headers_mut()
        .insert("origin", "http://localhost:5173".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(local).await.unwrap();
    socket
        .send(Message::text(
            json!({"id": 1, "method": "subscribe", "params": {"services": ["network"]}})
                .to_string(),
        ))
        .await
        .unwrap();
    assert_eq!(ws_next(&mut socket).await["message"], "subscribed");
    assert_eq!(ws_next(&mut socket).await["service"], "network");
    socket
        .send(Message::text("x".repeat(1024 * 1024 + 1)))
        .await
        .unwrap();
    assert_eq!(
        ws_next(&mut socket).await["error"]["code"],
        "frame-too-large"
    );
    socket
        .send(Message::text("{\"id\": 2, \"method\": \"network.status\"}"))
        .await
        .unwrap();
    assert_eq!(ws_next(&mut socket).await["id"], 2);
    // Under the limit but far over the server's read buffer: read whole and answered.
    let padded =
        json!({"id": 3, "method": "network.status", "params": {"pad": "x".repeat(512 * 1024)}});
    socket
        .send(Message::text(padded.to_string()))
        .await
        .unwrap();
    let answer = ws_next(&mut socket).await;
    assert_eq!(
        (answer["id"].clone(), answer["success"].clone()),
        (json!(3), json!(true))
    );
}

async fn ws_next<S>(socket: &mut tokio_tungstenite::WebSocketStream<S>) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    serde_json::from_str(message.to_text().unwrap()).unwrap()
}

/// Reads until the daemon closes the connection; the bytes read meanwhile.
async fn until_closed(read: &mut (impl tokio::io::AsyncRead + Unpin)) -> usize {
    use tokio::io::AsyncReadExt;
    let mut total = 0;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        match read.read(&mut buffer).await {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n,
        }
    }
}

// Paused time: the daemon's bounds (10 s, 75 s) pass at once, and the test still sees the
// order of things as the daemon's clock does.
#[tokio::test(start_paused = true)]
async fn half_a_frame_is_dropped_after_10_s_and_an_idle_client_stays() {
    use netpilot_api::server::FRAME_WITHIN;
    let daemon = Daemon::start(RateLimit::default()).await;
    let server = unix_server(&daemon, "half-frame");
    let mut idle = LineClient::connect(&server).await;
    let mut half = LineClient::connect(&server).await;
    half.write
        .write_all(b"{\"id\": 1, \"method\": \"netw")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(
        until_closed(&mut half.read).await,
        0,
        "no answer to half a frame"
    );
    let waited = started.elapsed();
    assert!(
        waited >= FRAME_WITHIN && waited < FRAME_WITHIN + Duration::from_secs(1),
        "{waited:?}"
    );
    // An hour with nothing begun: still served.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    idle.send(json!({"id": 2, "method": "network.status"}))
        .await;
    assert_eq!(idle.next().await["id"], 2);
}

#[tokio::test(start_paused = true)]
async fn a_websocket_handshake_not_done_in_10_s_is_dropped() {
    use netpilot_api::server::HANDSHAKE_WITHIN;
    let daemon = Daemon::start(RateLimit::default()).await;
    let (url, _stop) = websocket_server(&daemon).await;
    let address = url.trim_start_matches("ws://").trim_end_matches('/');
    let mut silent = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut partial = tokio::net::TcpStream::connect(address).await.unwrap();
    partial
        .write_all(b"GET /?token=test-token-0123456789 HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(until_closed(&mut silent).await, 0);
    assert_eq!(until_closed(&mut partial).await, 0);
    let waited = started.elapsed();
    assert!(
        waited >= HANDSHAKE_WITHIN && waited < HANDSHAKE_WITHIN + Duration::from_secs(1),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_websocket_client_that_never_answers_pings_is_dropped_and_one_that_reads_stays() {
    use netpilot_api::server::SILENT_AT_MOST;
    let daemon = Daemon::start(RateLimit::default()).await;
    let (url, _stop) = websocket_server(&daemon).await;
    let url = format!("{url}?token=test-token-0123456789");
    let (mut asleep, _) = tokio_tungstenite::connect_async(url.clone()).await.unwrap();
    let (mut awake, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    // The awake client reads (its library answers each ping); the other never polls.
    let reading = tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        while started.elapsed() < SILENT_AT_MOST * 3 {
            let _ = tokio::time::timeout(Duration::from_secs(1), awake.next()).await;
        }
        awake
    });
    tokio::time::sleep(SILENT_AT_MOST + Duration::from_secs(5)).await;
    // Pings were queued for it; then the connection ended.
    let mut ended = false;
    while let Ok(next) = tokio::time::timeout(Duration::from_secs(1), asleep.next()).await {
        match next {
            Some(Ok(Message::Ping(_))) => continue,
            _ => {
                ended = true;
                break;
            }
        }
    }
    assert!(ended, "the silent client is still connected");
    let mut awake = reading.await.unwrap();
    awake
        .send(Message::text("{\"id\": 7, \"method\": \"network.status\"}"))
        .await
        .unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match awake.next().await {
                Some(Ok(Message::Text(text))) => return text.to_string(),
                Some(Ok(_)) => continue,
                other => panic!("the reading client was dropped: {other:?}"),
            }
        }
    })
    .await
    .expect("an answer");
    let answer: Value = serde_json::from_str(&answered).unwrap();
    assert_eq!(answer["id"], 7);
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped_and_the_others_are_served() {
    use netpilot_api::outbox::MAX_BYTES;
    let daemon = Daemon::start(RateLimit::default()).await;
    let server = unix_server(&daemon, "never-reads");
    let mut sleeper = LineClient::connect(&server).await;
    sleeper
        .send(json!({"id": 1, "method": "subscribe", "params": {"services": ["monitor.traffic"]}}))
        .await;
    let mut other = LineClient::connect(&server).await;
    // Samples until the sleeper's queue is over its bound (plus what the socket holds).
    let sample = crate::harness::FakeMonitor::sample();
    let size = serde_json::to_string(&sample).unwrap().len();
    let enough = (MAX_BYTES + 4 * 1024 * 1024) / size + 1024;
    for n in 0..enough {
        daemon.dispatcher.publish_traffic(sample.clone());
        if n % 8 == 0 {
            tokio::task::yield_now().await;
        }
    }
    other
        .send(json!({"id": 2, "method": "network.status"}))
        .await;
    assert_eq!(other.next().await["id"], 2);
    // Reading now drains what was queued, then finds the connection closed.
    let read = tokio::time::timeout(Duration::from_secs(10), until_closed(&mut sleeper.read))
        .await
        .expect("the sleeper is disconnected");
    assert!(read > 0 && read < MAX_BYTES + 16 * 1024 * 1024, "{read}");
}

/// A UI started while its daemon restarts: the typed client tries again with backoff on a
/// real socket, and is served once the daemon listens; with none ever there, it gives up
/// at its bound with `daemon-unavailable`.
#[tokio::test]
async fn the_typed_client_waits_for_a_restarting_daemon_with_backoff() {
    use netpilot_api::client::Client;
    use netpilot_api::reconnect::Backoff;
    let daemon = Daemon::start(RateLimit::default()).await;
    let path = std::env::temp_dir().join(format!("np-api-restart-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let backoff = Backoff {
        within: Duration::from_secs(10),
        ..Backoff::default()
    };
    let started = std::time::Instant::now();
    let connecting = tokio::spawn({
        let path = path.clone();
        async move { Client::retrying(backoff, || Client::find(Some(path.clone()))).await }
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!connecting.is_finished(), "no daemon listens yet");
    let server = unix_server_at(&daemon, path.clone());
    let mut client = connecting
        .await
        .unwrap()
        .expect("connected once the daemon listens");
    // Tries at 0, 0.1, 0.3, 0.7 and 1.5 s: connected by the one after the daemon came.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let status: Value = client.call("network.status", json!({})).await.unwrap();
    assert_eq!(status["isConnecting"], false);
    drop(server);

    let nothing = Backoff {
        within: Duration::from_millis(500),
        ..Backoff::default()
    };
    let started = std::time::Instant::now();
    let gave_up = Client::retrying(nothing, || Client::find(Some(path.clone()))).await;
    assert_eq!(
        gave_up.err().map(|e| e.code),
        Some(netpilot_core::ErrorCode::DaemonUnavailable)
    );
    assert!(started.elapsed() >= Duration::from_millis(500));
}
