//! The hotspot: which radio runs it (by role: a free one, never the internet's or a device
//! link's unasked), started and stopped through the backend.

use super::handle::Reply;
use super::service::{Internal, Service};
use crate::radios;
use netpilot_core::menu::Hotspot;
use netpilot_core::ports::{HotspotRequest, WifiBackend};
use netpilot_core::wifi::Role;
use netpilot_core::{Error, ErrorCode, Secret};
use std::sync::Arc;

pub struct HotspotParams {
    pub ssid: String,
    pub password: Secret,
    pub interface: Option<String>,
    /// `bg` or `a`.
    pub band: Option<String>,
}

impl HotspotParams {
    /// What is checked before the backend is asked anything.
    pub fn validate(&self) -> Result<(), Error> {
        netpilot_core::secret::validate_ssid(&self.ssid)?;
        netpilot_core::secret::validate_psk(&self.password)?;
        match self.band.as_deref() {
            None | Some("bg" | "a") => Ok(()),
            Some(other) => Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("no band {other:?}: bg (2.4 GHz) or a (5 GHz)"),
            )),
        }
    }
}

impl<B: WifiBackend> Service<B> {
    /// Starts the hotspot on a radio chosen by role (the roles just looked at afresh).
    pub(super) fn hotspot_start(&mut self, params: HotspotParams, reply: Reply<Hotspot>) {
        if let Some(running) = &self.state.hotspot {
            let _ = reply.send(Err(Error::new(
                ErrorCode::RadioInUse,
                format!(
                    "a hotspot runs already: {:?} on {}",
                    running.ssid, running.interface
                ),
            )
            .with_hint("stop it first: netpilot wifi hotspot stop")));
            return;
        }
        let candidates =
            match radios::for_hotspot(&self.state.wifi_devices, params.interface.as_deref()) {
                Ok(candidates) => candidates,
                Err(error) => {
                    let _ = reply.send(Err(error));
                    return;
                }
            };
        let request = HotspotRequest {
            ssid: params.ssid,
            password: params.password,
            candidates,
            band: params.band,
        };
        tracing::debug!(ssid = %request.ssid, candidates = ?request.candidates, band = ?request.band, "hotspot");
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let _ = reply.send(backend.hotspot_start(&request).await);
            let _ = internal
                .send(Internal::Snapshot(backend.snapshot().await))
                .await;
            let _ = internal.send(Internal::MenuStale).await;
        });
    }

    /// Stops the hotspot on the radio named, or every one running; the radios freed.
    pub(super) fn hotspot_stop(&mut self, interface: Option<String>, reply: Reply<Vec<String>>) {
        let running: Vec<String> = self
            .state
            .wifi_devices
            .iter()
            .filter(|r| r.role == Role::Hotspot)
            .map(|r| r.interface.clone())
            .filter(|i| interface.as_ref().is_none_or(|asked| asked == i))
            .collect();
        if let Some(asked) = interface.filter(|_| running.is_empty()) {
            let _ = reply.send(Err(Error::new(
                ErrorCode::NotFound,
                format!("no hotspot runs on {asked}"),
            )
            .with_hint("netpilot wifi hotspot status says where one runs")));
            return;
        }
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let mut result = Ok(());
            let mut stopped = Vec::new();
            for interface in running {
                match backend.hotspot_stop(&interface).await {
                    Ok(()) => stopped.push(interface),
                    Err(error) => result = Err(error),
                }
            }
            let _ = reply.send(result.map(|()| stopped));
            let _ = internal
                .send(Internal::Snapshot(backend.snapshot().await))
                .await;
            let _ = internal.send(Internal::MenuStale).await;
        });
    }
}
