//! One attempt, from the request to its verdict, and what its state events look like.

use super::*;

#[tokio::test(start_paused = true)]
async fn connecting_with_a_password_goes_connecting_then_connected() {
    let mut h = start(true).await;
    h.handle
        .connect(params("home", Some("home-secret-1"), false))
        .await
        .unwrap();
    let connecting = h.next_network().await;
    assert!(
        connecting.is_connecting
            && connecting.connecting_ssid == "home"
            && connecting.last_error.is_empty()
    );
    h.settle().await;
    h.device(
        DeviceState::Connecting(ConnectStage::Configuring),
        FailureReason::Other(0),
    )
    .await;
    let responder = h.ask_secrets("home", false).await;
    h.settle().await;
    assert_eq!(
        responder.answer(),
        Some(SecretAnswer::Secrets(vec![(
            "psk".into(),
            Secret::new("home-secret-1")
        )]))
    );
    h.connected_snapshot("home");
    h.device(DeviceState::Connected, FailureReason::Other(0))
        .await;
    let done = loop {
        let state = h.next_network().await;
        if !state.is_connecting && state.wifi_connected {
            break state;
        }
    };
    assert!(done.connected_to("home"), "{done:?}");
    assert_eq!(done.network_status, NetworkStatus::Wifi);
    assert_eq!(done.wifi_ip, "192.168.50.10");
    h.settle().await;
    assert_eq!(
        h.backend
            .recall("uuid-1", "802-11-wireless-security")
            .await
            .len(),
        1,
        "saved (agent-owned)"
    );
}

#[tokio::test(start_paused = true)]
async fn without_anyone_to_ask_a_secured_network_fails_fast() {
    let mut h = start(true).await;
    h.handle.connect(params("home", None, false)).await.unwrap();
    let failed = loop {
        let state = h.next_network().await;
        if !state.is_connecting {
            break state;
        }
    };
    assert_eq!(failed.last_error, "secrets-required");
}

#[tokio::test(start_paused = true)]
async fn bad_input_is_refused_before_anything_starts() {
    let h = start(true).await;
    let long = "x".repeat(33);
    assert_eq!(
        h.handle
            .connect(params(&long, None, true))
            .await
            .unwrap_err()
            .code,
        ErrorCode::InvalidArgument
    );
    assert_eq!(
        h.handle
            .connect(params("home", Some("short"), true))
            .await
            .unwrap_err()
            .code,
        ErrorCode::InvalidArgument
    );
    assert!(h.backend.joins.lock().unwrap().is_empty());
    assert_eq!(
        h.handle.cancel("nope".into()).await.unwrap_err().code,
        ErrorCode::UnknownToken
    );
}

#[tokio::test(start_paused = true)]
async fn the_connect_timeout_is_enforced_by_the_daemon() {
    let mut h = start(true).await;
    let start = Instant::now();
    h.handle
        .connect(params("home", Some("home-secret-1"), false))
        .await
        .unwrap();
    let failed = loop {
        let state = h.next_network().await;
        if !state.is_connecting {
            break state;
        }
    };
    assert_eq!(failed.last_error, "timeout");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(30) && took < Duration::from_secs(31),
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn dhcp_has_fifteen_seconds() {
    let mut h = start(false).await;
    h.handle.connect(params("open", None, false)).await.unwrap();
    h.settle().await;
    h.device(
        DeviceState::Connecting(ConnectStage::GettingAddress),
        FailureReason::Other(0),
    )
    .await;
    let start = Instant::now();
    let failed = loop {
        let state = h.next_network().await;
        if !state.is_connecting {
            break state;
        }
    };
    assert_eq!(failed.last_error, "dhcp-timeout");
    assert!(
        start.elapsed() >= Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn bursts_of_changes_are_merged_and_the_last_state_is_sent() {
    let mut h = start(true).await;
    h.settle().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    while h.events.try_recv().is_ok() {} // the state at start
    // A burst: each request replaces the one before, within the debounce.
    for ssid in ["home", "cafe", "work", "shop"] {
        h.handle
            .connect(params(ssid, Some("a-long-secret"), false))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut sent = Vec::new();
    while let Ok(event) = h.events.try_recv() {
        // (Each replaced attempt also says it ended: not a state.)
        if let ServiceEvent::Network(state) = event {
            sent.push(state.connecting_ssid.clone());
        }
    }
    assert_eq!(
        sent.last().map(String::as_str),
        Some("shop"),
        "the final state of the burst: {sent:?}"
    );
    assert!(
        sent.len() <= 2,
        "the first change at once, then the merged rest: {sent:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failure_before_the_join_reports_back_is_not_lost() {
    let mut h = start(true).await;
    *h.backend.join_delay.lock().unwrap() = Duration::from_secs(2);
    let asked = Instant::now();
    h.handle
        .connect(params("home", Some("home-secret-1"), false))
        .await
        .unwrap();
    h.device(
        DeviceState::Connecting(netpilot_core::wifi::ConnectStage::Preparing),
        FailureReason::Other(0),
    )
    .await;
    h.device(DeviceState::Failed, FailureReason::Other(0)).await;
    let failed = loop {
        let state = h.next_network().await;
        if !state.is_connecting && !state.last_error.is_empty() {
            break state;
        }
    };
    assert_eq!(failed.last_error, "connection-attempt-failed");
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "judged when the join reported back, not at the connect timeout: {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lone_change_is_sent_without_waiting_for_the_debounce() {
    let mut h = start(true).await;
    h.settle().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    while h.events.try_recv().is_ok() {}
    let asked = Instant::now();
    h.handle
        .connect(params("home", Some("home-secret-1"), false))
        .await
        .unwrap();
    let state = h.next_network().await;
    assert_eq!(state.connecting_ssid, "home");
    assert!(
        asked.elapsed() < Duration::from_millis(5),
        "{:?}",
        asked.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn networkmanager_leaving_ends_the_attempt_at_once() {
    let mut h = start(true).await;
    h.handle
        .connect(params("home", Some("home-secret-1"), false))
        .await
        .unwrap();
    h.settle().await;
    let start = Instant::now();
    h.backend_events.send(WifiEvent::Vanished).await.unwrap();
    let failed = loop {
        let state = h.next_network().await;
        if !state.is_connecting {
            break state;
        }
    };
    assert_eq!(failed.last_error, "nm-unavailable");
    assert!(
        failed
            .last_error_hint
            .contains("systemctl start NetworkManager")
    );
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn networkmanager_stopping_lets_go_of_the_device_first_and_the_attempt_says_why() {
    // NetworkManager stopping unmanages every device, then leaves the bus.
    let mut h = start(true).await;
    h.handle
        .connect(params("home", Some("home-secret-1"), false))
        .await
        .unwrap();
    h.settle().await;
    h.device(
        DeviceState::Connecting(ConnectStage::Authenticating),
        FailureReason::Other(0),
    )
    .await;
    h.device(DeviceState::Unmanaged, FailureReason::Other(36))
        .await;
    h.settle().await;
    h.backend_events.send(WifiEvent::Vanished).await.unwrap();
    let failed = loop {
        let state = h.next_network().await;
        if !state.is_connecting {
            break state;
        }
    };
    assert_eq!(failed.last_error, "nm-unavailable");

    // A device let go of by hand, NetworkManager staying: the attempt's own failure,
    // once the grace has passed.
    let mut h = start(true).await;
    h.handle
        .connect(params("home", Some("home-secret-1"), false))
        .await
        .unwrap();
    h.settle().await;
    h.device(
        DeviceState::Connecting(ConnectStage::Authenticating),
        FailureReason::Other(0),
    )
    .await;
    let start = Instant::now();
    h.device(DeviceState::Unmanaged, FailureReason::Other(3))
        .await;
    let failed = loop {
        let state = h.next_network().await;
        if !state.is_connecting {
            break state;
        }
    };
    assert_ne!(failed.last_error, "nm-unavailable");
    assert_ne!(failed.last_error, "");
    assert!(
        start.elapsed() >= Duration::from_secs(2) && start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}
