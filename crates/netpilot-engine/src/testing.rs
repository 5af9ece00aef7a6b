//! Fakes of the ports, for unit tests of engine logic. They never stand in for testing a
//! real backend: those are tested against the kernel in `netpilot-linux`.

use netpilot_core::ports::{
    ClosedSocket, ClosedSocketFeed, FdTableError, FlowSource, LinkSource, ProcessSource,
    SocketQuery, SocketSource,
};
use netpilot_core::{
    Error, Family, Flow, FlowCounters, FlowKey, Interface, Protocol, Socket, SocketState,
    TcpCounters,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
enum FakeProcess {
    Readable { name: String, inodes: Vec<u64> },
    Denied,
}

/// A process table held in memory; records which fd tables were read.
#[derive(Debug, Default)]
pub struct FakeProcesses {
    processes: Mutex<BTreeMap<u32, FakeProcess>>,
    reads: Mutex<Vec<u32>>,
}

impl FakeProcesses {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(self, pid: u32, name: &str, inodes: &[u64]) -> Self {
        self.add(pid, name, inodes);
        self
    }

    pub fn denied(self, pid: u32) -> Self {
        self.lock().insert(pid, FakeProcess::Denied);
        self
    }

    pub fn add(&self, pid: u32, name: &str, inodes: &[u64]) {
        let process = FakeProcess::Readable {
            name: name.into(),
            inodes: inodes.to_vec(),
        };
        self.lock().insert(pid, process);
    }

    /// Replaces the sockets `pid` holds.
    pub fn set(&self, pid: u32, inodes: &[u64]) {
        if let Some(FakeProcess::Readable { inodes: held, .. }) = self.lock().get_mut(&pid) {
            *held = inodes.to_vec();
        }
    }

    pub fn remove(&self, pid: u32) {
        self.lock().remove(&pid);
    }

    /// The pids whose fd tables were read, in order.
    pub fn reads(&self) -> Vec<u32> {
        self.reads.lock().expect("not poisoned").clone()
    }

    pub fn clear_reads(&self) {
        self.reads.lock().expect("not poisoned").clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, FakeProcess>> {
        self.processes.lock().expect("not poisoned")
    }
}

impl ProcessSource for FakeProcesses {
    fn pids(&self) -> Result<Vec<u32>, Error> {
        Ok(self.lock().keys().copied().collect())
    }

    fn socket_inodes(&self, pid: u32, inodes: &mut Vec<u64>) -> Result<(), FdTableError> {
        self.reads.lock().expect("not poisoned").push(pid);
        match self.lock().get(&pid) {
            Some(FakeProcess::Readable { inodes: held, .. }) => {
                inodes.extend(held);
                Ok(())
            }
            Some(FakeProcess::Denied) => Err(FdTableError::Denied),
            None => Err(FdTableError::Gone),
        }
    }

    fn fd_count(&self, pid: u32) -> Option<u64> {
        match self.lock().get(&pid) {
            Some(FakeProcess::Readable { inodes, .. }) => Some(inodes.len() as u64 + 3),
            _ => None,
        }
    }

    fn process_name(&self, pid: u32) -> Option<String> {
        match self.lock().get(&pid) {
            Some(FakeProcess::Readable { name, .. }) => Some(name.clone()),
            _ => None,
        }
    }

    fn user_name(&self, uid: u32) -> Option<String> {
        (uid == 0).then(|| "root".to_string())
    }
}

/// A socket table held in memory; answers queries as the kernel filters them.
#[derive(Debug, Default)]
pub struct FakeSockets {
    sockets: Mutex<Vec<Socket>>,
    pub queries: Mutex<Vec<SocketQuery>>,
    /// What `tcp_activity` answers; `None` (unknown) unless a test sets it.
    pub activity: Mutex<Option<u64>>,
}

impl FakeSockets {
    pub fn new(sockets: Vec<Socket>) -> Self {
        FakeSockets {
            sockets: Mutex::new(sockets),
            ..Self::default()
        }
    }

    pub fn replace(&self, sockets: Vec<Socket>) {
        *self.sockets.lock().expect("not poisoned") = sockets;
    }
}

impl SocketSource for FakeSockets {
    fn sockets(&self, query: &SocketQuery) -> Result<Vec<Socket>, Error> {
        self.queries
            .lock()
            .expect("not poisoned")
            .push(query.clone());
        let sockets = self.sockets.lock().expect("not poisoned");
        Ok(sockets
            .iter()
            .filter(|s| query.wants(s.protocol, s.state))
            .cloned()
            .map(|mut s| {
                if !query.tcp_counters {
                    s.tcp = None;
                }
                s
            })
            .collect())
    }

    fn tcp_activity(&self) -> Option<u64> {
        *self.activity.lock().expect("not poisoned")
    }
}

/// A link table held in memory.
#[derive(Debug, Default)]
pub struct FakeLinks(pub Mutex<Vec<Interface>>);

impl LinkSource for FakeLinks {
    fn interfaces(&self) -> Result<Vec<Interface>, Error> {
        Ok(self.0.lock().expect("not poisoned").clone())
    }
}

/// Destroy notices queued by the test.
#[derive(Debug, Default)]
pub struct FakeClosedFeed {
    pub closed: Vec<ClosedSocket>,
    pub lost: u64,
}

impl ClosedSocketFeed for FakeClosedFeed {
    fn take_closed(&mut self) -> Vec<ClosedSocket> {
        std::mem::take(&mut self.closed)
    }

    fn lost(&mut self) -> u64 {
        std::mem::take(&mut self.lost)
    }
}

/// The packet counter's map, held in memory and shared by clones (the test keeps one to
/// change the counters, the meter reads another). Forgotten flows leave the map, as in
/// the kernel.
#[derive(Debug, Clone, Default)]
pub struct FakeFlows(Arc<Mutex<FakeFlowsState>>);

#[derive(Debug, Default)]
struct FakeFlowsState {
    flows: BTreeMap<FlowKey, FlowCounters>,
    forgotten: Vec<FlowKey>,
    missed: u64,
    every_namespace: bool,
}

impl FakeFlows {
    /// Sets a flow's cumulative counters (as the kernel would have counted them).
    pub fn set(&self, key: FlowKey, counters: FlowCounters) {
        self.0
            .lock()
            .expect("not poisoned")
            .flows
            .insert(key, counters);
    }

    /// Flows forgotten so far.
    pub fn forgotten(&self) -> Vec<FlowKey> {
        self.0.lock().expect("not poisoned").forgotten.clone()
    }

    pub fn set_missed(&self, packets: u64) {
        self.0.lock().expect("not poisoned").missed = packets;
    }

    /// As a kernel before 6.14: other namespaces' sockets are counted too.
    pub fn count_every_namespace(&self) {
        self.0.lock().expect("not poisoned").every_namespace = true;
    }
}

impl FlowSource for FakeFlows {
    fn flows(&mut self) -> Result<Vec<Flow>, Error> {
        let state = self.0.lock().expect("not poisoned");
        Ok(state
            .flows
            .iter()
            .map(|(&key, &counters)| Flow { key, counters })
            .collect())
    }

    fn forget(&mut self, flows: &[FlowKey]) {
        let mut state = self.0.lock().expect("not poisoned");
        for key in flows {
            state.flows.remove(key);
            state.forgotten.push(*key);
        }
    }

    fn missed(&mut self) -> u64 {
        self.0.lock().expect("not poisoned").missed
    }

    fn this_namespace_only(&self) -> bool {
        !self.0.lock().expect("not poisoned").every_namespace
    }
}

/// An Ethernet interface, up, with a hardware address and zero counters.
pub fn interface(index: u32, name: &str) -> Interface {
    Interface {
        index,
        name: name.to_string(),
        kind: netpilot_core::InterfaceKind::Ethernet,
        link_kind: None,
        admin_up: true,
        oper_state: netpilot_core::OperState::Up,
        carrier: true,
        mac: Some("02:00:00:00:00:01".to_string()),
        mtu: 1500,
        ipv4: vec![],
        ipv6: vec![],
        counters: netpilot_core::LinkCounters::default(),
    }
}

/// An established IPv4 TCP socket 10.0.0.1:40000+inode → 10.0.0.2:443 with `inode`
/// (and the inode as its cookie).
pub fn tcp_socket(inode: u64) -> Socket {
    Socket {
        protocol: Protocol::Tcp,
        family: Family::Ipv4,
        local: ([10, 0, 0, 1], 40000 + (inode % 20000) as u16).into(),
        remote: Some(([10, 0, 0, 2], 443).into()),
        state: SocketState::Established,
        uid: 1000,
        inode,
        cookie: inode,
        recv_queue: 0,
        send_queue: 0,
        tcp: Some(TcpCounters::default()),
        drops: None,
    }
}

/// Secrets stored for (profile UUID, setting).
type StoredSecrets = Vec<(String, netpilot_core::Secret)>;

/// A WiFi backend held in memory: joins succeed (or fail) as told, events are injected by
/// the test through the sender `FakeWifi::new` returns.
#[derive(Default)]
pub struct FakeWifi {
    pub snapshot: Mutex<netpilot_core::ports::LinkSnapshot>,
    pub join_result: Mutex<Option<Result<netpilot_core::ports::Joining, Error>>>,
    pub joins: Mutex<Vec<netpilot_core::ports::JoinRequest>>,
    pub abandoned: Mutex<Vec<netpilot_core::ports::Joining>>,
    /// What a scan finds.
    pub networks: Mutex<Vec<netpilot_core::wifi::WifiNetwork>>,
    /// How long a join takes to report back (NetworkManager may act meanwhile).
    pub join_delay: Mutex<std::time::Duration>,
    pub stored: Mutex<std::collections::HashMap<(String, String), StoredSecrets>>,
    pub secured: bool,
    /// The radios disconnected, in order.
    pub disconnected: Mutex<Vec<String>>,
    /// The radios asked to scan, and whether afresh.
    pub scans: Mutex<Vec<(Vec<String>, bool)>>,
    /// How long a snapshot takes (NetworkManager's dozens of calls).
    pub snapshot_delay: Mutex<std::time::Duration>,
    /// Snapshots asked for, and the most ever in flight at once.
    pub snapshots: std::sync::atomic::AtomicUsize,
    pub snapshots_in_flight: std::sync::atomic::AtomicUsize,
    pub most_snapshots_in_flight: std::sync::atomic::AtomicUsize,
    /// What the menu's look finds (WiFi on, nothing else, unless a test says so).
    pub menu: Mutex<netpilot_core::menu::Menu>,
    /// Menu looks asked for, and how long each takes.
    pub menus: std::sync::atomic::AtomicUsize,
    pub menu_delay: Mutex<std::time::Duration>,
    /// Scans started without waiting (`request_scan`), and how long each runs.
    pub scans_requested: Mutex<Vec<Vec<String>>>,
    pub scan_delay: Mutex<std::time::Duration>,
}

impl FakeWifi {
    /// A backend with one idle radio, wlan0, whose networks are secured (`secured`) and
    /// in range; and the sender for its events.
    pub fn new(
        secured: bool,
    ) -> (
        Self,
        tokio::sync::mpsc::Sender<netpilot_core::ports::WifiEvent>,
        tokio::sync::mpsc::Receiver<netpilot_core::ports::WifiEvent>,
    ) {
        let (sender, receiver) = tokio::sync::mpsc::channel(64);
        (
            FakeWifi {
                secured,
                snapshot: Mutex::new(Self::idle()),
                menu: Mutex::new(netpilot_core::menu::Menu {
                    radio: netpilot_core::menu::RadioSwitch {
                        enabled: true,
                        hardware_blocked: false,
                    },
                    ..Default::default()
                }),
                ..Self::default()
            },
            sender,
            receiver,
        )
    }

    /// wlan0, connected to nothing; no default route.
    pub fn idle() -> netpilot_core::ports::LinkSnapshot {
        netpilot_core::ports::LinkSnapshot {
            wifi: vec![fake_radio(
                "wlan0",
                netpilot_core::wifi::DeviceState::Disconnected,
                None,
            )],
            ..Default::default()
        }
    }

    /// wlan0 on `ssid` with 192.168.50.10/24, holding the default route.
    pub fn connected(ssid: &str) -> netpilot_core::ports::LinkSnapshot {
        let mut radio = fake_radio(
            "wlan0",
            netpilot_core::wifi::DeviceState::Connected,
            Some(ssid),
        );
        radio.ipv4 = Some("192.168.50.10/24".into());
        netpilot_core::ports::LinkSnapshot {
            wifi: vec![radio],
            device_links: Vec::new(),
            default_routes: vec!["wlan0".into()],
            hotspots: Vec::new(),
        }
    }

    pub fn joining(&self) -> netpilot_core::ports::Joining {
        netpilot_core::ports::Joining {
            interface: "wlan0".into(),
            in_range: true,
            secured: self.secured,
            created_profile: Some("/profile/1".into()),
            profile_uuid: Some("uuid-1".into()),
        }
    }
}

impl netpilot_core::ports::WifiBackend for FakeWifi {
    async fn snapshot(&self) -> Result<netpilot_core::ports::LinkSnapshot, Error> {
        use std::sync::atomic::Ordering::SeqCst;
        self.snapshots.fetch_add(1, SeqCst);
        let now = self.snapshots_in_flight.fetch_add(1, SeqCst) + 1;
        self.most_snapshots_in_flight.fetch_max(now, SeqCst);
        let delay = *self.snapshot_delay.lock().expect("not poisoned");
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        self.snapshots_in_flight.fetch_sub(1, SeqCst);
        Ok(self.snapshot.lock().expect("not poisoned").clone())
    }

    async fn menu(&self) -> Result<netpilot_core::menu::Menu, Error> {
        self.menus.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let delay = *self.menu_delay.lock().expect("not poisoned");
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(self.menu.lock().expect("not poisoned").clone())
    }

    async fn request_scan(&self, interfaces: &[String]) -> Result<(), Error> {
        self.scans_requested
            .lock()
            .expect("not poisoned")
            .push(interfaces.to_vec());
        let delay = *self.scan_delay.lock().expect("not poisoned");
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok(())
    }

    async fn set_wifi_enabled(
        &self,
        enabled: bool,
    ) -> Result<netpilot_core::menu::RadioSwitch, Error> {
        let mut menu = self.menu.lock().expect("not poisoned");
        if enabled && menu.radio.hardware_blocked {
            return Err(netpilot_core::menu::radio_blocked());
        }
        menu.radio.enabled = enabled;
        Ok(menu.radio)
    }

    async fn change_saved(
        &self,
        ssid: &str,
        change: netpilot_core::ports::ProfileChange,
    ) -> Result<u32, Error> {
        let mut menu = self.menu.lock().expect("not poisoned");
        let mut changed = 0;
        for profile in menu.saved.iter_mut().filter(|p| p.ssid == ssid) {
            if let Some(autoconnect) = change.autoconnect {
                profile.autoconnect = autoconnect;
            }
            if let Some(priority) = change.priority {
                profile.priority = priority;
            }
            changed += 1;
        }
        if changed == 0 {
            return Err(Error::new(
                netpilot_core::ErrorCode::NotFound,
                format!("no saved network named {ssid:?}"),
            ));
        }
        Ok(changed)
    }

    /// A hotspot on the first candidate: 10.42.0.1/24, as NetworkManager's shared mode.
    async fn hotspot_start(
        &self,
        request: &netpilot_core::ports::HotspotRequest,
    ) -> Result<netpilot_core::menu::Hotspot, Error> {
        let interface = request.candidates.first().cloned().unwrap_or_default();
        let hotspot = netpilot_core::menu::Hotspot {
            interface: interface.clone(),
            ssid: request.ssid.clone(),
            band: request.band.clone(),
            channel: None,
            active: true,
            ipv4: Some("10.42.0.1/24".into()),
            profile_uuid: "uuid-hotspot".into(),
        };
        self.menu
            .lock()
            .expect("not poisoned")
            .hotspots
            .push(hotspot.clone());
        let mut snapshot = self.snapshot.lock().expect("not poisoned");
        snapshot.hotspots.push(interface.clone());
        if let Some(radio) = snapshot.wifi.iter_mut().find(|r| r.interface == interface) {
            radio.state = netpilot_core::wifi::DeviceState::Connected;
            radio.ssid = Some(request.ssid.clone());
        }
        Ok(hotspot)
    }

    async fn hotspot_stop(&self, interface: &str) -> Result<(), Error> {
        self.menu
            .lock()
            .expect("not poisoned")
            .hotspots
            .retain(|h| h.interface != interface);
        let mut snapshot = self.snapshot.lock().expect("not poisoned");
        snapshot.hotspots.retain(|h| h != interface);
        if let Some(radio) = snapshot.wifi.iter_mut().find(|r| r.interface == interface) {
            radio.state = netpilot_core::wifi::DeviceState::Disconnected;
            radio.ssid = None;
        }
        Ok(())
    }

    /// Connects the wired device as a DHCP server on its cable would: 192.168.60.10/24.
    async fn ethernet_up(
        &self,
        interface: &str,
        _timeout: std::time::Duration,
    ) -> Result<(), Error> {
        let mut menu = self.menu.lock().expect("not poisoned");
        let wired = menu
            .wired
            .iter_mut()
            .find(|w| w.interface == interface)
            .ok_or_else(|| Error::new(netpilot_core::ErrorCode::NotFound, "no such device"))?;
        if !wired.carrier {
            return Err(Error::new(
                netpilot_core::ErrorCode::ConnectionAttemptFailed,
                format!("{interface} has no cable"),
            ));
        }
        wired.state = netpilot_core::wifi::DeviceState::Connected;
        wired.ipv4 = Some("192.168.60.10/24".into());
        wired.gateway = Some("192.168.60.1".into());
        wired.dns = vec!["192.168.60.1".into()];
        Ok(())
    }

    async fn ethernet_down(&self, interface: &str) -> Result<(), Error> {
        let mut menu = self.menu.lock().expect("not poisoned");
        if let Some(wired) = menu.wired.iter_mut().find(|w| w.interface == interface) {
            wired.state = netpilot_core::wifi::DeviceState::Disconnected;
            wired.ipv4 = None;
            wired.gateway = None;
            wired.dns.clear();
        }
        Ok(())
    }

    async fn scan(
        &self,
        interfaces: &[String],
        rescan: bool,
    ) -> Result<Vec<netpilot_core::wifi::WifiNetwork>, Error> {
        self.scans
            .lock()
            .expect("not poisoned")
            .push((interfaces.to_vec(), rescan));
        Ok(self.networks.lock().expect("not poisoned").clone())
    }

    async fn join(
        &self,
        request: &netpilot_core::ports::JoinRequest,
    ) -> Result<netpilot_core::ports::Joining, Error> {
        self.joins
            .lock()
            .expect("not poisoned")
            .push(request.clone());
        let delay = *self.join_delay.lock().expect("not poisoned");
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Some(result) = self.join_result.lock().expect("not poisoned").take() {
            return result;
        }
        if self.secured && !request.has_password && !request.interactive {
            return Err(Error::new(
                netpilot_core::ErrorCode::SecretsRequired,
                "needs a password",
            ));
        }
        Ok(netpilot_core::ports::Joining {
            interface: request.device.clone(),
            ..self.joining()
        })
    }

    async fn abandon(&self, joining: &netpilot_core::ports::Joining) {
        self.abandoned
            .lock()
            .expect("not poisoned")
            .push(joining.clone());
    }

    async fn disconnect(&self, interface: &str) -> Result<(), Error> {
        self.disconnected
            .lock()
            .expect("not poisoned")
            .push(interface.to_string());
        Ok(())
    }

    async fn forget(&self, _ssid: &str) -> Result<u32, Error> {
        Ok(1)
    }

    async fn remember(
        &self,
        uuid: &str,
        _ssid: &str,
        setting: &str,
        secrets: &[(String, netpilot_core::Secret)],
    ) -> Result<(), Error> {
        self.stored
            .lock()
            .expect("not poisoned")
            .insert((uuid.into(), setting.into()), secrets.to_vec());
        Ok(())
    }

    async fn recall(&self, uuid: &str, setting: &str) -> Vec<(String, netpilot_core::Secret)> {
        self.stored
            .lock()
            .expect("not poisoned")
            .get(&(uuid.to_string(), setting.to_string()))
            .cloned()
            .unwrap_or_default()
    }
}

/// A WiFi device as NetworkManager would report it.
pub fn fake_radio(
    interface: &str,
    state: netpilot_core::wifi::DeviceState,
    ssid: Option<&str>,
) -> netpilot_core::wifi::WifiDevice {
    netpilot_core::wifi::WifiDevice {
        interface: interface.into(),
        state,
        ssid: ssid.map(str::to_owned),
        ipv4: None,
        mac: None,
    }
}

/// Records how a secrets request was answered.
#[derive(Clone, Default)]
pub struct FakeResponder(pub std::sync::Arc<Mutex<Option<netpilot_core::ports::SecretAnswer>>>);

impl FakeResponder {
    pub fn answer(&self) -> Option<netpilot_core::ports::SecretAnswer> {
        self.0.lock().expect("not poisoned").clone()
    }
}

impl netpilot_core::ports::SecretResponder for FakeResponder {
    fn answer(self: Box<Self>, answer: netpilot_core::ports::SecretAnswer) {
        *self.0.lock().expect("not poisoned") = Some(answer);
    }
}

/// A WiFi secrets request as NetworkManager makes it for `ssid`.
pub fn wifi_secrets_request(ssid: &str, request_new: bool) -> netpilot_core::SecretRequest {
    netpilot_core::SecretRequest {
        connection_uuid: "uuid-1".into(),
        connection_id: ssid.into(),
        ssid: Some(ssid.into()),
        setting: "802-11-wireless-security".into(),
        fields: vec!["psk".into()],
        hints: Vec::new(),
        flags: netpilot_core::SecretFlags {
            allow_interaction: true,
            request_new,
            user_requested: true,
            only_system: false,
        },
    }
}

/// A device link's world in memory: the device's access point can be switched off and
/// on; joining takes a second, a probe 3 ms. Counts what was asked of it.
#[derive(Default)]
pub struct FakeDevices {
    /// Whether the device's access point is on.
    pub on: std::sync::atomic::AtomicBool,
    pub ups: std::sync::atomic::AtomicUsize,
    pub rejoins: std::sync::atomic::AtomicUsize,
    pub downs: std::sync::atomic::AtomicUsize,
    pub probes: std::sync::atomic::AtomicUsize,
    /// Makes the first step of `down` fail.
    pub broken_down: std::sync::atomic::AtomicBool,
    pub specs: Mutex<Vec<netpilot_core::device::DeviceSpec>>,
    /// The open watches; [`FakeDevices::signal`] reaches each.
    watches: Mutex<Vec<tokio::sync::mpsc::UnboundedSender<netpilot_core::device::LinkSignal>>>,
    /// The default routes and connectivity (`None`: wlan0's route, connectivity full).
    pub internet_now: Mutex<Option<netpilot_core::internet::InternetNow>>,
    /// The internet probe's target does not answer.
    pub internet_unreachable: std::sync::atomic::AtomicBool,
    /// The internet's gateway does not answer ARP.
    pub gateway_silent: std::sync::atomic::AtomicBool,
    /// The internet's radios asked to join again.
    pub internet_rejoins: Mutex<Vec<String>>,
    /// The open route watches; [`FakeDevices::routes_changed`] reaches each.
    route_watches: Mutex<Vec<tokio::sync::mpsc::UnboundedSender<()>>>,
}

/// A watch on the fake default routes.
pub struct FakeRoutes(tokio::sync::mpsc::UnboundedReceiver<()>);

impl netpilot_core::ports::RouteWatch for FakeRoutes {
    async fn changed(&mut self) -> Option<()> {
        self.0.recv().await
    }
}

/// A watch on a fake link: the signals given to [`FakeDevices::signal`].
pub struct FakeWatch(tokio::sync::mpsc::UnboundedReceiver<netpilot_core::device::LinkSignal>);

impl netpilot_core::ports::LinkWatch for FakeWatch {
    async fn next(&mut self) -> Option<netpilot_core::device::LinkSignal> {
        self.0.recv().await
    }
}

impl FakeDevices {
    /// Sets the default routes and connectivity, and tells the route watches, as the
    /// kernel would.
    pub fn set_internet(&self, now: netpilot_core::internet::InternetNow) {
        *self.internet_now.lock().unwrap_or_else(|p| p.into_inner()) = Some(now);
        self.route_watches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|watch| watch.send(()).is_ok());
    }

    /// Sends `signal` to every link being watched, as the kernel or NetworkManager would.
    pub fn signal(&self, signal: netpilot_core::device::LinkSignal) {
        self.watches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|watch| watch.send(signal.clone()).is_ok());
    }

    fn is_on(&self) -> bool {
        self.on.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn count(counter: &std::sync::atomic::AtomicUsize) {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl netpilot_core::ports::DeviceBackend for FakeDevices {
    type Watch = FakeWatch;
    type Routes = FakeRoutes;

    fn watch_routes(&self) -> Result<FakeRoutes, Error> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        self.route_watches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sender);
        Ok(FakeRoutes(receiver))
    }

    async fn internet_now(&self) -> Result<netpilot_core::internet::InternetNow, Error> {
        let set = self
            .internet_now
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Ok(set.unwrap_or_else(|| netpilot_core::internet::InternetNow {
            routes: vec![netpilot_core::device::InternetLink {
                interface: "wlan0".into(),
                gateway: Some("192.168.50.1".into()),
                metric: 600,
            }],
            connectivity: netpilot_core::internet::Connectivity::Full,
            portal_url: None,
        }))
    }

    async fn probe_gateway(
        &self,
        interface: &str,
        gateway: std::net::Ipv4Addr,
        timeout: std::time::Duration,
    ) -> Result<std::time::Duration, Error> {
        if self
            .gateway_silent
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            tokio::time::sleep(timeout).await;
            return Err(Error::new(
                netpilot_core::ErrorCode::Timeout,
                format!(
                    "no answer from {gateway} on {interface} within {} ms",
                    timeout.as_millis()
                ),
            ));
        }
        Ok(std::time::Duration::from_millis(1))
    }

    async fn rejoin_internet(&self, interface: &str) -> Result<Option<String>, Error> {
        self.internet_rejoins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(interface.to_string());
        Ok(Some("np-home".into()))
    }

    async fn probe_internet(
        &self,
        target: &str,
        interface: &str,
        _timeout: std::time::Duration,
    ) -> Result<std::time::Duration, Error> {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if self
            .internet_unreachable
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(Error::new(
                netpilot_core::ErrorCode::Timeout,
                format!("no answer from {target} on {interface} within 2000 ms"),
            ));
        }
        Ok(std::time::Duration::from_millis(20))
    }

    async fn watch(&self, _spec: &netpilot_core::device::DeviceSpec) -> Result<FakeWatch, Error> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        self.watches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sender);
        Ok(FakeWatch(receiver))
    }

    async fn configure(
        &self,
        mut spec: netpilot_core::device::DeviceSpec,
        _password: Option<netpilot_core::Secret>,
    ) -> Result<netpilot_core::ports::Configured, Error> {
        spec.interface.get_or_insert_with(|| "wlan1".to_string());
        let mut specs = self.specs.lock().unwrap_or_else(|p| p.into_inner());
        specs.retain(|s| s.name != spec.name);
        specs.push(spec.clone());
        Ok(netpilot_core::ports::Configured {
            spec,
            warnings: Vec::new(),
        })
    }

    async fn list(&self) -> Result<Vec<netpilot_core::device::DeviceSpec>, Error> {
        Ok(self.specs.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    async fn up(
        &self,
        spec: &netpilot_core::device::DeviceSpec,
        timeout: std::time::Duration,
    ) -> Result<netpilot_core::ports::LinkUp, Error> {
        Self::count(&self.ups);
        // As NetworkManager: an attempt keeps scanning, and joins once the AP is there.
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.is_on() {
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::new(
                    netpilot_core::ErrorCode::Timeout,
                    format!("{:?} was not joined", spec.ssid),
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        Ok(netpilot_core::ports::LinkUp {
            interface: spec.interface.clone().unwrap_or_default(),
            local_address: Some("172.31.1.100/24".into()),
        })
    }

    /// The device's network comes back by itself once the AP is on (as the supplicant
    /// does); a nudge is only counted.
    async fn rejoin(&self, _spec: &netpilot_core::device::DeviceSpec) -> Result<(), Error> {
        Self::count(&self.rejoins);
        Ok(())
    }

    async fn down(
        &self,
        spec: &netpilot_core::device::DeviceSpec,
    ) -> netpilot_core::device::Teardown {
        Self::count(&self.downs);
        let mut teardown = netpilot_core::device::Teardown::default();
        let interface = spec.interface.clone().unwrap_or_default();
        let result = if self.broken_down.load(std::sync::atomic::Ordering::SeqCst) {
            Err(Error::new(netpilot_core::ErrorCode::Io, "refused"))
        } else {
            Ok(())
        };
        teardown.record(format!("disconnect {interface}"), result);
        teardown
    }

    async fn reset(
        &self,
        spec: &netpilot_core::device::DeviceSpec,
    ) -> netpilot_core::device::Teardown {
        let mut teardown = self.down(spec).await;
        self.specs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|s| s.name != spec.name);
        teardown.record(format!("delete profile netpilot-{}", spec.name), Ok(()));
        teardown
    }

    async fn address(&self, _spec: &netpilot_core::device::DeviceSpec) -> Option<String> {
        self.is_on().then(|| "172.31.1.100/24".to_string())
    }

    async fn probe(
        &self,
        spec: &netpilot_core::device::DeviceSpec,
        timeout: std::time::Duration,
    ) -> Result<std::time::Duration, Error> {
        Self::count(&self.probes);
        if self.is_on() {
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            Ok(std::time::Duration::from_millis(3))
        } else {
            tokio::time::sleep(timeout).await;
            Err(Error::new(
                netpilot_core::ErrorCode::Timeout,
                format!("no answer from {}", spec.address),
            ))
        }
    }

    async fn test(
        &self,
        spec: &netpilot_core::device::DeviceSpec,
        internet: &str,
    ) -> Result<Vec<netpilot_core::device::Check>, Error> {
        let check = |name: &str, passed: bool, detail: String| {
            netpilot_core::device::Check::new(name, passed, detail)
        };
        Ok(vec![
            check(
                "default route",
                true,
                "via wlan0, gateway 192.168.50.1, metric 600".into(),
            ),
            check(
                "device answers",
                self.is_on(),
                format!("{} on wlan1", spec.address),
            ),
            check("internet answers", true, format!("{internet} on wlan0")),
        ])
    }

    async fn internet(&self) -> Result<Option<netpilot_core::device::InternetLink>, Error> {
        Ok(Some(netpilot_core::device::InternetLink {
            interface: "wlan0".into(),
            gateway: Some("192.168.50.1".into()),
            metric: 600,
        }))
    }

    async fn discover(&self) -> Result<Vec<netpilot_core::device::Discovered>, Error> {
        Ok(vec![netpilot_core::device::Discovered {
            ssid: "Cozmo_A1B2C3".into(),
            preset: "cozmo".into(),
            bssid: "02:00:00:00:03:00".into(),
            signal: 70,
            frequency_mhz: 2437,
            channel: 6,
            security: netpilot_core::wifi::Security::WpaPsk,
            seen_on: "wlan1".into(),
            home_channel: Some(1),
            joinable: true,
            via: Some("wlan1".into()),
            reason: None,
            warnings: Vec::new(),
            configured: None,
        }])
    }
}
