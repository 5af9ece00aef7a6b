//! A device link's signals: the kernel's (carrier, addresses, the device's neighbour
//! entry) and NetworkManager's (the device's state), merged for the supervisor.

use super::api::{DeviceChange, NmClient};
use crate::link_watch::KernelWatch;
use futures_util::{Stream, StreamExt};
use netpilot_core::device::LinkSignal;
use netpilot_core::ports::LinkWatch;
use netpilot_core::wifi::DeviceState;
use std::collections::HashMap;
use std::pin::Pin;
use zbus::zvariant::OwnedObjectPath;

type Changes = Pin<Box<dyn Stream<Item = (OwnedObjectPath, DeviceChange)> + Send>>;

pub struct DeviceWatch {
    interface: String,
    kernel: KernelWatch,
    client: NmClient,
    /// Every device's changes: a virtual interface made again is a new NetworkManager
    /// device, so one device's signal would go quiet.
    changes: Option<Changes>,
    /// A change read but not yet matched to its interface (kept across cancellation).
    unmatched: Option<(OwnedObjectPath, DeviceChange)>,
    interfaces: HashMap<OwnedObjectPath, Option<String>>,
}

impl DeviceWatch {
    pub async fn open(
        client: &NmClient,
        interface: &str,
        device: std::net::Ipv4Addr,
    ) -> Result<Self, netpilot_core::Error> {
        let kernel = KernelWatch::open(interface, device)
            .map_err(|e| crate::errors::netlink_to_error("rtnetlink", e))?;
        let changes = match client.all_device_changes().await {
            Ok(changes) => Some(Box::pin(changes) as Changes),
            Err(error) => {
                tracing::warn!(%error, "no NetworkManager signals for the device link");
                None
            }
        };
        Ok(DeviceWatch {
            interface: interface.to_string(),
            kernel,
            client: client.clone(),
            changes,
            unmatched: None,
            interfaces: HashMap::new(),
        })
    }

    /// Whether the NetworkManager device at `path` is the link's interface.
    async fn is_ours(&mut self, path: &OwnedObjectPath) -> bool {
        if !self.interfaces.contains_key(path) {
            // Remembered only when known: a failed lookup is tried again next time.
            let Ok(interface) = self.client.wifi_interface(path).await else {
                return false;
            };
            self.interfaces.insert(path.clone(), interface);
        }
        self.interfaces.get(path).and_then(Option::as_deref) == Some(self.interface.as_str())
    }
}

impl LinkWatch for DeviceWatch {
    async fn next(&mut self) -> Option<LinkSignal> {
        loop {
            if let Some((path, _)) = &self.unmatched {
                let path = path.clone();
                let ours = self.is_ours(&path).await;
                let change = self.unmatched.take().map(|(_, change)| change);
                match change
                    .filter(|_| ours)
                    .and_then(|c| signal_of(&self.interface, c))
                {
                    Some(signal) => return Some(signal),
                    None => continue,
                }
            }
            let nm_change = async {
                match &mut self.changes {
                    Some(changes) => changes.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                signal = self.kernel.next() => return signal,
                change = nm_change => match change {
                    Some(change) => self.unmatched = Some(change),
                    None => self.changes = None,
                },
            }
        }
    }
}

/// What a state change of the link's NetworkManager device means for the link.
fn signal_of(interface: &str, change: DeviceChange) -> Option<LinkSignal> {
    match change.state {
        DeviceState::Connected => Some(LinkSignal::Changed),
        DeviceState::Connecting(_) | DeviceState::Unknown => None,
        state => Some(LinkSignal::Lost(format!(
            "NetworkManager: {interface} is {} ({:?})",
            state.label(),
            change.reason
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netpilot_core::wifi::{ConnectStage, FailureReason};

    fn change(state: DeviceState) -> DeviceChange {
        DeviceChange {
            state,
            reason: FailureReason::SupplicantTimeout,
        }
    }

    #[test]
    fn leaving_the_connected_state_is_a_loss_and_joining_again_a_change() {
        let lost = signal_of("wlan1", change(DeviceState::Disconnected));
        assert!(
            matches!(lost, Some(LinkSignal::Lost(r)) if r.starts_with("NetworkManager: wlan1 is disconnected"))
        );
        assert!(matches!(
            signal_of("wlan1", change(DeviceState::Failed)),
            Some(LinkSignal::Lost(_))
        ));
        assert_eq!(
            signal_of("wlan1", change(DeviceState::Connected)),
            Some(LinkSignal::Changed)
        );
        assert_eq!(
            signal_of(
                "wlan1",
                change(DeviceState::Connecting(ConnectStage::Configuring))
            ),
            None
        );
    }
}
