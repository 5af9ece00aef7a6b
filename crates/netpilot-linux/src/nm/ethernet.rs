//! Wired devices: connect one (its best profile, else a new one) and wait until it is up,
//! or disconnect it.

use super::api::NmClient;
use super::map;
use super::menu::Props;
use netpilot_core::wifi::FailureReason;
use netpilot_core::{Error, ErrorCode};
use std::time::Duration;
use tokio::time::Instant;

const DEVICE: &str = "org.freedesktop.NetworkManager.Device";
const DEVICE_TYPE_ETHERNET: u32 = 1;
const DEVICE_TYPE_VETH: u32 = 20;

/// Connects `interface` and waits until it is connected, fails, or `timeout` passes.
pub(super) async fn up(client: &NmClient, interface: &str, timeout: Duration) -> Result<(), Error> {
    let path = client.device_by_interface(interface).await?;
    let device = Props::of(client, &path, DEVICE).await?;
    if !matches!(
        device.get::<u32>("DeviceType"),
        Some(DEVICE_TYPE_ETHERNET | DEVICE_TYPE_VETH)
    ) {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("{interface} is not an Ethernet device"),
        ));
    }
    match device.get::<u32>("State").unwrap_or(0) {
        10 => {
            return Err(Error::new(
                ErrorCode::ConnectionAttemptFailed,
                format!("NetworkManager does not manage {interface}"),
            )
            .with_hint(format!(
                "let it: nmcli device set {interface} managed yes (or see its configuration's unmanaged-devices)"
            )));
        }
        20 => {
            return Err(Error::new(
                ErrorCode::ConnectionAttemptFailed,
                format!("{interface} has no cable (no carrier)"),
            )
            .with_hint("plug in the cable; check the link lights on both ends"));
        }
        100 => return Ok(()),
        _ => {}
    }
    client.activate_device(&path).await?;
    let deadline = Instant::now() + timeout;
    let mut activating = false;
    loop {
        let now = Props::of(client, &path, DEVICE).await?;
        match now.get::<u32>("State").unwrap_or(0) {
            100 => return Ok(()),
            40..=90 => activating = true,
            // Failed, or back to disconnected once activation had begun.
            state @ (120 | 30) if state == 120 || activating => {
                let (_, reason): (u32, u32) = now.get("StateReason").unwrap_or((0, 0));
                return Err(failed(interface, reason));
            }
            _ => {}
        }
        if Instant::now() > deadline {
            let _ = client.disconnect_device(&path).await;
            return Err(Error::new(
                ErrorCode::Timeout,
                format!(
                    "{interface} was not connected within {} s",
                    timeout.as_secs()
                ),
            )
            .with_hint(
                "is a DHCP server on that network? nmcli device show shows where it stopped",
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(super) async fn down(client: &NmClient, interface: &str) -> Result<(), Error> {
    let path = client.device_by_interface(interface).await?;
    client.disconnect_device(&path).await
}

fn failed(interface: &str, reason: u32) -> Error {
    match map::failure_reason(reason) {
        FailureReason::IpConfigUnavailable => Error::new(
            ErrorCode::DhcpTimeout,
            format!("{interface} got no address (no DHCP answer)"),
        )
        .with_hint("is a DHCP server on that network, or does it need a static address?"),
        other => Error::new(
            ErrorCode::ConnectionAttemptFailed,
            format!("NetworkManager could not connect {interface} ({other:?})"),
        ),
    }
}
