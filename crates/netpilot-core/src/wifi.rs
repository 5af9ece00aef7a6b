//! WiFi: devices, access points, networks and the stages of connecting.

use serde::{Deserialize, Serialize};

/// How an access point protects its network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Security {
    Open,
    /// Opportunistic wireless encryption: encrypted, no password.
    Owe,
    Wep,
    /// WPA/WPA2 personal (pre-shared key).
    WpaPsk,
    /// WPA3 personal (SAE).
    Sae,
    /// 802.1X (enterprise).
    Enterprise,
}

impl Security {
    pub fn as_str(self) -> &'static str {
        match self {
            Security::Open => "open",
            Security::Owe => "owe",
            Security::Wep => "wep",
            Security::WpaPsk => "wpa-psk",
            Security::Sae => "sae",
            Security::Enterprise => "enterprise",
        }
    }

    /// Whether connecting needs a password.
    pub fn needs_password(self) -> bool {
        matches!(
            self,
            Security::Wep | Security::WpaPsk | Security::Sae | Security::Enterprise
        )
    }
}

/// One access point as a radio sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessPoint {
    /// Empty for an access point that hides its SSID.
    pub ssid: String,
    pub bssid: String,
    /// Signal strength, 0–100.
    pub signal: u8,
    pub frequency_mhz: u32,
    pub channel: u16,
    pub security: Security,
    /// The interface that saw it.
    pub interface: String,
    /// That interface is connected through it.
    pub in_use: bool,
    /// The fastest rate it offers, in kbit/s (0 when unknown).
    #[serde(default)]
    pub max_bitrate_kbps: u32,
}

/// A network by SSID: the strongest of its access points, as `wifi list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WifiNetwork {
    pub ssid: String,
    pub signal: u8,
    pub security: Security,
    pub channel: u16,
    /// A saved profile exists for it.
    pub known: bool,
    pub in_use: bool,
    pub interfaces: Vec<String>,
}

/// What a WiFi device is doing, in NetworkManager's terms made plain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceState {
    Unmanaged,
    Unavailable,
    Disconnected,
    Connecting(ConnectStage),
    Connected,
    Disconnecting,
    Failed,
    Unknown,
}

impl DeviceState {
    pub fn label(self) -> &'static str {
        match self {
            DeviceState::Unmanaged => "unmanaged",
            DeviceState::Unavailable => "unavailable",
            DeviceState::Disconnected => "disconnected",
            DeviceState::Connecting(stage) => stage.label(),
            DeviceState::Connected => "connected",
            DeviceState::Disconnecting => "disconnecting",
            DeviceState::Failed => "failed",
            DeviceState::Unknown => "unknown",
        }
    }
}

/// The stages of connecting, for progress shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectStage {
    Preparing,
    Configuring,
    /// Waiting for a password (a secret agent was asked).
    Authenticating,
    GettingAddress,
    Checking,
}

impl ConnectStage {
    pub fn label(self) -> &'static str {
        match self {
            ConnectStage::Preparing => "preparing",
            ConnectStage::Configuring => "associating",
            ConnectStage::Authenticating => "waiting for the password",
            ConnectStage::GettingAddress => "getting an address",
            ConnectStage::Checking => "checking",
        }
    }
}

/// Why NetworkManager says an attempt failed, from its device state reasons (made plain;
/// the engine turns them into error codes knowing what the attempt had seen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureReason {
    /// No agent gave the secrets (none asked, or the user cancelled).
    NoSecrets,
    /// The supplicant gave up: usually a wrong password.
    SupplicantFailed,
    /// The supplicant timed out associating or authenticating.
    SupplicantTimeout,
    /// No access point with the SSID (also how a WPA3 wrong password can show up).
    SsidNotFound,
    /// No IP configuration (DHCP failed or timed out).
    IpConfigUnavailable,
    /// The profile was deleted.
    ConnectionRemoved,
    /// Another activation took the device, or the user disconnected it.
    Interrupted,
    Other(u32),
}

/// A WiFi device and what it is connected to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WifiDevice {
    pub interface: String,
    pub state: DeviceState,
    pub ssid: Option<String>,
    /// Its IPv4 address with prefix, `192.168.1.20/24`.
    pub ipv4: Option<String>,
    pub mac: Option<String>,
}

/// What a WiFi radio is for, on this machine: the model all of netpilot shares, so a WiFi
/// action never takes or drops a radio another job holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "role", content = "deviceLink", rename_all = "kebab-case")]
pub enum Role {
    /// The WiFi link used for the internet: the one the user joined for it, or the one
    /// holding the lowest-metric default route.
    Internet,
    /// Carries the named device link (up, or being brought up or back).
    DeviceLink(String),
    /// Runs a hotspot (an access point others join).
    Hotspot,
    /// Neither: WiFi actions may use it.
    Free,
}

impl Role {
    /// "internet", "device-link cozmo", "free".
    pub fn label(&self) -> String {
        match self {
            Role::Internet => "internet".into(),
            Role::DeviceLink(name) => format!("device-link {name}"),
            Role::Hotspot => "hotspot".into(),
            Role::Free => "free".into(),
        }
    }
}

/// A WiFi device with its role: `wifiDevices` of the `network` state, `wifi status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WifiRadio {
    pub interface: String,
    /// `{"role": "internet"}`, `{"role": "device-link", "deviceLink": "cozmo"}`, `{"role": "free"}`.
    #[serde(flatten)]
    pub role: Role,
    pub state: DeviceState,
    pub ssid: Option<String>,
    /// Its IPv4 address with prefix, `192.168.1.20/24`.
    pub ipv4: Option<String>,
    pub mac: Option<String>,
}

/// Groups access points by SSID: the strongest gives signal, channel and security.
/// Hidden access points (empty SSID) are left out: they cannot be joined by name.
pub fn networks(access_points: &[AccessPoint], known: &[String]) -> Vec<WifiNetwork> {
    let mut networks: Vec<WifiNetwork> = Vec::new();
    for ap in access_points.iter().filter(|ap| !ap.ssid.is_empty()) {
        match networks.iter_mut().find(|n| n.ssid == ap.ssid) {
            Some(network) => {
                if ap.signal > network.signal {
                    network.signal = ap.signal;
                    network.channel = ap.channel;
                    network.security = ap.security;
                }
                network.in_use |= ap.in_use;
                if !network.interfaces.contains(&ap.interface) {
                    network.interfaces.push(ap.interface.clone());
                }
            }
            None => networks.push(WifiNetwork {
                ssid: ap.ssid.clone(),
                signal: ap.signal,
                security: ap.security,
                channel: ap.channel,
                known: known.contains(&ap.ssid),
                in_use: ap.in_use,
                interfaces: vec![ap.interface.clone()],
            }),
        }
    }
    networks.sort_by(|a, b| {
        b.in_use
            .cmp(&a.in_use)
            .then(b.signal.cmp(&a.signal))
            .then(a.ssid.cmp(&b.ssid))
    });
    networks
}

/// The channel of a frequency (2.4 GHz, 5 GHz and 6 GHz bands).
pub fn channel(frequency_mhz: u32) -> u16 {
    let channel = match frequency_mhz {
        2484 => 14,
        2412..=2472 => (frequency_mhz - 2407) / 5,
        5955..=7115 => (frequency_mhz - 5950) / 5,
        5000..=5895 => (frequency_mhz - 5000) / 5,
        _ => 0,
    };
    channel as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ap(ssid: &str, signal: u8, interface: &str, in_use: bool) -> AccessPoint {
        AccessPoint {
            ssid: ssid.into(),
            bssid: format!("02:00:00:00:00:{signal:02x}"),
            signal,
            frequency_mhz: 2412,
            channel: 1,
            security: Security::WpaPsk,
            interface: interface.into(),
            in_use,
            max_bitrate_kbps: 0,
        }
    }

    #[test]
    fn networks_take_the_strongest_access_point_and_leave_hidden_ones_out() {
        let aps = [
            ap("home", 40, "wlan0", false),
            ap("home", 70, "wlan1", true),
            ap("", 90, "wlan0", false),
            ap("cafe", 80, "wlan0", false),
        ];
        let list = networks(&aps, &["home".to_string()]);
        assert_eq!(
            list.iter().map(|n| n.ssid.as_str()).collect::<Vec<_>>(),
            ["home", "cafe"]
        );
        assert_eq!(
            (list[0].signal, list[0].known, list[0].in_use),
            (70, true, true)
        );
        assert_eq!(list[0].interfaces, ["wlan0", "wlan1"]);
        assert!(!list[1].known);
    }

    #[test]
    fn channels_of_common_frequencies() {
        assert_eq!(channel(2412), 1);
        assert_eq!(channel(2437), 6);
        assert_eq!(channel(2462), 11);
        assert_eq!(channel(2484), 14);
        assert_eq!(channel(5180), 36);
        assert_eq!(channel(5955), 1);
        assert_eq!(channel(900), 0);
    }
}
