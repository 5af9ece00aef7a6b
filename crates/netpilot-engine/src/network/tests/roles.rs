//! The service's WiFi actions by role: never a device link's radio, the state of the
//! internet's radio only.

use super::*;
use crate::radios::Claim;
use crate::testing::fake_radio;
use netpilot_core::ports::LinkSnapshot;
use netpilot_core::wifi::Role;

/// The robot's link on wlan0 (its profile active), home on wlan1 with the default route.
fn robot_and_home() -> LinkSnapshot {
    let mut home = fake_radio("wlan1", DeviceState::Connected, Some("home"));
    home.ipv4 = Some("192.168.50.10/24".into());
    let mut robot = fake_radio("wlan0", DeviceState::Connected, Some("Cozmo_A1B2C3"));
    robot.ipv4 = Some("172.31.1.100/24".into());
    LinkSnapshot {
        wifi: vec![robot, home],
        device_links: vec![("wlan0".into(), "cozmo".into())],
        default_routes: vec!["wlan1".into()],
        hotspots: Vec::new(),
    }
}

async fn with(snapshot: LinkSnapshot) -> Harness {
    let h = start(true).await;
    *h.backend.snapshot.lock().unwrap() = snapshot;
    h.backend_events
        .send(WifiEvent::RoutesChanged)
        .await
        .unwrap();
    h.settle().await;
    h
}

#[tokio::test(start_paused = true)]
async fn the_state_describes_the_internet_link_never_the_device_links() {
    let h = with(robot_and_home()).await;
    let state = h.handle.status().await.unwrap();
    assert_eq!(state.wifi_ssid, "home", "{state:?}");
    assert_eq!(state.wifi_ip, "192.168.50.10");
    assert_eq!(state.network_status, NetworkStatus::Wifi);
    let roles: Vec<(String, Role)> = state
        .wifi_devices
        .iter()
        .map(|r| (r.interface.clone(), r.role.clone()))
        .collect();
    assert_eq!(
        roles,
        [
            ("wlan0".to_string(), Role::DeviceLink("cozmo".into())),
            ("wlan1".to_string(), Role::Internet)
        ]
    );
    // The default route moves to a cable: Ethernet carries the internet.
    let mut wired = robot_and_home();
    wired.default_routes = vec!["eth0".into(), "wlan1".into()];
    *h.backend.snapshot.lock().unwrap() = wired;
    h.backend_events
        .send(WifiEvent::RoutesChanged)
        .await
        .unwrap();
    h.settle().await;
    let state = h.handle.status().await.unwrap();
    assert_eq!(state.network_status, NetworkStatus::Ethernet);
    assert_eq!(state.wifi_ssid, "home", "still the internet's WiFi link");
}

#[tokio::test(start_paused = true)]
async fn connect_never_takes_a_device_links_radio() {
    let h = with(robot_and_home()).await;
    h.handle
        .connect(params("cafe", Some("cafe-secret-1"), false))
        .await
        .unwrap();
    h.settle().await;
    let joins = h.backend.joins.lock().unwrap().clone();
    assert_eq!(
        joins.last().map(|j| (j.device.as_str(), j.bind)),
        Some(("wlan1", false))
    );
    let refused = h
        .handle
        .connect(ConnectParams {
            interface: Some("wlan0".into()),
            ..params("cafe", Some("cafe-secret-1"), false)
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::RadioInUse);
    assert!(refused.hint.unwrap().contains("netpilot device down cozmo"));
    assert_eq!(
        h.backend.joins.lock().unwrap().len(),
        1,
        "nothing was started"
    );
}

#[tokio::test(start_paused = true)]
async fn disconnect_leaves_the_internets_link_only() {
    let h = with(robot_and_home()).await;
    assert_eq!(h.handle.disconnect(None).await.unwrap(), ["wlan1"]);
    let refused = h.handle.disconnect(Some("wlan0".into())).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::RadioInUse);
    assert_eq!(*h.backend.disconnected.lock().unwrap(), ["wlan1"]);
}

#[tokio::test(start_paused = true)]
async fn a_scan_never_takes_a_device_links_radio_off_its_channel() {
    let h = with(robot_and_home()).await;
    h.handle.scan(None, true, true).await.unwrap();
    h.handle
        .scan(Some("wlan0".into()), true, true)
        .await
        .unwrap();
    assert_eq!(
        *h.backend.scans.lock().unwrap(),
        [
            (vec!["wlan1".to_string()], true),
            (vec!["wlan0".to_string()], false)
        ],
        "every other radio rescanned; the robot's read from its last scan"
    );
    // Without waiting: the scan is started on the same radios, the answer comes at once.
    h.handle.scan(None, true, false).await.unwrap();
    h.handle
        .scan(Some("wlan0".into()), true, false)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    assert_eq!(
        *h.backend.scans_requested.lock().unwrap(),
        [vec!["wlan1".to_string()]],
        "the robot's radio is not scanned unasked, nor when named"
    );
}

#[tokio::test(start_paused = true)]
async fn a_radio_a_link_claims_is_the_links_and_free_once_it_lets_go() {
    let (claims, seen) = tokio::sync::watch::channel(Vec::new());
    let (fake, backend_events, receiver) = FakeWifi::new(true);
    let backend = Arc::new(fake);
    let config = Config {
        timeouts: Timeouts::default(),
        debounce: Duration::from_millis(50),
        tokens: Box::new(|| "token".into()),
        claims: seen,
    };
    let handle = spawn(Arc::clone(&backend), receiver, config);
    handle.ready().await.unwrap();
    let radios = handle.radios();
    claims.send_replace(vec![Claim {
        interface: "wlan0".into(),
        link: "cozmo".into(),
    }]);
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(radios.borrow()[0].role, Role::DeviceLink("cozmo".into()));
    let refused = handle
        .connect(params("home", Some("home-secret-1"), false))
        .await;
    assert_eq!(refused.unwrap_err().code, ErrorCode::RadioInUse);
    claims.send_replace(Vec::new());
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(radios.borrow()[0].role, Role::Free);
    handle
        .connect(params("home", Some("home-secret-1"), false))
        .await
        .unwrap();
    drop(backend_events);
}

/// A burst of events (a radio through its states, the routes moving) costs one look in
/// flight and one after it, and the state ends as the backend ends.
#[tokio::test(start_paused = true)]
async fn a_burst_of_events_is_one_look_in_flight_and_one_after_it() {
    use std::sync::atomic::Ordering::SeqCst;
    let h = start(true).await;
    *h.backend.snapshot_delay.lock().unwrap() = Duration::from_millis(200);
    let before = h.backend.snapshots.load(SeqCst);
    for round in 0..50 {
        if round == 49 {
            // The burst's last change: the look after the one in flight must see it.
            *h.backend.snapshot.lock().unwrap() = robot_and_home();
        }
        h.backend_events
            .send(WifiEvent::RoutesChanged)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(h.backend.most_snapshots_in_flight.load(SeqCst), 1);
    assert_eq!(h.backend.snapshots.load(SeqCst) - before, 2);
    let state = h.handle.status().await.unwrap();
    assert_eq!(state.wifi_ssid, "home", "{state:?}");
}

#[tokio::test(start_paused = true)]
async fn a_hotspot_takes_a_free_radio_never_the_internets_unasked_and_becomes_its_role() {
    // wlan0 carries the robot's link, wlan1 the internet, wlan2 is free.
    let mut snapshot = robot_and_home();
    snapshot
        .wifi
        .push(fake_radio("wlan2", DeviceState::Disconnected, None));
    let h = with(snapshot).await;
    let params = |interface: Option<&str>| HotspotParams {
        ssid: "np-spot".into(),
        password: netpilot_core::Secret::new("spot-secret-1".to_string()),
        interface: interface.map(str::to_owned),
        band: None,
    };
    let started = h.handle.hotspot_start(params(None)).await.unwrap();
    assert_eq!(started.interface, "wlan2");
    h.settle().await;
    let state = h.handle.status().await.unwrap();
    let role = |state: &NetworkState, name: &str| {
        state
            .wifi_devices
            .iter()
            .find(|r| r.interface == name)
            .map(|r| r.role.clone())
    };
    assert_eq!(role(&state, "wlan2"), Some(Role::Hotspot));
    assert_eq!(role(&state, "wlan1"), Some(Role::Internet));
    assert_eq!(state.hotspot.as_ref().unwrap().ssid, "np-spot");
    // One at a time; a device link's radio never; and no free radio is left now.
    let again = h.handle.hotspot_start(params(None)).await.unwrap_err();
    assert_eq!(again.code, ErrorCode::RadioInUse);
    assert_eq!(h.handle.hotspot_stop(None).await.unwrap(), ["wlan2"]);
    h.settle().await;
    let linked = h
        .handle
        .hotspot_start(params(Some("wlan0")))
        .await
        .unwrap_err();
    assert_eq!(linked.code, ErrorCode::RadioInUse);
    // Started again on the free radio: one at a time still.
    h.handle.hotspot_start(params(None)).await.unwrap();
    h.settle().await;
    let refused = h.handle.hotspot_start(params(None)).await.unwrap_err();
    assert!(refused.message.contains("runs already"), "{refused:?}");
    let short = h
        .handle
        .hotspot_start(HotspotParams {
            password: netpilot_core::Secret::new("short".to_string()),
            ..params(None)
        })
        .await
        .unwrap_err();
    assert_eq!(short.code, ErrorCode::InvalidArgument);
}
