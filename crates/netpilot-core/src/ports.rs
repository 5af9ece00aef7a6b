//! The port traits: what the engine needs from the operating system, as data.
//!
//! `netpilot-linux` implements them against the real kernel; `netpilot-engine::testing`
//! has fakes for engine unit tests. The monitor's ports are synchronous: each call is one
//! kernel dump or one directory read with nothing to wait for, so an async signature
//! would add a runtime to every one-shot command and buy nothing. Long-lived callers
//! (the TUI, the daemon) run them on a thread of their own.

use crate::menu::{Menu, RadioSwitch};
use crate::wifi::{DeviceState, FailureReason, WifiDevice, WifiNetwork};
use crate::{Error, Interface, Protocol, Secret, SecretRequest, Socket, SocketState, TcpCounters};

/// The link table: interfaces with addresses and counters.
pub trait LinkSource {
    fn interfaces(&self) -> Result<Vec<Interface>, Error>;
}

/// Which sockets to dump. Filters are applied by the kernel where it can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketQuery {
    pub protocols: Vec<Protocol>,
    /// `None` means every state.
    pub states: Option<Vec<SocketState>>,
    /// Ask the kernel for `tcp_info` byte counters (costs a little more per socket).
    pub tcp_counters: bool,
}

impl SocketQuery {
    pub fn all() -> Self {
        SocketQuery {
            protocols: vec![Protocol::Tcp, Protocol::Udp],
            states: None,
            tcp_counters: false,
        }
    }

    pub fn wants(&self, protocol: Protocol, state: SocketState) -> bool {
        self.protocols.contains(&protocol)
            && self
                .states
                .as_ref()
                .is_none_or(|states| states.contains(&state))
    }
}

/// The socket table (sock_diag).
pub trait SocketSource {
    fn sockets(&self, query: &SocketQuery) -> Result<Vec<Socket>, Error>;

    /// A number that changes whenever any TCP socket of the namespace sends or receives
    /// a segment, opens or closes (the sum of its TCP MIB counters); `None` when unknown.
    fn tcp_activity(&self) -> Option<u64> {
        None
    }
}

/// A TCP socket the kernel freed, with its final counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosedSocket {
    pub cookie: u64,
    pub counters: TcpCounters,
}

/// Notices of TCP sockets the kernel destroyed, so bytes they moved after the last sample
/// are not lost. What the kernel will not tell (no permission, buffer overrun) is reported
/// by `lost()`.
pub trait ClosedSocketFeed {
    fn take_closed(&mut self) -> Vec<ClosedSocket>;
    /// Notices dropped since the last call (receive buffer overrun).
    fn lost(&mut self) -> u64;
}

/// Per-socket packet counters kept by the kernel for every protocol (an eBPF program on
/// the cgroup v2 root), read as cumulative [`Flow`](crate::Flow)s. Flows of sockets of
/// other network namespaces may be among them: callers keep those whose cookie they know.
pub trait FlowSource {
    /// Every flow counted and not forgotten, with its counters since counting began.
    fn flows(&mut self) -> Result<Vec<crate::Flow>, Error>;
    /// Drops flows whose socket is gone, once their last counts have been read.
    fn forget(&mut self, flows: &[crate::FlowKey]);
    /// Packets the kernel could not count since counting began (its flow table was full).
    fn missed(&mut self) -> u64;
    /// Whether only the caller's network namespace is counted, so that a flow of an
    /// unknown socket is one of ours that opened and closed between two reads (else it
    /// may be another namespace's, and is left out).
    fn this_namespace_only(&self) -> bool;
}

/// Why a process's fd table could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdTableError {
    /// The process exited while we looked.
    Gone,
    /// Another user's process, and we lack CAP_SYS_PTRACE / CAP_DAC_READ_SEARCH.
    Denied,
}

/// Processes and their open sockets (`/proc`).
pub trait ProcessSource {
    /// Every process id visible now.
    fn pids(&self) -> Result<Vec<u32>, Error>;
    /// Appends the inode of every socket `pid` holds open to `inodes`.
    fn socket_inodes(&self, pid: u32, inodes: &mut Vec<u64>) -> Result<(), FdTableError>;
    /// How many fds `pid` has open, when the kernel says so cheaply (Linux ≥ 6.2); a
    /// hint that its fd table changed.
    fn fd_count(&self, pid: u32) -> Option<u64>;
    fn process_name(&self, pid: u32) -> Option<String>;
    fn user_name(&self, uid: u32) -> Option<String>;
}

/// What the WiFi backend (NetworkManager) reports as it happens.
pub enum WifiEvent {
    /// A WiFi device changed state.
    Device {
        interface: String,
        state: DeviceState,
        reason: FailureReason,
    },
    /// Secrets are wanted; answer through `responder` (dropping it answers "no secrets").
    SecretsRequested {
        request: SecretRequest,
        responder: Box<dyn SecretResponder>,
    },
    /// The backend no longer wants the secrets of a pending request.
    SecretsCanceled {
        connection_uuid: String,
        setting: String,
    },
    /// A default route appeared, went or changed (the internet may have moved).
    RoutesChanged,
    /// The backend (NetworkManager) appeared or came back: what was known is stale.
    Appeared,
    /// The backend (NetworkManager) went away: an attempt in progress cannot end well.
    Vanished,
    /// Something the menu shows changed (a scan's results, a saved profile, the WiFi
    /// switch, a wired link, connectivity): time for another [`WifiBackend::menu`].
    MenuChanged,
}

impl std::fmt::Debug for WifiEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WifiEvent::Device {
                interface,
                state,
                reason,
            } => {
                write!(f, "Device({interface}, {state:?}, {reason:?})")
            }
            WifiEvent::SecretsRequested { request, .. } => {
                write!(f, "SecretsRequested({request:?})")
            }
            WifiEvent::SecretsCanceled {
                connection_uuid,
                setting,
            } => {
                write!(f, "SecretsCanceled({connection_uuid}, {setting})")
            }
            WifiEvent::RoutesChanged => f.write_str("RoutesChanged"),
            WifiEvent::Appeared => f.write_str("Appeared"),
            WifiEvent::Vanished => f.write_str("Vanished"),
            WifiEvent::MenuChanged => f.write_str("MenuChanged"),
        }
    }
}

/// How a secrets request is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretAnswer {
    Secrets(Vec<(String, Secret)>),
    /// "I have none": the backend may ask another agent.
    NoSecrets,
    /// The user said no.
    UserCanceled,
}

pub trait SecretResponder: Send {
    fn answer(self: Box<Self>, answer: SecretAnswer);
}

/// What is up now, for the engine's model of the machine's network: every WiFi device,
/// which of them a device link's profile holds, and which links hold a default route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkSnapshot {
    /// Every WiFi device, by interface name.
    pub wifi: Vec<WifiDevice>,
    /// Device links whose profile is active on a radio: (interface, link name).
    pub device_links: Vec<(String, String)>,
    /// The interfaces of the main table's default routes, lowest metric first (IPv4, then
    /// IPv6).
    pub default_routes: Vec<String>,
    /// The radios that run a hotspot (an access point profile is active on them).
    pub hotspots: Vec<String>,
}

/// A hotspot to start.
#[derive(Debug, Clone)]
pub struct HotspotRequest {
    pub ssid: String,
    /// Its WPA2 passphrase: agent-owned, never in NetworkManager's profile.
    pub password: crate::Secret,
    /// The radios it may run on, the preferred first: the first that can be an access
    /// point (in the band asked for) is used.
    pub candidates: Vec<String>,
    /// `bg` (2.4 GHz) or `a` (5 GHz); `None` lets NetworkManager choose.
    pub band: Option<String>,
}

/// A request to join a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    pub ssid: String,
    pub hidden: bool,
    /// The WiFi device to join on, chosen by its role.
    pub device: String,
    /// The user named the device: a profile made now is bound to it.
    pub bind: bool,
    /// Keep the password (agent-owned) for next time.
    pub save: bool,
    /// The caller has the password already.
    pub has_password: bool,
    /// The caller can ask a user if the backend wants a password.
    pub interactive: bool,
}

/// A join in progress, as the backend started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joining {
    pub interface: String,
    /// The network was seen in the scan (see `connect::Attempt`).
    pub in_range: bool,
    pub secured: bool,
    /// The profile the backend created for this attempt, to delete if it fails.
    pub created_profile: Option<String>,
    /// The UUID of the profile activated (saved or created), once known.
    pub profile_uuid: Option<String>,
}

/// What to change on a saved network's profiles; `None` leaves it as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProfileChange {
    pub autoconnect: Option<bool>,
    pub priority: Option<i32>,
}

/// WiFi through NetworkManager, for the daemon. Events arrive on a channel the backend
/// hands out when it is built.
pub trait WifiBackend: Send + Sync + 'static {
    fn snapshot(&self) -> impl Future<Output = Result<LinkSnapshot, Error>> + Send;
    /// What a network menu shows beyond the snapshot (the WiFi switch, every radio's last
    /// scan, saved profiles, wired links, connectivity, hotspots): a slower look, asked
    /// for when [`WifiEvent::MenuChanged`] says it changed.
    fn menu(&self) -> impl Future<Output = Result<Menu, Error>> + Send;
    /// Asks these radios to scan and returns once they have finished (20 s at most): their
    /// results are then in [`WifiBackend::menu`]. Reads no results itself.
    fn request_scan(&self, interfaces: &[String])
    -> impl Future<Output = Result<(), Error>> + Send;
    /// Turns WiFi on or off (NetworkManager's switch); the switch as it is then. A hard
    /// rfkill block is `radio-blocked`.
    fn set_wifi_enabled(
        &self,
        enabled: bool,
    ) -> impl Future<Output = Result<RadioSwitch, Error>> + Send;
    /// Changes every saved profile of `ssid` (`not-found` when there is none); how many.
    fn change_saved(
        &self,
        ssid: &str,
        change: ProfileChange,
    ) -> impl Future<Output = Result<u32, Error>> + Send;
    /// Activates the wired device `interface` (its best profile, else a new one) and waits
    /// until it is connected, or fails, or `timeout` passes.
    fn ethernet_up(
        &self,
        interface: &str,
        timeout: std::time::Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Disconnects the wired device `interface`.
    fn ethernet_down(&self, interface: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// Starts a hotspot (NetworkManager's shared mode: DHCP for its clients) on the first
    /// candidate radio that can run it; returns once clients can join.
    fn hotspot_start(
        &self,
        request: &HotspotRequest,
    ) -> impl Future<Output = Result<crate::menu::Hotspot, Error>> + Send;
    /// Stops the hotspot on `interface` and deletes what `hotspot_start` made (its
    /// profile, its password).
    fn hotspot_stop(&self, interface: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// The networks these WiFi devices see: after a fresh scan when `rescan`, else from
    /// their last one.
    fn scan(
        &self,
        interfaces: &[String],
        rescan: bool,
    ) -> impl Future<Output = Result<Vec<WifiNetwork>, Error>> + Send;
    /// Resolves the network and starts activating it; progress arrives as events. Fails
    /// at once (`secrets-required`) for a secured network with no password, no saved
    /// profile and nobody to ask.
    fn join(&self, request: &JoinRequest) -> impl Future<Output = Result<Joining, Error>> + Send;
    /// Undoes what a failed join created.
    fn abandon(&self, joining: &Joining) -> impl Future<Output = ()> + Send;
    /// Disconnects one WiFi device (the engine decides which may be).
    fn disconnect(&self, interface: &str) -> impl Future<Output = Result<(), Error>> + Send;
    /// Deletes the saved profiles (and stored secrets) of a network; how many.
    fn forget(&self, ssid: &str) -> impl Future<Output = Result<u32, Error>> + Send;
    /// Stores secrets for a profile (agent-owned).
    fn remember(
        &self,
        profile_uuid: &str,
        ssid: &str,
        setting: &str,
        secrets: &[(String, Secret)],
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Secrets stored for a profile.
    fn recall(
        &self,
        profile_uuid: &str,
        setting: &str,
    ) -> impl Future<Output = Vec<(String, Secret)>> + Send;
}

/// A shared backend is a backend (tests and benchmarks keep a handle to look inside).
impl<B: WifiBackend> WifiBackend for std::sync::Arc<B> {
    fn snapshot(&self) -> impl Future<Output = Result<LinkSnapshot, Error>> + Send {
        B::snapshot(self)
    }
    fn menu(&self) -> impl Future<Output = Result<Menu, Error>> + Send {
        B::menu(self)
    }
    fn request_scan(
        &self,
        interfaces: &[String],
    ) -> impl Future<Output = Result<(), Error>> + Send {
        B::request_scan(self, interfaces)
    }
    fn set_wifi_enabled(
        &self,
        enabled: bool,
    ) -> impl Future<Output = Result<RadioSwitch, Error>> + Send {
        B::set_wifi_enabled(self, enabled)
    }
    fn change_saved(
        &self,
        ssid: &str,
        change: ProfileChange,
    ) -> impl Future<Output = Result<u32, Error>> + Send {
        B::change_saved(self, ssid, change)
    }
    fn ethernet_up(
        &self,
        interface: &str,
        timeout: std::time::Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send {
        B::ethernet_up(self, interface, timeout)
    }
    fn ethernet_down(&self, interface: &str) -> impl Future<Output = Result<(), Error>> + Send {
        B::ethernet_down(self, interface)
    }
    fn hotspot_start(
        &self,
        request: &HotspotRequest,
    ) -> impl Future<Output = Result<crate::menu::Hotspot, Error>> + Send {
        B::hotspot_start(self, request)
    }
    fn hotspot_stop(&self, interface: &str) -> impl Future<Output = Result<(), Error>> + Send {
        B::hotspot_stop(self, interface)
    }
    fn scan(
        &self,
        interfaces: &[String],
        rescan: bool,
    ) -> impl Future<Output = Result<Vec<WifiNetwork>, Error>> + Send {
        B::scan(self, interfaces, rescan)
    }
    fn join(&self, request: &JoinRequest) -> impl Future<Output = Result<Joining, Error>> + Send {
        B::join(self, request)
    }
    fn abandon(&self, joining: &Joining) -> impl Future<Output = ()> + Send {
        B::abandon(self, joining)
    }
    fn disconnect(&self, interface: &str) -> impl Future<Output = Result<(), Error>> + Send {
        B::disconnect(self, interface)
    }
    fn forget(&self, ssid: &str) -> impl Future<Output = Result<u32, Error>> + Send {
        B::forget(self, ssid)
    }
    fn remember(
        &self,
        profile_uuid: &str,
        ssid: &str,
        setting: &str,
        secrets: &[(String, Secret)],
    ) -> impl Future<Output = Result<(), Error>> + Send {
        B::remember(self, profile_uuid, ssid, setting, secrets)
    }
    fn recall(
        &self,
        profile_uuid: &str,
        setting: &str,
    ) -> impl Future<Output = Vec<(String, Secret)>> + Send {
        B::recall(self, profile_uuid, setting)
    }
}

/// A device link brought up: where, and with which address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkUp {
    pub interface: String,
    pub local_address: Option<String>,
}

/// What `device configure` did besides saving the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configured {
    /// The spec as saved, with its interface chosen.
    pub spec: crate::device::DeviceSpec,
    /// Things the user should know (overlapping subnets, a shared channel…).
    pub warnings: Vec<String>,
}

/// A device link's signals as they happen, so the supervisor need not wait for a probe.
pub trait LinkWatch: Send + 'static {
    /// The next signal; `None` once the watch has ended (its source went away). Must be
    /// cancel-safe: the supervisor races it against its probe timer.
    fn next(&mut self) -> impl Future<Output = Option<crate::device::LinkSignal>> + Send;
}

/// The kernel's word that a default route appeared, went or changed.
pub trait RouteWatch: Send + 'static {
    /// Returns once one may have; `None` once the watch has ended. Cancel-safe.
    fn changed(&mut self) -> impl Future<Output = Option<()>> + Send;
}

/// Device links on the operating system: the profile, the radio, the probes. The
/// engine's device service supervises the links through this.
pub trait DeviceBackend: Send + Sync + 'static {
    type Watch: LinkWatch;
    type Routes: RouteWatch;

    /// Chooses the radio (unless the spec names one), saves the profile, and the
    /// password when one is given.
    fn configure(
        &self,
        spec: crate::device::DeviceSpec,
        password: Option<Secret>,
    ) -> impl Future<Output = Result<Configured, Error>> + Send;
    /// Every configured device link.
    fn list(&self) -> impl Future<Output = Result<Vec<crate::device::DeviceSpec>, Error>> + Send;
    /// Joins the device's network; returns once the link has an address, or fails after
    /// `timeout`.
    fn up(
        &self,
        spec: &crate::device::DeviceSpec,
        timeout: std::time::Duration,
    ) -> impl Future<Output = Result<LinkUp, Error>> + Send;
    /// Nudges a lost link back without waiting: starts joining again unless the link is
    /// still being held (the supplicant then reassociates by itself when the AP is back).
    fn rejoin(
        &self,
        spec: &crate::device::DeviceSpec,
    ) -> impl Future<Output = Result<(), Error>> + Send;
    /// Leaves the device's network and removes what `up` created; every step is tried.
    fn down(
        &self,
        spec: &crate::device::DeviceSpec,
    ) -> impl Future<Output = crate::device::Teardown> + Send;
    /// `down`, then deletes the profile and the saved secret.
    fn reset(
        &self,
        spec: &crate::device::DeviceSpec,
    ) -> impl Future<Output = crate::device::Teardown> + Send;
    /// The link's IPv4 address now, with its prefix (`172.31.1.100/24`); cheap, from the
    /// kernel.
    fn address(
        &self,
        spec: &crate::device::DeviceSpec,
    ) -> impl Future<Output = Option<String>> + Send;
    /// One probe of the device over its link; the round trip time.
    fn probe(
        &self,
        spec: &crate::device::DeviceSpec,
        timeout: std::time::Duration,
    ) -> impl Future<Output = Result<std::time::Duration, Error>> + Send;
    /// Starts watching the link's signals (the interface and the device's address).
    fn watch(
        &self,
        spec: &crate::device::DeviceSpec,
    ) -> impl Future<Output = Result<Self::Watch, Error>> + Send;
    /// The checks of `device test`: routes and DNS unchanged, device and internet answer.
    fn test(
        &self,
        spec: &crate::device::DeviceSpec,
        internet: &str,
    ) -> impl Future<Output = Result<Vec<crate::device::Check>, Error>> + Send;
    /// The internet link now, if there is one.
    fn internet(
        &self,
    ) -> impl Future<Output = Result<Option<crate::device::InternetLink>, Error>> + Send;
    /// Starts watching the default routes.
    fn watch_routes(&self) -> Result<Self::Routes, Error>;
    /// Every default route now, and NetworkManager's connectivity verdict (unknown when it
    /// cannot be asked).
    fn internet_now(
        &self,
    ) -> impl Future<Output = Result<crate::internet::InternetNow, Error>> + Send;
    /// Joins again, on `interface`, the WiFi network the internet was on when the
    /// operating system gave up on it (it is in range, the device was not disconnected by
    /// hand); its SSID, or `None` when there was nothing to do.
    fn rejoin_internet(
        &self,
        interface: &str,
    ) -> impl Future<Output = Result<Option<String>, Error>> + Send;
    /// One ARP probe of the internet's gateway on its link: a link whose gateway is gone
    /// is lost long before its routes are.
    fn probe_gateway(
        &self,
        interface: &str,
        gateway: std::net::Ipv4Addr,
        timeout: std::time::Duration,
    ) -> impl Future<Output = Result<std::time::Duration, Error>> + Send;
    /// One connection attempt to `target` (`HOST:PORT`, resolved) through `interface`.
    fn probe_internet(
        &self,
        target: &str,
        interface: &str,
        timeout: std::time::Duration,
    ) -> impl Future<Output = Result<std::time::Duration, Error>> + Send;
    /// Scans every WiFi radio for devices whose SSID matches a preset, and works out for
    /// each what joining it now would take. Changes nothing.
    fn discover(
        &self,
    ) -> impl Future<Output = Result<Vec<crate::device::Discovered>, Error>> + Send;
}
