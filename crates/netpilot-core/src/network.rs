//! The network state a UI follows, and credential prompts: protocol v1's `network` and
//! `network.credentials` event data, field for field as the seed names them.

use serde::{Deserialize, Serialize};

/// What kind of link carries the machine's traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkStatus {
    Wifi,
    Ethernet,
    #[default]
    Disconnected,
}

/// The `network` service's state. Clients must ignore fields they do not know: fields are
/// added beside the seed's seven, never renamed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkState {
    #[serde(rename = "networkStatus")]
    pub network_status: NetworkStatus,
    #[serde(rename = "isConnecting")]
    pub is_connecting: bool,
    /// The SSID being joined; empty when idle.
    #[serde(rename = "connectingSSID")]
    pub connecting_ssid: String,
    #[serde(rename = "wifiConnected")]
    pub wifi_connected: bool,
    #[serde(rename = "wifiSSID")]
    pub wifi_ssid: String,
    /// The WiFi IPv4 address; empty until DHCP completes.
    #[serde(rename = "wifiIP")]
    pub wifi_ip: String,
    /// The error code of the last failed attempt (`authentication-failed`…); empty after a
    /// success.
    #[serde(rename = "lastError")]
    pub last_error: String,
    /// Beside the seed's seven: what `lastError` means in this case ("the password for
    /// \"home\" was rejected"), and what to do about it; empty with `lastError`.
    #[serde(rename = "lastErrorMessage", default)]
    pub last_error_message: String,
    #[serde(rename = "lastErrorHint", default)]
    pub last_error_hint: String,
    /// Every WiFi device with its role. The seven fields above describe the one whose role
    /// is `internet`, never a device link's.
    #[serde(rename = "wifiDevices", default)]
    pub wifi_devices: Vec<crate::wifi::WifiRadio>,
    /// NetworkManager's WiFi switch is on.
    #[serde(rename = "wifiEnabled", default)]
    pub wifi_enabled: bool,
    /// An rfkill hard block keeps WiFi off whatever the switch says.
    #[serde(rename = "wifiHardwareBlocked", default)]
    pub wifi_hardware_blocked: bool,
    /// The internet's WiFi link: its access point's signal (0–100), BSSID and frequency
    /// (MHz); 0 and empty when not connected.
    #[serde(rename = "wifiSignal", default)]
    pub wifi_signal: u8,
    #[serde(rename = "wifiBSSID", default)]
    pub wifi_bssid: String,
    #[serde(rename = "wifiFrequency", default)]
    pub wifi_frequency: u32,
    /// Every network in range, one per SSID, connected first, then by signal.
    #[serde(rename = "wifiNetworks", default)]
    pub wifi_networks: Vec<crate::menu::MenuNetwork>,
    /// Every saved network, in range or not.
    #[serde(rename = "savedWifiNetworks", default)]
    pub saved_wifi_networks: Vec<crate::menu::SavedNetwork>,
    #[serde(default)]
    pub ethernet: crate::menu::EthernetState,
    /// NetworkManager's verdict: `none`, `portal`, `limited`, `full` (`unknown` when it
    /// has not said).
    #[serde(default)]
    pub connectivity: crate::internet::Connectivity,
    /// Where to sign in to a captive portal, when known; empty otherwise.
    #[serde(rename = "portalUrl", default)]
    pub portal_url: String,
    /// The hotspot netpilot or NetworkManager runs, if any.
    #[serde(default)]
    pub hotspot: Option<crate::menu::Hotspot>,
}

impl NetworkState {
    /// The seed's success rule: associated, with an address, on the target network, and
    /// no longer connecting.
    pub fn connected_to(&self, ssid: &str) -> bool {
        self.wifi_connected
            && !self.wifi_ip.is_empty()
            && self.wifi_ssid == ssid
            && !self.is_connecting
    }
}

/// A credential prompt (`network.credentials` event data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    /// Answers name this prompt by it; unguessable.
    pub token: String,
    pub ssid: String,
    /// `802-11-wireless-security` or `802-1x`.
    pub setting: String,
    pub fields: Vec<String>,
    pub hints: Vec<String>,
    /// "Credentials required", or "Previous password was incorrect".
    pub reason: String,
    /// Beside the seed's fields: NetworkManager asks again because the secrets given were
    /// wrong (the `reason` then says so), so a client need not read the reason's words.
    #[serde(default)]
    pub retry: bool,
}

/// How a prompt stopped being pending (`{"token", "resolved": …}` on `network.credentials`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptOutcome {
    /// Someone submitted the secrets.
    Answered,
    /// Someone cancelled it.
    Cancelled,
    /// Nobody answered in time, or the attempt it belonged to ended.
    Expired,
    /// NetworkManager no longer wants the secrets.
    Withdrawn,
}

impl PromptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            PromptOutcome::Answered => "answered",
            PromptOutcome::Cancelled => "cancelled",
            PromptOutcome::Expired => "expired",
            PromptOutcome::Withdrawn => "withdrawn",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_has_the_seeds_field_names() {
        let state = NetworkState {
            network_status: NetworkStatus::Wifi,
            wifi_ssid: "home".into(),
            ..Default::default()
        };
        let json = serde_json::to_value(&state).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        // The seed's seven, and what netpilot adds beside them (never instead).
        let mut expected = vec![
            "networkStatus",
            "isConnecting",
            "connectingSSID",
            "wifiConnected",
            "wifiSSID",
            "wifiIP",
            "lastError",
            "lastErrorMessage",
            "lastErrorHint",
            "wifiDevices",
            "wifiEnabled",
            "wifiHardwareBlocked",
            "wifiSignal",
            "wifiBSSID",
            "wifiFrequency",
            "wifiNetworks",
            "savedWifiNetworks",
            "ethernet",
            "connectivity",
            "portalUrl",
            "hotspot",
        ];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(json["networkStatus"], "wifi");
    }

    #[test]
    fn roles_are_a_role_and_the_link_that_holds_the_radio() {
        use crate::wifi::{DeviceState, Role, WifiRadio};
        let radio = |role| WifiRadio {
            interface: "wlan1".into(),
            role,
            state: DeviceState::Connected,
            ssid: Some("Cozmo_A1B2C3".into()),
            ipv4: Some("172.31.1.100/24".into()),
            mac: None,
        };
        let link = serde_json::to_value(radio(Role::DeviceLink("cozmo".into()))).unwrap();
        assert_eq!(
            (&link["role"], &link["deviceLink"]),
            (
                &serde_json::json!("device-link"),
                &serde_json::json!("cozmo")
            )
        );
        let internet = serde_json::to_value(radio(Role::Internet)).unwrap();
        assert_eq!(internet["role"], "internet");
        assert!(internet.get("deviceLink").is_none());
        for role in [Role::Internet, Role::Free, Role::DeviceLink("tello".into())] {
            let back: WifiRadio =
                serde_json::from_value(serde_json::to_value(radio(role.clone())).unwrap()).unwrap();
            assert_eq!(back.role, role);
        }
    }

    #[test]
    fn success_needs_all_four_conditions() {
        let done = NetworkState {
            wifi_connected: true,
            wifi_ip: "10.0.0.2".into(),
            wifi_ssid: "home".into(),
            ..Default::default()
        };
        assert!(done.connected_to("home"));
        assert!(!done.connected_to("cafe"));
        assert!(
            !NetworkState {
                wifi_ip: String::new(),
                ..done.clone()
            }
            .connected_to("home")
        );
        assert!(
            !NetworkState {
                is_connecting: true,
                ..done.clone()
            }
            .connected_to("home")
        );
        assert!(
            !NetworkState {
                wifi_connected: false,
                ..done
            }
            .connected_to("home")
        );
    }
}
