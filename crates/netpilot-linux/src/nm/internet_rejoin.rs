//! The internet's WiFi link put back when NetworkManager gave up on it. An access point
//! that goes away in the middle of a 4-way handshake looks to NetworkManager like a wrong
//! password: it asks the agents for a new one, none gives it (the password was right), and
//! the profile is blocked from joining by itself until someone steps in, though the network
//! is back in range. The internet's supervisor steps in: it activates the profile again.

use super::api::{NmClient, ssid, string};
use super::join;
use netpilot_core::Error;
use netpilot_core::wifi::DeviceState;

/// Activates again, on `interface`, the WiFi profile the user last joined (one that has
/// connected before) whose network is in range and that may join by itself; its SSID, or
/// `None` when there is nothing to do (the device is busy or was disconnected by hand,
/// nothing in range is known).
pub(super) async fn rejoin(client: &NmClient, interface: &str) -> Result<Option<String>, Error> {
    let device = join::devices(client, &[interface.to_string()])
        .await?
        .remove(0);
    if device.device.state != DeviceState::Disconnected || !client.may_autoconnect(&device).await? {
        return Ok(None);
    }
    let links: Vec<String> = super::device::profiles(client)
        .await?
        .into_iter()
        .map(|p| p.uuid)
        .collect();
    // A fresh scan: a disconnected radio's list may not have the network back yet
    // (NetworkManager scans less and less often while it has nothing to join).
    client.scan(std::slice::from_ref(&device)).await?;
    let in_range: Vec<String> = client
        .access_points(&device)
        .await?
        .into_iter()
        .map(|a| a.access_point.ssid)
        .collect();
    let mut best: Option<(u64, zbus::zvariant::OwnedObjectPath, String)> = None;
    for (path, profile) in client.profiles().await? {
        let uuid = string(&profile, "connection", "uuid").unwrap_or_default();
        let bound = string(&profile, "connection", "interface-name").filter(|i| !i.is_empty());
        let automatic = profile
            .get("connection")
            .and_then(|c| c.get("autoconnect"))
            .and_then(|v| bool::try_from(&**v).ok())
            .unwrap_or(true);
        let last_used = profile
            .get("connection")
            .and_then(|c| c.get("timestamp"))
            .and_then(|t| u64::try_from(&**t).ok())
            .unwrap_or(0);
        let Some(name) = ssid(&profile) else {
            continue;
        };
        // A profile that never connected is an attempt in progress (or one it left), not
        // the network the internet was on: joining it would take the attempt over.
        let usable = string(&profile, "connection", "type").as_deref() == Some("802-11-wireless")
            && last_used > 0
            && automatic
            && !links.contains(&uuid)
            && bound.as_deref().is_none_or(|i| i == interface)
            && in_range.contains(&name);
        if usable && best.as_ref().is_none_or(|(used, ..)| last_used > *used) {
            best = Some((last_used, path, name));
        }
    }
    let Some((_, path, name)) = best else {
        return Ok(None);
    };
    client.activate_on(&path, &device).await?;
    Ok(Some(name))
}
