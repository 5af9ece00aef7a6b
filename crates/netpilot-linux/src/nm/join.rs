//! Joining a network, up to the start of activation: which device, which profile, which
//! access point and security. Shared by `netpilot wifi connect` and the daemon's backend.

use super::api::{NewProfile, NmAccessPoint, NmClient, NmWifiDevice, SavedWifi};
use netpilot_core::wifi::{DeviceState, Security};
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

/// The WiFi devices to act on: the one named, or all of them.
pub async fn devices(
    client: &NmClient,
    interface: Option<&str>,
) -> Result<Vec<NmWifiDevice>, Error> {
    let all = client.wifi_devices().await?;
    if all.is_empty() {
        return Err(
            Error::new(ErrorCode::NoWifiDevice, "no WiFi device found").with_hint(
                "plug in a WiFi adapter, or check `rfkill list` and that NetworkManager manages it",
            ),
        );
    }
    match interface {
        None => Ok(all),
        Some(name) => {
            let names: Vec<String> = all.iter().map(|d| d.device.interface.clone()).collect();
            let chosen: Vec<_> = all
                .into_iter()
                .filter(|d| d.device.interface == name)
                .collect();
            if chosen.is_empty() {
                return Err(Error::new(
                    ErrorCode::NotFound,
                    format!("{name:?} is not a WiFi device"),
                )
                .with_hint(format!("WiFi devices here: {}", names.join(", "))));
            }
            Ok(chosen)
        }
    }
}

/// The first device NetworkManager manages and can use (not rfkilled, firmware loaded…).
pub fn usable(devices: Vec<NmWifiDevice>) -> Result<NmWifiDevice, Error> {
    let unusable = |d: &NmWifiDevice| {
        matches!(
            d.device.state,
            DeviceState::Unavailable | DeviceState::Unmanaged
        )
    };
    let states: Vec<String> = devices
        .iter()
        .map(|d| format!("{} is {}", d.device.interface, d.device.state.label()))
        .collect();
    devices.into_iter().find(|d| !unusable(d)).ok_or_else(|| {
        Error::new(ErrorCode::NoWifiDevice, format!("no usable WiFi device: {}", states.join(", ")))
            .with_hint("let NetworkManager manage it (nmcli device set IF managed yes) and check `rfkill list`")
    })
}

/// Finds the device, any saved profile, and the network in a fresh scan of that device
/// (unless `hidden`: a hidden network is not in scans; `hidden_security` is assumed).
pub async fn resolve(
    client: &NmClient,
    ssid: &str,
    interface: Option<&str>,
    hidden: bool,
    hidden_security: Security,
) -> Result<Target, Error> {
    let device = usable(devices(client, interface).await?)?;
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
