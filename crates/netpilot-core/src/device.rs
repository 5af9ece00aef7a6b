//! Device links: a robot's, drone's or camera's own access point, joined beside the
//! internet link. What a device link is (its spec), the presets for common devices, and
//! what the daemon reports about one (status, events).

use crate::secret::validate_ssid;
use crate::{Error, ErrorCode};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// How to tell that the device answers on its link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Probe {
    /// An ARP request for the device's address on its link: every IPv4 device answers it,
    /// whatever its firmware, and it never reaches the device's own protocol (the presets'
    /// default: a robot may ignore pings, and a hello of its protocol could reset it).
    Arp,
    /// An ICMP echo to the device address.
    Icmp,
    /// A TCP connection attempt to this port: an accept or a refusal both prove the
    /// device is there (a device that drops unknown ports only answers on a listening one).
    Tcp { port: u16 },
}

impl Probe {
    /// `arp`, `icmp` or `tcp:PORT`.
    pub fn parse(text: &str) -> Result<Probe, Error> {
        let bad = || {
            Error::new(
                ErrorCode::InvalidArgument,
                format!("unknown probe {text:?}"),
            )
            .with_hint("use arp, icmp or tcp:PORT (e.g. tcp:80)")
        };
        match text.split_once(':') {
            None if text == "arp" => Ok(Probe::Arp),
            None if text == "icmp" => Ok(Probe::Icmp),
            Some(("tcp", port)) => match port.parse::<u16>() {
                Ok(port) if port > 0 => Ok(Probe::Tcp { port }),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Probe::Arp => write!(f, "arp"),
            Probe::Icmp => write!(f, "icmp"),
            Probe::Tcp { port } => write!(f, "tcp:{port}"),
        }
    }
}

impl TryFrom<String> for Probe {
    type Error = Error;
    fn try_from(text: String) -> Result<Self, Error> {
        Probe::parse(&text)
    }
}

impl From<Probe> for String {
    fn from(probe: Probe) -> String {
        probe.to_string()
    }
}

/// An IPv4 network (address and prefix length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subnet {
    pub address: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    pub fn parse(text: &str) -> Result<Subnet, Error> {
        let bad = || {
            Error::new(
                ErrorCode::InvalidArgument,
                format!("{text:?} is not an IPv4 subnet"),
            )
            .with_hint("write it as ADDRESS/PREFIX, e.g. 172.31.1.0/24")
        };
        let (address, prefix) = text.split_once('/').ok_or_else(bad)?;
        let address: Ipv4Addr = address.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        Ok(Subnet { address, prefix }.network())
    }

    fn mask(self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0)
    }

    /// The same subnet with the host bits cleared.
    pub fn network(self) -> Subnet {
        Subnet {
            address: Ipv4Addr::from(u32::from(self.address) & self.mask()),
            prefix: self.prefix,
        }
    }

    pub fn contains(self, address: Ipv4Addr) -> bool {
        u32::from(address) & self.mask() == u32::from(self.network().address)
    }

    /// Whether the two share any address: the device link and the home LAN must not,
    /// or traffic for one goes to the other.
    pub fn overlaps(self, other: Subnet) -> bool {
        self.contains(other.address) || other.contains(self.address)
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

impl TryFrom<String> for Subnet {
    type Error = Error;
    fn try_from(text: String) -> Result<Self, Error> {
        Subnet::parse(&text)
    }
}

impl From<Subnet> for String {
    fn from(subnet: Subnet) -> String {
        subnet.to_string()
    }
}

/// Which characters an SSID pattern accepts.
type CharTest = fn(char) -> bool;

/// What netpilot knows about a kind of device out of the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    /// The SSID's shape, for messages ("Cozmo_ + 6 hex digits").
    pub ssid_pattern: &'static str,
    ssid_prefix: &'static str,
    /// How many characters follow the prefix, and which (None: any).
    ssid_suffix: Option<(usize, CharTest)>,
    pub address: Ipv4Addr,
    pub subnet: Subnet,
    pub probe: Probe,
}

fn upper_hex(c: char) -> bool {
    c.is_ascii_digit() || ('A'..='F').contains(&c)
}

fn any_hex(c: char) -> bool {
    c.is_ascii_hexdigit()
}

/// The presets, by name.
pub const PRESETS: [Preset; 4] = [
    Preset {
        name: "cozmo",
        description: "Anki/DDL Cozmo robot (WPA2, key shown on its face; UDP 5551)",
        ssid_pattern: "Cozmo_ followed by 6 upper-case hex digits",
        ssid_prefix: "Cozmo_",
        ssid_suffix: Some((6, upper_hex)),
        address: Ipv4Addr::new(172, 31, 1, 1),
        subnet: Subnet {
            address: Ipv4Addr::new(172, 31, 1, 0),
            prefix: 24,
        },
        probe: Probe::Arp,
    },
    Preset {
        name: "tello",
        description: "DJI/Ryze Tello drone (open network; UDP 8889)",
        ssid_pattern: "TELLO- followed by 6 hex digits",
        ssid_prefix: "TELLO-",
        ssid_suffix: Some((6, any_hex)),
        address: Ipv4Addr::new(192, 168, 10, 1),
        subnet: Subnet {
            address: Ipv4Addr::new(192, 168, 10, 0),
            prefix: 24,
        },
        probe: Probe::Arp,
    },
    Preset {
        name: "gopro",
        description: "GoPro camera's WiFi (HTTP API on port 8080)",
        ssid_pattern: "GP followed by the camera's name",
        ssid_prefix: "GP",
        ssid_suffix: None,
        address: Ipv4Addr::new(10, 5, 5, 9),
        subnet: Subnet {
            address: Ipv4Addr::new(10, 5, 5, 0),
            prefix: 24,
        },
        probe: Probe::Arp,
    },
    Preset {
        name: "esp32",
        description: "ESP32 in access-point mode (ESP-IDF defaults)",
        ssid_pattern: "ESP_ followed by 6 hex digits (the default; often renamed)",
        ssid_prefix: "ESP_",
        ssid_suffix: Some((6, any_hex)),
        address: Ipv4Addr::new(192, 168, 4, 1),
        subnet: Subnet {
            address: Ipv4Addr::new(192, 168, 4, 0),
            prefix: 24,
        },
        probe: Probe::Arp,
    },
];

impl Preset {
    pub fn named(name: &str) -> Result<&'static Preset, Error> {
        PRESETS
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
                Error::new(
                    ErrorCode::InvalidArgument,
                    format!("no preset named {name:?}"),
                )
                .with_hint(format!(
                    "presets: {}; or give --address, --subnet and --probe for another device",
                    names.join(", ")
                ))
            })
    }

    /// Whether `ssid` looks like this kind of device's.
    pub fn matches(&self, ssid: &str) -> bool {
        let Some(rest) = ssid.strip_prefix(self.ssid_prefix) else {
            return false;
        };
        match self.ssid_suffix {
            None => true,
            Some((length, allowed)) => rest.chars().count() == length && rest.chars().all(allowed),
        }
    }
}

/// A device link as configured: everything needed to bring it up again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceSpec {
    /// The user's name for it (`cozmo`, `lab-drone`); names the profile.
    pub name: String,
    pub ssid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// The device's own address on its network.
    pub address: Ipv4Addr,
    pub subnet: Subnet,
    pub probe: Probe,
    /// The interface the link uses; `None` until one is chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// When `interface` is a virtual station interface netpilot creates on `up` (and
    /// deletes on `down`): the interface whose radio it shares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_of: Option<String>,
    pub auto_connect: bool,
}

/// A device link name: what a profile id, a file name and a shell argument all accept.
pub fn validate_name(name: &str) -> Result<(), Error> {
    // 12: the virtual interface `np-NAME` must fit an interface name (15 bytes).
    let ok = !name.is_empty()
        && name.len() <= 12
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("{name:?} is not a device name"),
        )
        .with_hint("use 1-12 letters, digits, '-' or '_' (e.g. cozmo)"))
    }
}

/// What `device configure` was asked, before the radio is chosen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceRequest {
    pub name: String,
    pub ssid: String,
    pub preset: Option<String>,
    pub address: Option<Ipv4Addr>,
    pub subnet: Option<Subnet>,
    pub probe: Option<Probe>,
    /// An interface name, or `None` for the automatic choice.
    pub interface: Option<String>,
    pub auto_connect: bool,
}

impl DeviceRequest {
    /// The spec this asks for: the preset fills what the flags leave out; a device
    /// without a preset must give its address (the subnet defaults to its /24).
    /// Returns warnings beside it (an SSID unlike the preset's).
    pub fn spec(&self) -> Result<(DeviceSpec, Vec<String>), Error> {
        validate_name(&self.name)?;
        validate_ssid(&self.ssid)?;
        let preset = self.preset.as_deref().map(Preset::named).transpose()?;
        let mut warnings = Vec::new();
        if let Some(preset) = preset
            && !preset.matches(&self.ssid)
        {
            warnings.push(format!(
                "{:?} does not look like a {} network ({})",
                self.ssid, preset.name, preset.ssid_pattern
            ));
        }
        let address = self.address.or(preset.map(|p| p.address)).ok_or_else(|| {
            Error::new(
                ErrorCode::InvalidArgument,
                "the device's address is needed to probe it",
            )
            .with_hint("give --preset NAME, or --address IP (e.g. --address 192.168.4.1)")
        })?;
        let subnet = self
            .subnet
            .or(preset.map(|p| p.subnet))
            .unwrap_or(Subnet {
                address,
                prefix: 24,
            })
            .network();
        if !subnet.contains(address) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("the device address {address} is not in {subnet}"),
            ));
        }
        let spec = DeviceSpec {
            name: self.name.clone(),
            ssid: self.ssid.clone(),
            preset: preset.map(|p| p.name.to_string()),
            address,
            subnet,
            probe: self.probe.or(preset.map(|p| p.probe)).unwrap_or(Probe::Arp),
            interface: self.interface.clone().filter(|i| i != "auto"),
            virtual_of: None,
            auto_connect: self.auto_connect,
        };
        Ok((spec, warnings))
    }
}

/// Where a device link is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkState {
    /// Configured, not brought up.
    Down,
    /// Joining the device's network.
    Connecting,
    /// Joined, and the device answers.
    Up,
    /// The device stopped answering (or the link dropped); reconnecting with backoff.
    Lost,
}

impl LinkState {
    pub fn label(self) -> &'static str {
        match self {
            LinkState::Down => "down",
            LinkState::Connecting => "connecting",
            LinkState::Up => "up",
            LinkState::Lost => "lost (rejoining)",
        }
    }
}

/// What a link's own signals (netlink, NetworkManager) say between two probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkSignal {
    /// The link is gone (carrier lost, interface removed, NetworkManager left it, the
    /// device's address failed to resolve): lost now, without waiting for the probes.
    Lost(String),
    /// The link came back or changed (carrier, an address, the device's neighbour entry
    /// reachable): worth probing now rather than at the next tick.
    Changed,
}

/// A failure that happened to a link, kept for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkFailure {
    /// Unix time in milliseconds.
    pub at_ms: u64,
    pub reason: String,
}

/// The internet link: the interface holding the lowest-metric default route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InternetLink {
    pub interface: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    pub metric: u32,
}

/// A device in range whose network's SSID matches a preset (`device discover`), and what
/// joining it now would take, worked out before anything is changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Discovered {
    pub ssid: String,
    pub preset: String,
    /// Its strongest access point, as the radio named in `seenOn` saw it.
    pub bssid: String,
    pub signal: u8,
    pub frequency_mhz: u32,
    pub channel: u16,
    pub security: crate::wifi::Security,
    pub seen_on: String,
    /// The channel of the internet's WiFi network, when the internet is on WiFi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_channel: Option<u16>,
    /// A free radio or a virtual interface can join it now (see `via` and `warnings`).
    pub joinable: bool,
    /// The interface the link would use: a free radio, or a virtual one on a radio that
    /// runs two stations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    /// Why it cannot be joined now, and what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What joining it would cost: one channel shared with the internet, a subnet that
    /// overlaps another network here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The device link already configured for this SSID, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured: Option<String>,
}

/// What `device status` reports for one device link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceStatus {
    #[serde(flatten)]
    pub spec: DeviceSpec,
    pub state: LinkState,
    /// This machine's address on the device's network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_address: Option<String>,
    /// Seconds since the link came up (while up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_s: Option<u64>,
    /// The last probe's round trip, in milliseconds (while up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<LinkFailure>,
}

/// One transition of a device link, as the `device` event service sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceEvent {
    pub name: String,
    pub state: LinkState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Not a transition but a warning about the link: `hijack` (a default route on the
    /// device link, in `route`; the internet would go to the device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Unix time in milliseconds.
    pub at_ms: u64,
}

/// One step of `down` or `reset` that did not work; the others still ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepFailure {
    pub step: String,
    pub error: Error,
}

/// What `device down` / `device reset` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Teardown {
    /// The steps that were done ("deactivated wlan1", "deleted profile …").
    pub done: Vec<String>,
    pub failed: Vec<StepFailure>,
}

impl Teardown {
    /// Records one step, done or failed; a teardown goes on after a failed step.
    pub fn record(&mut self, step: impl Into<String>, result: Result<(), Error>) {
        let step = step.into();
        match result {
            Ok(()) => self.done.push(step),
            Err(error) => self.failed.push(StepFailure { step, error }),
        }
    }
}

/// One check of `device test`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
    /// Each kind of probe tried on the device, the link's own first (the check passes or
    /// fails by that one; the others say what else the device answers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeOutcome>,
}

impl Check {
    pub fn new(name: impl Into<String>, passed: bool, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            passed,
            detail: detail.into(),
            probes: Vec::new(),
        }
    }
}

/// What one probe of the device found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeOutcome {
    pub probe: Probe,
    pub answered: bool,
    /// The round trip, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<f64>,
    /// Why not, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(text: &str) -> Subnet {
        Subnet::parse(text).unwrap()
    }

    #[test]
    fn subnets_parse_normalise_and_overlap() {
        assert_eq!(subnet("172.31.1.7/24").to_string(), "172.31.1.0/24");
        assert!(subnet("192.168.0.0/16").overlaps(subnet("192.168.4.0/24")));
        assert!(subnet("192.168.4.0/24").overlaps(subnet("192.168.0.0/16")));
        assert!(!subnet("192.168.4.0/24").overlaps(subnet("192.168.50.0/24")));
        assert!(subnet("0.0.0.0/0").overlaps(subnet("10.0.0.0/8")));
        assert!(subnet("10.0.0.0/8").contains(Ipv4Addr::new(10, 5, 5, 9)));
        for bad in ["10.0.0.0", "10.0.0.0/33", "x/24", "10.0.0/24"] {
            assert!(Subnet::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn presets_recognise_their_ssids() {
        let cozmo = Preset::named("cozmo").unwrap();
        assert!(cozmo.matches("Cozmo_A1B2C3"));
        assert!(!cozmo.matches("Cozmo_a1b2c3"));
        assert!(!cozmo.matches("Cozmo_A1B2C"));
        assert!(!cozmo.matches("Vector_A1B2C3"));
        assert!(Preset::named("TELLO").unwrap().matches("TELLO-5A3F1c"));
        assert!(Preset::named("gopro").unwrap().matches("GP24500456"));
        let error = Preset::named("roomba").unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidArgument);
        assert!(error.hint.unwrap().contains("cozmo, tello, gopro, esp32"));
    }

    #[test]
    fn a_request_takes_the_presets_facts_unless_overridden() {
        let request = DeviceRequest {
            name: "cozmo".into(),
            ssid: "Cozmo_A1B2C3".into(),
            preset: Some("cozmo".into()),
            auto_connect: true,
            ..Default::default()
        };
        let (spec, warnings) = request.spec().unwrap();
        assert!(warnings.is_empty());
        assert_eq!(spec.address, Ipv4Addr::new(172, 31, 1, 1));
        assert_eq!(spec.subnet.to_string(), "172.31.1.0/24");
        assert_eq!(spec.probe, Probe::Arp, "the presets probe with ARP");
        assert_eq!(spec.interface, None);

        let custom = DeviceRequest {
            name: "board".into(),
            ssid: "my-board".into(),
            address: Some(Ipv4Addr::new(10, 9, 8, 1)),
            probe: Some(Probe::Tcp { port: 80 }),
            interface: Some("wlan1".into()),
            ..Default::default()
        };
        let (spec, _) = custom.spec().unwrap();
        assert_eq!(spec.subnet.to_string(), "10.9.8.0/24");
        assert_eq!(spec.interface.as_deref(), Some("wlan1"));

        let odd = DeviceRequest {
            ssid: "HomeWifi".into(),
            ..request.clone()
        };
        assert_eq!(odd.spec().unwrap().1.len(), 1, "a warning, not an error");
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        let base = DeviceRequest {
            name: "cozmo".into(),
            ssid: "Cozmo_A1B2C3".into(),
            preset: Some("cozmo".into()),
            ..Default::default()
        };
        let long = DeviceRequest {
            ssid: "x".repeat(33),
            ..base.clone()
        };
        assert_eq!(long.spec().unwrap_err().code, ErrorCode::InvalidArgument);
        let unnamed = DeviceRequest {
            name: "my robot".into(),
            ..base.clone()
        };
        assert!(unnamed.spec().unwrap_err().message.contains("device name"));
        let no_address = DeviceRequest {
            preset: None,
            ..base.clone()
        };
        assert!(
            no_address
                .spec()
                .unwrap_err()
                .hint
                .unwrap()
                .contains("--address")
        );
        let outside = DeviceRequest {
            subnet: Some(subnet("10.0.0.0/24")),
            ..base
        };
        assert!(outside.spec().unwrap_err().message.contains("not in"));
        assert!(Probe::parse("udp:5551").is_err());
        assert_eq!(Probe::parse("tcp:80").unwrap(), Probe::Tcp { port: 80 });
        assert_eq!(Probe::parse("arp").unwrap(), Probe::Arp);
        assert_eq!(Probe::parse("icmp").unwrap(), Probe::Icmp);
        assert_eq!(Probe::Arp.to_string(), "arp");
    }
}
