//! The menu's fields of the state: from the backend's menu look, looked at once per burst of
//! changes, sent as events only when they are news (a signal moving by 5 points or more).

use super::*;
use crate::network::menu::MENU_SETTLE;
use netpilot_core::internet::Connectivity;
use netpilot_core::menu::{Menu, RadioSwitch, SavedProfile, WiredDevice};
use netpilot_core::ports::ProfileChange;
use netpilot_core::wifi::{AccessPoint, Security};
use std::sync::atomic::Ordering::SeqCst;

fn ap(ssid: &str, bssid: &str, signal: u8, in_use: bool) -> AccessPoint {
    AccessPoint {
        ssid: ssid.into(),
        bssid: bssid.into(),
        signal,
        frequency_mhz: 2412,
        channel: 1,
        security: Security::WpaPsk,
        interface: "wlan0".into(),
        in_use,
        max_bitrate_kbps: 54_000,
    }
}

fn saved(ssid: &str) -> SavedProfile {
    SavedProfile {
        uuid: format!("uuid-{ssid}"),
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

/// Home in use on wlan0, a café in range, an office saved and away, a cable on eth0.
fn menu() -> Menu {
    Menu {
        radio: RadioSwitch {
            enabled: true,
            hardware_blocked: false,
        },
        access_points: vec![
            ap("home", "02:00:00:00:02:00", 70, true),
            ap("cafe", "02:00:00:00:04:00", 40, false),
        ],
        saved: vec![saved("home"), saved("office")],
        wired: vec![WiredDevice {
            interface: "eth0".into(),
            state: DeviceState::Connected,
            carrier: true,
            mac: None,
            ipv4: Some("192.168.60.10/24".into()),
            ipv6: Vec::new(),
            gateway: Some("192.168.60.1".into()),
            dns: vec!["192.168.60.1".into()],
            profile: Some("Wired connection 1".into()),
        }],
        connectivity: Connectivity::Full,
        portal_url: None,
        hotspots: Vec::new(),
    }
}

async fn with_menu() -> Harness {
    let mut h = start(true).await;
    *h.backend.menu.lock().unwrap() = menu();
    h.connected_snapshot("home");
    h.backend_events.send(WifiEvent::Appeared).await.unwrap();
    tokio::time::sleep(MENU_SETTLE * 2).await;
    while h.events.try_recv().is_ok() {}
    h
}

/// The network events sent within `within` (paused time).
async fn network_events(h: &mut Harness, within: Duration) -> Vec<NetworkState> {
    let deadline = Instant::now() + within;
    let mut states = Vec::new();
    while let Ok(Ok(event)) = tokio::time::timeout_at(deadline, h.events.recv()).await {
        if let ServiceEvent::Network(state) = event {
            states.push(Arc::unwrap_or_clone(state));
        }
    }
    states
}

#[tokio::test(start_paused = true)]
async fn the_state_carries_the_menu_beside_the_seeds_fields() {
    let h = with_menu().await;
    let state = h.handle.status().await.unwrap();
    assert!(state.connected_to("home"), "the seed's fields as they were");
    assert!(state.wifi_enabled && !state.wifi_hardware_blocked);
    assert_eq!(
        (
            state.wifi_signal,
            state.wifi_bssid.as_str(),
            state.wifi_frequency
        ),
        (70, "02:00:00:00:02:00", 2412)
    );
    let networks: Vec<(&str, bool, bool)> = state
        .wifi_networks
        .iter()
        .map(|n| (n.ssid.as_str(), n.connected, n.saved))
        .collect();
    assert_eq!(networks, [("home", true, true), ("cafe", false, false)]);
    let saved: Vec<(&str, bool)> = state
        .saved_wifi_networks
        .iter()
        .map(|s| (s.ssid.as_str(), s.out_of_range))
        .collect();
    assert_eq!(saved, [("home", false), ("office", true)]);
    assert_eq!(state.ethernet.interface, "eth0");
    assert_eq!(state.ethernet.ipv4, "192.168.60.10");
    assert!(state.ethernet.connected);
    assert_eq!(state.connectivity, Connectivity::Full);
    assert_eq!(
        state.network_status,
        NetworkStatus::Wifi,
        "wlan0 holds the route"
    );
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_changes_costs_one_look_and_one_event() {
    let mut h = with_menu().await;
    let looks = h.backend.menus.load(SeqCst);
    h.backend.menu.lock().unwrap().access_points.push(ap(
        "library",
        "02:00:00:00:05:00",
        30,
        false,
    ));
    for _ in 0..20 {
        h.backend_events.send(WifiEvent::MenuChanged).await.unwrap();
    }
    let states = network_events(&mut h, Duration::from_secs(2)).await;
    assert_eq!(
        h.backend.menus.load(SeqCst),
        looks + 1,
        "one look for the burst"
    );
    assert_eq!(states.len(), 1, "{states:?}");
    assert!(states[0].wifi_networks.iter().any(|n| n.ssid == "library"));
}

#[tokio::test(start_paused = true)]
async fn a_signal_moving_under_5_points_is_no_event_but_is_in_the_state() {
    let mut h = with_menu().await;
    let set_signal = |h: &Harness, signal| {
        h.backend.menu.lock().unwrap().access_points[0].signal = signal;
    };
    set_signal(&h, 73);
    h.backend_events.send(WifiEvent::MenuChanged).await.unwrap();
    assert!(
        network_events(&mut h, Duration::from_secs(2))
            .await
            .is_empty()
    );
    assert_eq!(h.handle.status().await.unwrap().wifi_signal, 73);
    // 70 was sent; 75 is 5 points from it.
    set_signal(&h, 75);
    h.backend_events.send(WifiEvent::MenuChanged).await.unwrap();
    let states = network_events(&mut h, Duration::from_secs(2)).await;
    assert_eq!(states.len(), 1, "{states:?}");
    assert_eq!(states[0].wifi_signal, 75);
    assert_eq!(states[0].wifi_networks[0].signal, 75);
}

#[tokio::test(start_paused = true)]
async fn the_wifi_switch_toggles_and_a_hard_block_says_so() {
    let h = with_menu().await;
    assert!(
        !h.handle.set_wifi(None).await.unwrap().enabled,
        "toggled off"
    );
    h.settle().await;
    assert!(!h.handle.status().await.unwrap().wifi_enabled);
    assert!(h.handle.set_wifi(Some(true)).await.unwrap().enabled);
    h.backend.menu.lock().unwrap().radio = RadioSwitch {
        enabled: false,
        hardware_blocked: true,
    };
    h.backend_events.send(WifiEvent::MenuChanged).await.unwrap();
    tokio::time::sleep(MENU_SETTLE * 2).await;
    let state = h.handle.status().await.unwrap();
    assert!(state.wifi_hardware_blocked && !state.wifi_enabled);
    // Toggling an off switch turns it on: refused, as the block says.
    let refused = h.handle.set_wifi(None).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::RadioBlocked);
}

#[tokio::test(start_paused = true)]
async fn saved_networks_change_and_are_looked_at_again() {
    let h = with_menu().await;
    let change = ProfileChange {
        autoconnect: Some(false),
        priority: Some(7),
    };
    assert_eq!(
        h.handle
            .change_saved("office".into(), change)
            .await
            .unwrap(),
        1
    );
    h.settle().await;
    let state = h.handle.status().await.unwrap();
    let office = state
        .saved_wifi_networks
        .iter()
        .find(|s| s.ssid == "office")
        .unwrap();
    assert_eq!((office.autoconnect, office.priority), (false, 7));
    let missing = h
        .handle
        .change_saved("nowhere".into(), change)
        .await
        .unwrap_err();
    assert_eq!(missing.code, ErrorCode::NotFound);
}

#[tokio::test(start_paused = true)]
async fn info_lists_every_access_point_and_the_saved_profile() {
    let h = with_menu().await;
    h.backend
        .menu
        .lock()
        .unwrap()
        .access_points
        .push(AccessPoint {
            frequency_mhz: 5180,
            channel: 36,
            ..ap("home", "02:00:00:00:02:01", 50, false)
        });
    h.backend_events.send(WifiEvent::MenuChanged).await.unwrap();
    tokio::time::sleep(MENU_SETTLE * 2).await;
    let info = h.handle.info("home".into()).await.unwrap();
    let bssids: Vec<(&str, u32, bool)> = info
        .access_points
        .iter()
        .map(|a| (a.bssid.as_str(), a.frequency, a.connected))
        .collect();
    assert_eq!(
        bssids,
        [
            ("02:00:00:00:02:00", 2412, true),
            ("02:00:00:00:02:01", 5180, false)
        ]
    );
    assert_eq!(info.access_points[0].rate, 54);
    assert_eq!(info.saved.unwrap().uuid, "uuid-home");
    let office = h.handle.info("office".into()).await.unwrap();
    assert!(office.access_points.is_empty() && office.saved.is_some());
    let unknown = h.handle.info("nowhere".into()).await.unwrap_err();
    assert_eq!(unknown.code, ErrorCode::NotFound);
}

#[tokio::test(start_paused = true)]
async fn status_waits_for_the_first_look_at_the_menu() {
    let (fake, _events, receiver) = FakeWifi::new(true);
    let backend = Arc::new(fake);
    let config = Config {
        timeouts: Timeouts::default(),
        debounce: Duration::from_millis(50),
        tokens: Box::new(|| "token".into()),
        claims: no_claims(),
    };
    let handle = spawn(Arc::clone(&backend), receiver, config);
    let state = handle.status().await.unwrap();
    assert!(
        state.wifi_enabled,
        "not the default of a menu never looked at"
    );
    assert_eq!(backend.menus.load(SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_radio_connecting_while_the_menu_keeps_changing_is_still_said() {
    let mut h = start(true).await;
    *h.backend.menu.lock().unwrap() = menu();
    // Each look takes longer than the signals' interval, as NetworkManager's can.
    *h.backend.menu_delay.lock().unwrap() = Duration::from_millis(600);
    let churn = h.backend_events.clone();
    // Signals every 100 ms (a busy air): a look is nearly always due or out.
    tokio::spawn(async move {
        for _ in 0..100 {
            let _ = churn.send(WifiEvent::MenuChanged).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    while h.events.try_recv().is_ok() {}
    h.connected_snapshot("home");
    h.device(DeviceState::Connected, FailureReason::Other(0))
        .await;
    let states = network_events(&mut h, Duration::from_secs(2)).await;
    let connected: Vec<&NetworkState> = states.iter().filter(|s| s.wifi_connected).collect();
    assert_eq!(
        connected.len(),
        1,
        "one event says it, access point and all: {states:?}"
    );
    assert_eq!(connected[0].wifi_bssid, "02:00:00:00:02:00");
}

#[tokio::test(start_paused = true)]
async fn ethernet_connects_the_device_with_a_cable_and_disconnects_the_connected_ones() {
    let h = with_menu().await;
    let cable = |name: &str, carrier| WiredDevice {
        interface: name.into(),
        state: DeviceState::Disconnected,
        carrier,
        mac: None,
        ipv4: None,
        ipv6: Vec::new(),
        gateway: None,
        dns: Vec::new(),
        profile: None,
    };
    h.backend.menu.lock().unwrap().wired = vec![cable("eth0", false), cable("eth1", true)];
    h.backend_events.send(WifiEvent::MenuChanged).await.unwrap();
    tokio::time::sleep(MENU_SETTLE * 2).await;
    let up = h.handle.ethernet_up(None).await.unwrap();
    assert_eq!(up.interface, "eth1", "the one with a cable");
    assert_eq!(up.ipv4.as_deref(), Some("192.168.60.10/24"));
    h.settle().await;
    let state = h.handle.status().await.unwrap();
    assert!(state.ethernet.connected && state.ethernet.interface == "eth1");
    // Already connected: the answer as it is.
    assert_eq!(h.handle.ethernet_up(None).await.unwrap().interface, "eth1");
    let no_cable = h.handle.ethernet_up(Some("eth0".into())).await.unwrap_err();
    assert_eq!(no_cable.code, ErrorCode::ConnectionAttemptFailed);
    let unknown = h.handle.ethernet_up(Some("eth9".into())).await.unwrap_err();
    assert_eq!(unknown.code, ErrorCode::NotFound);
    assert!(unknown.hint.unwrap().contains("eth0, eth1"));
    assert_eq!(h.handle.ethernet_down(None).await.unwrap(), ["eth1"]);
    h.settle().await;
    assert!(!h.handle.status().await.unwrap().ethernet.connected);
    assert!(h.handle.ethernet_down(None).await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_scan_asked_for_costs_one_event_when_every_radio_has_finished() {
    let mut h = with_menu().await;
    *h.backend.scan_delay.lock().unwrap() = Duration::from_secs(3);
    let answered = h.handle.scan(None, true, false).await.unwrap();
    assert_eq!(answered.len(), 2, "what is known, at once");
    // The radios' results come one by one meanwhile.
    for (n, ssid) in ["library", "station"].iter().enumerate() {
        h.backend.menu.lock().unwrap().access_points.push(ap(
            ssid,
            &format!("02:00:00:00:0{n}:01"),
            30,
            false,
        ));
        h.backend_events.send(WifiEvent::MenuChanged).await.unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        network_events(&mut h, Duration::from_millis(500))
            .await
            .is_empty(),
        "nothing before the scan ends"
    );
    let states = network_events(&mut h, Duration::from_secs(2)).await;
    assert_eq!(states.len(), 1, "{states:?}");
    let ssids: Vec<&str> = states[0]
        .wifi_networks
        .iter()
        .map(|n| n.ssid.as_str())
        .collect();
    assert!(
        ssids.contains(&"library") && ssids.contains(&"station"),
        "{ssids:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_look_networkmanager_never_answers_ends_and_holds_nothing_back() {
    let (fake, _events, receiver) = FakeWifi::new(true);
    *fake.menu_delay.lock().unwrap() = Duration::from_secs(3600);
    let backend = Arc::new(fake);
    let config = Config {
        timeouts: Timeouts::default(),
        debounce: Duration::from_millis(50),
        tokens: Box::new(|| "token".into()),
        claims: no_claims(),
    };
    let handle = spawn(Arc::clone(&backend), receiver, config);
    let asked = Instant::now();
    let state = handle.status().await.unwrap();
    assert!(
        asked.elapsed() <= Duration::from_secs(11),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(
        state.wifi_devices.len(),
        1,
        "the radios are known all the same"
    );
}
