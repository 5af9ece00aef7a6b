//! Tier 1: `netpilot daemon` on this machine, with no NetworkManager (and no system bus):
//! its socket, its WebSocket's guard, bad input, stopping, and `wifi connect` through it.
//! Against real NetworkManager it is tested in the WiFi lab (tests/lab/daemon.rs).

use crate::e2e::NETPILOT;
use netpilot_api::client;
use netpilot_api::protocol::{Message, Response};
use netpilot_core::network::NetworkState;
use serde_json::json;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A daemon on a socket in a fresh directory; stopped (SIGTERM) when dropped.
pub(crate) struct Daemon {
    child: Child,
    dir: PathBuf,
    stderr: PathBuf,
}

impl Daemon {
    pub(crate) fn start(name: &str, extra: &[&str]) -> Daemon {
        let dir = std::env::temp_dir().join(format!("np-daemon-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let stderr = dir.join("stderr");
        let child = Command::new(NETPILOT)
            .arg("daemon")
            .arg("--socket")
            .arg(dir.join("np.sock"))
            .args(extra)
            // No NetworkManager: not even a system bus.
            .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let daemon = Daemon { child, dir, stderr };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !daemon.said().contains("listening on") {
            assert!(Instant::now() < deadline, "no start: {}", daemon.said());
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    pub(crate) fn socket(&self) -> PathBuf {
        self.dir.join("np.sock")
    }

    pub(crate) fn said(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn client(&self) -> Client {
        let runtime = runtime();
        let inner = runtime
            .block_on(client::Client::unix(&self.socket()))
            .unwrap();
        Client { runtime, inner }
    }

    /// SIGTERM; the exit status.
    pub(crate) fn stop(&mut self) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the daemon ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The protocol's typed client, driven from a test's thread.
struct Client {
    runtime: tokio::runtime::Runtime,
    inner: client::Client,
}

impl Client {
    /// Sends one frame as it is, returns the daemon's response to it (within 10 s).
    fn ask(&mut self, frame: &str) -> Response {
        let inner = &mut self.inner;
        self.runtime.block_on(async {
            inner.send_frame(frame).await.unwrap();
            tokio::time::timeout(Duration::from_secs(10), async {
                loop {
                    if let Message::Response(response) = inner.receive().await.unwrap() {
                        return response;
                    }
                }
            })
            .await
            .expect("a response within 10 s")
        })
    }

    /// What the daemon says next (within 10 s); `None` once it closed the connection.
    fn next(&mut self) -> Option<Message> {
        let inner = &mut self.inner;
        self.runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), inner.receive())
                .await
                .expect("a message within 10 s")
                .ok()
        })
    }
}

fn code(response: &Response) -> String {
    response
        .error
        .as_ref()
        .map(|e| e.code.as_str().to_string())
        .unwrap_or_default()
}

#[test]
fn the_daemon_serves_a_private_socket_answers_bad_input_and_stops_cleanly() {
    let mut daemon = Daemon::start("serves", &[]);
    let mode = std::fs::metadata(daemon.socket())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the socket is the user's only");

    let mut client = daemon.client();
    let status = client.ask(r#"{"id": 1, "method": "network.status"}"#);
    assert!(status.success, "{status:?}");
    let state: NetworkState = serde_json::from_value(status.result.unwrap()).unwrap();
    assert_eq!(
        state.network_status,
        netpilot_core::network::NetworkStatus::Disconnected
    );
    let scan = client.ask(r#"{"id": 2, "method": "network.wifi.scan"}"#);
    assert_eq!(code(&scan), "nm-unavailable", "{scan:?}");
    assert_eq!(scan.message, "NetworkManager is not running");
    for (line, code) in [
        ("{\"id\": 3", "parse-error"),
        ("[]", "invalid-request"),
        (r#"{"id": 4, "method": "nope"}"#, "unknown-method"),
        (
            r#"{"id": 5, "method": "network.wifi.connect", "params": {"ssid": "np-home", "password": "short"}}"#,
            "invalid-argument",
        ),
    ] {
        assert_eq!(super::daemon::code(&client.ask(line)), code, "{line}");
    }
    // A password in bad input is never repeated back.
    let refused = client.ask(
        r#"{"id": 6, "method": "network.wifi.connect", "params": {"ssid": "np-home", "password": "sev7chr"}}"#,
    );
    assert!(!format!("{refused:?}").contains("sev7chr"), "{refused:?}");
    assert!(
        client
            .ask(r#"{"id": 7, "method": "network.status"}"#)
            .success,
        "the connection is still up"
    );

    let status = daemon.stop();
    assert!(status.success(), "{status:?}: {}", daemon.said());
    assert!(!daemon.socket().exists(), "the socket was removed");
}

#[test]
fn a_second_daemon_on_a_live_socket_is_refused_and_a_stale_one_is_replaced() {
    let mut first = Daemon::start("second", &[]);
    let second = Command::new(NETPILOT)
        .arg("daemon")
        .arg("--socket")
        .arg(first.socket())
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("already listens"), "{said}");

    // A socket file nobody listens on (a daemon that was killed) is taken over.
    let _ = first.child.kill();
    let _ = first.child.wait();
    assert!(first.socket().exists());
    let mut again = Command::new(NETPILOT)
        .arg("daemon")
        .arg("--socket")
        .arg(first.socket())
        .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(first.socket()).is_err() {
        assert!(
            Instant::now() < deadline,
            "the stale socket was not replaced"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = again.kill();
    let _ = again.wait();
}

#[test]
fn the_websocket_is_loopback_only_and_wants_the_token_from_a_private_file() {
    let refused = Command::new(NETPILOT)
        .args([
            "daemon",
            "--socket",
            "/nonexistent/np.sock",
            "--websocket",
            "0.0.0.0:7878",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("loopback"));

    let daemon = Daemon::start("websocket", &["--websocket", "127.0.0.1:0"]);
    let said = daemon.said();
    let port: u16 = said
        .split("ws://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no WebSocket address in {said:?}"));
    assert_ne!(port, 0, "the port actually bound is shown");
    let token_file = daemon.dir.join("ws-token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert_eq!(token.trim().len(), 32, "128 bits as hex");

    let handshake = |query: &str| {
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        tungstenite::client(format!("ws://127.0.0.1:{port}/{query}"), stream).map_err(Box::new)
    };
    match handshake("?token=wrong").map_err(|e| *e) {
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(response))) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("a wrong token was let in: {:?}", other.map(|_| ())),
    }
    // With the token, as a program would (no Origin), the typed client.
    let runtime = runtime();
    let answer: Result<NetworkState, _> = runtime.block_on(async {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut ws = client::Client::websocket(address, token.trim(), None).await?;
        ws.call("network.status", json!({})).await
    });
    assert!(answer.is_ok(), "{answer:?}");
}

#[test]
fn on_sigterm_the_daemon_answers_the_request_it_is_on_and_stops_within_2_s() {
    let mut daemon = Daemon::start("stop", &[]);
    let mut client = daemon.client();
    // Interface rates are sampled over a second: the request is still being answered when
    // the signal comes.
    client
        .runtime
        .block_on(
            client
                .inner
                .request("monitor.interfaces", json!({ "rates": true })),
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let asked = Instant::now();
    let pid = rustix::process::Pid::from_child(&daemon.child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    match client.next() {
        Some(Message::Response(response)) => {
            assert!(response.success, "{response:?}");
            assert!(response.result.unwrap()["intervalMs"].as_u64().unwrap() >= 900);
        }
        other => panic!("the request in flight was not answered: {other:?}"),
    }
    assert!(client.next().is_none(), "then the connection is closed");
    let status = daemon.stop();
    let took = asked.elapsed();
    assert!(status.success(), "{status:?}: {}", daemon.said());
    assert!(took < Duration::from_secs(2), "stopped after {took:?}");
    assert!(!daemon.socket().exists(), "the socket was removed");
}

#[test]
fn wifi_connect_goes_through_a_running_daemon() {
    let daemon = Daemon::start("cli", &[]);
    let mut child = Command::new(NETPILOT)
        .args(["wifi", "connect", "np-home", "--password-stdin"])
        .env("NETPILOT_SOCKET", daemon.socket())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"home-secret-1\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The daemon has no NetworkManager: its answer, with the CLI's exit code for that.
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("netpilot daemon"), "{stderr}");
    assert!(!stderr.contains("home-secret-1"));
    let mut log = String::new();
    std::fs::File::open(&daemon.stderr)
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(!log.contains("home-secret-1"));
}

#[test]
fn a_daemon_that_accepts_and_never_answers_times_the_cli_out_with_exit_6() {
    let dir = std::env::temp_dir().join(format!("np-mute-daemon-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("np.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    // Accepts every connection, reads nothing, answers nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    for (args, method) in [
        (vec!["wifi", "status"], "network.status"),
        (vec!["device", "list"], "device.list"),
    ] {
        let started = Instant::now();
        let output = Command::new(NETPILOT)
            .args(&args)
            .arg("--socket")
            .arg(&socket)
            .args(["--daemon-timeout", "1"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let took = started.elapsed();
        let said = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(6), "{args:?}: {said}");
        assert!(
            said.contains(&format!("did not answer {method} within 1 s")),
            "{args:?}: {said}"
        );
        assert!(said.contains("restart it"), "{said}");
        assert!(took < Duration::from_secs(5), "{args:?} took {took:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn events_prints_the_daemons_events_as_json_lines_until_it_stops() {
    use std::io::BufRead;
    let mut daemon = Daemon::start("events", &[]);
    let mut child = Command::new(NETPILOT)
        .args(["events", "--json", "--service", "network", "--socket"])
        .arg(daemon.socket())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let event: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(event["service"], json!("network"), "{first}");
    // No NetworkManager here: no radio, nothing in range, and it says so.
    assert_eq!(
        event["data"]["networkStatus"],
        json!("disconnected"),
        "{first}"
    );
    assert_eq!(event["data"]["wifiNetworks"], json!([]), "{first}");
    assert_eq!(daemon.stop().code(), Some(0));
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "events did not end with the daemon"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // With --json the error is a document on stdout too.
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(6), "{rest}");
    let error: serde_json::Value = serde_json::from_str(rest.trim()).unwrap();
    assert_eq!(
        error["error"]["code"],
        json!("daemon-unavailable"),
        "{rest}"
    );
    assert!(rest.contains("the daemon stopped"), "{rest}");
}
