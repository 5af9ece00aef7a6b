//! Tier 3: `netpilot wifi` and `netpilot daemon` against real NetworkManager,
//! wpa_supplicant and hostapd in the WiFi lab VM (lab/run). Marked `#[ignore]`: `cargo test` on the host does not run them;
//! lab/guest/run-tests runs them inside the VM with `--ignored`, one at a time (they share
//! the radios), with NETPILOT_LAB=1.

mod aps;
mod daemon;
mod device;
mod faults;
mod hotspot;
mod menu;
mod roles;
mod wifi;

use crate::e2e::NETPILOT;
use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The directory lab/run carries out of the VM (logs, figures).
pub fn lab_out() -> String {
    std::env::var("NETPILOT_LAB_OUT").expect("set by run-tests")
}

/// How many rounds a repeated test runs: the whole count with NETPILOT_LAB_FULL=1
/// (`NETPILOT_LAB_FULL=1 lab/run`), fewer in a plain run (CI), which must fit its time.
pub fn rounds(full: usize, plain: usize) -> usize {
    if std::env::var_os("NETPILOT_LAB_FULL").is_some_and(|v| v == "1") {
        full
    } else {
        plain
    }
}

/// Whether the lab is here; otherwise skips with a printed reason, or fails when
/// NETPILOT_REQUIRE_LAB=1.
pub fn in_lab(test: &str) -> bool {
    if std::env::var_os("NETPILOT_LAB").is_some_and(|v| v == "1") {
        clean_slate();
        return true;
    }
    let reason = format!("skipped: {test} needs the WiFi lab (run lab/run)");
    if std::env::var_os("NETPILOT_REQUIRE_LAB").is_some_and(|v| v == "1") {
        panic!("{reason}, and NETPILOT_REQUIRE_LAB=1 forbids skipping");
    }
    eprintln!("{reason}");
    false
}

/// No connection, no profile, no stored secret: each test starts from scratch.
fn clean_slate() {
    for device in ["wlan0", "wlan1"] {
        let _ = Command::new("nmcli")
            .args(["device", "disconnect", device])
            .output();
    }
    let uuids = Command::new("nmcli")
        .args(["-g", "UUID", "connection", "show"])
        .output()
        .expect("nmcli runs");
    for uuid in String::from_utf8_lossy(&uuids.stdout)
        .lines()
        .filter(|l| !l.is_empty())
    {
        let _ = Command::new("nmcli")
            .args(["connection", "delete", uuid])
            .output();
    }
    if let Some(store) = std::env::var_os("NETPILOT_SECRETS_FILE") {
        let _ = std::fs::remove_file(store);
    }
}

/// Runs netpilot with `stdin` on its standard input (not a terminal).
pub fn netpilot(args: &[&str], stdin: &str) -> Output {
    netpilot_env(args, stdin, &[])
}

pub fn netpilot_env(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(NETPILOT)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("netpilot runs");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(stdin.as_bytes())
        .expect("stdin written");
    child.wait_with_output().expect("netpilot ends")
}

/// Profiles NetworkManager has for `ssid`.
pub fn profiles(ssid: &str) -> usize {
    let out = Command::new("nmcli")
        .args(["-g", "NAME", "connection", "show"])
        .output()
        .expect("nmcli runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| *l == ssid)
        .count()
}

/// netpilot on a terminal (a pty from `script`), typing what it is asked.
pub struct OnTerminal {
    child: std::process::Child,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl OnTerminal {
    pub fn start(args: &[&str]) -> OnTerminal {
        OnTerminal::start_env(args, &[])
    }

    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> OnTerminal {
        let command = std::iter::once(NETPILOT)
            .chain(args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = Command::new("script")
            .args(["-qfec", &command, "/dev/null"])
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script runs");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut stdout = child.stdout.take().expect("piped");
        let sink = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 1024];
            while let Ok(n) = stdout.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("not poisoned")
                    .extend_from_slice(&buffer[..n]);
            }
        });
        OnTerminal { child, seen }
    }

    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().expect("not poisoned")).into_owned()
    }

    /// Waits until `text` has appeared `times` times.
    pub fn expect(&self, text: &str, times: usize) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while self.transcript().matches(text).count() < times {
            assert!(
                Instant::now() < deadline,
                "waited 90 s for {text:?} (×{times}); saw:\n{}",
                self.transcript()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn type_keys(&mut self, keys: &str) {
        let stdin = self.child.stdin.as_mut().expect("piped");
        stdin.write_all(keys.as_bytes()).expect("keys typed");
        stdin.flush().expect("keys typed");
    }

    /// The exit code and everything shown on the terminal.
    pub fn finish(mut self) -> (i32, String) {
        let status = self.child.wait().expect("script ends");
        std::thread::sleep(Duration::from_millis(100));
        (status.code().unwrap_or(-1), self.transcript())
    }
}
