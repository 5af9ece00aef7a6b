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
