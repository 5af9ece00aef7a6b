//! The device links and the machine's radios: which radios the links hold (the network
//! service's claims), what the network service says of each radio, and the two policies
//! that follow from it: a link NetworkManager brought up by itself (autoconnect, a daemon
//! restart, nmcli) is adopted and supervised; a radio taken for the internet while a link
//! waits for it is reported, and the link does not take it back.

use super::DeviceService;
use crate::radios::Claim;
use netpilot_core::device::LinkState;
use netpilot_core::ports::DeviceBackend;
use netpilot_core::wifi::{Role, WifiRadio};
use std::sync::Arc;
use tokio::sync::watch;

impl<B: DeviceBackend> DeviceService<B> {
    /// The radios the links hold (up, or being brought up or back), as they change.
    pub fn claims(&self) -> watch::Receiver<Vec<Claim>> {
        self.claims.subscribe()
    }

    /// Every radio and its role, as the network service last said.
    pub fn radios(&self) -> Vec<WifiRadio> {
        self.radios
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Follows the network service's view of the radios for as long as it lasts.
    pub fn follow(self: &Arc<Self>, mut radios: watch::Receiver<Vec<WifiRadio>>) {
        let service = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                let seen = radios.borrow_and_update().clone();
                service.on_radios(seen).await;
                if radios.changed().await.is_err() {
                    return;
                }
            }
        });
    }

    pub(super) fn claims_changed(&self) {
        let claims: Vec<Claim> = {
            let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            let mut claims: Vec<Claim> = live
                .iter()
                .filter(|(_, l)| {
                    matches!(
                        l.state,
                        Some(LinkState::Connecting | LinkState::Up | LinkState::Lost)
                    )
                })
                .filter_map(|(name, l)| {
                    Some(Claim {
                        interface: l.interface.clone()?,
                        link: name.clone(),
                    })
                })
                .collect();
            claims.sort_by(|a, b| a.link.cmp(&b.link));
            claims
        };
        self.claims.send_if_modified(|known| {
            let changed = *known != claims;
            if changed {
                *known = claims;
            }
            changed
        });
    }

    /// Whether `interface` carries the internet now: a link must not take it back.
    pub(super) fn carries_the_internet(&self, interface: &str) -> bool {
        self.radios
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(|r| r.interface == interface && r.role == Role::Internet)
    }

    async fn on_radios(self: &Arc<Self>, radios: Vec<WifiRadio>) {
        *self.radios.lock().unwrap_or_else(|p| p.into_inner()) = radios.clone();
        self.report_overtaken(&radios);
        let active: Vec<&str> = radios
            .iter()
            .filter_map(|r| match &r.role {
                Role::DeviceLink(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        let mut adopt = Vec::new();
        {
            let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            for (name, link) in live.iter_mut() {
                // NetworkManager let go of a link taken down here: it may be adopted again.
                if link.held_down && !active.contains(&name.as_str()) {
                    link.held_down = false;
                }
            }
            for name in active {
                let link = live.entry(name.to_string()).or_default();
                let handled = link.supervisor.is_some()
                    || link.held_down
                    || link.adopting
                    || matches!(link.state, Some(LinkState::Connecting));
                if !handled {
                    link.adopting = true;
                    adopt.push(name.to_string());
                }
            }
        }
        // Beside this loop: an adoption waits for the device to answer.
        for name in adopt {
            let service = Arc::clone(self);
            tokio::spawn(async move {
                service.adopt(&name).await;
                service.with_live(&name, |live| live.adopting = false);
            });
        }
    }

    /// A link whose radio now carries the internet (someone joined another network on it
    /// while the link came up, was up, or was lost): said once, with what to do; a link that
    /// was up is lost.
    fn report_overtaken(&self, radios: &[WifiRadio]) {
        let waiting: Vec<(String, LinkState, String)> = {
            let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
            live.iter()
                .filter_map(|(name, l)| match (l.state, &l.interface) {
                    (Some(LinkState::Up), Some(interface)) => {
                        Some((name.clone(), LinkState::Lost, interface.clone()))
                    }
                    (Some(state @ (LinkState::Connecting | LinkState::Lost)), Some(interface)) => {
                        Some((name.clone(), state, interface.clone()))
                    }
                    _ => None,
                })
                .collect()
        };
        for (name, state, interface) in waiting {
            let internet = radios
                .iter()
                .find(|r| r.interface == interface && r.role == Role::Internet);
            let said = self.with_live(&name, |live| {
                std::mem::replace(&mut live.overtaken, internet.is_some())
            });
            if let (Some(radio), false) = (internet, said) {
                let reason = format!(
                    "{interface} now carries the internet{}; {name} waits for it and will not take \
                     it back: free it (netpilot wifi disconnect --interface {interface}) or give \
                     {name} another radio (netpilot device configure {name} … --interface auto)",
                    radio
                        .ssid
                        .as_deref()
                        .map(|ssid| format!(" ({ssid})"))
                        .unwrap_or_default()
                );
                tracing::warn!(%name, %interface, "the internet took a device link's radio");
                self.transition(&name, state, Some(reason));
            }
        }
    }

    /// Supervises a link NetworkManager holds up without `device up`, once its device
    /// answers on it. Nothing is activated: only the address is read.
    async fn adopt(self: &Arc<Self>, name: &str) {
        let _operation = self.operation(name).await;
        if self.with_live(name, |live| live.supervisor.is_some() || live.held_down) {
            return;
        }
        let Ok(spec) = self.spec(name).await else {
            return;
        };
        let Ok(rtt) = self.probe_once(&spec).await else {
            tracing::debug!(
                name,
                "up in NetworkManager, but its device does not answer yet"
            );
            return;
        };
        let address = self.backend.address(&spec).await;
        tracing::info!(name, "adopted a device link that was already up");
        self.with_live(name, |live| live.interface = spec.interface.clone());
        self.came_up(name, address, rtt);
        self.supervise_from_now(spec);
    }
}
