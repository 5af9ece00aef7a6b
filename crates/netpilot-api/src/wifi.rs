//! Documents of the `netpilot wifi` commands.

use netpilot_core::wifi::{WifiNetwork, WifiRadio};
use serde::{Deserialize, Serialize};

/// `netpilot wifi list --json`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WifiListDocument {
    pub networks: Vec<WifiNetwork>,
}

/// `netpilot wifi status --json`: each WiFi device with its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WifiStatusDocument {
    pub devices: Vec<WifiRadio>,
}

/// `netpilot wifi connect --json`, on success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WifiConnectDocument {
    pub ssid: String,
    pub interface: String,
    pub ipv4: String,
    /// The password is kept (agent-owned) for the next time.
    pub saved: bool,
}

/// `netpilot wifi disconnect --json`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WifiDisconnectDocument {
    pub interfaces: Vec<String>,
}

/// `netpilot wifi forget --json`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WifiForgetDocument {
    pub ssid: String,
    /// Profiles deleted.
    pub profiles: u32,
}

/// `netpilot wifi radio --json`: NetworkManager's WiFi switch, and the rfkill hard block.
pub type WifiRadioDocument = netpilot_core::menu::RadioSwitch;

/// `netpilot wifi saved --json`: every saved network, in range or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WifiSavedDocument {
    pub networks: Vec<netpilot_core::menu::SavedNetwork>,
}

/// `netpilot wifi set --json`: the network, and how many of its profiles changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WifiSetDocument {
    pub ssid: String,
    pub profiles: u32,
}

/// `netpilot wifi show --json`: every access point of a network and its saved profile.
pub type WifiShowDocument = netpilot_core::menu::NetworkInfo;

/// `netpilot ethernet show --json` (and `network.ethernet.info`): the wired devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EthernetDevicesDocument {
    pub devices: Vec<netpilot_core::menu::WiredDevice>,
}

/// `netpilot wifi hotspot status --json` (and `network.hotspot.status`): the hotspot, or
/// `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HotspotStatusDocument {
    pub hotspot: Option<netpilot_core::menu::Hotspot>,
}
