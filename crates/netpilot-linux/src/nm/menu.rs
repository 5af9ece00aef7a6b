//! The menu's look at NetworkManager: the WiFi switch, every radio's last scan, the saved
//! profiles, the wired devices, connectivity and hotspots. Each object is read with one
//! `Properties.GetAll` (not a call per property): under load, and on a slow machine, the
//! number of round trips is what a look costs.

use super::api::{NmClient, nm_error, ssid, string};
use super::dbus::NmSettings;
use super::map;
use netpilot_core::Error;
use netpilot_core::internet::Connectivity;
use netpilot_core::menu::{Hotspot, Menu, RadioSwitch, SavedProfile, WiredDevice};
use netpilot_core::wifi::{self, AccessPoint, Security};
use std::collections::HashMap;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

const NM: &str = "org.freedesktop.NetworkManager";
const DEVICE: &str = "org.freedesktop.NetworkManager.Device";
const WIRELESS: &str = "org.freedesktop.NetworkManager.Device.Wireless";
const ACCESS_POINT: &str = "org.freedesktop.NetworkManager.AccessPoint";
const ACTIVE: &str = "org.freedesktop.NetworkManager.Connection.Active";
const IP4: &str = "org.freedesktop.NetworkManager.IP4Config";
const IP6: &str = "org.freedesktop.NetworkManager.IP6Config";
const DEVICE_TYPE_ETHERNET: u32 = 1;
/// A veth NetworkManager manages is wired like Ethernet (it skips containers' own).
const DEVICE_TYPE_VETH: u32 = 20;
/// NMDeviceInterfaceFlags: the link has a carrier (NetworkManager ≥ 1.22).
const INTERFACE_FLAG_CARRIER: u32 = 0x10000;

/// One object's properties of one interface.
pub(super) struct Props(HashMap<String, OwnedValue>);

impl Props {
    pub(super) async fn of(
        client: &NmClient,
        path: &OwnedObjectPath,
        interface: &'static str,
    ) -> Result<Props, Error> {
        let proxy = zbus::fdo::PropertiesProxy::builder(client.bus())
            .destination(NM)
            .map_err(nm_error)?
            .path(path.clone())
            .map_err(nm_error)?
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .map_err(nm_error)?;
        let name = zbus::names::InterfaceName::from_static_str_unchecked(interface);
        let all = proxy.get_all(name).await.map_err(|e| nm_error(e.into()))?;
        Ok(Props(all))
    }

    pub(super) fn get<T: TryFrom<OwnedValue>>(&self, key: &str) -> Option<T> {
        T::try_from(self.0.get(key)?.try_clone().ok()?).ok()
    }

    /// An object path property, `None` for NetworkManager's "none" (`/`).
    pub(super) fn path(&self, key: &str) -> Option<OwnedObjectPath> {
        self.get::<OwnedObjectPath>(key)
            .filter(|path| path.as_str() != "/")
    }
}

/// The interfaces whose property changes the menu shows.
const WATCHED: [&str; 8] = [
    NM,
    DEVICE,
    WIRELESS,
    "org.freedesktop.NetworkManager.Device.Wired",
    ACCESS_POINT,
    ACTIVE,
    IP4,
    IP6,
];

/// Signals of NetworkManager that change what the menu shows, as a stream of "look again"
/// (one item per signal: the engine merges a burst into one look).
pub(super) async fn changes(
    client: &NmClient,
) -> Result<impl futures_util::Stream<Item = ()> + Unpin + use<>, Error> {
    use futures_util::StreamExt;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .sender(NM)
        .and_then(|rule| rule.path_namespace("/org/freedesktop/NetworkManager"))
        .map_err(nm_error)?
        .build();
    // Room for a whole scan's signals while the forwarder sleeps: a full queue would hold
    // up the bus connection's reader (and the agent's requests on it).
    let messages = zbus::MessageStream::for_match_rule(rule, client.bus(), Some(4096))
        .await
        .map_err(nm_error)?;
    Ok(messages.filter_map(|message| {
        let relevant = message.ok().is_some_and(|message| {
            let header = message.header();
            match header.member().map(|m| m.as_str()) {
                Some("PropertiesChanged") => message
                    .body()
                    .deserialize::<(String, HashMap<String, OwnedValue>, Vec<String>)>()
                    .is_ok_and(|(interface, _, _)| WATCHED.contains(&interface.as_str())),
                Some(
                    "NewConnection" | "ConnectionRemoved" | "Updated" | "Removed"
                    | "AccessPointAdded" | "AccessPointRemoved",
                ) => true,
                _ => false,
            }
        });
        std::future::ready(relevant.then_some(()))
    }))
}

/// The menu now.
pub(super) async fn look(client: &NmClient) -> Result<Menu, Error> {
    let root = OwnedObjectPath::try_from("/org/freedesktop/NetworkManager").map_err(zv)?;
    let nm = Props::of(client, &root, NM).await?;
    let profiles = client.profiles().await?;
    let mut menu = Menu {
        radio: RadioSwitch {
            enabled: nm.get("WirelessEnabled").unwrap_or(false),
            hardware_blocked: !nm.get("WirelessHardwareEnabled").unwrap_or(true),
        },
        connectivity: connectivity(nm.get("Connectivity").unwrap_or(0)),
        saved: profiles.iter().filter_map(|(_, p)| saved(p)).collect(),
        ..Menu::default()
    };
    let devices: Vec<OwnedObjectPath> = nm
        .get("AllDevices")
        .or(nm.get("Devices"))
        .unwrap_or_default();
    for path in devices {
        // A device can leave between listing and reading it.
        let Ok(device) = Props::of(client, &path, DEVICE).await else {
            continue;
        };
        let interface: String = device.get("Interface").unwrap_or_default();
        match device.get::<u32>("DeviceType") {
            Some(map::DEVICE_TYPE_WIFI) => {
                menu.access_points
                    .extend(access_points(client, &path, &interface).await);
                if let Some(hotspot) = hotspot(client, &device, &profiles).await {
                    menu.hotspots.push(hotspot);
                }
            }
            // Wired links NetworkManager manages (not unmanaged ones: ifupdown's, containers').
            Some(DEVICE_TYPE_ETHERNET | DEVICE_TYPE_VETH)
                if device.get::<u32>("State").is_some_and(|s| s > 10) =>
            {
                menu.wired.push(wired(client, &device, interface).await)
            }
            _ => {}
        }
    }
    menu.access_points.sort_by(|a, b| {
        (a.interface.as_str(), a.bssid.as_str()).cmp(&(b.interface.as_str(), b.bssid.as_str()))
    });
    menu.wired.sort_by(|a, b| a.interface.cmp(&b.interface));
    Ok(menu)
}

/// Every saved WiFi profile with its path.
pub(super) async fn look_saved(
    client: &NmClient,
) -> Result<Vec<(OwnedObjectPath, SavedProfile)>, Error> {
    Ok(client
        .profiles()
        .await?
        .into_iter()
        .filter_map(|(path, profile)| Some((path, saved(&profile)?)))
        .collect())
}

/// Every access point a radio saw in its last scan.
async fn access_points(
    client: &NmClient,
    device: &OwnedObjectPath,
    interface: &str,
) -> Vec<AccessPoint> {
    let Ok(wireless) = Props::of(client, device, WIRELESS).await else {
        return Vec::new();
    };
    let active = wireless.path("ActiveAccessPoint");
    let listed: Vec<OwnedObjectPath> = wireless.get("AccessPoints").unwrap_or_default();
    let mut found = Vec::new();
    for path in listed {
        let Ok(ap) = Props::of(client, &path, ACCESS_POINT).await else {
            continue; // gone between listing and reading
        };
        // A radio in AP mode lists its own network: that is no network to join.
        if ap.get::<u32>("Mode") == Some(3) {
            continue;
        }
        let frequency_mhz: u32 = ap.get("Frequency").unwrap_or(0);
        found.push(AccessPoint {
            ssid: String::from_utf8_lossy(&ap.get::<Vec<u8>>("Ssid").unwrap_or_default())
                .into_owned(),
            bssid: ap
                .get::<String>("HwAddress")
                .unwrap_or_default()
                .to_lowercase(),
            signal: ap.get("Strength").unwrap_or(0),
            frequency_mhz,
            channel: wifi::channel(frequency_mhz),
            security: map::security(
                ap.get("Flags").unwrap_or(0),
                ap.get("WpaFlags").unwrap_or(0),
                ap.get("RsnFlags").unwrap_or(0),
            ),
            interface: interface.to_string(),
            in_use: active.as_ref() == Some(&path),
            max_bitrate_kbps: ap.get("MaxBitrate").unwrap_or(0),
        });
    }
    found
}

/// The hotspot on a radio whose active profile is an access point's.
async fn hotspot(
    client: &NmClient,
    device: &Props,
    profiles: &[(OwnedObjectPath, NmSettings)],
) -> Option<Hotspot> {
    let active = Props::of(client, &device.path("ActiveConnection")?, ACTIVE)
        .await
        .ok()?;
    let profile_path = active.path("Connection")?;
    let (_, profile) = profiles.iter().find(|(path, _)| *path == profile_path)?;
    if string(profile, "802-11-wireless", "mode").as_deref() != Some("ap") {
        return None;
    }
    let ipv4 = match device.path("Ip4Config") {
        Some(config) => Props::of(client, &config, IP4)
            .await
            .ok()
            .and_then(|c| addresses(&c).into_iter().next()),
        None => None,
    };
    Some(Hotspot {
        interface: device.get("Interface").unwrap_or_default(),
        ssid: ssid(profile).unwrap_or_default(),
        band: string(profile, "802-11-wireless", "band"),
        channel: profile
            .get("802-11-wireless")
            .and_then(|w| w.get("channel"))
            .and_then(|v| u32::try_from(&**v).ok())
            .filter(|c| *c != 0)
            .and_then(|c| u16::try_from(c).ok()),
        active: device.get::<u32>("State") == Some(100),
        ipv4,
        profile_uuid: string(profile, "connection", "uuid").unwrap_or_default(),
    })
}

async fn wired(client: &NmClient, device: &Props, interface: String) -> WiredDevice {
    let mut wired = WiredDevice {
        interface,
        state: map::device_state(device.get("State").unwrap_or(0)),
        carrier: device.get::<u32>("InterfaceFlags").unwrap_or(0) & INTERFACE_FLAG_CARRIER != 0,
        mac: device.get::<String>("HwAddress").map(|m| m.to_lowercase()),
        ipv4: None,
        ipv6: Vec::new(),
        gateway: None,
        dns: Vec::new(),
        profile: None,
    };
    if let Some(active) = device.path("ActiveConnection")
        && let Ok(active) = Props::of(client, &active, ACTIVE).await
    {
        wired.profile = active.get("Id");
    }
    if let Some(config) = device.path("Ip4Config")
        && let Ok(ip4) = Props::of(client, &config, IP4).await
    {
        wired.ipv4 = addresses(&ip4).into_iter().next();
        wired.gateway = ip4.get::<String>("Gateway").filter(|g| !g.is_empty());
        wired.dns = entries(&ip4, "NameserverData")
            .iter()
            .filter_map(|entry| text(entry, "address"))
            .collect();
    }
    if let Some(config) = device.path("Ip6Config")
        && let Ok(ip6) = Props::of(client, &config, IP6).await
    {
        let mut addresses = addresses(&ip6);
        // Global addresses first; link-local ones last.
        addresses.sort_by_key(|a| a.starts_with("fe80:"));
        wired.ipv6 = addresses;
        if wired.gateway.is_none() {
            wired.gateway = ip6.get::<String>("Gateway").filter(|g| !g.is_empty());
        }
        let servers: Vec<Vec<u8>> = ip6.get("Nameservers").unwrap_or_default();
        wired.dns.extend(servers.into_iter().filter_map(|bytes| {
            let octets: [u8; 16] = bytes.try_into().ok()?;
            Some(std::net::Ipv6Addr::from(octets).to_string())
        }));
    }
    wired
}

/// `AddressData` as `address/prefix` strings.
fn addresses(config: &Props) -> Vec<String> {
    entries(config, "AddressData")
        .iter()
        .filter_map(|entry| {
            let address = text(entry, "address")?;
            let prefix = u32::try_from(&**entry.get("prefix")?).ok()?;
            Some(format!("{address}/{prefix}"))
        })
        .collect()
}

fn entries(config: &Props, key: &str) -> Vec<HashMap<String, OwnedValue>> {
    config.get(key).unwrap_or_default()
}

fn text(entry: &HashMap<String, OwnedValue>, key: &str) -> Option<String> {
    <&str>::try_from(&**entry.get(key)?).ok().map(str::to_owned)
}

/// A WiFi profile as the menu lists it; `None` for any other kind of profile.
fn saved(profile: &NmSettings) -> Option<SavedProfile> {
    if string(profile, "connection", "type").as_deref() != Some("802-11-wireless") {
        return None;
    }
    let connection = profile.get("connection")?;
    let wireless = profile.get("802-11-wireless");
    let flag = |map: Option<&HashMap<String, OwnedValue>>, key: &str, default: bool| {
        map.and_then(|m| m.get(key))
            .and_then(|v| bool::try_from(&**v).ok())
            .unwrap_or(default)
    };
    Some(SavedProfile {
        uuid: string(profile, "connection", "uuid")?,
        name: string(profile, "connection", "id").unwrap_or_default(),
        ssid: ssid(profile)?,
        autoconnect: flag(Some(connection), "autoconnect", true),
        priority: connection
            .get("autoconnect-priority")
            .and_then(|v| i32::try_from(&**v).ok())
            .unwrap_or(0),
        last_used: connection
            .get("timestamp")
            .and_then(|v| u64::try_from(&**v).ok())
            .filter(|t| *t > 0),
        interface: string(profile, "connection", "interface-name").filter(|i| !i.is_empty()),
        security: security_of(profile),
        hidden: flag(wireless, "hidden", false),
        hotspot: string(profile, "802-11-wireless", "mode").as_deref() == Some("ap"),
        device_link: super::device::spec_of(profile).map(|spec| spec.name),
    })
}

/// A profile's security, from its `key-mgmt`.
fn security_of(profile: &NmSettings) -> Security {
    match string(profile, "802-11-wireless-security", "key-mgmt").as_deref() {
        None => Security::Open,
        Some("wpa-psk") => Security::WpaPsk,
        Some("sae") => Security::Sae,
        Some("owe") => Security::Owe,
        Some("wpa-eap" | "wpa-eap-suite-b-192" | "ieee8021x") => Security::Enterprise,
        Some(_) => Security::Wep,
    }
}

fn connectivity(value: u32) -> Connectivity {
    match value {
        1 => Connectivity::None,
        2 => Connectivity::Portal,
        3 => Connectivity::Limited,
        4 => Connectivity::Full,
        _ => Connectivity::Unknown,
    }
}

fn zv(error: zbus::zvariant::Error) -> Error {
    nm_error(error.into())
}
