//! The internet link as the device-link supervisor follows it: which link holds the
//! default route, whether NetworkManager finds the internet behind it, and what changed.

use crate::device::InternetLink;
use serde::{Deserialize, Serialize};

/// NetworkManager's verdict on the internet (its `Connectivity` property).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Connectivity {
    /// Not checked (no check URI configured, or not yet).
    #[default]
    Unknown,
    /// No network at all.
    None,
    /// A captive portal answers instead of the internet.
    Portal,
    /// A network, but not the internet.
    Limited,
    Full,
}

/// What is known of the internet now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InternetNow {
    /// Every default route, the lowest metric first (IPv4 before IPv6).
    pub routes: Vec<InternetLink>,
    pub connectivity: Connectivity,
    /// The captive portal's address, when NetworkManager knows it.
    pub portal_url: Option<String>,
}

/// How the internet changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InternetChange {
    /// A link holds the default route and the internet answers (as far as is checked).
    Up,
    /// No link holds the default route, NetworkManager finds no network, or the probe
    /// stopped answering.
    Lost,
    /// The default route went to another link.
    Moved,
    /// A captive portal stands in the way: the user must sign in.
    Portal,
}

/// The `internet` service's event: a change, and the internet as it is after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InternetEvent {
    pub event: InternetChange,
    /// The link that holds the default route now (none when lost by its route).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// `moved`: the link that held it before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub connectivity: Connectivity,
    /// `portal`: where to sign in, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal_url: Option<String>,
    /// The internet probe's round trip (`--internet-probe-every`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_ms: Option<f64>,
    /// Why, for `lost`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Unix time in milliseconds.
    pub at_ms: u64,
}
