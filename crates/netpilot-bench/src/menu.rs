//! `network.status` with a full network menu: the daemon's engine over the fake backend
//! with N networks in range and M saved, on a Unix socket; one client asking in turn.
//!
//!   np-daemon-bench menu-serve --socket PATH [--networks N] [--saved M]
//!   np-daemon-bench latency --socket PATH [--calls K]

use super::{NoMonitor, current_thread, usage};
use netpilot_api::client::Client;
use netpilot_api::dispatch::{Dispatcher, RateLimit};
use netpilot_api::protocol::Message as Said;
use netpilot_api::server::{PeerPolicy, serve_unix};
use netpilot_core::menu::{Menu, RadioSwitch, SavedProfile};
use netpilot_core::wifi::{AccessPoint, Security};
use netpilot_engine::connect::Timeouts;
use netpilot_engine::network::{self, Config};
use netpilot_engine::testing::FakeWifi;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// N access points over two radios (the first in use), and M saved profiles, half of them
/// in range.
fn menu(networks: usize, saved: usize) -> Menu {
    let security = [
        Security::WpaPsk,
        Security::Sae,
        Security::Open,
        Security::Enterprise,
    ];
    let access_points = (0..networks)
        .map(|n| AccessPoint {
            ssid: format!("network-{n:03}"),
            bssid: format!("02:00:00:00:{:02x}:{:02x}", n / 256, n % 256),
            signal: (100 - n % 90) as u8,
            frequency_mhz: if n % 3 == 0 {
                5180
            } else {
                2412 + 5 * (n % 11) as u32
            },
            channel: if n % 3 == 0 { 36 } else { 1 + (n % 11) as u16 },
            security: security[n % security.len()],
            interface: if n % 2 == 0 { "wlan0" } else { "wlan1" }.into(),
            in_use: n == 0,
            max_bitrate_kbps: 130_000,
        })
        .collect();
    let saved = (0..saved)
        .map(|n| SavedProfile {
            uuid: format!("00000000-0000-4000-8000-{n:012}"),
            name: format!("network-{:03}", n * 2),
            ssid: format!("network-{:03}", n * 2),
            autoconnect: n % 4 != 0,
            priority: (n % 5) as i32,
            last_used: Some(1_790_000_000 + n as u64),
            interface: None,
            security: Security::WpaPsk,
            hidden: false,
            hotspot: false,
            device_link: None,
        })
        .collect();
    Menu {
        radio: RadioSwitch {
            enabled: true,
            hardware_blocked: false,
        },
        access_points,
        saved,
        ..Menu::default()
    }
}

pub fn serve(socket: &str, networks: usize, saved: usize) {
    if socket.is_empty() {
        usage("--socket PATH");
    }
    let _ = std::fs::remove_file(socket);
    current_thread().block_on(async move {
        let (fake, _events, receiver) = FakeWifi::new(true);
        *fake.snapshot.lock().expect("not poisoned") = FakeWifi::connected("network-000");
        *fake.menu.lock().expect("not poisoned") = menu(networks, saved);
        let backend = Arc::new(fake);
        let config = Config {
            timeouts: Timeouts::default(),
            debounce: Duration::from_millis(50),
            tokens: Box::new(|| "unused".to_string()),
            claims: network::no_claims(),
        };
        let network = network::spawn(backend, receiver, config);
        network.ready().await.expect("the fake answers");
        let (traffic, _) = tokio::sync::broadcast::channel(16);
        let dispatcher = Arc::new(Dispatcher::new(
            network,
            NoMonitor,
            Arc::new(netpilot_api::device::NoDevices::default()),
            traffic,
            RateLimit::default(),
        ));
        let listener = tokio::net::UnixListener::bind(socket).expect("bound");
        let policy = PeerPolicy {
            uid: rustix::process::getuid().as_raw(),
            group: None,
        };
        println!("listening");
        serve_unix(listener, dispatcher, policy, 64, std::future::pending()).await;
    });
}

/// K `network.status` calls one after another: p50 and p99 of each call, and the answer's
/// size.
pub fn latency(socket: &str, calls: usize) {
    if socket.is_empty() {
        usage("--socket PATH");
    }
    current_thread().block_on(async move {
        let mut client = Client::unix(std::path::Path::new(socket))
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {socket}: {e}"));
        let mut took = Vec::with_capacity(calls);
        let mut bytes = 0;
        for call in 0..calls + calls / 10 {
            let started = Instant::now();
            client.request("network.status", ()).await.expect("sent");
            let answer = match client.receive().await.expect("an answer") {
                Said::Response(response) if response.success => response,
                other => panic!("network.status: {other:?}"),
            };
            // The first tenth warms up.
            if call >= calls / 10 {
                took.push(started.elapsed());
            }
            bytes = answer.to_line().len();
        }
        took.sort_unstable();
        let at = |p: f64| took[((took.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
        println!(
            "latency calls={calls} p50_ms={:.3} p99_ms={:.3} answer_bytes={bytes}",
            at(0.5),
            at(0.99)
        );
    });
}
