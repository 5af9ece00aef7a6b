//! The `network` state from what the backend reports: the seed's seven fields.

use super::service::{Internal, Service};
use netpilot_core::network::NetworkStatus;
use netpilot_core::ports::{LinkSnapshot, WifiBackend};
use netpilot_core::wifi::DeviceState;
use std::sync::Arc;

impl<B: WifiBackend> Service<B> {
    pub(super) fn apply_snapshot(&mut self, snapshot: &LinkSnapshot) {
        let wifi = snapshot
            .wifi
            .as_ref()
            .filter(|d| d.state == DeviceState::Connected);
        self.state.wifi_connected = wifi.is_some();
        self.state.wifi_ssid = wifi.and_then(|d| d.ssid.clone()).unwrap_or_default();
        self.state.wifi_ip = wifi
            .and_then(|d| d.ipv4.as_deref())
            .map(|ip| ip.split('/').next().unwrap_or(ip).to_string())
            .unwrap_or_default();
        self.state.network_status = if snapshot.ethernet_connected {
            NetworkStatus::Ethernet
        } else if self.state.wifi_connected {
            NetworkStatus::Wifi
        } else {
            NetworkStatus::Disconnected
        };
        self.changed();
    }

    /// Asks the backend what is up now; the answer updates the state.
    pub(super) fn refresh(&self) {
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let _ = internal
                .send(Internal::Snapshot(backend.snapshot().await))
                .await;
        });
    }
}
