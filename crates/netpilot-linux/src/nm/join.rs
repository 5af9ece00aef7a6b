//! Joining a network, up to the start of activation: the device chosen (by the engine,
//! by role), which profile, which access point and security.

use super::api::{NewProfile, NmAccessPoint, NmClient, NmWifiDevice, SavedWifi};
use netpilot_core::wifi::Security;
use netpilot_core::{Error, ErrorCode};
use zbus::zvariant::OwnedObjectPath;

/// What to join, resolved.
#[derive(Debug, Clone)]
pub struct Target {
    pub ssid: String,
    pub device: NmWifiDevice,
    /// A saved profile for the network, usable on that device.
    pub saved: Option<SavedWifi>,
    pub access_point: Option<OwnedObjectPath>,
    pub security: Security,
    /// Seen in the scan just made.
    pub in_range: bool,
}

/// An activation under way.
#[derive(Debug, Clone)]
pub struct Started {
    pub profile: OwnedObjectPath,
    /// The profile was made for this attempt (delete it if the attempt fails).
    pub created: bool,
}

/// The WiFi devices named, in that order; every one must be there.
pub async fn devices(client: &NmClient, names: &[String]) -> Result<Vec<NmWifiDevice>, Error> {
    let all = client.wifi_devices().await?;
    names
        .iter()
        .map(|name| {
            all.iter()
                .find(|d| &d.device.interface == name)
                .cloned()
                .ok_or_else(|| {
                    let here: Vec<&str> = all.iter().map(|d| d.device.interface.as_str()).collect();
                    Error::new(
                        ErrorCode::NotFound,
                        format!("{name:?} is not a WiFi device"),
                    )
                    .with_hint(format!("WiFi devices here: {}", here.join(", ")))
                })
        })
        .collect()
}

/// Finds the device, any saved profile usable on it, and the network in a fresh scan of
/// that device (unless `hidden`: a hidden network is not in scans; `hidden_security` is
/// assumed).
pub async fn resolve(
    client: &NmClient,
    ssid: &str,
    device: &str,
    hidden: bool,
    hidden_security: Security,
) -> Result<Target, Error> {
    let device = devices(client, &[device.to_string()]).await?.remove(0);
    let saved = client.saved_wifi().await?.into_iter().find(|s| {
        s.ssid == ssid
            && s.interface
                .as_deref()
                .is_none_or(|i| i == device.device.interface)
    });
    if hidden {
        return Ok(Target {
            ssid: ssid.into(),
            device,
            saved,
            access_point: None,
            security: hidden_security,
            in_range: false,
        });
    }
    client.scan(std::slice::from_ref(&device)).await?;
    let best: Option<NmAccessPoint> = client
        .access_points(&device)
        .await?
        .into_iter()
        .filter(|ap| ap.access_point.ssid == ssid)
        .max_by_key(|ap| ap.access_point.signal);
    match best {
        Some(ap) => Ok(Target {
            ssid: ssid.into(),
            security: ap.access_point.security,
            access_point: Some(ap.path),
            in_range: true,
            device,
            saved,
        }),
        // A saved network out of sight may still be joinable (hidden, just appearing).
        None if saved.is_some() => Ok(Target {
            ssid: ssid.into(),
            device,
            saved,
            access_point: None,
            security: Security::WpaPsk,
            in_range: false,
        }),
        None => Err(Error::new(
            ErrorCode::NetworkNotFound,
            format!("no network named {ssid:?} is in range"),
        )
        .with_hint("see what is: netpilot wifi list (a hidden network needs --hidden)")),
    }
}

/// Starts activating `target`: its saved profile, or a new one (bound to `bind_interface`
/// when given) whose password is agent-owned (`save`) or never saved.
pub async fn activate(
    client: &NmClient,
    target: &Target,
    bind_interface: Option<&str>,
    hidden: bool,
    save: bool,
) -> Result<Started, Error> {
    if let Some(saved) = &target.saved {
        client.activate(saved, &target.device).await?;
        return Ok(Started {
            profile: saved.path.clone(),
            created: false,
        });
    }
    let profile = NewProfile {
        ssid: &target.ssid,
        interface: bind_interface,
        security: target.security,
        hidden,
        save_secret: save,
    };
    let path = client
        .add_and_activate(&profile, &target.device, target.access_point.as_ref())
        .await?;
    Ok(Started {
        profile: path,
        created: true,
    })
}
