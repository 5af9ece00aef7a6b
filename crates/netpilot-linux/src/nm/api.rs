//! Typed calls on NetworkManager over the system bus, returning domain types.

use super::dbus::{
    AccessPointProxy, ActiveConnectionProxy, DeviceProxy, Ip4ConfigProxy, NetworkManagerProxy,
    NmSettings, NmSettingsOut, SettingsConnectionProxy, SettingsProxy, WirelessProxy,
};
use super::map;
use futures_util::{Stream, StreamExt};
use netpilot_core::menu::RadioSwitch;
use netpilot_core::wifi::{self, AccessPoint, DeviceState, FailureReason, Security, WifiDevice};
use netpilot_core::{Error, ErrorCode};
use std::collections::HashMap;
use std::time::Duration;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, Value};

/// A WiFi device with the object path calls about it need.
#[derive(Debug, Clone)]
pub struct NmWifiDevice {
    pub path: OwnedObjectPath,
    pub device: WifiDevice,
}

/// An access point with its object path (the `specific_object` of an activation).
#[derive(Debug, Clone)]
pub struct NmAccessPoint {
    pub path: OwnedObjectPath,
    pub access_point: AccessPoint,
}

/// A saved WiFi profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedWifi {
    pub path: OwnedObjectPath,
    pub uuid: String,
    pub ssid: String,
    /// The interface the profile is bound to, if any.
    pub interface: Option<String>,
}

/// A state change of the device an attempt runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceChange {
    pub state: DeviceState,
    pub reason: FailureReason,
}

/// What to create when joining a network that has no profile yet.
#[derive(Debug, Clone)]
pub struct NewProfile<'a> {
    pub ssid: &'a str,
    /// Bind the profile to this interface (when the user named one).
    pub interface: Option<&'a str>,
    pub security: Security,
    pub hidden: bool,
    /// Store the password (agent-owned, `psk-flags` 1) or ask each time (`psk-flags` 2).
    pub save_secret: bool,
}

#[derive(Clone)]
pub struct NmClient {
    connection: zbus::Connection,
    nm: NetworkManagerProxy<'static>,
}

impl NmClient {
    /// Connects to the system bus and checks that NetworkManager answers on it.
    pub async fn connect() -> Result<Self, Error> {
        let connection = zbus::Connection::system().await.map_err(|e| {
            Error::new(
                ErrorCode::NmUnavailable,
                format!("cannot reach the system D-Bus: {e}"),
            )
            .with_hint("is dbus running? NetworkManager is reached through it")
        })?;
        Self::on(connection).await
    }

    /// Uses an existing bus connection (tests run NetworkManager on a bus of their own).
    pub async fn on(connection: zbus::Connection) -> Result<Self, Error> {
        let nm = NetworkManagerProxy::new(&connection)
            .await
            .map_err(nm_error)?;
        nm.version().await.map_err(nm_error)?;
        Ok(NmClient { connection, nm })
    }

    pub fn bus(&self) -> &zbus::Connection {
        &self.connection
    }

    pub async fn wifi_devices(&self) -> Result<Vec<NmWifiDevice>, Error> {
        let mut devices = Vec::new();
        for path in self.nm.get_devices().await.map_err(nm_error)? {
            let device = self.device(&path).await?;
            if device.device_type().await.map_err(nm_error)? != map::DEVICE_TYPE_WIFI {
                continue;
            }
            let wireless = self.wireless(&path).await?;
            let state = map::device_state(device.state().await.map_err(nm_error)?);
            let active_ap = wireless.active_access_point().await.map_err(nm_error)?;
            let ssid = if active_ap.as_str() == "/" {
                None
            } else {
                Some(self.access_point(&active_ap, "").await?.access_point.ssid)
            };
            devices.push(NmWifiDevice {
                device: WifiDevice {
                    interface: device.interface().await.map_err(nm_error)?,
                    state,
                    ssid,
                    ipv4: self.ipv4(&path).await?,
                    mac: wireless.hw_address().await.ok(),
                },
                path,
            });
        }
        devices.sort_by(|a, b| a.device.interface.cmp(&b.device.interface));
        Ok(devices)
    }

    /// Asks each device to scan and waits (up to 20 s) until each has finished.
    pub async fn scan(&self, devices: &[NmWifiDevice]) -> Result<(), Error> {
        let mut waiting = Vec::new();
        for device in devices {
            let wireless = self.wireless_uncached(&device.path).await?;
            let before = wireless.last_scan().await.map_err(nm_error)?;
            // NetworkManager refuses a scan right after another or while connecting;
            // the results of the last scan are then the answer.
            if wireless.request_scan(HashMap::new()).await.is_ok() {
                waiting.push((wireless, before));
            }
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        for (wireless, before) in waiting {
            while wireless.last_scan().await.map_err(nm_error)? <= before {
                if tokio::time::Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        Ok(())
    }

    /// The device object of the network interface `interface`.
    pub async fn device_by_interface(&self, interface: &str) -> Result<OwnedObjectPath, Error> {
        self.nm
            .get_device_by_ip_iface(interface)
            .await
            .map_err(|error| match nm_error(error) {
                e if e.code == ErrorCode::NotFound
                    || e.code == ErrorCode::ConnectionAttemptFailed =>
                {
                    Error::new(
                        ErrorCode::NotFound,
                        format!("NetworkManager knows no device {interface:?}"),
                    )
                    .with_hint("nmcli device lists the devices it knows")
                }
                e => e,
            })
    }

    /// Activates the best profile NetworkManager has for `device`, else one it makes up
    /// (its "Wired connection N").
    pub async fn activate_device(&self, device: &OwnedObjectPath) -> Result<(), Error> {
        let root = ObjectPath::from_static_str_unchecked("/");
        match self
            .nm
            .activate_connection(&root, &device.as_ref(), &root)
            .await
        {
            Ok(_) => Ok(()),
            Err(error)
                if error_name(&error).as_deref()
                    == Some("org.freedesktop.NetworkManager.UnknownConnection") =>
            {
                tracing::debug!(%device, "no profile for it: NetworkManager makes one");
                self.nm
                    .add_and_activate_connection(HashMap::new(), &device.as_ref(), &root)
                    .await
                    .map(|_| ())
                    .map_err(nm_error)
            }
            Err(error) => Err(nm_error(error)),
        }
    }

    /// Activates the profile at `profile` on the device at `device`.
    pub async fn activate_profile(
        &self,
        profile: &OwnedObjectPath,
        device: &OwnedObjectPath,
    ) -> Result<(), Error> {
        let root = ObjectPath::from_static_str_unchecked("/");
        self.nm
            .activate_connection(&profile.as_ref(), &device.as_ref(), &root)
            .await
            .map(|_| ())
            .map_err(nm_error)
    }

    /// Disconnects any device (by its object path).
    pub async fn disconnect_device(&self, device: &OwnedObjectPath) -> Result<(), Error> {
        self.device(device)
            .await?
            .disconnect()
            .await
            .map_err(nm_error)
    }

    /// Turns NetworkManager's WiFi switch on or off; the switch as it is then. A hard
    /// rfkill block cannot be lifted from here: `radio-blocked`.
    pub async fn set_wifi_enabled(&self, enabled: bool) -> Result<RadioSwitch, Error> {
        let nm = self.nm_uncached().await?;
        let hardware_blocked = !nm.wireless_hardware_enabled().await.map_err(nm_error)?;
        if enabled && hardware_blocked {
            return Err(netpilot_core::menu::radio_blocked());
        }
        nm.set_wireless_enabled(enabled).await.map_err(nm_error)?;
        Ok(RadioSwitch {
            enabled: nm.wireless_enabled().await.map_err(nm_error)?,
            hardware_blocked,
        })
    }

    /// Writes a profile's settings back, changed by `change` (its secrets are kept).
    pub async fn update_profile(
        &self,
        path: &OwnedObjectPath,
        change: impl FnOnce(&mut HashMap<String, HashMap<String, Value<'static>>>),
    ) -> Result<(), Error> {
        let connection = SettingsConnectionProxy::builder(&self.connection)
            .path(path.clone())
            .map_err(nm_error)?
            .build()
            .await
            .map_err(nm_error)?;
        let mut settings: HashMap<String, HashMap<String, Value<'static>>> = connection
            .get_settings()
            .await
            .map_err(nm_error)?
            .into_iter()
            .map(|(name, values)| {
                let values = values
                    .into_iter()
                    .map(|(key, value)| (key, Value::from(value)))
                    .collect();
                (name, values)
            })
            .collect();
        change(&mut settings);
        let out: NmSettingsOut<'_> = settings
            .iter()
            .map(|(name, values)| {
                let values = values
                    .iter()
                    .filter_map(|(key, value)| Some((key.as_str(), value.try_clone().ok()?)))
                    .collect();
                (name.as_str(), values)
            })
            .collect();
        connection
            .update2(out, 0, HashMap::new())
            .await
            .map_err(nm_error)?;
        Ok(())
    }

    pub async fn access_points(&self, device: &NmWifiDevice) -> Result<Vec<NmAccessPoint>, Error> {
        let wireless = self.wireless(&device.path).await?;
        let active = wireless.active_access_point().await.map_err(nm_error)?;
        let mut aps = Vec::new();
        for path in wireless.get_all_access_points().await.map_err(nm_error)? {
            // An access point can vanish between listing and reading it.
            if let Ok(mut ap) = self.access_point(&path, &device.device.interface).await {
                ap.access_point.in_use = path == active;
                aps.push(ap);
            }
        }
        Ok(aps)
    }

    async fn access_point(
        &self,
        path: &OwnedObjectPath,
        interface: &str,
    ) -> Result<NmAccessPoint, Error> {
        let ap = AccessPointProxy::builder(&self.connection)
            .path(path.clone())
            .map_err(nm_error)?
            .build()
            .await
            .map_err(nm_error)?;
        let frequency_mhz = ap.frequency().await.map_err(nm_error)?;
        Ok(NmAccessPoint {
            path: path.clone(),
            access_point: AccessPoint {
                ssid: String::from_utf8_lossy(&ap.ssid().await.map_err(nm_error)?).into_owned(),
                bssid: ap.hw_address().await.map_err(nm_error)?.to_lowercase(),
                signal: ap.strength().await.map_err(nm_error)?,
                frequency_mhz,
                channel: wifi::channel(frequency_mhz),
                security: map::security(
                    ap.flags().await.map_err(nm_error)?,
                    ap.wpa_flags().await.map_err(nm_error)?,
                    ap.rsn_flags().await.map_err(nm_error)?,
                ),
                interface: interface.to_string(),
                in_use: false,
                max_bitrate_kbps: ap.max_bitrate().await.unwrap_or(0),
            },
        })
    }

    /// Every saved WiFi profile.
    pub async fn saved_wifi(&self) -> Result<Vec<SavedWifi>, Error> {
        Ok(self
            .profiles()
            .await?
            .into_iter()
            .filter(|(_, profile)| {
                string(profile, "connection", "type").as_deref() == Some("802-11-wireless")
            })
            .map(|(path, profile)| SavedWifi {
                uuid: string(&profile, "connection", "uuid").unwrap_or_default(),
                interface: string(&profile, "connection", "interface-name")
                    .filter(|i| !i.is_empty()),
                ssid: ssid(&profile).unwrap_or_default(),
                path,
            })
            .collect())
    }

    /// Every profile with its settings (secrets left out), in NetworkManager's terms.
    pub async fn profiles(&self) -> Result<Vec<(OwnedObjectPath, NmSettings)>, Error> {
        let settings = SettingsProxy::new(&self.connection)
            .await
            .map_err(nm_error)?;
        let mut profiles = Vec::new();
        for path in settings.list_connections().await.map_err(nm_error)? {
            // A profile can vanish between listing and reading it.
            if let Ok(profile) = self.settings(&path).await {
                profiles.push((path, profile));
            }
        }
        Ok(profiles)
    }

    /// Saves a new profile (without activating it); returns its path.
    pub async fn add_profile(&self, profile: NmSettingsOut<'_>) -> Result<OwnedObjectPath, Error> {
        SettingsProxy::new(&self.connection)
            .await
            .map_err(nm_error)?
            .add_connection(profile)
            .await
            .map_err(nm_error)
    }

    /// Activates the profile at `profile` on `device`.
    pub async fn activate_on(
        &self,
        profile: &OwnedObjectPath,
        device: &NmWifiDevice,
    ) -> Result<(), Error> {
        let root = ObjectPath::from_static_str_unchecked("/");
        self.nm
            .activate_connection(&profile.as_ref(), &device.path.as_ref(), &root)
            .await
            .map_err(nm_error)?;
        Ok(())
    }

    /// The UUID of the profile active on `device`, if any.
    pub async fn active_uuid(&self, device: &NmWifiDevice) -> Result<Option<String>, Error> {
        Ok(match self.active(device).await? {
            Some(active) => active.uuid().await.ok(),
            None => None,
        })
    }

    /// The path of the profile active on `device`, if any.
    pub async fn active_profile(
        &self,
        device: &NmWifiDevice,
    ) -> Result<Option<OwnedObjectPath>, Error> {
        Ok(match self.active(device).await? {
            Some(active) => active.connection().await.ok(),
            None => None,
        })
    }

    async fn active(
        &self,
        device: &NmWifiDevice,
    ) -> Result<Option<ActiveConnectionProxy<'static>>, Error> {
        let active = self
            .device_uncached(&device.path)
            .await?
            .active_connection()
            .await
            .map_err(nm_error)?;
        if active.as_str() == "/" {
            return Ok(None);
        }
        self.active_at(active).await.map(Some)
    }

    /// The active connection at `path`, its properties read afresh.
    async fn active_at(
        &self,
        path: OwnedObjectPath,
    ) -> Result<ActiveConnectionProxy<'static>, Error> {
        ActiveConnectionProxy::builder(&self.connection)
            .path(path)
            .map_err(nm_error)?
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .map_err(nm_error)
    }

    /// NetworkManager itself, its properties read afresh (the cached proxy may lag).
    async fn nm_uncached(&self) -> Result<NetworkManagerProxy<'static>, Error> {
        NetworkManagerProxy::builder(&self.connection)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .map_err(nm_error)
    }

    /// One profile's settings (secrets left out).
    pub async fn settings(&self, path: &OwnedObjectPath) -> Result<NmSettings, Error> {
        let connection = SettingsConnectionProxy::builder(&self.connection)
            .path(path.clone())
            .map_err(nm_error)?
            .build()
            .await
            .map_err(nm_error)?;
        connection.get_settings().await.map_err(nm_error)
    }

    pub async fn delete_profile(&self, path: &OwnedObjectPath) -> Result<(), Error> {
        let connection = SettingsConnectionProxy::builder(&self.connection)
            .path(path.clone())
            .map_err(nm_error)?
            .build()
            .await
            .map_err(nm_error)?;
        connection.delete().await.map_err(nm_error)
    }

    /// State changes of every device, from now on, including devices that appear later:
    /// (device path, change).
    pub async fn all_device_changes(
        &self,
    ) -> Result<impl Stream<Item = (OwnedObjectPath, DeviceChange)> + Unpin + use<>, Error> {
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface("org.freedesktop.NetworkManager.Device")
            .and_then(|rule| rule.member("StateChanged"))
            .map_err(nm_error)?
            .build();
        let messages = zbus::MessageStream::for_match_rule(rule, &self.connection, None)
            .await
            .map_err(nm_error)?;
        Ok(messages.filter_map(|message| {
            let change = message.ok().and_then(|message| {
                let path = message.header().path()?.to_owned();
                let (new, old, reason) = message.body().deserialize::<(u32, u32, u32)>().ok()?;
                tracing::debug!(%path, new, old, reason, "device state");
                let change = DeviceChange {
                    state: map::device_state(new),
                    reason: map::failure_reason(reason),
                };
                Some((path.into(), change))
            });
            std::future::ready(change)
        }))
    }

    /// The interface name of the device at `path` if it is a WiFi device.
    pub async fn wifi_interface(&self, path: &OwnedObjectPath) -> Result<Option<String>, Error> {
        let device = self.device_uncached(path).await?;
        if device.device_type().await.map_err(nm_error)? != map::DEVICE_TYPE_WIFI {
            return Ok(None);
        }
        Ok(Some(device.interface().await.map_err(nm_error)?))
    }

    /// Creates a profile for a network and activates it on `device`; returns the
    /// profile's path. The password is never in the profile: NetworkManager asks the
    /// secret agent for it.
    pub async fn add_and_activate(
        &self,
        profile: &NewProfile<'_>,
        device: &NmWifiDevice,
        access_point: Option<&OwnedObjectPath>,
    ) -> Result<OwnedObjectPath, Error> {
        let mut connection: HashMap<&str, Value<'_>> = HashMap::new();
        connection.insert("id", Value::from(profile.ssid));
        connection.insert("type", Value::from("802-11-wireless"));
        if let Some(interface) = profile.interface {
            connection.insert("interface-name", Value::from(interface));
        }
        connection.insert("autoconnect", Value::from(profile.save_secret));
        let mut wireless: HashMap<&str, Value<'_>> = HashMap::new();
        wireless.insert("ssid", Value::from(profile.ssid.as_bytes().to_vec()));
        wireless.insert("mode", Value::from("infrastructure"));
        if profile.hidden {
            wireless.insert("hidden", Value::from(true));
        }
        // Success means an IPv4 address (the seed's wifiIP): never settle for IPv6 alone.
        let ipv4: HashMap<&str, Value<'_>> = HashMap::from([
            ("method", Value::from("auto")),
            ("may-fail", Value::from(false)),
        ]);
        let mut settings: NmSettingsOut<'_> = HashMap::new();
        settings.insert("ipv4", ipv4);
        settings.insert("user", super::leftovers::marker());
        settings.insert("connection", connection);
        settings.insert("802-11-wireless", wireless);
        if let Some(key_mgmt) = map::key_mgmt(profile.security) {
            let mut security: HashMap<&str, Value<'_>> = HashMap::new();
            security.insert("key-mgmt", Value::from(key_mgmt));
            // NM_SETTING_SECRET_FLAG_AGENT_OWNED (1) or NOT_SAVED (2).
            let flags: u32 = if profile.save_secret { 1 } else { 2 };
            let flag_name = if profile.security == Security::Wep {
                "wep-key-flags"
            } else {
                "psk-flags"
            };
            security.insert(flag_name, Value::from(flags));
            if profile.security == Security::Sae {
                // SAE requires management frame protection.
                security.insert("pmf", Value::from(3i32));
            }
            settings.insert("802-11-wireless-security", security);
        }
        tracing::debug!(ssid = %profile.ssid, security = ?profile.security, hidden = profile.hidden, save = profile.save_secret, "AddAndActivateConnection");
        let root = ObjectPath::from_static_str_unchecked("/");
        let specific = access_point.map_or(root.clone(), |p| p.as_ref());
        let (profile_path, _active) = self
            .nm
            .add_and_activate_connection(settings, &device.path.as_ref(), &specific)
            .await
            .map_err(nm_error)?;
        Ok(profile_path)
    }

    /// NetworkManager's verdict on the internet, as it stands now.
    pub async fn connectivity(&self) -> Result<netpilot_core::internet::Connectivity, Error> {
        use netpilot_core::internet::Connectivity;
        let nm = self.nm_uncached().await?;
        Ok(match nm.connectivity().await.map_err(nm_error)? {
            1 => Connectivity::None,
            2 => Connectivity::Portal,
            3 => Connectivity::Limited,
            4 => Connectivity::Full,
            _ => Connectivity::Unknown,
        })
    }

    /// Whether `device` may join networks by itself (false once disconnected by hand).
    pub async fn may_autoconnect(&self, device: &NmWifiDevice) -> Result<bool, Error> {
        self.device_uncached(&device.path)
            .await?
            .autoconnect()
            .await
            .map_err(nm_error)
    }

    /// Whether NetworkManager has finished starting (read its profiles, made its first
    /// activations).
    pub async fn started(&self) -> Result<bool, Error> {
        let nm = self.nm_uncached().await?;
        Ok(!nm.startup().await.map_err(nm_error)?)
    }

    /// The profiles of every active connection (activating or up).
    pub async fn active_profiles(&self) -> Result<Vec<OwnedObjectPath>, Error> {
        let mut profiles = Vec::new();
        // Read afresh: the leftovers' sweep relies on an activation made a moment ago
        // being listed, which a cached property may not show yet.
        let listed = self.nm_uncached().await?.active_connections().await;
        for active in listed.map_err(nm_error)? {
            let proxy = self.active_at(active).await?;
            // An activation can end between listing and reading it.
            if let Ok(profile) = proxy.connection().await {
                profiles.push(profile);
            }
        }
        Ok(profiles)
    }

    /// Activates a saved profile on `device`.
    pub async fn activate(&self, profile: &SavedWifi, device: &NmWifiDevice) -> Result<(), Error> {
        let root = ObjectPath::from_static_str_unchecked("/");
        self.nm
            .activate_connection(&profile.path.as_ref(), &device.path.as_ref(), &root)
            .await
            .map_err(nm_error)?;
        Ok(())
    }

    pub async fn disconnect(&self, device: &NmWifiDevice) -> Result<(), Error> {
        self.device(&device.path)
            .await?
            .disconnect()
            .await
            .map_err(nm_error)
    }

    /// The device's IPv4 address with prefix, once it has one.
    pub async fn ipv4(&self, device: &OwnedObjectPath) -> Result<Option<String>, Error> {
        let config = self
            .device_uncached(device)
            .await?
            .ip4_config()
            .await
            .map_err(nm_error)?;
        if config.as_str() == "/" {
            return Ok(None);
        }
        let Ok(builder) = Ip4ConfigProxy::builder(&self.connection).path(config) else {
            return Ok(None);
        };
        let Ok(proxy) = builder
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
        else {
            return Ok(None);
        };
        let data = proxy.address_data().await.unwrap_or_default();
        Ok(data.first().and_then(|entry| {
            let address = <&str>::try_from(&**entry.get("address")?).ok()?;
            let prefix = u32::try_from(&**entry.get("prefix")?).ok()?;
            Some(format!("{address}/{prefix}"))
        }))
    }

    /// The state of a device now.
    pub async fn state(&self, device: &NmWifiDevice) -> Result<DeviceState, Error> {
        let state = self
            .device_uncached(&device.path)
            .await?
            .state()
            .await
            .map_err(nm_error)?;
        Ok(map::device_state(state))
    }

    async fn device(&self, path: &OwnedObjectPath) -> Result<DeviceProxy<'static>, Error> {
        DeviceProxy::builder(&self.connection)
            .path(path.clone())
            .map_err(nm_error)?
            .build()
            .await
            .map_err(nm_error)
    }

    async fn device_uncached(&self, path: &OwnedObjectPath) -> Result<DeviceProxy<'static>, Error> {
        DeviceProxy::builder(&self.connection)
            .path(path.clone())
            .map_err(nm_error)?
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .map_err(nm_error)
    }

    async fn wireless(&self, path: &OwnedObjectPath) -> Result<WirelessProxy<'static>, Error> {
        WirelessProxy::builder(&self.connection)
            .path(path.clone())
            .map_err(nm_error)?
            .build()
            .await
            .map_err(nm_error)
    }

    async fn wireless_uncached(
        &self,
        path: &OwnedObjectPath,
    ) -> Result<WirelessProxy<'static>, Error> {
        WirelessProxy::builder(&self.connection)
            .path(path.clone())
            .map_err(nm_error)?
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .map_err(nm_error)
    }
}

pub(crate) fn string(settings: &NmSettings, setting: &str, key: &str) -> Option<String> {
    let value = settings.get(setting)?.get(key)?;
    <&str>::try_from(&**value).ok().map(str::to_owned)
}

/// A WiFi profile's SSID (bytes, shown lossily as UTF-8).
pub(crate) fn ssid(settings: &NmSettings) -> Option<String> {
    let value = settings.get("802-11-wireless")?.get("ssid")?;
    let bytes = Vec::<u8>::try_from(value.try_clone().ok()?).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The D-Bus error name of a failed call, if it has one.
pub(crate) fn error_name(error: &zbus::Error) -> Option<String> {
    match error {
        zbus::Error::MethodError(name, _, _) => Some(name.to_string()),
        zbus::Error::FDO(fdo) => Some(zbus::DBusError::name(&**fdo).to_string()),
        _ => None,
    }
}

/// Maps a failed NetworkManager call to a user-facing error.
pub(crate) fn nm_error(error: zbus::Error) -> Error {
    let name = error_name(&error).unwrap_or_default();
    match name.as_str() {
        "org.freedesktop.DBus.Error.ServiceUnknown"
        | "org.freedesktop.DBus.Error.NameHasNoOwner" => {
            Error::new(ErrorCode::NmUnavailable, "NetworkManager is not running")
                .with_hint("start it: sudo systemctl start NetworkManager")
        }
        "org.freedesktop.DBus.Error.AccessDenied"
        | "org.freedesktop.NetworkManager.PermissionDenied" => Error::new(
            ErrorCode::PermissionDenied,
            format!("NetworkManager refused: {error}"),
        )
        .with_hint("run as root, or as a user polkit lets manage networks"),
        "org.freedesktop.NetworkManager.Settings.Connection.InvalidProperty"
        | "org.freedesktop.NetworkManager.Settings.InvalidProperty" => Error::new(
            ErrorCode::InvalidArgument,
            format!("NetworkManager rejected the profile: {error}"),
        ),
        "org.freedesktop.DBus.Error.UnknownObject" | "org.freedesktop.DBus.Error.UnknownMethod" => {
            Error::new(ErrorCode::NotFound, format!("NetworkManager: {error}"))
        }
        _ => Error::new(
            ErrorCode::ConnectionAttemptFailed,
            format!("NetworkManager: {error}"),
        ),
    }
}
