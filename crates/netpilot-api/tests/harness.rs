//! A daemon over the fake backend, and a scripted client.

use netpilot_api::dispatch::{Dispatcher, Incoming, Monitor, RateLimit, serve_session};
use netpilot_api::monitor::{
    ConnectionSummary, ConnectionsDocument, InterfacesDocument, PortsDocument, TrafficDocument,
};

use netpilot_api::device::DeviceApi;
use netpilot_core::menu::{SavedProfile, WiredDevice};
use netpilot_core::ports::WifiEvent;
use netpilot_core::wifi::{AccessPoint, DeviceState, Security, WifiNetwork};
use netpilot_core::{Error, Visibility};
use netpilot_engine::connect::Timeouts;
use netpilot_engine::device::DeviceService;
use netpilot_engine::network::{Config, spawn};
use netpilot_engine::testing::{FakeDevices, FakeResponder, FakeWifi, wifi_secrets_request};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// A monitor with one plausible entry in each document: the shapes clients see (the real
/// monitor is tested against the kernel in the netpilot crate).
pub struct FakeMonitor;

fn document<T: serde::de::DeserializeOwned>(json: serde_json::Value) -> T {
    serde_json::from_value(json).expect("a valid document")
}

impl FakeMonitor {
    pub fn sample() -> TrafficDocument {
        document(serde_json::json!({
            "intervalMs": 1000,
            "processes": [{"pid": 4242, "name": "firefox", "user": "alice",
                "rxBytesPerSec": 52000.0, "txBytesPerSec": 3100.0, "rxBytes": 52000,
                "txBytes": 3100, "udpRxBytes": 20000, "udpTxBytes": 1000, "udpRxDropped": 0,
                "connections": {"total": 3, "established": 3, "listening": 0}, "udpSockets": 1}],
            "unattributed": {"rxBytesPerSec": 0.0, "txBytesPerSec": 0.0, "rxBytes": 0, "txBytes": 0},
            "udpBytesMeasured": true,
            "udpMissedPackets": 0,
            "connections": [],
            "remotes": [],
            "interfaces": [{"interface": "wlan0", "bytes": 56000, "toProcesses": 55100,
                "toSocketsWithoutProcess": 0, "unattributed": 900}],
            "closedSocketsTracked": true,
            "lostNotices": 0,
            "visibility": {"unattributedSockets": 0, "unreadableProcesses": 0}
        }))
    }
}

impl Monitor for FakeMonitor {
    async fn interfaces(&self, _rates: bool) -> Result<InterfacesDocument, Error> {
        Ok(document(serde_json::json!({
            "intervalMs": null,
            "interfaces": [{"index": 3, "name": "wlan0", "kind": "wifi", "linkKind": null,
                "adminUp": true, "operState": "up", "carrier": true, "mac": "02:00:00:00:00:00",
                "mtu": 1500, "ipv4": [{"address": "192.168.50.10", "prefixLen": 24}], "ipv6": [],
                "counters": {"rxBytes": 1830412, "txBytes": 220190, "rxPackets": 1402,
                    "txPackets": 988, "rxErrors": 0, "txErrors": 0, "rxDropped": 0, "txDropped": 0},
                "rate": null}]
        })))
    }
    async fn connections(
        &self,
        _kind: netpilot_core::ConnectionKind,
    ) -> Result<ConnectionsDocument, Error> {
        let connections: Vec<netpilot_core::Connection> = document(serde_json::json!([{
            "protocol": "tcp", "family": "ipv4", "local": "192.168.50.10:53012",
            "remote": "192.168.50.1:80", "state": "established", "uid": 1000, "user": "ada",
            "inode": 81234, "recvQueue": 0, "sendQueue": 0,
            "processes": [{"pid": 4242, "name": "firefox"}]
        }]));
        Ok(ConnectionsDocument {
            summary: ConnectionSummary::of(&connections),
            connections,
            visibility: Visibility::default(),
        })
    }
    async fn ports(&self) -> Result<PortsDocument, Error> {
        Ok(document(serde_json::json!({
            "ports": [{"protocol": "tcp", "port": 22, "service": "ssh",
                "bindings": [{"address": "0.0.0.0", "family": "ipv4", "user": "root",
                    "processes": [{"pid": 612, "name": "sshd"}]}]}],
            "visibility": {"unattributedSockets": 0, "unreadableProcesses": 0}
        })))
    }
    async fn traffic(&self) -> Result<TrafficDocument, Error> {
        Ok(FakeMonitor::sample())
    }
}

fn network(ssid: &str, signal: u8, security: Security, channel: u16) -> WifiNetwork {
    WifiNetwork {
        ssid: ssid.into(),
        signal,
        security,
        channel,
        known: false,
        in_use: false,
        interfaces: vec!["wlan0".into()],
    }
}

/// An access point of the fixtures' air, as wlan0 sees it.
fn access_point(ssid: &str, signal: u8, security: Security, channel: u16, n: u8) -> AccessPoint {
    AccessPoint {
        ssid: ssid.into(),
        bssid: format!("02:00:00:00:{n:02x}:00"),
        signal,
        frequency_mhz: 2407 + 5 * u32::from(channel),
        channel,
        security,
        interface: "wlan0".into(),
        in_use: false,
        max_bitrate_kbps: 54_000,
    }
}

/// A saved profile as NetworkManager lists it (netpilot's joins save agent-owned ones).
pub fn saved_profile(ssid: &str, uuid: &str) -> SavedProfile {
    SavedProfile {
        uuid: uuid.into(),
        name: ssid.into(),
        ssid: ssid.into(),
        autoconnect: true,
        priority: 0,
        last_used: Some(1_790_000_000),
        interface: None,
        security: Security::WpaPsk,
        hidden: false,
        hotspot: false,
        device_link: None,
    }
}

pub struct Daemon {
    pub dispatcher: Arc<Dispatcher<FakeMonitor>>,
    pub devices: Arc<FakeDevices>,
    pub backend: Arc<FakeWifi>,
    pub backend_events: mpsc::Sender<WifiEvent>,
    pub responders: Vec<FakeResponder>,
}

impl Daemon {
    /// A daemon over the fake backend that has had its first look at the radios.
    pub async fn start(rate_limit: RateLimit) -> Daemon {
        let (fake, backend_events, receiver) = FakeWifi::new(true);
        *fake.networks.lock().unwrap() = vec![
            network("np-home", 82, Security::WpaPsk, 1),
            network("Cozmo_A1B2C3", 64, Security::WpaPsk, 6),
            network("np-open", 47, Security::Open, 11),
        ];
        {
            let mut menu = fake.menu.lock().unwrap();
            menu.access_points = vec![
                access_point("np-home", 82, Security::WpaPsk, 1, 2),
                access_point("Cozmo_A1B2C3", 64, Security::WpaPsk, 6, 3),
                access_point("np-open", 47, Security::Open, 11, 4),
            ];
            menu.saved = vec![saved_profile("np-office", "uuid-office")];
            // A cable plugged in, not connected yet.
            menu.wired = vec![WiredDevice {
                interface: "eth0".into(),
                state: DeviceState::Disconnected,
                carrier: true,
                mac: Some("52:54:00:12:34:56".into()),
                ipv4: None,
                ipv6: Vec::new(),
                gateway: None,
                dns: Vec::new(),
                profile: None,
            }];
        }
        let backend = Arc::new(fake);
        let devices = Arc::new(FakeDevices::default());
        devices.on.store(true, std::sync::atomic::Ordering::SeqCst);
        let service = DeviceService::with_clock(Arc::clone(&devices), Default::default(), || {
            1_790_000_000_000
        });
        let mut counter = 0;
        let config = Config {
            timeouts: Timeouts::default(),
            debounce: Duration::from_millis(50),
            tokens: Box::new(move || {
                counter += 1;
                format!("token-{counter}")
            }),
            claims: service.claims(),
        };
        let network = spawn(Arc::clone(&backend), receiver, config);
        network.ready().await.unwrap();
        // Its first state event goes out before any client subscribes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        service.follow(network.radios());
        service.supervise_internet(netpilot_engine::device::InternetWatch::default());
        let (traffic, _) = broadcast::channel(16);
        let api = Arc::new(DeviceApi::new(service, "internet.lab:80".into()));
        let dispatcher = Arc::new(Dispatcher::new(
            network,
            FakeMonitor,
            api,
            traffic,
            rate_limit,
        ));
        Daemon {
            dispatcher,
            devices,
            backend,
            backend_events,
            responders: Vec::new(),
        }
    }

    /// NetworkManager asks for the password of `ssid` (again, with `request_new`).
    pub async fn secrets_requested(&mut self, ssid: &str, request_new: bool) {
        let responder = FakeResponder::default();
        self.responders.push(responder.clone());
        let event = WifiEvent::SecretsRequested {
            request: wifi_secrets_request(ssid, request_new),
            responder: Box::new(responder),
        };
        self.backend_events.send(event).await.unwrap();
    }

    /// The device reaches `state`; when connected, to `ssid` with an address.
    pub async fn device(&self, state: DeviceState, ssid: &str) {
        if state == DeviceState::Connected {
            *self.backend.snapshot.lock().unwrap() = FakeWifi::connected(ssid);
            // As NetworkManager would list it then: the access point in use, the profile
            // the join made saved.
            let mut menu = self.backend.menu.lock().unwrap();
            for ap in &mut menu.access_points {
                ap.in_use = ap.ssid == ssid;
            }
            if !menu.saved.iter().any(|p| p.ssid == ssid) {
                menu.saved.push(saved_profile(ssid, "uuid-1"));
            }
        }
        let event = WifiEvent::Device {
            interface: "wlan0".into(),
            state,
            reason: netpilot_core::wifi::FailureReason::Other(0),
        };
        self.backend_events.send(event).await.unwrap();
    }

    /// NetworkManager's menu changes as `change` says (and it signals so).
    pub async fn menu_changes(&self, change: impl FnOnce(&mut netpilot_core::menu::Menu)) {
        change(&mut self.backend.menu.lock().unwrap());
        self.backend_events
            .send(WifiEvent::MenuChanged)
            .await
            .unwrap();
    }

    /// A client session on channels, as a transport would drive it.
    pub fn client(&self) -> Client {
        let (frames, inbox) = mpsc::channel(32);
        let (outgoing, lines) = netpilot_api::outbox::outbox();
        tokio::spawn(serve_session(Arc::clone(&self.dispatcher), inbox, outgoing));
        Client { frames, lines }
    }
}

pub struct Client {
    pub frames: mpsc::Sender<Incoming>,
    pub lines: netpilot_api::outbox::Outgoing,
}

impl Client {
    pub async fn send(&self, line: &str) {
        self.frames
            .send(Incoming::Frame(line.to_string()))
            .await
            .unwrap();
    }

    /// Everything the daemon says within `wait` of (paused) time.
    pub async fn drain(&mut self, wait: Duration) -> Vec<serde_json::Value> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(line)) = tokio::time::timeout_at(deadline, self.lines.recv()).await {
            seen.push(serde_json::from_str(&line).unwrap());
        }
        seen
    }
}
