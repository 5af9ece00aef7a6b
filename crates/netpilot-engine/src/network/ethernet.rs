//! Wired links: which one `network.ethernet.connect` and `disconnect` act on, from the
//! menu's last look, and what they are once done.

use super::handle::Reply;
use super::service::{Internal, Service};
use netpilot_core::menu::WiredDevice;
use netpilot_core::ports::WifiBackend;
use netpilot_core::wifi::DeviceState;
use netpilot_core::{Error, ErrorCode};
use std::sync::Arc;

impl<B: WifiBackend> Service<B> {
    /// Connects the wired device named, or the first with a cable that is not connected
    /// (one already connected is the answer as it is); answers once it is connected.
    pub(super) fn ethernet_up(&mut self, interface: Option<String>, reply: Reply<WiredDevice>) {
        let wired = &self.menu.last.wired;
        let chosen = match &interface {
            Some(name) => named(wired, name),
            None => wired
                .iter()
                .find(|w| w.carrier && w.state != DeviceState::Connected)
                .or_else(|| wired.iter().find(|w| w.state == DeviceState::Connected))
                .or_else(|| wired.first())
                .ok_or_else(none),
        };
        let chosen = match chosen {
            Ok(device) if device.state == DeviceState::Connected && interface.is_none() => {
                let _ = reply.send(Ok(device.clone()));
                return;
            }
            Ok(device) => device.interface.clone(),
            Err(error) => {
                let _ = reply.send(Err(error));
                return;
            }
        };
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        let timeout = self.config.timeouts.connect;
        tokio::spawn(async move {
            let result = match backend.ethernet_up(&chosen, timeout).await {
                Ok(()) => backend.menu().await.and_then(|menu| {
                    menu.wired
                        .into_iter()
                        .find(|w| w.interface == chosen)
                        .ok_or_else(|| gone(&chosen))
                }),
                Err(error) => Err(error),
            };
            let _ = reply.send(result);
            let _ = internal.send(Internal::MenuStale).await;
        });
    }

    /// Disconnects the wired device named, or every connected one; the interfaces left.
    pub(super) fn ethernet_down(&mut self, interface: Option<String>, reply: Reply<Vec<String>>) {
        let wired = &self.menu.last.wired;
        let chosen: Vec<String> = match &interface {
            Some(name) => match named(wired, name) {
                Ok(device) => vec![device.interface.clone()],
                Err(error) => {
                    let _ = reply.send(Err(error));
                    return;
                }
            },
            None => wired
                .iter()
                .filter(|w| w.state == DeviceState::Connected)
                .map(|w| w.interface.clone())
                .collect(),
        };
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let mut left = Vec::new();
            let mut result = Ok(());
            for interface in chosen {
                match backend.ethernet_down(&interface).await {
                    Ok(()) => left.push(interface),
                    Err(error) => result = Err(error),
                }
            }
            let _ = reply.send(result.map(|()| left));
            let _ = internal.send(Internal::MenuStale).await;
        });
    }
}

fn named<'a>(wired: &'a [WiredDevice], name: &str) -> Result<&'a WiredDevice, Error> {
    wired.iter().find(|w| w.interface == name).ok_or_else(|| {
        let here: Vec<&str> = wired.iter().map(|w| w.interface.as_str()).collect();
        Error::new(
            ErrorCode::NotFound,
            format!("{name:?} is not an Ethernet device NetworkManager knows"),
        )
        .with_hint(if here.is_empty() {
            "no Ethernet device here (netpilot interfaces lists every link)".to_string()
        } else {
            format!("Ethernet devices here: {}", here.join(", "))
        })
    })
}

fn none() -> Error {
    Error::new(ErrorCode::NotFound, "no Ethernet device")
        .with_hint("plug in a cable or an adapter; netpilot interfaces lists every link")
}

fn gone(interface: &str) -> Error {
    Error::new(
        ErrorCode::NotFound,
        format!("{interface} went away while connecting"),
    )
}
