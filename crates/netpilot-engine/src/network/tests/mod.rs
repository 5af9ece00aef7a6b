//! The network service driven as the dispatcher drives it, over the fake WiFi backend,
//! with paused time: `attempt` (connect, verdicts, timeouts, debounce) and `broker`
//! (prompts, answers, re-prompts, the store), `roles` (what each action may do to which radio).

mod attempt;
mod broker;
mod menu;
mod roles;

use super::*;
use crate::connect::Timeouts;
use crate::testing::{FakeResponder, FakeWifi, wifi_secrets_request};
use netpilot_core::network::{NetworkStatus, Prompt};
use netpilot_core::ports::{SecretAnswer, WifiBackend};
use netpilot_core::wifi::DeviceState;
use netpilot_core::wifi::{ConnectStage, FailureReason};
use netpilot_core::{ErrorCode, Secret};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::Instant;

pub(super) struct Harness {
    pub(super) handle: NetworkHandle,
    pub(super) events: broadcast::Receiver<ServiceEvent>,
    pub(super) backend_events: mpsc::Sender<WifiEvent>,
    pub(super) backend: Arc<FakeWifi>,
}

/// A running service that has had its first look at the radios (its state event drained).
pub(super) async fn start(secured: bool) -> Harness {
    let (fake, backend_events, receiver) = FakeWifi::new(secured);
    let backend = Arc::new(fake);
    let mut counter = 0;
    let config = Config {
        timeouts: Timeouts::default(),
        debounce: Duration::from_millis(50),
        tokens: Box::new(move || {
            counter += 1;
            format!("token-{counter}")
        }),
        claims: no_claims(),
    };
    let handle = spawn(Arc::clone(&backend), receiver, config);
    let mut events = handle.subscribe();
    handle.ready().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    while events.try_recv().is_ok() {}
    Harness {
        handle,
        events,
        backend_events,
        backend,
    }
}

pub(super) fn params(ssid: &str, password: Option<&str>, interactive: bool) -> ConnectParams {
    ConnectParams {
        ssid: ssid.into(),
        password: password.map(Secret::new),
        interactive,
        hidden: false,
        save: true,
        interface: None,
    }
}

impl Harness {
    /// The next event, within the (paused) time given.
    pub(super) async fn next(&mut self) -> ServiceEvent {
        tokio::time::timeout(Duration::from_secs(300), self.events.recv())
            .await
            .expect("an event")
            .expect("open")
    }

    pub(super) async fn next_network(&mut self) -> NetworkState {
        loop {
            if let ServiceEvent::Network(state) = self.next().await {
                return Arc::unwrap_or_clone(state);
            }
        }
    }

    pub(super) async fn next_prompt(&mut self) -> Prompt {
        loop {
            if let ServiceEvent::Prompt(prompt) = self.next().await {
                return prompt;
            }
        }
    }

    pub(super) async fn device(&self, state: DeviceState, reason: FailureReason) {
        let event = WifiEvent::Device {
            interface: "wlan0".into(),
            state,
            reason,
        };
        self.backend_events.send(event).await.unwrap();
    }

    pub(super) async fn ask_secrets(&self, ssid: &str, request_new: bool) -> FakeResponder {
        let responder = FakeResponder::default();
        let event = WifiEvent::SecretsRequested {
            request: wifi_secrets_request(ssid, request_new),
            responder: Box::new(responder.clone()),
        };
        self.backend_events.send(event).await.unwrap();
        responder
    }

    /// Lets the service and its helper tasks run (time is paused).
    pub(super) async fn settle(&self) {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    pub(super) fn connected_snapshot(&self, ssid: &str) {
        *self.backend.snapshot.lock().unwrap() = FakeWifi::connected(ssid);
    }
}
