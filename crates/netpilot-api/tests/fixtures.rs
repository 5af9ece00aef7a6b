//! Fixture conversations: `fixtures/<case>/input.jsonl` is sent line by line (lines with
//! a `"fixture"` key are actions of the fake backend instead: NetworkManager asking for
//! secrets, a device changing state, time passing); everything the daemon says must equal
//! `fixtures/<case>/expected.jsonl`. `NETPILOT_BLESS=1` rewrites the expected files.

use crate::harness::{Client, Daemon, FakeMonitor};
use netpilot_api::dispatch::RateLimit;
use netpilot_core::wifi::DeviceState;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

async fn run(case: &Path) -> Vec<Value> {
    let mut daemon = Daemon::start(RateLimit::default()).await;
    let mut client = daemon.client();
    let mut said = Vec::new();
    for line in lines(&case.join("input.jsonl")) {
        said.extend(play(&mut daemon, &mut client, &line).await);
    }
    said
}

/// Plays one input line: a request the client sends, or a `"fixture"` action of the fake
/// backend. Returns what the client is told in the next 500 ms (of paused time).
pub async fn play(daemon: &mut Daemon, client: &mut Client, line: &str) -> Vec<Value> {
    let value: Value = serde_json::from_str(line).unwrap_or(Value::Null);
    match value.get("fixture").and_then(Value::as_str) {
        Some("secrets-requested") => {
            let ssid = value["ssid"].as_str().unwrap();
            daemon
                .secrets_requested(ssid, value["requestNew"].as_bool().unwrap_or(false))
                .await;
        }
        Some("device") => {
            let state = match value["state"].as_str().unwrap() {
                "connected" => DeviceState::Connected,
                "failed" => DeviceState::Failed,
                other => panic!("fixture device state {other}"),
            };
            daemon
                .device(state, value["ssid"].as_str().unwrap_or_default())
                .await;
        }
        Some("device-ap") => daemon.devices.on.store(
            value["on"].as_bool().unwrap(),
            std::sync::atomic::Ordering::SeqCst,
        ),
        Some("traffic") => daemon.dispatcher.publish_traffic(FakeMonitor::sample()),
        // What a scan brings: an access point's signal moves, or one leaves the air.
        Some("signal") => {
            daemon
                .menu_changes(|menu| {
                    for ap in menu
                        .access_points
                        .iter_mut()
                        .filter(|ap| ap.ssid == value["ssid"])
                    {
                        ap.signal = value["signal"].as_u64().unwrap() as u8;
                    }
                })
                .await
        }
        Some("gone") => {
            daemon
                .menu_changes(|menu| menu.access_points.retain(|ap| ap.ssid != value["ssid"]))
                .await
        }
        Some("rfkill") => {
            daemon
                .menu_changes(|menu| {
                    menu.radio.hardware_blocked = value["hard"].as_bool().unwrap();
                    menu.radio.enabled &= !menu.radio.hardware_blocked;
                })
                .await
        }
        Some("wait") => {
            tokio::time::sleep(Duration::from_millis(value["ms"].as_u64().unwrap())).await
        }
        Some(other) => panic!("unknown fixture action {other}"),
        None => client.send(line).await,
    }
    // Longer than the menu's settling time (250 ms): a change's event is the step's.
    client.drain(Duration::from_millis(500)).await
}

#[tokio::test(start_paused = true)]
async fn every_fixture_conversation_goes_as_written() {
    let bless = std::env::var_os("NETPILOT_BLESS").is_some();
    let mut failures = Vec::new();
    let cases = cases();
    assert!(!cases.is_empty(), "no fixture conversations found");
    for case in cases {
        let said = run(&case).await;
        let expected_path = case.join("expected.jsonl");
        if bless {
            let text: String = said.iter().map(|v| format!("{v}\n")).collect();
            std::fs::write(&expected_path, text).unwrap();
            continue;
        }
        let expected: Vec<Value> = lines(&expected_path)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if said != expected {
            let shown: String = said.iter().map(|v| format!("{v}\n")).collect();
            failures.push(format!("{}:\n{shown}", case.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "conversations differ from their fixtures:\n{}",
        failures.join("\n")
    );
}
