//! `netpilot daemon` against real NetworkManager, driven through its WebSocket as a UI
//! would: subscribe, connect, answer prompts, follow `network` events. The seed's
//! "Connection Test Checklist" again, plus the broker's rules for many clients (one on the
//! Unix socket: one dispatcher behind both transports). Every daemon runs with
//! RUST_LOG=trace and its log is searched for the lab's passwords when it stops.

use super::aps::{HOME, NO_DHCP, OPEN, PASSWORDS};
use super::{OnTerminal, in_lab, profiles};
use crate::e2e::NETPILOT;
use netpilot_api::client;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PORT: u16 = 7878;
pub(super) const SOCKET: &str = "/run/np-lab/netpilot.sock";
const TOKEN_FILE: &str = "/run/np-lab/ws-token";
const WRONG: &str = "not-the-password";

/// A running `netpilot daemon`, logging at trace level into the lab's output directory.
/// Stopped with SIGTERM when dropped; its log must then name no password.
pub(super) struct Daemon {
    child: Child,
    log: PathBuf,
    token: String,
    /// Killed with SIGKILL by the test: no clean stop to check.
    killed: bool,
}

impl Daemon {
    pub(super) fn start(name: &str, extra: &[&str]) -> Daemon {
        Daemon::start_logging(name, extra, "trace")
    }

    /// The same, logging as `filter` says (RUST_LOG).
    pub(super) fn start_logging(name: &str, extra: &[&str], filter: &str) -> Daemon {
        let out = PathBuf::from(super::lab_out());
        let log = out.join(format!("daemon-{name}.log"));
        let file = std::fs::File::create(&log).expect("log created");
        let child = Command::new(NETPILOT)
            .args(["daemon", "--socket", SOCKET, "--token-file", TOKEN_FILE])
            .args(["--websocket", &format!("127.0.0.1:{PORT}")])
            .args(extra)
            .env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .expect("the daemon starts");
        let mut daemon = Daemon {
            child,
            log,
            token: String::new(),
            killed: false,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !daemon.log().contains("listening on") {
            assert!(
                Instant::now() < deadline,
                "the daemon did not start: {}",
                daemon.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let token = std::fs::read_to_string(TOKEN_FILE).expect("the daemon wrote its token");
        daemon.token = token.trim().to_string();
        daemon
    }

    pub(super) fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A WebSocket client, as a web page on a loopback origin would connect.
    pub(super) fn client(&self) -> Client {
        let token = self.token.clone();
        Client::over(|| websocket(token))
    }

    /// A client on the Unix socket, as the CLI or a local program would connect.
    pub(super) fn local_client(&self) -> Client {
        Client::over(|| async {
            client::Client::unix(std::path::Path::new(SOCKET))
                .await
                .map_err(|e| netpilot_core::Error::new(netpilot_core::ErrorCode::Io, e.to_string()))
        })
    }
}

/// The daemon's WebSocket, as a web page on a loopback origin connects to it.
async fn websocket(token: String) -> Result<client::Client, netpilot_core::Error> {
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], PORT));
    client::Client::websocket(address, &token, Some("http://localhost:5173")).await
}

impl Daemon {
    /// Kills the daemon with SIGKILL (nothing it can do about it) and waits for it to go.
    pub(super) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.killed = true;
    }

    /// Sends SIGTERM and waits (up to 10 s) for the daemon to exit: how long it took, and
    /// whether it exited cleanly. Dropping it afterwards checks the rest (socket, log).
    pub(super) fn stop(&mut self) -> (Duration, bool) {
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let asked = Instant::now();
        let deadline = asked + Duration::from_secs(10);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return (asked.elapsed(), status.success()),
                _ if Instant::now() > deadline => return (asked.elapsed(), false),
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.killed {
            if !std::thread::panicking() {
                self.assert_no_secret_in_log();
            }
            return;
        }
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        let stopped = loop {
            match self.child.try_wait() {
                // Stopped already (by `stop`), or now.
                Ok(Some(status)) => break Some(status),
                _ if Instant::now() > deadline => break None,
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        if stopped.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            return;
        }
        assert!(
            stopped.is_some_and(|s| s.success()),
            "the daemon did not stop cleanly on SIGTERM: {stopped:?}"
        );
        assert!(
            !std::path::Path::new(SOCKET).exists(),
            "the daemon left its socket behind"
        );
        self.assert_no_secret_in_log();
    }
}

impl Daemon {
    fn assert_no_secret_in_log(&self) {
        let log = self.log();
        for secret in PASSWORDS.iter().chain([&WRONG]) {
            assert!(
                !log.contains(secret),
                "{secret:?} appears in the daemon's trace log {}",
                self.log.display()
            );
        }
    }
}

/// One protocol client (the typed one every netpilot program uses), driven from a test's
/// thread: requests get their response; events wait in a queue, as JSON.
pub(super) struct Client {
    runtime: tokio::runtime::Runtime,
    inner: client::Client,
    events: VecDeque<Value>,
}

impl Client {
    /// A UI that comes back by itself: the WebSocket with `token`, tried again with the
    /// typed client's backoff while no daemon answers (for up to 30 s).
    pub(super) fn reconnecting(token: String) -> Client {
        Client::over(|| {
            client::Client::retrying(netpilot_api::reconnect::Backoff::default(), move || {
                websocket(token.clone())
            })
        })
    }

    fn over<F: Future<Output = Result<client::Client, netpilot_core::Error>>>(
        connect: impl FnOnce() -> F,
    ) -> Client {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let mut inner = runtime
            .block_on(connect())
            .unwrap_or_else(|e| panic!("cannot connect to the daemon: {e}"));
        // Everything received, to search for secrets.
        inner.record();
        Client {
            runtime,
            inner,
            events: VecDeque::new(),
        }
    }

    /// The next event as `{"service", "data"}`, or None once `deadline` passes.
    fn receive(&mut self, deadline: Instant) -> Option<Value> {
        let inner = &mut self.inner;
        let event = self
            .runtime
            .block_on(async { tokio::time::timeout_at(deadline.into(), inner.next_event()).await });
        match event {
            Ok(Ok(event)) => Some(serde_json::from_str(&event.to_line()).expect("JSON")),
            Ok(Err(error)) => panic!("the daemon's connection failed: {error}"),
            Err(_) => None,
        }
    }

    pub(super) fn call(&mut self, method: &str, params: Value) -> Value {
        let inner = &mut self.inner;
        let response = self.runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(60), inner.reply(method, params)).await
        });
        match response {
            Ok(Ok(response)) => serde_json::to_value(response).expect("JSON"),
            Ok(Err(error)) => panic!("{method}: the daemon's connection failed: {error}"),
            Err(_) => panic!(
                "no answer to {method} in 60 s; received:\n{}",
                self.inner.transcript()
            ),
        }
    }

    /// Calls and expects success.
    pub(super) fn ok(&mut self, method: &str, params: Value) -> Value {
        let response = self.call(method, params);
        assert_eq!(response["success"], json!(true), "{method}: {response}");
        response
    }

    /// Calls and expects failure: the error code.
    pub(super) fn refused(&mut self, method: &str, params: Value) -> String {
        let response = self.call(method, params);
        assert_eq!(response["success"], json!(false), "{method}: {response}");
        response["error"]["code"]
            .as_str()
            .expect("a code")
            .to_string()
    }

    pub(super) fn subscribe(&mut self, services: &[&str]) {
        self.ok("subscribe", json!({ "services": services }));
    }

    /// Waits for an event of `service` whose data satisfies `wanted`, skipping that
    /// service's earlier events. Returns the data.
    pub(super) fn until(
        &mut self,
        service: &str,
        within: Duration,
        wanted: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            if let Some(at) = self.events.iter().position(|e| e["service"] == service) {
                let event = self.events.remove(at).expect("present");
                if wanted(&event["data"]) {
                    return event["data"].clone();
                }
                continue;
            }
            match self.receive(deadline) {
                Some(message) => self.events.push_back(message),
                None => panic!(
                    "no matching {service} event within {within:?}; received:\n{}",
                    self.inner.transcript()
                ),
            }
        }
    }

    /// The first event of `service` before `deadline` whose data satisfies `wanted` (the
    /// service's events before it are dropped), if any.
    pub(super) fn next_within_matching(
        &mut self,
        service: &str,
        deadline: Instant,
        wanted: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        while let Some(data) = self.next_within(service, deadline) {
            if wanted(&data) {
                return Some(data);
            }
        }
        None
    }

    /// The next event of `service` before `deadline` (other services' are kept), if any.
    pub(super) fn next_within(&mut self, service: &str, deadline: Instant) -> Option<Value> {
        loop {
            if let Some(at) = self.events.iter().position(|e| e["service"] == service) {
                return self.events.remove(at).map(|e| e["data"].clone());
            }
            let message = self.receive(deadline)?;
            self.events.push_back(message);
        }
    }

    /// The `network` state once the attempt in progress has ended.
    pub(super) fn settled(&mut self) -> Value {
        self.until("network", Duration::from_secs(90), |s| {
            s["isConnecting"] == json!(false)
                && (s["wifiConnected"] == json!(true) || s["lastError"] != json!(""))
        })
    }

    pub(super) fn prompt(&mut self) -> Value {
        self.until("network.credentials", Duration::from_secs(60), |p| {
            p.get("fields").is_some()
        })
    }

    /// Secrets never reach a client, whatever it received.
    pub(super) fn assert_no_secret(&self) {
        for secret in PASSWORDS.iter().chain([&WRONG]) {
            assert!(
                !self.inner.transcript().contains(secret),
                "{secret:?} was sent to a client"
            );
        }
    }
}

pub(super) fn connected_to(state: &Value, ssid: &str, subnet: &str) {
    assert_eq!(state["wifiConnected"], json!(true), "{state}");
    assert_eq!(state["wifiSSID"], json!(ssid), "{state}");
    assert_eq!(state["networkStatus"], json!("wifi"), "{state}");
    assert_eq!(state["lastError"], json!(""), "{state}");
    let ip = state["wifiIP"].as_str().unwrap_or_default();
    assert!(ip.starts_with(subnet), "{state}");
}

fn failed_with(state: &Value, code: &str) {
    assert_eq!(state["lastError"], json!(code), "{state}");
    assert_eq!(state["wifiConnected"], json!(false), "{state}");
    assert_eq!(state["isConnecting"], json!(false), "{state}");
}

/// NetworkManager's profile for `ssid` is removed in the background after a failed first
/// attempt: waits for it to go.
fn no_profile_left(ssid: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while profiles(ssid) > 0 {
        assert!(Instant::now() < deadline, "a profile for {ssid} was left");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stored_secrets() -> String {
    std::fs::read_to_string(std::env::var("NETPILOT_SECRETS_FILE").expect("set by run-tests"))
        .unwrap_or_default()
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn daemon_checklist_1_open_network_connects_with_events_in_order() {
    if !in_lab("daemon_checklist_1_open_network_connects_with_events_in_order") {
        return;
    }
    let daemon = Daemon::start("checklist-1", &[]);
    let mut ui = daemon.client();
    ui.subscribe(&["network"]);
    let first = ui.until("network", Duration::from_secs(5), |_| true);
    assert_eq!(
        first["wifiConnected"],
        json!(false),
        "the snapshot: {first}"
    );
    let scan = ui.ok("network.wifi.scan", json!({}));
    let seen: Vec<&str> = scan["result"]["networks"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|n| n["ssid"].as_str())
        .collect();
    assert!(
        seen.contains(&OPEN) && seen.contains(&HOME.0),
        "scan: {scan}"
    );

    let response = ui.call(
        "network.wifi.connect",
        json!({ "ssid": OPEN, "interface": "wlan0" }),
    );
    assert_eq!(
        response,
        json!({ "id": response["id"], "success": true, "message": "connecting" })
    );
    let connecting = ui.until("network", Duration::from_secs(10), |s| {
        s["isConnecting"] == json!(true)
    });
    assert_eq!(connecting["connectingSSID"], json!(OPEN));
    connected_to(&ui.settled(), OPEN, "192.168.51.");
    let status = ui.ok("network.status", json!({}));
    connected_to(&status["result"], OPEN, "192.168.51.");

    let response = ui.ok("network.wifi.disconnect", json!({}));
    assert_eq!(response["result"]["interfaces"], json!(["wlan0"]));
    let after = ui.until("network", Duration::from_secs(30), |s| {
        s["wifiConnected"] == json!(false)
    });
    assert_eq!(after["networkStatus"], json!("disconnected"));
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn daemon_checklist_2_a_given_password_connects_and_is_kept_agent_owned() {
    if !in_lab("daemon_checklist_2_a_given_password_connects_and_is_kept_agent_owned") {
        return;
    }
    let daemon = Daemon::start("checklist-2", &[]);
    let mut ui = daemon.client();
    ui.subscribe(&["network", "network.credentials"]);
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": HOME.0, "password": HOME.1, "interface": "wlan0" }),
    );
    connected_to(&ui.settled(), HOME.0, "192.168.50.");
    assert!(
        !ui.events
            .iter()
            .any(|e| e["service"] == "network.credentials"),
        "a given password needs no prompt: {:?}",
        ui.events
    );
    let flags = Command::new("nmcli")
        .args(["-g", "802-11-wireless-security.psk-flags"])
        .args(["connection", "show", HOME.0])
        .output()
        .expect("nmcli runs");
    assert_eq!(String::from_utf8_lossy(&flags.stdout).trim(), "1");
    // Saved by the agent once connected (in the background: allow a moment).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stored_secrets().contains(HOME.1) {
        assert!(Instant::now() < deadline, "the password was not stored");
        std::thread::sleep(Duration::from_millis(100));
    }
    ui.assert_no_secret();
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn daemon_checklist_3_prompts_reach_every_client_and_the_first_answer_wins() {
    if !in_lab("daemon_checklist_3_prompts_reach_every_client_and_the_first_answer_wins") {
        return;
    }
    let daemon = Daemon::start("checklist-3", &[]);
    let mut asker = daemon.client();
    let mut watcher = daemon.client();
    asker.subscribe(&["network", "network.credentials"]);
    watcher.subscribe(&["network", "network.credentials"]);
    asker.ok(
        "network.wifi.connect",
        json!({ "ssid": HOME.0, "interface": "wlan0", "save": false }),
    );
    let prompt = asker.prompt();
    assert_eq!(prompt["ssid"], json!(HOME.0));
    assert_eq!(prompt["fields"], json!(["psk"]));
    assert_eq!(prompt["reason"], json!("Credentials required"));
    assert_eq!(watcher.prompt()["token"], prompt["token"]);

    // The client that asked goes away; the prompt stays for the others.
    drop(asker);
    std::thread::sleep(Duration::from_millis(300));
    // A client subscribing now, on the Unix socket, gets the pending prompt at once.
    let mut local = daemon.local_client();
    local.subscribe(&["network.credentials"]);
    let late = local.until("network.credentials", Duration::from_secs(2), |_| true);
    assert_eq!(late["token"], prompt["token"]);
    local.ok(
        "network.credentials.submit",
        json!({ "token": prompt["token"], "secrets": { "psk": HOME.1 } }),
    );
    let resolved = watcher.until("network.credentials", Duration::from_secs(5), |_| true);
    assert_eq!(
        resolved,
        json!({ "token": prompt["token"], "resolved": "answered" })
    );
    assert_eq!(
        watcher.refused(
            "network.credentials.submit",
            json!({ "token": prompt["token"], "secrets": { "psk": WRONG } }),
        ),
        "unknown-token",
        "the second answer loses"
    );
    connected_to(&watcher.settled(), HOME.0, "192.168.50.");
    // save: false keeps the password for this attempt only.
    std::thread::sleep(Duration::from_secs(1));
    assert!(!stored_secrets().contains(HOME.1), "save: false stored it");
    watcher.assert_no_secret();
    local.assert_no_secret();
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn daemon_checklist_4_a_wrong_password_is_asked_for_again_with_the_reason() {
    if !in_lab("daemon_checklist_4_a_wrong_password_is_asked_for_again_with_the_reason") {
        return;
    }
    let daemon = Daemon::start("checklist-4", &[]);
    let mut ui = daemon.client();
    ui.subscribe(&["network", "network.credentials"]);
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": HOME.0, "interface": "wlan0" }),
    );
    let first = ui.prompt();
    ui.ok(
        "network.credentials.submit",
        json!({ "token": first["token"], "secrets": { "psk": WRONG } }),
    );
    let again = ui.prompt();
    assert_eq!(again["reason"], json!("Previous password was incorrect"));
    assert_ne!(again["token"], first["token"], "a new prompt, a new token");
    ui.ok(
        "network.credentials.submit",
        json!({ "token": again["token"], "secrets": { "psk": HOME.1 } }),
    );
    connected_to(&ui.settled(), HOME.0, "192.168.50.");
    assert!(
        daemon.log().contains("NetworkManager asks for secrets"),
        "trace logging is on"
    );
    ui.assert_no_secret();
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn daemon_checklist_5_cancelling_the_prompt_ends_the_attempt() {
    if !in_lab("daemon_checklist_5_cancelling_the_prompt_ends_the_attempt") {
        return;
    }
    let daemon = Daemon::start("checklist-5", &[]);
    let mut ui = daemon.client();
    ui.subscribe(&["network", "network.credentials"]);
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": HOME.0, "interface": "wlan0" }),
    );
    let prompt = ui.prompt();
    ui.ok(
        "network.credentials.cancel",
        json!({ "token": prompt["token"] }),
    );
    failed_with(&ui.settled(), "user-canceled");
    assert_eq!(
        ui.refused(
            "network.credentials.submit",
            json!({ "token": prompt["token"], "secrets": { "psk": HOME.1 } }),
        ),
        "unknown-token",
        "submit after cancel"
    );
    no_profile_left(HOME.0);
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn daemon_checklist_6_the_connect_and_prompt_timeouts_are_enforced() {
    if !in_lab("daemon_checklist_6_the_connect_and_prompt_timeouts_are_enforced") {
        return;
    }
    let daemon = Daemon::start("checklist-6-connect", &["--connect-timeout", "1"]);
    let mut ui = daemon.client();
    ui.subscribe(&["network", "network.credentials"]);
    // Joining takes seconds here; a 1 s budget cannot be met.
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": HOME.0, "password": HOME.1, "interface": "wlan0" }),
    );
    failed_with(&ui.settled(), "timeout");
    no_profile_left(HOME.0);
    drop(ui);
    drop(daemon);

    // Nobody answers the prompt: it expires after 2 s and the attempt ends.
    let daemon = Daemon::start("checklist-6-prompt", &["--prompt-timeout", "2"]);
    let mut ui = daemon.client();
    ui.subscribe(&["network", "network.credentials"]);
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": HOME.0, "interface": "wlan0" }),
    );
    let prompt = ui.prompt();
    let asked = Instant::now();
    let resolved = ui.until("network.credentials", Duration::from_secs(10), |_| true);
    assert_eq!(
        resolved,
        json!({ "token": prompt["token"], "resolved": "expired" })
    );
    assert!(asked.elapsed() >= Duration::from_millis(1500));
    failed_with(&ui.settled(), "timeout");
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn daemon_checklist_7_no_dhcp_answer_is_a_dhcp_timeout() {
    if !in_lab("daemon_checklist_7_no_dhcp_answer_is_a_dhcp_timeout") {
        return;
    }
    let daemon = Daemon::start("checklist-7", &[]);
    let mut ui = daemon.client();
    ui.subscribe(&["network"]);
    let start = Instant::now();
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": NO_DHCP.0, "password": NO_DHCP.1, "interface": "wlan0" }),
    );
    failed_with(&ui.settled(), "dhcp-timeout");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(15) && took < Duration::from_secs(60),
        "{took:?}"
    );
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn daemon_checklist_8_a_network_out_of_range_is_not_found() {
    if !in_lab("daemon_checklist_8_a_network_out_of_range_is_not_found") {
        return;
    }
    let daemon = Daemon::start("checklist-8", &[]);
    let mut ui = daemon.client();
    ui.subscribe(&["network"]);
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": "np-nowhere", "password": "whatever-secret" }),
    );
    failed_with(&ui.settled(), "network-not-found");
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn daemon_checklist_9_a_configured_network_reconnects_without_a_prompt() {
    if !in_lab("daemon_checklist_9_a_configured_network_reconnects_without_a_prompt") {
        return;
    }
    let daemon = Daemon::start("checklist-9", &[]);
    let mut ui = daemon.client();
    ui.subscribe(&["network", "network.credentials"]);
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": HOME.0, "password": HOME.1, "interface": "wlan0" }),
    );
    connected_to(&ui.settled(), HOME.0, "192.168.50.");
    ui.ok("network.wifi.disconnect", json!({}));
    ui.until("network", Duration::from_secs(30), |s| {
        s["wifiConnected"] == json!(false)
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stored_secrets().contains(HOME.1) {
        assert!(Instant::now() < deadline, "the password was not stored");
        std::thread::sleep(Duration::from_millis(100));
    }

    // No password given: the agent answers NetworkManager from its store, nobody is asked.
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": HOME.0, "interface": "wlan0" }),
    );
    ui.until("network", Duration::from_secs(10), |s| {
        s["isConnecting"] == json!(true)
    });
    connected_to(&ui.settled(), HOME.0, "192.168.50.");
    assert!(
        !ui.events
            .iter()
            .any(|e| e["service"] == "network.credentials"),
        "a saved network needs no prompt: {:?}",
        ui.events
    );
    assert_eq!(profiles(HOME.0), 1, "the saved profile is reused");

    let forgotten = ui.ok("network.wifi.forget", json!({ "ssid": HOME.0 }));
    assert_eq!(forgotten["result"]["profiles"], json!(1));
    assert_eq!(profiles(HOME.0), 0);
    assert!(!stored_secrets().contains(HOME.1));
    ui.assert_no_secret();
}

const NM_PID_FILE: &str = "/run/np-lab/NetworkManager.pid";

/// Waits until the daemon's log says it registered as the secret agent `times` times.
pub(super) fn registered(daemon: &Daemon, times: usize) -> Duration {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    while daemon
        .log()
        .matches("registered as its secret agent")
        .count()
        < times
    {
        assert!(
            Instant::now() < deadline,
            "not registered: {}",
            daemon.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

/// Stops the lab's NetworkManager (SIGTERM) and returns once it has exited.
fn stop_networkmanager() -> Instant {
    let pid: i32 = std::fs::read_to_string(NM_PID_FILE)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pid = rustix::process::Pid::from_raw(pid).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while rustix::process::test_kill_process(pid).is_ok() {
        assert!(Instant::now() < deadline, "NetworkManager did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    Instant::now()
}

/// The lab's NetworkManager, started again as lab-up starts it.
fn start_networkmanager() {
    let out = super::lab_out();
    let started = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "NetworkManager --config=/run/np-lab/NetworkManager.conf --no-daemon \
             >> {out}/NetworkManager.log 2>&1 & echo $! > {NM_PID_FILE}"
        ))
        .status()
        .unwrap();
    assert!(started.success());
}

/// Waits until NetworkManager manages both radios again (wlan0 free; wlan1 free, or
/// holding a device link).
fn radios_back() {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let devices = Command::new("nmcli")
            .args(["-t", "-f", "DEVICE,STATE", "device"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&devices.stdout);
        let wlan1_managed = ["disconnected", "connecting", "connected"]
            .iter()
            .any(|state| text.contains(&format!("wlan1:{state}")));
        if text.contains("wlan0:disconnected") && wlan1_managed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the radios did not come back: {text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Past every earlier state in the queue, to the one of the attempt just asked for.
pub(super) fn connecting(ui: &mut Client) {
    ui.until("network", Duration::from_secs(20), |s| {
        s["isConnecting"] == json!(true)
    });
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn networkmanager_stopping_mid_attempt_ends_it_at_once_every_round() {
    if !in_lab("networkmanager_stopping_mid_attempt_ends_it_at_once_every_round") {
        return;
    }
    // Whatever happens, the tests after this one find no profile of the home network.
    struct NoHomeProfile;
    impl Drop for NoHomeProfile {
        fn drop(&mut self) {
            for _ in 0..5 {
                if profiles(HOME.0) == 0 {
                    break;
                }
                let _ = Command::new("nmcli")
                    .args(["connection", "delete", "id", HOME.0])
                    .output();
            }
        }
    }
    let _clean = NoHomeProfile;
    let daemon = super::device::start_daemon("nm-mid-attempt");
    // A device link up beside it all, on wlan1 (wlan0 is for the attempts).
    let configured = super::device::configure_robot(&["--interface", "wlan1"]);
    assert!(
        configured.status.success(),
        "{}",
        super::device::text(&configured)
    );
    let mut links = daemon.local_client();
    links.ok("device.up", json!({ "name": "cozmo" }));
    let mut ui = daemon.client();
    ui.subscribe(&["network", "network.credentials"]);
    registered(&daemon, 1);
    let (mut ended, mut back, mut swept, mut supervised) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let rounds = super::rounds(5, 2);
    for round in 1..=rounds {
        // An attempt waiting for its password: the prompt is out, nobody answers.
        ui.ok(
            "network.wifi.connect",
            json!({ "ssid": HOME.0, "interface": "wlan0" }),
        );
        connecting(&mut ui);
        ui.prompt();
        let gone = stop_networkmanager();
        // (Earlier states wait in the queue too: the one that ends this attempt has its error.)
        let state = ui.until("network", Duration::from_secs(20), |s| {
            s["isConnecting"] == json!(false) && s["lastError"] != json!("")
        });
        ended.push(gone.elapsed());
        failed_with(&state, "nm-unavailable");
        ui.until("network.credentials", Duration::from_secs(5), |p| {
            p.get("resolved").is_some()
        });
        start_networkmanager();
        let started = Instant::now();
        back.push(registered(&daemon, round + 1));
        radios_back();
        // The profile the ended attempt made (it never connected) is deleted by the daemon
        // once NetworkManager is back: it cannot join by itself and race the next connect.
        let deadline = Instant::now() + Duration::from_secs(20);
        while profiles(HOME.0) > 0 {
            assert!(
                Instant::now() < deadline,
                "round {round}: the ended attempt's profile is still there 20 s after NetworkManager started"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        swept.push(started.elapsed());
        // The device link is up and supervised again, through the new NetworkManager.
        super::faults::until_link_up(&mut links, "cozmo", started, Duration::from_secs(60));
        supervised.push(started.elapsed());
        // The next connect works, through the new NetworkManager.
        ui.ok(
            "network.wifi.connect",
            json!({ "ssid": HOME.0, "interface": "wlan0" }),
        );
        connecting(&mut ui);
        let prompt = ui.prompt();
        ui.ok(
            "network.credentials.submit",
            json!({ "token": prompt["token"], "secrets": { "psk": HOME.1 } }),
        );
        connected_to(&ui.settled(), HOME.0, "192.168.50.");
        // Forgotten, so the next round's attempt makes a profile again (and NetworkManager,
        // started anew, has no saved profile to join by itself meanwhile).
        ui.ok("network.wifi.disconnect", json!({ "interface": "wlan0" }));
        ui.ok("network.wifi.forget", json!({ "ssid": HOME.0 }));
    }
    // The link was supervised all along: a loss is still seen at once.
    links.subscribe(&["device"]);
    super::device::robot_off();
    let off = Instant::now();
    links.until("device", Duration::from_secs(10), |e| {
        e["state"] == json!("lost")
    });
    let lost_after = off.elapsed();
    super::device::robot_on();
    links.until("device", Duration::from_secs(60), |e| {
        e["state"] == json!("up")
    });
    links.ok("device.reset", json!({ "name": "cozmo" }));
    let figures = format!(
        "NetworkManager stopped mid-attempt, {rounds} rounds: the attempt ended {ended:?} after it exited; \
         after it was started: agent registered again {back:?}, the attempt's profile deleted {swept:?}, \
         the device link up and supervised {supervised:?}; afterwards a loss was seen in {lost_after:?}\n"
    );
    eprint!("{figures}");
    std::fs::write(
        format!("{}/nm-restart-figures.txt", super::lab_out()),
        &figures,
    )
    .expect("figures written");
    assert!(
        ended.iter().all(|d| *d < Duration::from_secs(2)),
        "{figures}"
    );
    assert!(lost_after <= Duration::from_secs(2), "{figures}");
    ui.assert_no_secret();
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn daemon_survives_a_networkmanager_restart() {
    if !in_lab("daemon_survives_a_networkmanager_restart") {
        return;
    }
    let daemon = Daemon::start("nm-restart", &[]);
    let mut ui = daemon.client();
    ui.subscribe(&["network", "network.credentials"]);
    registered(&daemon, 1);

    stop_networkmanager();
    assert_eq!(ui.refused("network.wifi.scan", json!({})), "nm-unavailable");
    assert_eq!(ui.ok("network.status", json!({}))["success"], json!(true));

    start_networkmanager();
    registered(&daemon, 2);
    radios_back();

    // The agent answers the new NetworkManager: a prompt reaches the UI.
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": HOME.0, "interface": "wlan0" }),
    );
    let prompt = ui.prompt();
    ui.ok(
        "network.credentials.submit",
        json!({ "token": prompt["token"], "secrets": { "psk": HOME.1 } }),
    );
    connected_to(&ui.settled(), HOME.0, "192.168.50.");
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn daemon_answers_for_the_cli_which_asks_on_its_terminal() {
    if !in_lab("daemon_answers_for_the_cli_which_asks_on_its_terminal") {
        return;
    }
    let daemon = Daemon::start("cli", &[]);
    let mut ui = daemon.client();
    ui.subscribe(&["network.credentials"]);
    let mut terminal = OnTerminal::start_env(
        &["wifi", "connect", HOME.0, "--interface", "wlan0", "--ask"],
        &[("NETPILOT_SOCKET", SOCKET)],
    );
    terminal.expect("Password for \"np-home\":", 1);
    // The prompt is the daemon's: a UI sees it too.
    let prompt = ui.prompt();
    assert_eq!(prompt["ssid"], json!(HOME.0));
    terminal.type_keys(&format!("{}\r", HOME.1));
    let (code, shown) = terminal.finish();
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("connected to \"np-home\" on wlan0"),
        "{shown}"
    );
    assert!(!shown.contains(HOME.1), "the password was echoed: {shown}");
    let resolved = ui.until("network.credentials", Duration::from_secs(5), |_| true);
    assert_eq!(
        resolved,
        json!({ "token": prompt["token"], "resolved": "answered" })
    );
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn daemon_stopping_withdraws_its_prompt_unregisters_its_agent_and_leaves_nothing() {
    if !in_lab("daemon_stopping_withdraws_its_prompt_unregisters_its_agent_and_leaves_nothing") {
        return;
    }
    let mut daemon = Daemon::start("stop", &[]);
    let mut ui = daemon.client();
    ui.subscribe(&["network", "network.credentials"]);
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": HOME.0, "interface": "wlan0" }),
    );
    let prompt = ui.prompt();
    let (took, clean) = daemon.stop();
    assert!(clean, "{}", daemon.log());
    assert!(took < Duration::from_secs(2), "stopped after {took:?}");
    let withdrawn = ui.until("network.credentials", Duration::from_secs(1), |p| {
        p["token"] == prompt["token"] && p.get("resolved").is_some()
    });
    assert_eq!(withdrawn["resolved"], json!("withdrawn"), "{withdrawn}");
    let log = daemon.log();
    assert!(log.contains("unregistered the secret agent"), "{log}");
    // The profile the attempt made went with it.
    no_profile_left(HOME.0);
    ui.assert_no_secret();
}
