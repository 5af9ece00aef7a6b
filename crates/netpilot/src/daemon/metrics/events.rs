//! The services' events as metrics: attempts and prompts as they end, device links as
//! they change, probes as they are answered, and the internet's WiFi link.

use super::{Metrics, name_labels, outcome_labels};
use netpilot_core::device::{DeviceEvent, LinkState};
use netpilot_core::network::NetworkState;
use netpilot_core::ports::DeviceBackend;
use netpilot_core::wifi::Role;
use netpilot_engine::device::DeviceService;
use netpilot_engine::network::{NetworkHandle, ServiceEvent};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// Follows the services for as long as the daemon runs.
pub async fn follow<B: DeviceBackend>(
    metrics: Arc<Metrics>,
    network: NetworkHandle,
    devices: Arc<DeviceService<B>>,
) {
    let mut service = network.subscribe();
    let mut links = devices.subscribe();
    let mut answers = devices.probe_answers();
    let mut lost_at: HashMap<String, u64> = HashMap::new();
    every_link(&metrics, &devices).await;
    wifi_now(&metrics, &network).await;
    loop {
        tokio::select! {
            event = service.recv() => match event {
                Ok(ServiceEvent::AttemptEnded { code }) => {
                    let outcome = code.map_or("connected", |c| c.as_str());
                    metrics.attempts.get_or_create(&outcome_labels(outcome)).inc();
                }
                Ok(ServiceEvent::PromptResolved { outcome, .. }) => {
                    metrics.prompts.get_or_create(&outcome_labels(outcome.as_str())).inc();
                }
                Ok(ServiceEvent::Network(now)) => wifi(&metrics, &now),
                Ok(ServiceEvent::Prompt(_)) => {}
                Err(RecvError::Lagged(_)) => wifi_now(&metrics, &network).await,
                Err(RecvError::Closed) => return,
            },
            event = links.recv() => match event {
                Ok(event) => link_event(&metrics, &mut lost_at, &event),
                Err(RecvError::Lagged(_)) => every_link(&metrics, &devices).await,
                Err(RecvError::Closed) => return,
            },
            answer = answers.recv() => match answer {
                Ok(answer) => metrics
                    .probe_latency
                    .get_or_create(&name_labels(&answer.name))
                    .observe(answer.rtt.as_secs_f64()),
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
        }
    }
}

/// Every link's state as the service knows it now (at start, and after falling behind).
async fn every_link<B: DeviceBackend>(metrics: &Metrics, devices: &DeviceService<B>) {
    if let Ok(all) = devices.list().await {
        for link in all {
            set_link(metrics, &link.spec.name, link.state);
        }
    }
}

/// The internet's WiFi link as the service knows it now.
async fn wifi_now(metrics: &Metrics, network: &NetworkHandle) {
    if let Ok(now) = network.status().await {
        wifi(metrics, &now);
    }
}

fn set_link(metrics: &Metrics, name: &str, state: LinkState) {
    let labels = name_labels(name);
    metrics
        .link_up
        .get_or_create(&labels)
        .set(i64::from(state == LinkState::Up));
    // Shown at 0 from the start, so that rate() has a beginning.
    metrics.link_losses.get_or_create(&labels).inc_by(0);
}

pub(super) fn link_event(
    metrics: &Metrics,
    lost_at: &mut HashMap<String, u64>,
    event: &DeviceEvent,
) {
    // A warning about the link (a hijack), not a transition.
    if event.event.is_some() {
        return;
    }
    set_link(metrics, &event.name, event.state);
    let labels = name_labels(&event.name);
    match event.state {
        LinkState::Lost => {
            if !lost_at.contains_key(&event.name) {
                metrics.link_losses.get_or_create(&labels).inc();
                lost_at.insert(event.name.clone(), event.at_ms);
            }
        }
        LinkState::Up => {
            if let Some(since) = lost_at.remove(&event.name) {
                let took = event.at_ms.saturating_sub(since) as f64 / 1000.0;
                metrics.recovery.get_or_create(&labels).observe(took);
            }
        }
        // Taken down by hand: whatever came before is not a recovery.
        LinkState::Down => {
            lost_at.remove(&event.name);
        }
        LinkState::Connecting => {}
    }
}

/// The internet's WiFi radio, when it is connected.
fn internet_radio(state: &NetworkState) -> Option<&str> {
    state
        .wifi_devices
        .iter()
        .find(|radio| radio.role == Role::Internet)
        .map(|radio| radio.interface.as_str())
}

pub(super) fn wifi(metrics: &Metrics, state: &NetworkState) {
    metrics.wifi_connected.set(i64::from(state.wifi_connected));
    metrics.wifi_info.clear();
    if state.wifi_connected
        && let Some(interface) = internet_radio(state)
    {
        metrics
            .wifi_info
            .get_or_create(&vec![
                ("interface", interface.to_string()),
                ("ssid", state.wifi_ssid.clone()),
            ])
            .set(1);
        // The state's signal (the access point in use, as NetworkManager last saw it).
        metrics.wifi_signal.clear();
        if state.wifi_signal > 0 {
            metrics
                .wifi_signal
                .get_or_create(&vec![("interface", interface.to_string())])
                .set(f64::from(state.wifi_signal) / 100.0);
        }
    } else {
        metrics.wifi_signal.clear();
    }
}
