//! The machine's WiFi radios and what each is for: one model shared by the network
//! service (WiFi actions, the `network` state) and the device-link service, so that a WiFi
//! action never takes or drops a radio a device link holds.
//!
//! Pure functions over what the backend reports (NetworkManager's devices and active
//! profiles, the kernel's default routes) and what the device-link service holds.

use netpilot_core::ports::LinkSnapshot;
use netpilot_core::wifi::{DeviceState, Role, WifiDevice, WifiRadio};
use netpilot_core::{Error, ErrorCode};

/// A radio a device link holds while it is up, or being brought up or back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub interface: String,
    pub link: String,
}

/// Every WiFi device with its role. A device link's active profile makes its radio the
/// link's; else the radio the user joined for the internet (still on it), or the WiFi
/// device with the lowest-metric default route, is the internet's; else a radio a device
/// link waits for is the link's; the rest are free.
pub fn radios(snapshot: &LinkSnapshot, claims: &[Claim], joined: Option<&str>) -> Vec<WifiRadio> {
    let active_link = |interface: &str| {
        snapshot
            .device_links
            .iter()
            .find(|(i, _)| i == interface)
            .map(|(_, link)| link.clone())
    };
    let internet = internet_interface(snapshot, joined);
    snapshot
        .wifi
        .iter()
        .map(|device| {
            let interface = device.interface.as_str();
            let role = if let Some(link) = active_link(interface) {
                Role::DeviceLink(link)
            } else if snapshot.hotspots.iter().any(|h| h == interface) {
                Role::Hotspot
            } else if internet == Some(interface) {
                Role::Internet
            } else if let Some(claim) = claims.iter().find(|c| c.interface == interface) {
                Role::DeviceLink(claim.link.clone())
            } else {
                Role::Free
            };
            radio(device, role)
        })
        .collect()
}

fn radio(device: &WifiDevice, role: Role) -> WifiRadio {
    WifiRadio {
        interface: device.interface.clone(),
        role,
        state: device.state,
        ssid: device.ssid.clone(),
        ipv4: device.ipv4.clone(),
        mac: device.mac.clone(),
    }
}

fn internet_interface<'a>(snapshot: &'a LinkSnapshot, joined: Option<&str>) -> Option<&'a str> {
    let is_link = |interface: &str| snapshot.device_links.iter().any(|(i, _)| i == interface);
    let wifi = |interface: &str| {
        snapshot
            .wifi
            .iter()
            .find(|d| d.interface == interface && !is_link(interface))
    };
    if let Some(joined) = joined.and_then(wifi)
        && matches!(
            joined.state,
            DeviceState::Connected | DeviceState::Connecting(_)
        )
    {
        return Some(joined.interface.as_str());
    }
    snapshot
        .default_routes
        .iter()
        .find_map(|interface| wifi(interface))
        .map(|d| d.interface.as_str())
}

/// The radio whose role is `internet`, if any.
pub fn internet(radios: &[WifiRadio]) -> Option<&WifiRadio> {
    radios.iter().find(|r| r.role == Role::Internet)
}

/// Where `connect` joins: the radio named (unless a device link holds it), else the one
/// already used for the internet, else a free one — never a device link's.
pub fn for_connect(radios: &[WifiRadio], asked: Option<&str>) -> Result<String, Error> {
    if radios.is_empty() {
        return Err(no_wifi_device());
    }
    if let Some(asked) = asked {
        let radio = named(radios, asked)?;
        if !usable(radio) {
            return Err(unusable(std::slice::from_ref(radio)));
        }
        return Ok(radio.interface.clone());
    }
    if let Some(radio) = internet(radios) {
        return Ok(radio.interface.clone());
    }
    let free: Vec<&WifiRadio> = radios
        .iter()
        .filter(|r| r.role == Role::Free && usable(r))
        .collect();
    // An idle radio before one busy with something else.
    let idle = free
        .iter()
        .find(|r| matches!(r.state, DeviceState::Disconnected | DeviceState::Failed));
    if let Some(radio) = idle.or(free.first()) {
        return Ok(radio.interface.clone());
    }
    let links: Vec<String> = radios
        .iter()
        .filter_map(|r| match &r.role {
            Role::DeviceLink(link) => {
                Some(format!("{} carries the device link {link}", r.interface))
            }
            _ => None,
        })
        .collect();
    if radios.iter().any(usable) && !links.is_empty() {
        return Err(Error::new(
            ErrorCode::RadioInUse,
            format!(
                "no WiFi radio is free for the internet: {}",
                links.join(", ")
            ),
        )
        .with_hint(
            "plug in a second WiFi adapter, or take a device link down (netpilot device down NAME)",
        ));
    }
    Err(unusable(radios))
}

/// Where a hotspot may run, the preferred first: the radio named (unless a device link
/// holds it); else the free radios, idle ones first — never the internet's unasked (a radio
/// running an access point leaves the network it was on).
pub fn for_hotspot(radios: &[WifiRadio], asked: Option<&str>) -> Result<Vec<String>, Error> {
    if radios.is_empty() {
        return Err(no_wifi_device());
    }
    if let Some(asked) = asked {
        let radio = named(radios, asked)?;
        if !usable(radio) {
            return Err(unusable(std::slice::from_ref(radio)));
        }
        return Ok(vec![radio.interface.clone()]);
    }
    let mut free: Vec<&WifiRadio> = radios
        .iter()
        .filter(|r| r.role == Role::Free && usable(r))
        .collect();
    free.sort_by_key(|r| !matches!(r.state, DeviceState::Disconnected | DeviceState::Failed));
    if !free.is_empty() {
        return Ok(free.iter().map(|r| r.interface.clone()).collect());
    }
    if let Some(radio) = internet(radios) {
        return Err(Error::new(
            ErrorCode::RadioInUse,
            format!(
                "no free radio for a hotspot: {} carries the internet",
                radio.interface
            ),
        )
        .with_hint(format!(
            "name it to use it anyway (--interface {}: the internet on it drops), or plug in a second WiFi adapter",
            radio.interface
        )));
    }
    Err(Error::new(
        ErrorCode::RadioInUse,
        "no free radio for a hotspot: every radio carries a device link or a hotspot",
    )
    .with_hint("take a device link down (netpilot device down NAME), or plug in a WiFi adapter"))
}

/// What `disconnect` leaves: the radio named (unless a device link holds it), else the
/// internet's WiFi link; `None` when that is not connected.
pub fn for_disconnect(radios: &[WifiRadio], asked: Option<&str>) -> Result<Option<String>, Error> {
    let radio = match asked {
        Some(asked) => named(radios, asked)?,
        None if radios.is_empty() => return Err(no_wifi_device()),
        None => match internet(radios) {
            Some(radio) => radio,
            None => return Ok(None),
        },
    };
    let busy = matches!(
        radio.state,
        DeviceState::Connected | DeviceState::Connecting(_)
    );
    Ok(busy.then(|| radio.interface.clone()))
}

/// The radio named, if WiFi actions may use it.
fn named<'a>(radios: &'a [WifiRadio], asked: &str) -> Result<&'a WifiRadio, Error> {
    let Some(radio) = radios.iter().find(|r| r.interface == asked) else {
        let names: Vec<&str> = radios.iter().map(|r| r.interface.as_str()).collect();
        return Err(Error::new(
            ErrorCode::NotFound,
            format!("{asked:?} is not a WiFi device"),
        )
        .with_hint(format!("WiFi devices here: {}", names.join(", "))));
    };
    if let Role::DeviceLink(link) = &radio.role {
        return Err(Error::new(
            ErrorCode::RadioInUse,
            format!("{asked} carries the device link {link}; netpilot leaves it alone"),
        )
        .with_hint(format!(
            "free it first with `netpilot device down {link}`, or choose another radio"
        )));
    }
    Ok(radio)
}

/// NetworkManager manages it and it can be used (not rfkilled, firmware loaded…).
fn usable(radio: &WifiRadio) -> bool {
    !matches!(
        radio.state,
        DeviceState::Unavailable | DeviceState::Unmanaged
    )
}

fn no_wifi_device() -> Error {
    Error::new(ErrorCode::NoWifiDevice, "no WiFi device found").with_hint(
        "plug in a WiFi adapter, or check `rfkill list` and that NetworkManager manages it",
    )
}

fn unusable(radios: &[WifiRadio]) -> Error {
    let states: Vec<String> = radios
        .iter()
        .map(|r| format!("{} is {}", r.interface, r.state.label()))
        .collect();
    Error::new(
        ErrorCode::NoWifiDevice,
        format!("no usable WiFi device: {}", states.join(", ")),
    )
    .with_hint(
        "let NetworkManager manage it (nmcli device set IF managed yes) and check `rfkill list`",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(interface: &str, state: DeviceState, ssid: Option<&str>) -> WifiDevice {
        WifiDevice {
            interface: interface.into(),
            state,
            ssid: ssid.map(str::to_owned),
            ipv4: None,
            mac: None,
        }
    }

    /// The lab's case: the robot's link on the first radio, home on the second.
    fn robot_first() -> LinkSnapshot {
        LinkSnapshot {
            wifi: vec![
                device("wlan0", DeviceState::Connected, Some("Cozmo_A1B2C3")),
                device("wlan1", DeviceState::Connected, Some("np-home")),
            ],
            device_links: vec![("wlan0".into(), "cozmo".into())],
            default_routes: vec!["wlan1".into()],
            hotspots: Vec::new(),
        }
    }

    fn roles(radios: &[WifiRadio]) -> Vec<(&str, Role)> {
        radios
            .iter()
            .map(|r| (r.interface.as_str(), r.role.clone()))
            .collect()
    }

    #[test]
    fn a_hotspot_goes_on_a_free_radio_and_on_the_internets_only_when_named() {
        let mut snapshot = robot_first();
        snapshot
            .wifi
            .push(device("wlan2", DeviceState::Disconnected, None));
        let radios = radios(&snapshot, &[], None);
        assert_eq!(for_hotspot(&radios, None).unwrap(), ["wlan2"]);
        assert_eq!(for_hotspot(&radios, Some("wlan1")).unwrap(), ["wlan1"]);
        let linked = for_hotspot(&radios, Some("wlan0")).unwrap_err();
        assert_eq!(linked.code, ErrorCode::RadioInUse);
        snapshot.wifi.pop();
        let radios = super::radios(&snapshot, &[], None);
        let internet_only = for_hotspot(&radios, None).unwrap_err();
        assert_eq!(internet_only.code, ErrorCode::RadioInUse);
        assert!(internet_only.hint.unwrap().contains("--interface wlan1"));
        snapshot.hotspots = vec!["wlan1".into()];
        let radios = super::radios(&snapshot, &[], None);
        assert_eq!(radios[1].role, Role::Hotspot);
    }

    #[test]
    fn a_device_links_profile_holds_its_radio_and_the_default_route_makes_the_internet() {
        let radios = radios(&robot_first(), &[], None);
        assert_eq!(
            roles(&radios),
            [
                ("wlan0", Role::DeviceLink("cozmo".into())),
                ("wlan1", Role::Internet)
            ]
        );
        assert_eq!(internet(&radios).unwrap().ssid.as_deref(), Some("np-home"));
    }

    #[test]
    fn the_radio_joined_for_the_internet_stays_the_internets() {
        let mut snapshot = robot_first();
        snapshot.device_links.clear();
        snapshot.wifi[0].ssid = Some("np-open".into());
        // The user joined np-open on wlan0 for the internet; wlan1 has the default route.
        let radios = radios(&snapshot, &[], Some("wlan0"));
        assert_eq!(
            roles(&radios),
            [("wlan0", Role::Internet), ("wlan1", Role::Free)]
        );
        // Once it is no longer connected, the default route decides again.
        snapshot.wifi[0].state = DeviceState::Disconnected;
        let radios = super::radios(&snapshot, &[], Some("wlan0"));
        assert_eq!(
            roles(&radios),
            [("wlan0", Role::Free), ("wlan1", Role::Internet)]
        );
    }

    #[test]
    fn a_radio_a_link_waits_for_is_the_links_unless_it_carries_the_internet() {
        let mut snapshot = robot_first();
        snapshot.device_links.clear();
        snapshot.wifi[0].state = DeviceState::Disconnected;
        let claims = [Claim {
            interface: "wlan0".into(),
            link: "cozmo".into(),
        }];
        let radios = radios(&snapshot, &claims, None);
        assert_eq!(radios[0].role, Role::DeviceLink("cozmo".into()));
        // Someone joined home on it meanwhile: it is the internet's now.
        snapshot.default_routes = vec!["wlan0".into()];
        snapshot.wifi[0].state = DeviceState::Connected;
        let radios = super::radios(&snapshot, &claims, None);
        assert_eq!(radios[0].role, Role::Internet);
    }

    #[test]
    fn connect_takes_the_internet_radio_else_a_free_one_never_a_device_links() {
        let radios = radios(&robot_first(), &[], None);
        assert_eq!(for_connect(&radios, None).unwrap(), "wlan1");
        let refused = for_connect(&radios, Some("wlan0")).unwrap_err();
        assert_eq!(refused.code, ErrorCode::RadioInUse);
        assert!(refused.message.contains("cozmo"), "{}", refused.message);
        assert!(
            refused.hint.unwrap().contains("netpilot device down cozmo"),
            "says how to free it"
        );
        // No internet WiFi link: a free idle radio, never the robot's.
        let mut snapshot = robot_first();
        snapshot.wifi[1].state = DeviceState::Disconnected;
        snapshot.default_routes = vec!["eth0".into()];
        let radios = super::radios(&snapshot, &[], None);
        assert_eq!(for_connect(&radios, None).unwrap(), "wlan1");
        // Only the robot's radio: refused, with what would work.
        snapshot.wifi.truncate(1);
        let radios = super::radios(&snapshot, &[], None);
        assert_eq!(
            for_connect(&radios, None).unwrap_err().code,
            ErrorCode::RadioInUse
        );
    }

    #[test]
    fn connect_says_which_radios_cannot_be_used() {
        let snapshot = LinkSnapshot {
            wifi: vec![
                device("wlan0", DeviceState::Unmanaged, None),
                device("wlan1", DeviceState::Unavailable, None),
            ],
            ..LinkSnapshot::default()
        };
        let radios = radios(&snapshot, &[], None);
        let error = for_connect(&radios, None).unwrap_err();
        assert_eq!(error.code, ErrorCode::NoWifiDevice);
        assert!(
            error.message.contains("wlan0 is unmanaged"),
            "{}",
            error.message
        );
        assert_eq!(
            for_connect(&[], None).unwrap_err().code,
            ErrorCode::NoWifiDevice
        );
        let missing = for_connect(&radios, Some("wlp3s0")).unwrap_err();
        assert_eq!(missing.code, ErrorCode::NotFound);
        assert!(missing.hint.unwrap().contains("wlan0, wlan1"));
    }

    #[test]
    fn disconnect_leaves_the_internet_link_only_and_never_a_device_links() {
        let radios = radios(&robot_first(), &[], None);
        assert_eq!(
            for_disconnect(&radios, None).unwrap().as_deref(),
            Some("wlan1")
        );
        assert_eq!(
            for_disconnect(&radios, Some("wlan0")).unwrap_err().code,
            ErrorCode::RadioInUse
        );
        let mut snapshot = robot_first();
        snapshot.default_routes.clear();
        snapshot.wifi[1].state = DeviceState::Disconnected;
        let radios = super::radios(&snapshot, &[], None);
        assert_eq!(
            for_disconnect(&radios, None).unwrap(),
            None,
            "nothing to leave"
        );
        assert_eq!(for_disconnect(&radios, Some("wlan1")).unwrap(), None);
    }
}
