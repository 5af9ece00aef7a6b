//! The hotspot: an access point profile of netpilot's in NetworkManager's shared mode (it
//! runs dnsmasq for the clients' addresses), its password agent-owned in netpilot's store,
//! never in the profile.

use super::api::{NmClient, string};
use super::dbus::NmSettingsOut;
use super::map;
use super::menu::Props;
use crate::secrets::SecretStore;
use netpilot_core::menu::Hotspot;
use netpilot_core::ports::HotspotRequest;
use netpilot_core::wifi::FailureReason;
use netpilot_core::{Error, ErrorCode};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;
use zbus::zvariant::{OwnedObjectPath, Value};

const PROFILE: &str = "netpilot-hotspot";
/// `user.data` key that marks netpilot's hotspot profiles.
const MARK: &str = "netpilot.hotspot";
const DEVICE: &str = "org.freedesktop.NetworkManager.Device";
const WIRELESS: &str = "org.freedesktop.NetworkManager.Device.Wireless";
const IP4: &str = "org.freedesktop.NetworkManager.IP4Config";
// NMDeviceWifiCapabilities
const CAP_AP: u32 = 0x40;
const CAP_FREQ_VALID: u32 = 0x100;
const CAP_2GHZ: u32 = 0x200;
const CAP_5GHZ: u32 = 0x400;
/// How long NetworkManager may take to bring the access point up.
const START_WITHIN: Duration = Duration::from_secs(30);

/// Starts the hotspot on the first candidate radio that can run it; returns once it is up.
pub(super) async fn start(
    client: &NmClient,
    store: &SecretStore,
    request: &HotspotRequest,
) -> Result<Hotspot, Error> {
    let (interface, device) = radio(client, request).await?;
    // What netpilot left of an earlier hotspot goes first.
    delete_profiles(client, store).await?;
    let profile = client.add_profile(settings(request, &interface)).await?;
    let uuid = string(&client.settings(&profile).await?, "connection", "uuid").unwrap_or_default();
    let started = async {
        store
            .save(
                &uuid,
                Some(&request.ssid),
                "802-11-wireless-security",
                &[("psk".to_string(), request.password.clone())],
            )
            .await?;
        client.activate_profile(&profile, &device).await?;
        until_up(client, &device, &interface).await
    }
    .await;
    if let Err(error) = started {
        let _ = client.delete_profile(&profile).await;
        let _ = store.delete(&uuid).await;
        return Err(error);
    }
    let now = Props::of(client, &device, DEVICE).await?;
    let ipv4 = match now.path("Ip4Config") {
        Some(config) => Props::of(client, &config, IP4)
            .await
            .ok()
            .and_then(|c| c.get::<Vec<HashMap<String, zbus::zvariant::OwnedValue>>>("AddressData"))
            .and_then(|data| {
                let entry = data.first()?;
                let address = <&str>::try_from(&**entry.get("address")?).ok()?;
                let prefix = u32::try_from(&**entry.get("prefix")?).ok()?;
                Some(format!("{address}/{prefix}"))
            }),
        None => None,
    };
    Ok(Hotspot {
        interface,
        ssid: request.ssid.clone(),
        band: request.band.clone(),
        channel: None,
        active: true,
        ipv4,
        profile_uuid: uuid,
    })
}

/// Stops the hotspot on `interface`, and deletes netpilot's hotspot profiles and passwords.
pub(super) async fn stop(
    client: &NmClient,
    store: &SecretStore,
    interface: &str,
) -> Result<(), Error> {
    let device = client.device_by_interface(interface).await?;
    client.disconnect_device(&device).await?;
    delete_profiles(client, store).await
}

/// The first candidate that can be an access point in the band asked for.
async fn radio(
    client: &NmClient,
    request: &HotspotRequest,
) -> Result<(String, OwnedObjectPath), Error> {
    let mut refused = Vec::new();
    for name in &request.candidates {
        let device = client.device_by_interface(name).await?;
        let caps: u32 = Props::of(client, &device, WIRELESS)
            .await?
            .get("WirelessCapabilities")
            .unwrap_or(0);
        let bands_known = caps & CAP_FREQ_VALID != 0;
        if caps & CAP_AP == 0 {
            refused.push(format!("{name} cannot be an access point"));
        } else if bands_known && request.band.as_deref() == Some("a") && caps & CAP_5GHZ == 0 {
            refused.push(format!("{name} has no 5 GHz band"));
        } else if bands_known && request.band.as_deref() == Some("bg") && caps & CAP_2GHZ == 0 {
            refused.push(format!("{name} has no 2.4 GHz band"));
        } else {
            return Ok((name.clone(), device));
        }
    }
    Err(Error::new(
        ErrorCode::NoFreeRadio,
        format!("no free radio can run this hotspot: {}", refused.join("; ")),
    )
    .with_hint("try the other band (--band bg|a), or plug in a WiFi adapter that supports AP mode"))
}

fn settings<'a>(request: &'a HotspotRequest, interface: &'a str) -> NmSettingsOut<'a> {
    let connection = HashMap::from([
        ("id", Value::from(PROFILE)),
        ("type", Value::from("802-11-wireless")),
        ("autoconnect", Value::from(false)),
        ("interface-name", Value::from(interface)),
    ]);
    let mut wireless = HashMap::from([
        ("ssid", Value::from(request.ssid.as_bytes().to_vec())),
        ("mode", Value::from("ap")),
    ]);
    if let Some(band) = &request.band {
        wireless.insert("band", Value::from(band.as_str()));
    }
    // WPA2 (RSN, CCMP), as nmcli makes a hotspot; the passphrase agent-owned (flag 1).
    let security = HashMap::from([
        ("key-mgmt", Value::from("wpa-psk")),
        ("proto", Value::from(vec!["rsn"])),
        ("pairwise", Value::from(vec!["ccmp"])),
        ("group", Value::from(vec!["ccmp"])),
        ("psk-flags", Value::from(1u32)),
    ]);
    HashMap::from([
        ("connection", connection),
        ("802-11-wireless", wireless),
        ("802-11-wireless-security", security),
        ("ipv4", HashMap::from([("method", Value::from("shared"))])),
        ("ipv6", HashMap::from([("method", Value::from("ignore"))])),
        (
            "user",
            HashMap::from([("data", Value::from(HashMap::from([(MARK, "1")])))]),
        ),
    ])
}

/// Waits until the access point is up; a failure says why.
async fn until_up(
    client: &NmClient,
    device: &OwnedObjectPath,
    interface: &str,
) -> Result<(), Error> {
    let deadline = Instant::now() + START_WITHIN;
    let mut activating = false;
    loop {
        let now = Props::of(client, device, DEVICE).await?;
        match now.get::<u32>("State").unwrap_or(0) {
            100 => return Ok(()),
            40..=90 => activating = true,
            state @ (120 | 30) if state == 120 || activating => {
                let (_, reason): (u32, u32) = now.get("StateReason").unwrap_or((0, 0));
                return Err(match map::failure_reason(reason) {
                    FailureReason::IpConfigUnavailable => Error::new(
                        ErrorCode::ConnectionAttemptFailed,
                        format!("the hotspot on {interface} could not share its network (no DHCP server)"),
                    )
                    .with_hint("NetworkManager's shared mode needs dnsmasq: sudo apt install dnsmasq-base"),
                    FailureReason::NoSecrets => Error::new(
                        ErrorCode::ConnectionAttemptFailed,
                        format!("NetworkManager got no password for the hotspot on {interface}"),
                    )
                    .with_hint("is another secret agent answering for netpilot? see the daemon's log"),
                    other => Error::new(
                        ErrorCode::ConnectionAttemptFailed,
                        format!("NetworkManager could not start the hotspot on {interface} ({other:?})"),
                    ),
                });
            }
            _ => {}
        }
        if Instant::now() > deadline {
            let _ = client.disconnect_device(device).await;
            return Err(Error::new(
                ErrorCode::Timeout,
                format!(
                    "the hotspot on {interface} was not up within {} s",
                    START_WITHIN.as_secs()
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Deletes netpilot's hotspot profiles and their stored passwords.
async fn delete_profiles(client: &NmClient, store: &SecretStore) -> Result<(), Error> {
    for (path, profile) in client.profiles().await? {
        let marked = profile
            .get("user")
            .and_then(|user| user.get("data"))
            .and_then(|data| HashMap::<String, String>::try_from(data.try_clone().ok()?).ok())
            .is_some_and(|data| data.contains_key(MARK));
        if marked {
            client.delete_profile(&path).await?;
            if let Some(uuid) = string(&profile, "connection", "uuid") {
                let _ = store.delete(&uuid).await;
            }
        }
    }
    Ok(())
}
