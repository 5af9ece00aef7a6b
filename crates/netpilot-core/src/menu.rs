//! What a shell's network menu shows beside the seed's seven fields: the WiFi switch, every
//! network in range, every saved network (in range or not), the wired link and
//! NetworkManager's connectivity verdict.
//!
//! The backend reports a [`Menu`] (a look of its own, slower than the radios' snapshot and
//! taken only when NetworkManager says something in it changed); the engine joins it with
//! the radios' roles into the `network` state's added fields ([`MenuNetwork`],
//! [`SavedNetwork`], [`EthernetState`]).

use crate::internet::Connectivity;
use crate::wifi::{AccessPoint, DeviceState, Security};
use serde::{Deserialize, Serialize};

/// WiFi's radio switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RadioSwitch {
    /// NetworkManager's WiFi switch (`nmcli radio wifi`).
    pub enabled: bool,
    /// An rfkill hard block (a switch or a key on the machine): no software lifts it.
    pub hardware_blocked: bool,
}

/// Turning WiFi on against an rfkill hard block.
pub fn radio_blocked() -> crate::Error {
    crate::Error::new(
        crate::ErrorCode::RadioBlocked,
        "WiFi is switched off by hardware (an rfkill hard block)",
    )
    .with_hint(
        "turn on the machine's WiFi switch or key (often Fn with an antenna icon); `rfkill list` shows the block",
    )
}

/// A saved WiFi profile as NetworkManager keeps it (never its secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedProfile {
    pub uuid: String,
    /// The profile's name (`connection.id`).
    pub name: String,
    pub ssid: String,
    pub autoconnect: bool,
    /// `connection.autoconnect-priority`: the higher is joined first.
    pub priority: i32,
    /// Unix seconds of its last successful activation; `None` when it never had one.
    pub last_used: Option<u64>,
    /// The interface it is bound to.
    pub interface: Option<String>,
    pub security: Security,
    pub hidden: bool,
    /// An access point's profile (a hotspot), not a network to join.
    pub hotspot: bool,
    /// A device link's profile (`netpilot device`): its link, not a network of the menu.
    pub device_link: Option<String>,
}

/// A wired (Ethernet) device as NetworkManager and the kernel see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WiredDevice {
    pub interface: String,
    pub state: DeviceState,
    /// A cable with a link partner.
    pub carrier: bool,
    pub mac: Option<String>,
    /// IPv4 address with prefix, `192.168.60.10/24`.
    pub ipv4: Option<String>,
    /// IPv6 addresses with prefix (global first).
    pub ipv6: Vec<String>,
    pub gateway: Option<String>,
    pub dns: Vec<String>,
    /// The profile active on it.
    pub profile: Option<String>,
}

/// A hotspot NetworkManager runs (an access point profile active on a radio).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hotspot {
    pub interface: String,
    pub ssid: String,
    /// `bg` (2.4 GHz) or `a` (5 GHz); `None` when NetworkManager chose.
    pub band: Option<String>,
    pub channel: Option<u16>,
    /// Clients can join (NetworkManager finished starting it).
    pub active: bool,
    /// The hotspot's own address on its network (clients get theirs from it).
    pub ipv4: Option<String>,
    pub profile_uuid: String,
}

/// Everything the menu needs that the radios' snapshot does not carry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Menu {
    pub radio: RadioSwitch,
    /// Every access point every WiFi radio saw in its last scan.
    pub access_points: Vec<AccessPoint>,
    pub saved: Vec<SavedProfile>,
    pub wired: Vec<WiredDevice>,
    pub connectivity: Connectivity,
    /// The captive portal's sign-in page, when known (NetworkManager 1.42 never says).
    pub portal_url: Option<String>,
    pub hotspots: Vec<Hotspot>,
}

/// One network of `wifiNetworks`: an SSID in range, with its strongest access point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MenuNetwork {
    pub ssid: String,
    /// The strongest access point's signal, 0–100.
    pub signal: u8,
    pub security: Security,
    /// The strongest access point (or the one a radio is connected through).
    pub bssid: String,
    /// Its frequency in MHz.
    pub frequency: u32,
    pub channel: u16,
    /// A saved profile exists for it.
    pub saved: bool,
    /// A radio is connected to it.
    pub connected: bool,
    /// Its saved profile joins by itself (false when not saved).
    pub autoconnect: bool,
    /// The radios that see it.
    pub interfaces: Vec<String>,
}

/// One network of `savedWifiNetworks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedNetwork {
    pub ssid: String,
    /// No radio saw it in its last scan.
    pub out_of_range: bool,
    pub autoconnect: bool,
    pub priority: i32,
    /// Unix seconds of the last time it was joined; `null` when never.
    pub last_used: Option<u64>,
    pub security: Security,
    pub hidden: bool,
    /// The interface its profile is bound to.
    pub interface: Option<String>,
}

/// The `ethernet` field: the wired link that matters (the one holding the default route,
/// else one that is connected, else the first), all empty without one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EthernetState {
    pub connected: bool,
    pub interface: String,
    /// Its IPv4 address (no prefix, like `wifiIP`); empty when none.
    pub ipv4: String,
    /// Its first global IPv6 address (no prefix); empty when none.
    pub ipv6: String,
    pub gateway: String,
    pub dns: Vec<String>,
}

/// `network.info`: every access point of a network, and its saved profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInfo {
    pub ssid: String,
    /// The strongest first.
    pub access_points: Vec<AccessPointInfo>,
    /// The profile NetworkManager would join it with (its settings, never its secrets).
    pub saved: Option<SavedProfile>,
}

/// One access point (BSSID) of `network.info`, as one radio sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPointInfo {
    pub bssid: String,
    pub signal: u8,
    /// MHz.
    pub frequency: u32,
    pub channel: u16,
    /// The fastest rate it offers, Mbit/s (0 when unknown).
    pub rate: u32,
    pub security: Security,
    pub interface: String,
    /// That radio is connected through it.
    pub connected: bool,
}

impl Menu {
    /// `network.info` for `ssid`; `None` when it is neither in range nor saved.
    pub fn info(&self, ssid: &str) -> Option<NetworkInfo> {
        let mut access_points: Vec<AccessPointInfo> = self
            .access_points
            .iter()
            .filter(|ap| ap.ssid == ssid)
            .map(|ap| AccessPointInfo {
                bssid: ap.bssid.clone(),
                signal: ap.signal,
                frequency: ap.frequency_mhz,
                channel: ap.channel,
                rate: ap.max_bitrate_kbps / 1000,
                security: ap.security,
                interface: ap.interface.clone(),
                connected: ap.in_use,
            })
            .collect();
        access_points.sort_by(|a, b| {
            b.signal
                .cmp(&a.signal)
                .then(a.bssid.cmp(&b.bssid))
                .then(a.interface.cmp(&b.interface))
        });
        let saved = self.profile_of(ssid).cloned();
        (!access_points.is_empty() || saved.is_some()).then(|| NetworkInfo {
            ssid: ssid.to_string(),
            access_points,
            saved,
        })
    }

    /// The `wifiNetworks` list: one entry per SSID (hidden ones left out), the strongest
    /// access point's figures, connected first, then by signal.
    pub fn networks(&self) -> Vec<MenuNetwork> {
        let mut networks: Vec<MenuNetwork> = Vec::new();
        for ap in self.access_points.iter().filter(|ap| !ap.ssid.is_empty()) {
            let profile = self.profile_of(&ap.ssid);
            match networks.iter_mut().find(|n| n.ssid == ap.ssid) {
                Some(network) => {
                    // The access point in use speaks for the network, else the strongest.
                    let better = (ap.in_use && !network.connected)
                        || (ap.in_use == network.connected && ap.signal > network.signal);
                    if better {
                        network.signal = ap.signal;
                        network.security = ap.security;
                        network.bssid.clone_from(&ap.bssid);
                        network.frequency = ap.frequency_mhz;
                        network.channel = ap.channel;
                    }
                    network.connected |= ap.in_use;
                    if !network.interfaces.contains(&ap.interface) {
                        network.interfaces.push(ap.interface.clone());
                    }
                }
                None => networks.push(MenuNetwork {
                    ssid: ap.ssid.clone(),
                    signal: ap.signal,
                    security: ap.security,
                    bssid: ap.bssid.clone(),
                    frequency: ap.frequency_mhz,
                    channel: ap.channel,
                    saved: profile.is_some(),
                    connected: ap.in_use,
                    autoconnect: profile.is_some_and(|p| p.autoconnect),
                    interfaces: vec![ap.interface.clone()],
                }),
            }
        }
        for network in &mut networks {
            network.interfaces.sort();
        }
        networks.sort_by(|a, b| {
            b.connected
                .cmp(&a.connected)
                .then(b.signal.cmp(&a.signal))
                .then(a.ssid.cmp(&b.ssid))
        });
        networks
    }

    /// The `savedWifiNetworks` list: every saved network a user joins (not hotspots or
    /// device links), one entry per SSID (its highest-priority profile), by SSID.
    pub fn saved_networks(&self) -> Vec<SavedNetwork> {
        let mut saved: Vec<SavedNetwork> = Vec::new();
        for profile in self.menu_profiles() {
            if saved.iter().any(|s| s.ssid == profile.ssid) {
                continue;
            }
            let best = self.profile_of(&profile.ssid).unwrap_or(profile);
            saved.push(SavedNetwork {
                ssid: best.ssid.clone(),
                out_of_range: !self.access_points.iter().any(|ap| ap.ssid == best.ssid),
                autoconnect: best.autoconnect,
                priority: best.priority,
                last_used: self
                    .menu_profiles()
                    .filter(|p| p.ssid == best.ssid)
                    .filter_map(|p| p.last_used)
                    .max(),
                security: best.security,
                hidden: best.hidden,
                interface: best.interface.clone(),
            });
        }
        saved.sort_by(|a, b| a.ssid.cmp(&b.ssid));
        saved
    }

    /// The `ethernet` field, given the interfaces of the default routes (lowest metric
    /// first).
    pub fn ethernet(&self, default_routes: &[String]) -> EthernetState {
        let chosen = self
            .wired
            .iter()
            .find(|w| default_routes.first() == Some(&w.interface))
            .or_else(|| {
                self.wired
                    .iter()
                    .find(|w| w.state == DeviceState::Connected)
            })
            .or_else(|| self.wired.first());
        let Some(wired) = chosen else {
            return EthernetState::default();
        };
        let bare = |address: &str| address.split('/').next().unwrap_or(address).to_string();
        EthernetState {
            connected: wired.state == DeviceState::Connected,
            interface: wired.interface.clone(),
            ipv4: wired.ipv4.as_deref().map(bare).unwrap_or_default(),
            ipv6: wired.ipv6.first().map(|a| bare(a)).unwrap_or_default(),
            gateway: wired.gateway.clone().unwrap_or_default(),
            dns: wired.dns.clone(),
        }
    }

    /// The profiles the menu lists (a user's networks).
    fn menu_profiles(&self) -> impl Iterator<Item = &SavedProfile> {
        self.saved
            .iter()
            .filter(|p| !p.hotspot && p.device_link.is_none())
    }

    /// The profile NetworkManager would join `ssid` with: the highest priority, then the
    /// most recently used.
    pub fn profile_of(&self, ssid: &str) -> Option<&SavedProfile> {
        self.menu_profiles()
            .filter(|p| p.ssid == ssid)
            .max_by_key(|p| (p.priority, p.last_used.unwrap_or(0)))
    }
}

/// Whether two network lists differ by more than signal noise: a signal counts only when
/// it moved by `threshold` points or more (or to or from 0). Events are sent on such a
/// change only; the state itself always holds the latest figures.
pub fn networks_differ(sent: &[MenuNetwork], now: &[MenuNetwork], threshold: u8) -> bool {
    sent.len() != now.len()
        || sent.iter().zip(now).any(|(a, b)| {
            let quiet = |n: &MenuNetwork| MenuNetwork {
                signal: 0,
                ..n.clone()
            };
            quiet(a) != quiet(b) || signal_moved(a.signal, b.signal, threshold)
        })
}

/// A signal change worth telling: by `threshold` points or more, or to or from 0.
pub fn signal_moved(before: u8, after: u8, threshold: u8) -> bool {
    (before == 0) != (after == 0) || before.abs_diff(after) >= threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ap(ssid: &str, bssid: &str, signal: u8, interface: &str, in_use: bool) -> AccessPoint {
        AccessPoint {
            ssid: ssid.into(),
            bssid: bssid.into(),
            signal,
            frequency_mhz: 2437,
            channel: 6,
            security: Security::WpaPsk,
            interface: interface.into(),
            in_use,
            max_bitrate_kbps: 54_000,
        }
    }

    fn profile(ssid: &str, priority: i32, last_used: Option<u64>) -> SavedProfile {
        SavedProfile {
            uuid: format!("uuid-{ssid}-{priority}"),
            name: ssid.into(),
            ssid: ssid.into(),
            autoconnect: true,
            priority,
            last_used,
            interface: None,
            security: Security::WpaPsk,
            hidden: false,
            hotspot: false,
            device_link: None,
        }
    }

    #[test]
    fn one_entry_per_ssid_with_the_strongest_or_the_one_in_use() {
        let menu = Menu {
            access_points: vec![
                ap("home", "02:00:00:00:00:01", 40, "wlan0", true),
                ap("home", "02:00:00:00:00:02", 80, "wlan1", false),
                ap("cafe", "02:00:00:00:00:03", 30, "wlan0", false),
                ap("cafe", "02:00:00:00:00:04", 60, "wlan0", false),
                ap("", "02:00:00:00:00:05", 90, "wlan0", false),
            ],
            saved: vec![profile("home", 0, Some(10))],
            ..Menu::default()
        };
        let networks = menu.networks();
        assert_eq!(networks.len(), 2, "the hidden access point is left out");
        assert_eq!(networks[0].ssid, "home");
        assert!(networks[0].connected && networks[0].saved && networks[0].autoconnect);
        assert_eq!(
            (networks[0].bssid.as_str(), networks[0].signal),
            ("02:00:00:00:00:01", 40),
            "the access point in use, not the strongest"
        );
        assert_eq!(networks[0].interfaces, ["wlan0", "wlan1"]);
        assert_eq!(
            (networks[1].bssid.as_str(), networks[1].signal),
            ("02:00:00:00:00:04", 60)
        );
        assert!(!networks[1].saved && !networks[1].autoconnect);
    }

    #[test]
    fn saved_networks_in_range_or_not_without_hotspots_or_device_links() {
        let mut hotspot = profile("np-spot", 0, None);
        hotspot.hotspot = true;
        let mut link = profile("Cozmo_A1B2C3", 0, None);
        link.device_link = Some("cozmo".into());
        let mut low = profile("home", 1, Some(50));
        low.autoconnect = false;
        let menu = Menu {
            access_points: vec![ap("home", "02:00:00:00:00:01", 40, "wlan0", false)],
            saved: vec![
                low,
                profile("home", 5, Some(20)),
                profile("away", 0, None),
                hotspot,
                link,
            ],
            ..Menu::default()
        };
        let saved = menu.saved_networks();
        let names: Vec<&str> = saved.iter().map(|s| s.ssid.as_str()).collect();
        assert_eq!(names, ["away", "home"]);
        assert!(saved[0].out_of_range && saved[0].last_used.is_none());
        assert!(!saved[1].out_of_range);
        assert_eq!(saved[1].priority, 5, "the profile NetworkManager would use");
        assert!(saved[1].autoconnect);
        assert_eq!(
            saved[1].last_used,
            Some(50),
            "the last use of any of its profiles"
        );
    }

    #[test]
    fn ethernet_is_the_link_with_the_default_route_else_a_connected_one() {
        let wired = |name: &str, state| WiredDevice {
            interface: name.into(),
            state,
            carrier: true,
            mac: None,
            ipv4: Some(format!("192.168.60.{}/24", name.len())),
            ipv6: vec!["fd00::10/64".into()],
            gateway: Some("192.168.60.1".into()),
            dns: vec!["192.168.60.1".into()],
            profile: None,
        };
        let menu = Menu {
            wired: vec![
                wired("eth0", DeviceState::Disconnected),
                wired("eth10", DeviceState::Connected),
            ],
            ..Menu::default()
        };
        let ethernet = menu.ethernet(&[]);
        assert_eq!(ethernet.interface, "eth10");
        assert!(ethernet.connected);
        assert_eq!(ethernet.ipv4, "192.168.60.5", "no prefix, like wifiIP");
        assert_eq!(ethernet.ipv6, "fd00::10");
        assert_eq!(menu.ethernet(&["eth0".into()]).interface, "eth0");
        assert_eq!(Menu::default().ethernet(&[]), EthernetState::default());
    }

    #[test]
    fn signal_noise_under_the_threshold_is_no_change() {
        let network = |signal| MenuNetwork {
            ssid: "home".into(),
            signal,
            security: Security::WpaPsk,
            bssid: "02:00:00:00:00:01".into(),
            frequency: 2412,
            channel: 1,
            saved: false,
            connected: false,
            autoconnect: false,
            interfaces: vec!["wlan0".into()],
        };
        assert!(!networks_differ(&[network(50)], &[network(54)], 5));
        assert!(networks_differ(&[network(50)], &[network(55)], 5));
        assert!(networks_differ(&[network(3)], &[network(0)], 5));
        let mut saved = network(50);
        saved.saved = true;
        assert!(networks_differ(&[network(50)], &[saved], 5));
        assert!(networks_differ(&[network(50)], &[], 5));
    }
}
