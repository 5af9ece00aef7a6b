//! The daemon against clients that misbehave, for scripts/bench/hostile.sh (the real
//! daemon binary, both transports):
//!
//!   np-daemon-bench hostile --socket PATH --websocket ADDR [--clients N] [--seconds S]
//!       The p50/p99 of `network.status` on the Unix socket, alone and then beside N
//!       hostile clients (a third each: half a line and silence; a TCP connection to the
//!       WebSocket with no handshake; subscribed to everything, never reading); then how
//!       many of them the daemon had closed 15 s later.
//!   np-daemon-bench churn --socket PATH [--clients N] [--seconds S]
//!       N clients at once, each connecting, asking `network.status` and leaving, over and
//!       over for S seconds; the calls made and the ones that failed.
//!   np-daemon-bench fuzz --socket PATH --websocket ADDR --token T [--frames F] [--seed X]
//!       F frames from a fixed seed (random bytes; JSON of every shape; every method with
//!       random params; monitor methods left out, as each takes a second) over 8 Unix and
//!       8 WebSocket connections, each frame's answer awaited; the frames unanswered.

use futures_util::{SinkExt, StreamExt};
use netpilot_api::protocol::METHODS;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UnixStream};
use tokio_tungstenite::tungstenite::Message;

/// Status calls on one connection for `seconds`; their round trips.
async fn status_calls(socket: &str, seconds: f64) -> Vec<Duration> {
    let stream = UnixStream::connect(socket)
        .await
        .expect("the daemon's socket");
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut took = Vec::new();
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < until {
        let started = Instant::now();
        write
            .write_all(b"{\"id\": 1, \"method\": \"network.status\"}\n")
            .await
            .expect("written");
        lines.next_line().await.expect("read").expect("an answer");
        took.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    took
}

fn p(values: &mut [Duration], at: f64) -> f64 {
    values.sort();
    let i = ((values.len() as f64 * at) as usize).min(values.len().saturating_sub(1));
    values.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
}

pub fn hostile(socket: &str, websocket: &str, clients: usize, seconds: f64) {
    super::current_thread().block_on(async {
        let mut alone = status_calls(socket, seconds).await;
        let mut held = Vec::new();
        for i in 0..clients {
            match i % 3 {
                0 => {
                    let mut s = UnixStream::connect(socket).await.expect("connect");
                    s.write_all(b"{\"id\": 1, \"method\": \"netw").await.expect("half");
                    held.push(Held::Unix(s));
                }
                1 => held.push(Held::Tcp(TcpStream::connect(websocket).await.expect("connect"))),
                _ => {
                    let mut s = UnixStream::connect(socket).await.expect("connect");
                    s.write_all(
                        b"{\"id\": 1, \"method\": \"subscribe\", \"params\": {\"services\": [\"network\", \"network.credentials\", \"device\", \"monitor.traffic\"]}}\n",
                    )
                    .await
                    .expect("subscribe");
                    held.push(Held::Unix(s));
                }
            }
        }
        let mut beside = status_calls(socket, seconds).await;
        // Past every bound (10 s for a frame or a handshake): who is still connected?
        tokio::time::sleep(Duration::from_secs(15)).await;
        let mut closed = 0;
        for client in &mut held {
            if client.closed().await {
                closed += 1;
            }
        }
        println!(
            "{{\"clients\": {clients}, \"alone_p50_ms\": {:.3}, \"alone_p99_ms\": {:.3}, \"beside_p50_ms\": {:.3}, \"beside_p99_ms\": {:.3}, \"calls\": {}, \"closed_by_the_daemon\": {closed}}}",
            p(&mut alone, 0.5),
            p(&mut alone, 0.99),
            p(&mut beside, 0.5),
            p(&mut beside, 0.99),
            alone.len() + beside.len(),
        );
    });
}

enum Held {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Held {
    /// Whether the daemon has closed it (reads what was queued for it first).
    async fn closed(&mut self) -> bool {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match self {
                Held::Unix(s) => {
                    tokio::time::timeout(Duration::from_millis(200), s.read(&mut buffer)).await
                }
                Held::Tcp(s) => {
                    tokio::time::timeout(Duration::from_millis(200), s.read(&mut buffer)).await
                }
            };
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

pub fn churn(socket: &str, clients: usize, seconds: f64) {
    super::current_thread().block_on(async {
        let until = Instant::now() + Duration::from_secs_f64(seconds);
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let socket = socket.to_string();
            tasks.push(tokio::spawn(async move {
                let (mut calls, mut failed) = (0u64, 0u64);
                while Instant::now() < until {
                    calls += 1;
                    let answered = async {
                        let stream = UnixStream::connect(&socket).await.ok()?;
                        let (read, mut write) = stream.into_split();
                        write
                            .write_all(b"{\"id\": 1, \"method\": \"network.status\"}\n")
                            .await
                            .ok()?;
                        let line = BufReader::new(read).lines().next_line().await.ok()??;
                        line.contains("\"success\":true").then_some(())
                    };
                    if tokio::time::timeout(Duration::from_secs(10), answered)
                        .await
                        .ok()
                        .flatten()
                        .is_none()
                    {
                        failed += 1;
                    }
                }
                (calls, failed)
            }));
        }
        let (mut calls, mut failed) = (0, 0);
        for task in tasks {
            let (c, f) = task.await.expect("a client task");
            calls += c;
            failed += f;
        }
        println!("{{\"clients\": {clients}, \"calls\": {calls}, \"failed\": {failed}}}");
    });
}

/// xorshift64*: the same frames from the same seed, everywhere.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn word(&mut self) -> String {
        const WORDS: [&str; 12] = [
            "ssid",
            "name",
            "interface",
            "token",
            "services",
            "password",
            "secrets",
            "kind",
            "id",
            "method",
            "params",
            "hidden",
        ];
        match self.below(3) {
            0 => WORDS[self.below(WORDS.len() as u64) as usize].to_string(),
            _ => (0..1 + self.below(12))
                .map(|_| (b'a' + self.below(26) as u8) as char)
                .collect(),
        }
    }

    fn json(&mut self, depth: u32) -> String {
        match self.below(if depth > 3 { 5 } else { 7 }) {
            0 => "null".into(),
            1 => ["true", "false"][self.below(2) as usize].into(),
            2 => (self.next() as i64).to_string(),
            3 => format!("{:e}", f64::from_bits(self.next() & 0x7fef_ffff_ffff_ffff)),
            4 => format!("{:?}", self.word()),
            5 => {
                let items: Vec<String> = (0..self.below(5)).map(|_| self.json(depth + 1)).collect();
                format!("[{}]", items.join(","))
            }
            _ => {
                let fields: Vec<String> = (0..self.below(5))
                    .map(|_| format!("{:?}:{}", self.word(), self.json(depth + 1)))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }
        }
    }

    /// One frame, without a newline, not blank.
    fn frame(&mut self, id: u64) -> String {
        match self.below(4) {
            0 => {
                let bytes: Vec<u8> = (0..1 + self.below(300))
                    .map(|_| match self.below(256) as u8 {
                        b'\n' | b'\r' => b'x',
                        b => b,
                    })
                    .collect();
                let text = String::from_utf8_lossy(&bytes).into_owned();
                if text.trim().is_empty() {
                    "x".into()
                } else {
                    text
                }
            }
            1 => self.json(0),
            _ => {
                let callable: Vec<&str> = METHODS
                    .iter()
                    .copied()
                    .filter(|m| !m.starts_with("monitor."))
                    .collect();
                let method = callable[self.below(callable.len() as u64) as usize];
                format!(
                    "{{\"id\":{id},\"method\":{method:?},\"params\":{}}}",
                    self.json(1)
                )
            }
        }
    }
}

pub fn fuzz(socket: &str, websocket: &str, token: &str, frames: u64, seed: u64) {
    super::current_thread().block_on(async {
        const EACH: usize = 8;
        let per = frames / (2 * EACH as u64);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for n in 0..2 * EACH {
            let (socket, url) = (socket.to_string(), format!("ws://{websocket}/?token={token}"));
            let mut random = Random(seed.wrapping_add(n as u64 * 0x9e37_79b9_7f4a_7c15) | 1);
            tasks.push(tokio::spawn(async move {
                let mut unanswered = 0u64;
                if n < EACH {
                    let stream = UnixStream::connect(&socket).await.expect("the socket");
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    for id in 0..per {
                        let frame = random.frame(id) + "\n";
                        write.write_all(frame.as_bytes()).await.expect("written");
                        if !answered(&mut lines).await {
                            unanswered += 1;
                        }
                    }
                } else {
                    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("the WebSocket");
                    for id in 0..per {
                        ws.send(Message::text(random.frame(id))).await.expect("sent");
                        let reply = tokio::time::timeout(Duration::from_secs(30), async {
                            loop {
                                match ws.next().await {
                                    Some(Ok(Message::Text(t))) if t.contains("\"success\"") => return true,
                                    Some(Ok(_)) => continue,
                                    _ => return false,
                                }
                            }
                        })
                        .await;
                        if !matches!(reply, Ok(true)) {
                            unanswered += 1;
                        }
                    }
                }
                unanswered
            }));
        }
        let mut unanswered = 0;
        for task in tasks {
            unanswered += task.await.expect("a fuzz task");
        }
        println!(
            "{{\"frames\": {}, \"unanswered\": {unanswered}, \"seconds\": {:.1}, \"seed\": {seed}}}",
            per * 2 * EACH as u64,
            started.elapsed().as_secs_f64()
        );
    });
}

/// Waits for the response line (events are skipped); false if none comes in 30 s.
async fn answered(
    lines: &mut tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
) -> bool {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match lines.next_line().await {
                Ok(Some(line)) if line.contains("\"success\"") => return true,
                Ok(Some(_)) => continue,
                _ => return false,
            }
        }
    })
    .await
    .unwrap_or(false)
}
