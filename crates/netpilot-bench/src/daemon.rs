//! np-daemon-bench: the measurements behind scripts/bench/daemon.sh.
//!
//!   np-daemon-bench fanout [--subscribers N] [--rounds R] [--floor]
//!       N WebSocket clients subscribed to `network`; R times, the fake WiFi backend reports
//!       a device change, and the time until the last client has the new state is taken.
//!       The daemon's own code path: engine (with its production debounce), dispatcher,
//!       WebSocket server. `--floor`: a bare tokio-tungstenite broadcast of one fixed line
//!       instead, the least any WebSocket fan-out costs here.
//!   np-daemon-bench rate --socket PATH [--clients C] [--seconds S]
//!       `network.status` requests over C Unix-socket connections of the typed client
//!       (`netpilot_api::client`), 64 in flight on each, against a running daemon; responses
//!       per second.
//!   np-daemon-bench echo-floor --socket PATH
//!       A Unix socket server answering each line with a fixed response: the floor for `rate`.
//!   np-daemon-bench menu-serve | latency …
//!       `network.status` with a full network menu, one call after another (see menu.rs).
//!   np-daemon-bench hostile | churn | fuzz …
//!       Misbehaving clients against the real daemon (see hostile.rs).

mod hostile;
mod menu;

use futures_util::{SinkExt, StreamExt};
use netpilot_api::client::Client;
use netpilot_api::dispatch::{Dispatcher, Monitor, RateLimit};
use netpilot_api::monitor::{
    ConnectionsDocument, InterfacesDocument, PortsDocument, TrafficDocument,
};
use netpilot_api::protocol::Message as Said;
use netpilot_api::server::{WebSocketPolicy, serve_websocket};
use netpilot_core::ports::WifiEvent;
use netpilot_core::wifi::{DeviceState, FailureReason};
use netpilot_core::{Error, ErrorCode};
use netpilot_engine::connect::Timeouts;
use netpilot_engine::network::{self, Config};
use netpilot_engine::testing::FakeWifi;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const TOKEN: &str = "bench-token-0123456789abcdef0123";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str, default: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let number = |name: &str, default: &str| -> usize {
        value(name, default)
            .parse()
            .unwrap_or_else(|_| usage(&format!("{name} takes a number")))
    };
    raise_open_files();
    match args.first().map(String::as_str) {
        Some("fanout") => fanout(
            number("--subscribers", "1000"),
            number("--rounds", "200"),
            flag("--floor"),
        ),
        Some("rate") => rate(
            &value("--socket", ""),
            number("--clients", "4"),
            number("--seconds", "5"),
        ),
        Some("echo-floor") => echo_floor(&value("--socket", "")),
        Some("menu-serve") => menu::serve(
            &value("--socket", ""),
            number("--networks", "50"),
            number("--saved", "20"),
        ),
        Some("latency") => menu::latency(&value("--socket", ""), number("--calls", "10000")),
        Some("hostile") => hostile::hostile(
            &value("--socket", ""),
            &value("--websocket", "127.0.0.1:7878"),
            number("--clients", "500"),
            number("--seconds", "5") as f64,
        ),
        Some("churn") => hostile::churn(
            &value("--socket", ""),
            number("--clients", "1000"),
            number("--seconds", "300") as f64,
        ),
        Some("fuzz") => hostile::fuzz(
            &value("--socket", ""),
            &value("--websocket", "127.0.0.1:7878"),
            &value("--token", ""),
            number("--frames", "1000000") as u64,
            number("--seed", "1") as u64,
        ),
        _ => usage(
            "a subcommand: fanout, rate, echo-floor, menu-serve, latency, hostile, churn or fuzz",
        ),
    }
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "np-daemon-bench: needs {problem} (see the top of crates/netpilot-bench/src/daemon.rs)"
    );
    std::process::exit(2)
}

/// Two sockets per subscriber in this one process: lift the soft limit to the hard one.
fn raise_open_files() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    limit.current = limit.maximum;
    let _ = setrlimit(Resource::Nofile, limit);
}

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The monitor is not part of this measurement.
struct NoMonitor;

fn unsupported<T>() -> Result<T, Error> {
    Err(Error::new(ErrorCode::Unsupported, "not in this benchmark"))
}

impl Monitor for NoMonitor {
    async fn interfaces(&self, _rates: bool) -> Result<InterfacesDocument, Error> {
        unsupported()
    }
    async fn connections(
        &self,
        _kind: netpilot_core::ConnectionKind,
    ) -> Result<ConnectionsDocument, Error> {
        unsupported()
    }
    async fn ports(&self) -> Result<PortsDocument, Error> {
        unsupported()
    }
    async fn traffic(&self) -> Result<TrafficDocument, Error> {
        unsupported()
    }
}

/// Makes the fake backend report a change: connected to np-home, or disconnected.
struct Trigger {
    backend: Arc<FakeWifi>,
    events: mpsc::Sender<WifiEvent>,
}

impl Trigger {
    async fn flip(&self, connected: bool) {
        let state = if connected {
            DeviceState::Connected
        } else {
            DeviceState::Disconnected
        };
        *self.backend.snapshot.lock().expect("not poisoned") = if connected {
            FakeWifi::connected("np-home")
        } else {
            FakeWifi::idle()
        };
        let event = WifiEvent::Device {
            interface: "wlan0".into(),
            state,
            reason: FailureReason::Other(0),
        };
        self.events.send(event).await.expect("the engine runs");
    }
}

/// The server side on its own thread and runtime, as in the daemon. Returns the port and,
/// for the daemon's path, how to make the backend report a change; for the floor, the
/// broadcast to send on.
enum Server {
    Daemon(Trigger),
    Floor(tokio::sync::broadcast::Sender<Arc<str>>),
}

fn start_server(floor: bool) -> (u16, Server) {
    let (ready, started) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        current_thread().block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            let port = listener.local_addr().expect("bound").port();
            if floor {
                let (lines, _) = tokio::sync::broadcast::channel(16);
                ready
                    .send((port, Server::Floor(lines.clone())))
                    .expect("waited for");
                floor_server(listener, lines).await;
                return;
            }
            let (fake, events, receiver) = FakeWifi::new(false);
            let backend = Arc::new(fake);
            let config = Config {
                timeouts: Timeouts::default(),
                debounce: Duration::from_millis(50), // as `netpilot daemon`
                tokens: Box::new(|| "unused".to_string()),
                claims: netpilot_engine::network::no_claims(),
            };
            let network = network::spawn(Arc::clone(&backend), receiver, config);
            // Its first look at the radios is a state change: done before anyone subscribes.
            network.ready().await.expect("the fake answers");
            tokio::time::sleep(Duration::from_millis(100)).await;
            let (traffic, _) = tokio::sync::broadcast::channel(16);
            let devices = netpilot_engine::device::DeviceService::new(
                Arc::new(netpilot_engine::testing::FakeDevices::default()),
                Default::default(),
            );
            let devices = netpilot_api::device::DeviceApi::new(devices, String::new());
            let dispatcher = Arc::new(Dispatcher::new(
                network,
                NoMonitor,
                Arc::new(devices),
                traffic,
                RateLimit::default(),
            ));
            let policy = WebSocketPolicy {
                token: TOKEN.to_string(),
                origins: Vec::new(),
            };
            ready
                .send((port, Server::Daemon(Trigger { backend, events })))
                .expect("waited for");
            serve_websocket(listener, dispatcher, policy, 4096, std::future::pending()).await;
        })
    });
    started.recv().expect("the server starts")
}

/// The floor: accept, then copy each broadcast line to the client.
async fn floor_server(
    listener: tokio::net::TcpListener,
    lines: tokio::sync::broadcast::Sender<Arc<str>>,
) {
    while let Ok((stream, _)) = listener.accept().await {
        let mut receiver = lines.subscribe();
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let accepted =
                tokio_tungstenite::accept_async_with_config(stream, Some(client_config()));
            let Ok(mut socket) = accepted.await else {
                return;
            };
            // A first line at once, as `subscribe` sends the state.
            let _ = socket.send(Message::text("{}")).await;
            while let Ok(line) = receiver.recv().await {
                if socket.send(Message::text(&*line)).await.is_err() {
                    return;
                }
            }
        });
    }
}

fn fanout(subscribers: usize, rounds: usize, floor: bool) {
    let (port, server) = start_server(floor);
    current_thread().block_on(async move {
        // Every client reports (round, when) for each state it receives.
        let (received, mut arrivals) = mpsc::unbounded_channel::<(usize, Instant)>();
        for _ in 0..subscribers {
            let url = format!("ws://127.0.0.1:{port}/?token={TOKEN}");
            let (mut socket, _) =
                tokio_tungstenite::connect_async_with_config(url, Some(client_config()), true)
                    .await
                    .expect("the WebSocket accepts");
            let subscribe = r#"{"method": "subscribe", "params": {"services": ["network"]}}"#;
            socket.send(Message::text(subscribe)).await.expect("sent");
            let received = received.clone();
            tokio::spawn(async move {
                let mut states = 0usize;
                while let Some(Ok(message)) = socket.next().await {
                    let Message::Text(text) = message else { continue };
                    if text.contains("\"success\"") {
                        continue; // the subscribe response
                    }
                    let _ = received.send((states, Instant::now()));
                    states += 1;
                }
            });
        }
        // Round 0 is the state every subscriber gets at once.
        collect(&mut arrivals, 0, subscribers).await;
        eprintln!("{subscribers} subscribers connected");
        let mut last = Vec::with_capacity(rounds);
        let mut every = Vec::with_capacity(rounds * subscribers);
        for round in 1..=rounds {
            // Past the debounce: each change is a lone change, as a UI sees one.
            tokio::time::sleep(Duration::from_millis(60)).await;
            let sent = Instant::now();
            match &server {
                Server::Daemon(trigger) => trigger.flip(round % 2 == 1).await,
                Server::Floor(lines) => {
                    let _ = lines.send(Arc::from(format!(r#"{{"round": {round}}}"#)));
                }
            }
            let times = collect(&mut arrivals, round, subscribers).await;
            every.extend(times.iter().map(|t| t.duration_since(sent)));
            last.push(times.iter().max().expect("some").duration_since(sent));
        }
        let what = if floor { "floor" } else { "netpilot" };
        println!(
            "{what} fanout subscribers={subscribers} rounds={rounds} last_p50_ms={:.3} last_p99_ms={:.3} each_p50_ms={:.3} each_p99_ms={:.3}",
            millis(percentile(&mut last, 50.0)),
            millis(percentile(&mut last, 99.0)),
            millis(percentile(&mut every, 50.0)),
            millis(percentile(&mut every, 99.0)),
        );
    });
}

/// tungstenite zero-fills its whole read buffer (128 KiB by default) before every read;
/// the clients read small lines, and so does the floor server, as the daemon does.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096)
}

/// Waits until `count` arrivals of `round` are in; returns their times.
async fn collect(
    arrivals: &mut mpsc::UnboundedReceiver<(usize, Instant)>,
    round: usize,
    count: usize,
) -> Vec<Instant> {
    let mut times = Vec::with_capacity(count);
    while times.len() < count {
        let arrival = tokio::time::timeout(Duration::from_secs(10), arrivals.recv())
            .await
            .unwrap_or_else(|_| panic!("round {round}: {} of {count} arrived", times.len()))
            .expect("clients run");
        assert_eq!(arrival.0, round, "a subscriber missed a state");
        times.push(arrival.1);
    }
    times
}

fn percentile(values: &mut [Duration], p: f64) -> Duration {
    values.sort_unstable();
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rate(socket: &str, clients: usize, seconds: usize) {
    if socket.is_empty() {
        usage("--socket PATH");
    }
    const IN_FLIGHT: usize = 64;
    current_thread().block_on(async move {
        let warmup = Duration::from_secs(1);
        let measured = Duration::from_secs(seconds as u64);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            // The typed client every netpilot program uses, as a UI would hold it.
            let mut client = Client::unix(std::path::Path::new(socket))
                .await
                .unwrap_or_else(|e| panic!("cannot connect to {socket}: {e}"));
            tasks.push(tokio::spawn(async move {
                let (mut ok, mut refused) = (0u64, 0u64);
                // Batches of 64: send them, read their 64 answers, again.
                while start.elapsed() < warmup + measured {
                    for _ in 0..IN_FLIGHT {
                        client.request("network.status", ()).await.expect("sent");
                    }
                    for _ in 0..IN_FLIGHT {
                        let message = client.receive().await.expect("an answer");
                        if start.elapsed() < warmup {
                            continue;
                        }
                        match message {
                            Said::Response(response) if response.success => ok += 1,
                            _ => refused += 1,
                        }
                    }
                }
                (ok, refused)
            }));
        }
        let (mut ok, mut refused) = (0, 0);
        for task in tasks {
            let (o, r) = task.await.expect("client ran");
            ok += o;
            refused += r;
        }
        let elapsed = start.elapsed() - warmup;
        println!(
            "rate clients={clients} responses_per_s={:.0} refused={refused}",
            ok as f64 / elapsed.as_secs_f64()
        );
    });
}

fn echo_floor(socket: &str) {
    if socket.is_empty() {
        usage("--socket PATH");
    }
    let _ = std::fs::remove_file(socket);
    current_thread().block_on(async move {
        let listener = tokio::net::UnixListener::bind(socket).expect("bound");
        println!("listening");
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                // One answer per line read, all of a read's answers in one write.
                let answer = b"{\"id\":1,\"message\":\"ok\",\"result\":{},\"success\":true}\n";
                let (mut read, mut write) = stream.into_split();
                let mut buffer = vec![0u8; 64 * 1024];
                while let Ok(n) = read.read(&mut buffer).await {
                    if n == 0 {
                        return;
                    }
                    let lines = buffer[..n].iter().filter(|&&b| b == b'\n').count();
                    if write.write_all(&answer.repeat(lines)).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}
