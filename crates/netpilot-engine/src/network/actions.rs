//! The actions that choose a radio by role (connect's choice is in `attempt`): each waits
//! for a fresh look at the radios first.

use super::handle::Reply;
use super::service::{Deferred, Internal, Service};
use crate::radios;
use netpilot_core::ports::{LinkSnapshot, WifiBackend};
use netpilot_core::wifi::{Role, WifiNetwork};
use netpilot_core::{Error, ErrorCode};
use std::sync::Arc;

impl<B: WifiBackend> Service<B> {
    /// Asks the backend what is up, then carries on with `then`.
    pub(super) fn afresh(&self, then: Deferred) {
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let snapshot = backend.snapshot().await;
            let _ = internal.send(Internal::Fresh { snapshot, then }).await;
        });
    }

    /// Scans the radio named, or every radio no device link holds (a scan takes a radio
    /// off its channel for a while: never a device link's unasked, and a device link's
    /// only from its last results). With `wait`, answers once the scan is done; else at
    /// once with the networks known, the scan's results following as `network` events.
    pub(super) fn scan(
        &mut self,
        interface: Option<String>,
        rescan: bool,
        wait: bool,
        reply: Reply<Vec<WifiNetwork>>,
    ) {
        let radios = &self.state.wifi_devices;
        let (interfaces, rescan) = match interface {
            Some(name) => {
                let held = radios
                    .iter()
                    .any(|r| r.interface == name && matches!(r.role, Role::DeviceLink(_)));
                (vec![name], rescan && !held)
            }
            None => (
                radios
                    .iter()
                    .filter(|r| !matches!(r.role, Role::DeviceLink(_)))
                    .map(|r| r.interface.clone())
                    .collect(),
                rescan,
            ),
        };
        let backend = Arc::clone(&self.backend);
        if wait || !rescan {
            tokio::spawn(async move {
                let _ = reply.send(backend.scan(&interfaces, rescan).await);
            });
            return;
        }
        let menu = &self.menu.last;
        let seen: Vec<_> = menu
            .access_points
            .iter()
            .filter(|ap| interfaces.contains(&ap.interface))
            .cloned()
            .collect();
        let known: Vec<String> = menu.saved.iter().map(|p| p.ssid.clone()).collect();
        let _ = reply.send(Ok(netpilot_core::wifi::networks(&seen, &known)));
        // Until every radio asked has finished, its results arriving radio by radio, access
        // point by access point, wait for one look at the end (see `menu`).
        self.menu.scanning += 1;
        let internal = self.internal.clone();
        tokio::spawn(async move {
            if let Err(error) = backend.request_scan(&interfaces).await {
                tracing::debug!(%error, "scan not done");
            }
            let _ = internal.send(Internal::Scanned).await;
        });
    }

    pub(super) fn disconnect(&mut self, interface: Option<&str>, reply: Reply<Vec<String>>) {
        let chosen = match radios::for_disconnect(&self.state.wifi_devices, interface) {
            Ok(Some(chosen)) => chosen,
            Ok(None) => {
                let _ = reply.send(Ok(Vec::new()));
                return;
            }
            Err(error) => {
                let _ = reply.send(Err(error));
                return;
            }
        };
        if self.attempt.as_ref().is_some_and(|a| a.device == chosen) {
            self.fail(Error::new(
                ErrorCode::ConnectionAttemptFailed,
                "disconnected while connecting",
            ));
        }
        if self.joined.as_deref() == Some(chosen.as_str()) {
            self.joined = None;
        }
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let result = backend.disconnect(&chosen).await.map(|()| vec![chosen]);
            let _ = reply.send(result);
            let _ = internal
                .send(Internal::Snapshot(backend.snapshot().await))
                .await;
        });
    }

    /// The fresh look came: `then` goes on, or gets the backend's error.
    pub(super) fn afresh_done(&mut self, snapshot: Result<LinkSnapshot, Error>, then: Deferred) {
        let failed = snapshot.as_ref().err().cloned();
        self.apply_snapshot(snapshot);
        match (then, failed) {
            (Deferred::Connect(_, reply), Some(error)) => {
                let _ = reply.send(Err(error));
            }
            (Deferred::Disconnect(_, reply), Some(error)) => {
                let _ = reply.send(Err(error));
            }
            (Deferred::Scan { reply, .. }, Some(error)) => {
                let _ = reply.send(Err(error));
            }
            (Deferred::Hotspot(_, reply), Some(error)) => {
                let _ = reply.send(Err(error));
            }
            (Deferred::HotspotStop(_, reply), Some(error)) => {
                let _ = reply.send(Err(error));
            }
            (Deferred::Hotspot(params, reply), None) => self.hotspot_start(params, reply),
            (Deferred::HotspotStop(interface, reply), None) => self.hotspot_stop(interface, reply),
            (Deferred::Connect(params, reply), None) => {
                let _ = reply.send(self.connect(params));
            }
            (Deferred::Disconnect(interface, reply), None) => {
                self.disconnect(interface.as_deref(), reply)
            }
            (
                Deferred::Scan {
                    interface,
                    rescan,
                    wait,
                    reply,
                },
                None,
            ) => self.scan(interface, rescan, wait, reply),
        }
    }
}
