//! Tier 1: `netpilot daemon` on this machine, with no NetworkManager (and no system bus):
//! its socket, its WebSocket's guard, bad input, stopping, and `wifi connect` through it.
//! Against real NetworkManager it is tested in the WiFi lab (tests/lab/daemon.rs).

use crate::e2e::NETPILOT;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A daemon on a socket in a fresh directory; stopped (SIGTERM) when dropped.
struct Daemon {
    child: Child,
    dir: PathBuf,
    stderr: PathBuf,
}

impl Daemon {
    fn start(name: &str, extra: &[&str]) -> Daemon {
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

    fn socket(&self) -> PathBuf {
        self.dir.join("np.sock")
    }

    fn said(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn client(&self) -> Client {
        let stream = UnixStream::connect(self.socket()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Client {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        }
    }

    /// SIGTERM; the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
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

struct Client {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Client {
    /// Sends one line, returns the next line the daemon says.
    fn ask(&mut self, line: &str) -> Value {
        self.stream.write_all(line.as_bytes()).unwrap();
        self.stream.write_all(b"\n").unwrap();
        let mut answer = String::new();
        self.reader.read_line(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{answer:?}: {e}"))
    }
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
    assert_eq!(status["success"], json!(true), "{status}");
    assert_eq!(status["result"]["networkStatus"], json!("disconnected"));
    let scan = client.ask(r#"{"id": 2, "method": "network.wifi.scan"}"#);
    assert_eq!(scan["error"]["code"], json!("nm-unavailable"), "{scan}");
    assert_eq!(scan["message"], json!("NetworkManager is not running"));
    for (line, code) in [
        ("{\"id\": 3", "parse-error"),
        ("[]", "invalid-request"),
        (r#"{"id": 4, "method": "nope"}"#, "unknown-method"),
        (
            r#"{"id": 5, "method": "network.wifi.connect", "params": {"ssid": "np-home", "password": "short"}}"#,
            "invalid-argument",
        ),
    ] {
        assert_eq!(client.ask(line)["error"]["code"], json!(code), "{line}");
    }
    // A password in bad input is never repeated back.
    let refused = client.ask(
        r#"{"id": 6, "method": "network.wifi.connect", "params": {"ssid": "np-home", "password": "sev7chr"}}"#,
    );
    assert!(!refused.to_string().contains("sev7chr"), "{refused}");
    assert_eq!(
        client.ask(r#"{"id": 7, "method": "network.status"}"#)["success"],
        json!(true),
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
    let (mut socket, _) = handshake(&format!("?token={}", token.trim())).expect("let in");
    socket
        .send(tungstenite::Message::text(
            r#"{"id": 1, "method": "network.status"}"#,
        ))
        .unwrap();
    let answer: Value = match socket.read().unwrap() {
        tungstenite::Message::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(answer["success"], json!(true), "{answer}");
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
