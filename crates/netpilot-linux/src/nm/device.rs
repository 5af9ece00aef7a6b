//! Device links in NetworkManager: one profile per device link, bound to its radio, that
//! never takes the default route or DNS. The profile is the only record: netpilot's facts
//! about the device (address, probe, preset) ride in its `user` setting, so `list` reads
//! them back and `reset` leaves nothing behind.

use super::api::{NmClient, NmWifiDevice, ssid, string};
use super::dbus::NmSettings;
use crate::secrets::SecretStore;
use netpilot_core::device::{DeviceSpec, Probe, Subnet, Teardown};
use netpilot_core::ports::LinkUp;
use netpilot_core::wifi::DeviceState;
use netpilot_core::{Error, ErrorCode, Secret};
use std::collections::HashMap;
use std::time::Duration;
use zbus::zvariant::{OwnedObjectPath, Value};

/// The metric of the device link's routes: far behind any internet link's.
pub const ROUTE_METRIC: i64 = 2000;
const SECURITY: &str = "802-11-wireless-security";
const USER_PREFIX: &str = "netpilot.device.";

/// The profile of a device link.
pub struct DeviceProfile {
    pub path: OwnedObjectPath,
    pub uuid: String,
    pub spec: DeviceSpec,
}

/// NetworkManager's id for the device link's profile.
pub fn profile_id(name: &str) -> String {
    format!("netpilot-{name}")
}

/// Every device link's profile.
pub async fn profiles(client: &NmClient) -> Result<Vec<DeviceProfile>, Error> {
    let mut found: Vec<DeviceProfile> = client
        .profiles()
        .await?
        .into_iter()
        .filter_map(|(path, settings)| {
            Some(DeviceProfile {
                uuid: string(&settings, "connection", "uuid")?,
                spec: spec_of(&settings)?,
                path,
            })
        })
        .collect();
    found.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
    Ok(found)
}

pub async fn profile(client: &NmClient, name: &str) -> Result<DeviceProfile, Error> {
    profiles(client)
        .await?
        .into_iter()
        .find(|p| p.spec.name == name)
        .ok_or_else(|| {
            Error::new(
                ErrorCode::NotFound,
                format!("no device link named {name:?}"),
            )
            .with_hint("see `netpilot device list`")
        })
}

/// Reads a device link back from its profile; `None` for any other profile.
pub(super) fn spec_of(settings: &NmSettings) -> Option<DeviceSpec> {
    let data: HashMap<String, String> = settings
        .get("user")?
        .get("data")?
        .try_clone()
        .ok()?
        .try_into()
        .ok()?;
    let get = |key: &str| data.get(&format!("{USER_PREFIX}{key}")).cloned();
    let ssid = ssid(settings)?;
    Some(DeviceSpec {
        name: get("name")?,
        ssid,
        preset: get("preset"),
        address: get("address")?.parse().ok()?,
        subnet: Subnet::parse(&get("subnet")?).ok()?,
        probe: Probe::parse(&get("probe")?).ok()?,
        interface: string(settings, "connection", "interface-name").filter(|i| !i.is_empty()),
        virtual_of: get("virtual-of"),
        auto_connect: settings
            .get("connection")
            .and_then(|c| c.get("autoconnect"))
            .and_then(|v| bool::try_from(&**v).ok())
            .unwrap_or(true),
    })
}

/// Creates the profile (replacing an earlier one of the same name) and keeps the
/// password, agent-owned, in netpilot's store; without a new password, the earlier
/// profile's is kept. Returns the profile's UUID.
pub async fn save(
    client: &NmClient,
    store: &SecretStore,
    spec: &DeviceSpec,
    password: Option<&Secret>,
) -> Result<String, Error> {
    let old = profile(client, &spec.name).await.ok();
    let kept = match (password, &old) {
        (None, Some(old)) => store
            .load(&old.uuid, SECURITY)
            .await
            .unwrap_or_default()
            .into_iter()
            .find(|(key, _)| key == "psk")
            .map(|(_, secret)| secret),
        _ => None,
    };
    let password = password.or(kept.as_ref());
    let interface = spec.interface.as_deref().ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidArgument,
            "the device link has no interface",
        )
    })?;
    let id = profile_id(&spec.name);
    let mut connection: HashMap<&str, Value<'_>> = HashMap::new();
    connection.insert("id", Value::from(id.as_str()));
    connection.insert("type", Value::from("802-11-wireless"));
    connection.insert("interface-name", Value::from(interface));
    connection.insert("autoconnect", Value::from(spec.auto_connect));
    let mut wireless: HashMap<&str, Value<'_>> = HashMap::new();
    wireless.insert("ssid", Value::from(spec.ssid.as_bytes().to_vec()));
    wireless.insert("mode", Value::from("infrastructure"));
    // Routes to the device's subnet only: never the default route, never its DNS.
    let ipv4: HashMap<&str, Value<'_>> = HashMap::from([
        ("method", Value::from("auto")),
        ("never-default", Value::from(true)),
        ("ignore-auto-dns", Value::from(true)),
        ("route-metric", Value::from(ROUTE_METRIC)),
        ("may-fail", Value::from(false)),
    ]);
    let ipv6: HashMap<&str, Value<'_>> = HashMap::from([
        ("method", Value::from("disabled")),
        ("never-default", Value::from(true)),
        ("ignore-auto-dns", Value::from(true)),
    ]);
    let data: HashMap<String, String> = [
        ("name", spec.name.clone()),
        ("address", spec.address.to_string()),
        ("subnet", spec.subnet.to_string()),
        ("probe", spec.probe.to_string()),
    ]
    .into_iter()
    .chain(spec.preset.clone().map(|p| ("preset", p)))
    .chain(spec.virtual_of.clone().map(|v| ("virtual-of", v)))
    .map(|(k, v)| (format!("{USER_PREFIX}{k}"), v))
    .collect();
    let user: HashMap<&str, Value<'_>> = HashMap::from([("data", Value::from(data))]);
    let mut settings: HashMap<&str, HashMap<&str, Value<'_>>> = HashMap::from([
        ("connection", connection),
        ("802-11-wireless", wireless),
        ("ipv4", ipv4),
        ("ipv6", ipv6),
        ("user", user),
    ]);
    if password.is_some() {
        // NM_SETTING_SECRET_FLAG_AGENT_OWNED: NetworkManager asks netpilot's agent.
        settings.insert(
            SECURITY,
            HashMap::from([
                ("key-mgmt", Value::from("wpa-psk")),
                ("psk-flags", Value::from(1u32)),
            ]),
        );
    }
    let path = client.add_profile(settings).await?;
    // Read back by its path: NetworkManager gave it its UUID.
    let uuid = string(&client.settings(&path).await?, "connection", "uuid").ok_or_else(|| {
        Error::new(
            ErrorCode::Protocol,
            "NetworkManager's new profile has no UUID",
        )
    })?;
    if let Some(password) = password {
        let secrets = [("psk".to_string(), password.clone())];
        if let Err(error) = store
            .save(&uuid, Some(&spec.ssid), SECURITY, &secrets)
            .await
        {
            let _ = client.delete_profile(&path).await;
            return Err(error);
        }
    }
    // Replace, not duplicate: the old profile and its secret go once the new one is saved.
    if let Some(old) = old {
        client.delete_profile(&old.path).await?;
        let _ = store.delete(&old.uuid).await;
    }
    Ok(uuid)
}

/// Picks the radio for a device link. `asked` is the user's `--interface`; the internet's
/// radio is never taken, even when asked for.
pub fn choose_radio(
    radios: &[(String, DeviceState, bool)],
    internet: Option<&str>,
    asked: Option<&str>,
) -> Result<String, Error> {
    let names: Vec<&str> = radios.iter().map(|(n, ..)| n.as_str()).collect();
    if radios.is_empty() {
        return Err(
            Error::new(ErrorCode::NoWifiDevice, "no WiFi device found").with_hint(
                "plug in a WiFi adapter, or check `rfkill list` and that NetworkManager manages it",
            ),
        );
    }
    if let Some(asked) = asked {
        if !names.contains(&asked) {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("{asked:?} is not a WiFi device"),
            )
            .with_hint(format!("WiFi devices here: {}", names.join(", "))));
        }
        if Some(asked) == internet {
            return Err(Error::new(
                ErrorCode::NoFreeRadio,
                format!("{asked} carries the internet (the default route); a device link would cut it off"),
            )
            .with_hint("choose another radio, or --interface auto"));
        }
        return Ok(asked.to_string());
    }
    // Free: not the internet's, and joined to nothing else (a device link's own is fine).
    let free = radios.iter().find(|(name, state, ours)| {
        Some(name.as_str()) != internet
            && (*ours
                || matches!(
                    state,
                    DeviceState::Disconnected | DeviceState::Failed | DeviceState::Unavailable
                ))
    });
    match free {
        Some((name, ..)) => Ok(name.clone()),
        None => Err(Error::new(
            ErrorCode::NoFreeRadio,
            format!(
                "no free WiFi radio: {} {}",
                names.join(", "),
                match internet {
                    Some(internet) => format!("(the internet is on {internet})"),
                    None => "are in use".to_string(),
                }
            ),
        )
        .with_hint(
            "plug in a USB WiFi adapter for the device, or use Ethernet for the internet; \
             or free a radio and pass --interface IF",
        )),
    }
}

/// Joins the device's network on its radio and waits for an address.
pub async fn up(client: &NmClient, spec: &DeviceSpec, timeout: Duration) -> Result<LinkUp, Error> {
    let profile = profile(client, &spec.name).await?;
    if let Some(parent) = &spec.virtual_of {
        create_virtual(client, spec, parent).await?;
    }
    let device = radio(client, spec).await?;
    // Joined or joining already (the supplicant reassociating, DHCP renewing): wait for it;
    // activating again would start it all over.
    let ours = client.active_uuid(&device).await?.as_deref() == Some(profile.uuid.as_str());
    let state = client.state(&device).await?;
    if !(ours && matches!(state, DeviceState::Connected | DeviceState::Connecting(_))) {
        client.activate_on(&profile.path, &device).await?;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut began = false;
    loop {
        let state = client.state(&device).await?;
        if state == DeviceState::Connected
            && client.active_uuid(&device).await?.as_deref() == Some(profile.uuid.as_str())
            && let Some(address) = client.ipv4(&device.path).await?
        {
            return Ok(LinkUp {
                interface: device.device.interface,
                local_address: Some(address),
            });
        }
        began |= matches!(state, DeviceState::Connecting(_));
        if began && matches!(state, DeviceState::Failed | DeviceState::Disconnected) {
            return Err(Error::new(
                ErrorCode::ConnectionAttemptFailed,
                format!("could not join {:?} on {}", spec.ssid, device.device.interface),
            )
            .with_hint("is the device on and in range, and its password right? (netpilot device configure … --ask)"));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::new(
                ErrorCode::Timeout,
                format!(
                    "{:?} was not joined within {} s ({})",
                    spec.ssid,
                    timeout.as_secs(),
                    state.label()
                ),
            )
            .with_hint("is the device on and in range?"));
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Creates the link's virtual station interface on `parent`'s radio, unless it exists,
/// and waits until NetworkManager can use it.
async fn create_virtual(client: &NmClient, spec: &DeviceSpec, parent: &str) -> Result<(), Error> {
    let name = spec.interface.as_deref().unwrap_or_default();
    if !crate::radio::exists(name) {
        let gone = || {
            Error::new(
                ErrorCode::NoWifiDevice,
                format!("{parent}, whose radio {} shares, is not here", spec.name),
            )
            .with_hint(format!(
                "choose again: netpilot device configure {} --ssid {:?} --interface auto",
                spec.name, spec.ssid
            ))
        };
        let phy = crate::radio::phy_of(parent).ok_or_else(gone)?;
        let mac = crate::radio::derived_mac(parent).ok_or_else(gone)?;
        crate::radio::add_station(phy, name, mac).await?;
        tracing::info!(%name, %parent, "created a virtual station interface");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let usable = client.wifi_devices().await?.into_iter().any(|d| {
            d.device.interface == name
                && !matches!(
                    d.device.state,
                    DeviceState::Unmanaged | DeviceState::Unavailable
                )
        });
        if usable {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::new(
                ErrorCode::NoWifiDevice,
                format!("NetworkManager did not take up the virtual interface {name} within 10 s"),
            )
            .with_hint("is it configured to manage all WiFi devices? (nmcli device status)"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Nudges a lost link. While NetworkManager still holds it, its supplicant keeps the
/// network and looks for the AP, but only at its next scan (backed off to about 10 s):
/// it is asked to look now. That is a few cheap calls to the supplicant, where
/// NetworkManager's view of the link costs seconds under load (and NetworkManager's own
/// scan request was seen to delay the reconnection, and to crash 1.42 when given SSIDs).
/// Once NetworkManager has let go, the link is joined anew.
pub async fn rejoin(client: &NmClient, spec: &DeviceSpec) -> Result<(), Error> {
    use super::supplicant::{Rejoining, rejoin_now};
    let interface = spec.interface.as_deref().unwrap_or_default();
    match rejoin_now(client.bus(), interface, &spec.ssid).await {
        Ok(Rejoining::AskedNow) => {
            tracing::debug!(interface, "asked the supplicant to look for the AP now");
            return Ok(());
        }
        Ok(Rejoining::Joining) => return Ok(()),
        Ok(Rejoining::LetGo) => {}
        Err(error) => tracing::debug!(interface, %error, "cannot ask the supplicant"),
    }
    let profile = profile(client, &spec.name).await?;
    if let Some(parent) = &spec.virtual_of {
        create_virtual(client, spec, parent).await?;
    }
    let device = radio(client, spec).await?;
    let ours = client.active_uuid(&device).await?.as_deref() == Some(profile.uuid.as_str());
    match client.state(&device).await? {
        DeviceState::Connected | DeviceState::Connecting(_) if ours => Ok(()),
        _ => client.activate_on(&profile.path, &device).await,
    }
}

/// The radio the device link is bound to, as NetworkManager sees it now.
async fn radio(client: &NmClient, spec: &DeviceSpec) -> Result<NmWifiDevice, Error> {
    let interface = spec.interface.as_deref().unwrap_or_default();
    client
        .wifi_devices()
        .await?
        .into_iter()
        .find(|d| d.device.interface == interface)
        .ok_or_else(|| {
            Error::new(
                ErrorCode::NoWifiDevice,
                format!("{interface:?}, the radio of {}, is not here", spec.name),
            )
            .with_hint(format!(
                "plug the adapter back in, or choose again: netpilot device configure {} --ssid {:?} --interface auto",
                spec.name, spec.ssid
            ))
        })
}

/// Leaves the device's network (only if this link holds the radio), and deletes the
/// link's virtual interface; each step is tried whatever happened to the others.
pub async fn down(client: &NmClient, spec: &DeviceSpec, teardown: &mut Teardown) {
    let interface = spec.interface.clone().unwrap_or_default();
    let virtual_left = spec.virtual_of.is_some() && crate::radio::exists(&interface);
    if spec.virtual_of.is_none() || virtual_left {
        disconnect(client, spec, &interface, teardown).await;
    }
    if virtual_left {
        let deleted = crate::radio::delete(&interface).await;
        teardown.record(format!("delete the virtual interface {interface}"), deleted);
    }
}

async fn disconnect(
    client: &NmClient,
    spec: &DeviceSpec,
    interface: &str,
    teardown: &mut Teardown,
) {
    let step = format!("disconnect {interface}");
    let (profile, device) = match (profile(client, &spec.name).await, radio(client, spec).await) {
        (Ok(profile), Ok(device)) => (profile, device),
        (Err(error), _) | (_, Err(error)) => return teardown.record(step, Err(error)),
    };
    match client.active_uuid(&device).await {
        Ok(Some(uuid)) if uuid == profile.uuid => {
            teardown.record(step, client.disconnect(&device).await)
        }
        Ok(_) => {}
        Err(error) => teardown.record(step, Err(error)),
    }
}

/// `down`, then the profile and its secret.
pub async fn reset(client: &NmClient, store: &SecretStore, spec: &DeviceSpec) -> Teardown {
    let mut teardown = Teardown::default();
    down(client, spec, &mut teardown).await;
    match profile(client, &spec.name).await {
        Ok(profile) => {
            let deleted = client.delete_profile(&profile.path).await;
            teardown.record(
                format!("delete profile {}", profile_id(&spec.name)),
                deleted,
            );
            let forgotten = store.delete(&profile.uuid).await.map(|_| ());
            teardown.record("delete the saved password", forgotten);
        }
        Err(error) => teardown.record(
            format!("delete profile {}", profile_id(&spec.name)),
            Err(error),
        ),
    }
    teardown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn radios(list: &[(&str, DeviceState, bool)]) -> Vec<(String, DeviceState, bool)> {
        list.iter()
            .map(|(n, s, o)| (n.to_string(), *s, *o))
            .collect()
    }

    #[test]
    fn the_internet_radio_is_never_taken() {
        let two = radios(&[
            ("wlan0", DeviceState::Connected, false),
            ("wlan1", DeviceState::Disconnected, false),
        ]);
        assert_eq!(choose_radio(&two, Some("wlan0"), None).unwrap(), "wlan1");
        let error = choose_radio(&two, Some("wlan0"), Some("wlan0")).unwrap_err();
        assert_eq!(error.code, ErrorCode::NoFreeRadio);
        assert!(error.message.contains("carries the internet"));

        let one = radios(&[("wlan0", DeviceState::Connected, false)]);
        let error = choose_radio(&one, Some("wlan0"), None).unwrap_err();
        assert_eq!(error.code, ErrorCode::NoFreeRadio);
        assert!(error.hint.unwrap().contains("USB WiFi adapter"));
    }

    #[test]
    fn a_radio_busy_elsewhere_is_not_free_but_our_own_is() {
        let busy = radios(&[
            ("wlan0", DeviceState::Connected, false),
            ("wlan1", DeviceState::Connected, false),
        ]);
        assert!(choose_radio(&busy, Some("eth0"), None).is_err());
        let ours = radios(&[
            ("wlan0", DeviceState::Connected, false),
            ("wlan1", DeviceState::Connected, true),
        ]);
        assert_eq!(choose_radio(&ours, Some("wlan0"), None).unwrap(), "wlan1");
        assert_eq!(
            choose_radio(&busy, Some("eth0"), Some("wlan1")).unwrap(),
            "wlan1",
            "the user may name a busy radio that is not the internet's"
        );
        let error = choose_radio(&busy, None, Some("wlp3s0")).unwrap_err();
        assert!(error.hint.unwrap().contains("wlan0, wlan1"));
        assert_eq!(
            choose_radio(&[], None, None).unwrap_err().code,
            ErrorCode::NoWifiDevice
        );
    }
}
