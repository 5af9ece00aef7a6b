//! The `network` state from what the backend reports and what the device links hold: each
//! radio's role, and the seed's seven fields for the one whose role is `internet`.

use super::service::{Internal, Service};
use crate::radios;
use netpilot_core::Error;
use netpilot_core::network::NetworkStatus;
use netpilot_core::ports::{LinkSnapshot, WifiBackend};
use netpilot_core::wifi::DeviceState;
use std::sync::Arc;

impl<B: WifiBackend> Service<B> {
    /// The backend's answer; an error keeps what was known (NetworkManager went away
    /// between two answers), and is what `ready` reports until a first answer came.
    pub(super) fn apply_snapshot(&mut self, snapshot: Result<LinkSnapshot, Error>) {
        match snapshot {
            Ok(snapshot) => self.snapshot = Some(Ok(snapshot)),
            Err(error) => {
                tracing::debug!(%error, "no snapshot");
                if !matches!(self.snapshot, Some(Ok(_))) {
                    self.snapshot = Some(Err(error));
                }
            }
        }
        for waiting in std::mem::take(&mut self.waiting) {
            let answer = match &self.snapshot {
                Some(Err(error)) => Err(error.clone()),
                _ => Ok(()),
            };
            let _ = waiting.send(answer);
        }
        self.roles_changed();
        self.answer_waiting();
    }

    /// Works the roles and the state out again (a snapshot came, or the claims changed).
    pub(super) fn roles_changed(&mut self) {
        let empty = LinkSnapshot::default();
        let snapshot = match &self.snapshot {
            Some(Ok(snapshot)) => snapshot,
            _ => &empty,
        };
        let claims = self.claims.borrow().clone();
        let radios = radios::radios(snapshot, &claims, self.joined.as_deref());
        let internet = radios::internet(&radios).filter(|r| r.state == DeviceState::Connected);
        self.state.wifi_connected = internet.is_some();
        self.state.wifi_ssid = internet.and_then(|r| r.ssid.clone()).unwrap_or_default();
        self.state.wifi_ip = internet
            .and_then(|r| r.ipv4.as_deref())
            .map(|ip| ip.split('/').next().unwrap_or(ip).to_string())
            .unwrap_or_default();
        // The kind of link that holds the default route.
        self.state.network_status = match snapshot.default_routes.first() {
            None => NetworkStatus::Disconnected,
            Some(holder) if radios.iter().any(|r| &r.interface == holder) => NetworkStatus::Wifi,
            Some(_) => NetworkStatus::Ethernet,
        };
        let default_routes = snapshot.default_routes.clone();
        self.radios.send_if_modified(|known| {
            let changed = *known != radios;
            if changed {
                known.clone_from(&radios);
            }
            changed
        });
        self.state.wifi_devices = radios;
        self.fill_menu_fields(&default_routes);
        self.changed();
    }

    /// Asks the backend what is up now; the answer updates the state. Single-flight: a
    /// burst of events (a radio's states, route changes) costs one look in flight and one
    /// after it, which sees the burst's end, not one look (dozens of D-Bus calls) each.
    pub(super) fn refresh(&mut self) {
        if self.refreshing {
            self.refresh_again = true;
            return;
        }
        self.refreshing = true;
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let _ = internal
                .send(Internal::Refreshed(backend.snapshot().await))
                .await;
        });
    }
}
