//! The WiFi backend: NetworkManager through [`NmClient`], netpilot's secret agent, and the
//! secret store, behind the engine's [`WifiBackend`] port (for the daemon, and for a
//! command that runs the engine itself when no daemon does).

use super::agent::{self, AgentEvent};
use super::api::NmClient;
use super::join;
use crate::secrets::SecretStore;
use futures_util::StreamExt;
use netpilot_core::menu::{Hotspot, Menu, RadioSwitch};
use netpilot_core::ports::{
    HotspotRequest, JoinRequest, Joining, LinkSnapshot, ProfileChange, WifiBackend, WifiEvent,
};
use netpilot_core::wifi::{Security, WifiNetwork, networks};
use netpilot_core::{Error, ErrorCode, Secret};
use std::collections::HashMap;
use tokio::sync::mpsc;
use zbus::zvariant::OwnedObjectPath;

pub(crate) struct NmBackend {
    pub(crate) client: NmClient,
    pub(crate) store: std::sync::Arc<SecretStore>,
    /// The tasks that forward NetworkManager's signals; stopped with the backend.
    watchers: Vec<tokio::task::AbortHandle>,
}

impl Drop for NmBackend {
    fn drop(&mut self) {
        for watcher in &self.watchers {
            watcher.abort();
        }
    }
}

impl NmBackend {
    /// Connects to NetworkManager, registers the secret agent as `identifier` and watches
    /// the WiFi devices; events go to `events`.
    pub async fn start(
        identifier: &str,
        events: mpsc::Sender<WifiEvent>,
    ) -> Result<NmBackend, Error> {
        let client = NmClient::connect().await?;
        let store = std::sync::Arc::new(SecretStore::open().await);
        let mut agent_events = agent::register(client.bus(), identifier).await?;
        let mut changes = client.all_device_changes().await?;
        let names = client.clone();
        let device_events = events.clone();
        let events_for_routes = events.clone();
        let menu_events = events.clone();
        let devices = tokio::spawn(async move {
            // Device path → its interface if WiFi (looked up once per device).
            let mut interfaces: HashMap<OwnedObjectPath, Option<String>> = HashMap::new();
            while let Some((path, change)) = changes.next().await {
                if !interfaces.contains_key(&path) {
                    // A lookup that failed is tried again on the device's next change.
                    let Ok(name) = names.wifi_interface(&path).await else {
                        continue;
                    };
                    interfaces.insert(path.clone(), name);
                }
                let Some(Some(interface)) = interfaces.get(&path) else {
                    continue;
                };
                let event = WifiEvent::Device {
                    interface: interface.clone(),
                    state: change.state,
                    reason: change.reason,
                };
                if device_events.send(event).await.is_err() {
                    return;
                }
            }
        });
        // Save and delete requests are the store's business; the rest goes to the engine.
        let agent_store = std::sync::Arc::clone(&store);
        let agent = tokio::spawn(async move {
            let store = agent_store;
            while let Some(event) = agent_events.recv().await {
                let forward = match event {
                    AgentEvent::Request(pending) => {
                        let request = pending.request.clone();
                        WifiEvent::SecretsRequested {
                            request,
                            responder: Box::new(pending),
                        }
                    }
                    AgentEvent::Canceled {
                        connection_uuid,
                        setting,
                    } => WifiEvent::SecretsCanceled {
                        connection_uuid,
                        setting,
                    },
                    AgentEvent::Save {
                        connection_uuid,
                        ssid,
                        setting,
                        secrets,
                    } => {
                        if let Err(error) = store
                            .save(&connection_uuid, ssid.as_deref(), &setting, &secrets)
                            .await
                        {
                            tracing::warn!(%error, "SaveSecrets: not stored");
                        }
                        continue;
                    }
                    AgentEvent::Delete { connection_uuid } => {
                        let _ = store.delete(&connection_uuid).await;
                        continue;
                    }
                };
                if events.send(forward).await.is_err() {
                    return;
                }
            }
        });
        // What the menu shows: forwarded at most every 100 ms (a scan's results arrive as
        // dozens of signals; the engine merges what comes within its own settling time).
        let mut menu_changes = super::menu::changes(&client).await?;
        let menu = tokio::spawn(async move {
            while menu_changes.next().await.is_some() {
                if menu_events.send(WifiEvent::MenuChanged).await.is_err() {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                // Whatever came meanwhile is covered by the event just sent.
                while let Some(Some(())) =
                    futures_util::FutureExt::now_or_never(menu_changes.next())
                {}
            }
        });
        // The internet may move without any WiFi device changing (a cable plugged in).
        let routes = match crate::routes::DefaultRouteWatch::open() {
            Ok(mut watch) => {
                let events = events_for_routes;
                Some(tokio::spawn(async move {
                    while watch.changed().await.is_some() {
                        if events.send(WifiEvent::RoutesChanged).await.is_err() {
                            return;
                        }
                    }
                }))
            }
            Err(error) => {
                tracing::warn!(%error, "cannot follow the default routes; roles follow NetworkManager only");
                None
            }
        };
        let leftovers = client.clone();
        let leftovers = tokio::spawn(async move {
            if let Err(error) = super::leftovers::delete_once_started(&leftovers).await {
                tracing::debug!(%error, "the profiles attempts left are not looked for");
            }
        });
        let mut watchers = vec![
            devices.abort_handle(),
            agent.abort_handle(),
            menu.abort_handle(),
            leftovers.abort_handle(),
        ];
        watchers.extend(routes.map(|task| task.abort_handle()));
        Ok(NmBackend {
            client,
            store,
            watchers,
        })
    }
}

/// [`NmBackend`] when NetworkManager is there: the daemon starts (and answers
/// `nm-unavailable`) without it, and connects when it appears.
#[derive(Clone)]
pub struct NetworkManagerBackend {
    inner: std::sync::Arc<Lazy>,
}

struct Lazy {
    identifier: String,
    events: mpsc::Sender<WifiEvent>,
    connected: tokio::sync::Mutex<Option<std::sync::Arc<NmBackend>>>,
}

impl NetworkManagerBackend {
    pub fn new(identifier: &str) -> (Self, mpsc::Receiver<WifiEvent>) {
        let (events, receiver) = mpsc::channel(64);
        let inner = Lazy {
            identifier: identifier.to_string(),
            events,
            connected: Default::default(),
        };
        (
            NetworkManagerBackend {
                inner: std::sync::Arc::new(inner),
            },
            receiver,
        )
    }

    /// The backend if connected now (nothing is tried: for what looks often).
    pub(crate) async fn connected(&self) -> Option<std::sync::Arc<NmBackend>> {
        self.inner.connected.lock().await.clone()
    }

    /// The connected backend, connecting first if need be.
    pub(crate) async fn get(&self) -> Result<std::sync::Arc<NmBackend>, Error> {
        let mut connected = self.inner.connected.lock().await;
        if let Some(backend) = connected.as_ref() {
            return Ok(std::sync::Arc::clone(backend));
        }
        let backend = std::sync::Arc::new(
            NmBackend::start(&self.inner.identifier, self.inner.events.clone()).await?,
        );
        tracing::info!("connected to NetworkManager; registered as its secret agent");
        *connected = Some(std::sync::Arc::clone(&backend));
        Ok(backend)
    }

    /// Keeps the backend connected for the daemon's life: connects when NetworkManager is
    /// on the system bus, and when it leaves drops the connection, so the secret agent
    /// registers again with the next NetworkManager. Waits on the bus's NameOwnerChanged
    /// (no polling while nothing happens); without a system bus, tries again now and then.
    pub async fn supervise(self) {
        let mut retry = std::time::Duration::from_secs(1);
        loop {
            match self.follow_networkmanager().await {
                Ok(()) => retry = std::time::Duration::from_secs(1),
                Err(error) => tracing::info!(%error, "no system bus; trying again in {retry:?}"),
            }
            self.disconnected().await;
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(std::time::Duration::from_secs(60));
        }
    }

    /// Follows NetworkManager's comings and goings until the bus connection ends.
    async fn follow_networkmanager(&self) -> zbus::Result<()> {
        const NETWORKMANAGER: &str = "org.freedesktop.NetworkManager";
        let bus = zbus::Connection::system().await?;
        let dbus = zbus::fdo::DBusProxy::new(&bus).await?;
        let mut owners = dbus
            .receive_name_owner_changed_with_args(&[(0, NETWORKMANAGER)])
            .await?;
        let name = zbus::names::BusName::try_from(NETWORKMANAGER)?;
        if dbus.name_has_owner(name).await? {
            self.appeared().await;
        }
        while let Some(signal) = owners.next().await {
            let args = signal.args()?;
            if args.old_owner().is_some() {
                tracing::info!("NetworkManager stopped; waiting for it to come back");
                self.disconnected().await;
            }
            if args.new_owner().is_some() {
                self.appeared().await;
            }
        }
        Ok(())
    }

    /// NetworkManager appeared: connect to it now, so its secret requests reach the agent
    /// before anyone calls. It takes its bus name before it is ready to answer, so a few
    /// tries. (A backend already connected, by a client's call meanwhile, is kept.)
    async fn appeared(&self) {
        for attempt in 1..=10 {
            match self.get().await {
                Ok(_) => {
                    // What was known of the devices is stale: look again.
                    let _ = self.inner.events.send(WifiEvent::Appeared).await;
                    return;
                }
                Err(error) if attempt == 10 => {
                    tracing::warn!(%error, "NetworkManager appeared but could not be used")
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
            }
        }
    }

    async fn disconnected(&self) {
        self.inner.connected.lock().await.take();
        let _ = self.inner.events.send(WifiEvent::Vanished).await;
    }

    /// The daemon is stopping: unregisters the secret agent and lets go of NetworkManager.
    pub async fn close(&self) {
        let Some(backend) = self.inner.connected.lock().await.take() else {
            return;
        };
        match agent::unregister(backend.client.bus()).await {
            Ok(()) => tracing::info!("unregistered the secret agent"),
            Err(error) => tracing::warn!(%error, "the secret agent could not be unregistered"),
        }
    }
}

impl WifiBackend for NetworkManagerBackend {
    async fn snapshot(&self) -> Result<LinkSnapshot, Error> {
        self.get().await?.snapshot().await
    }

    async fn menu(&self) -> Result<Menu, Error> {
        self.get().await?.menu().await
    }

    async fn request_scan(&self, interfaces: &[String]) -> Result<(), Error> {
        self.get().await?.request_scan(interfaces).await
    }

    async fn set_wifi_enabled(&self, enabled: bool) -> Result<RadioSwitch, Error> {
        self.get().await?.set_wifi_enabled(enabled).await
    }

    async fn change_saved(&self, ssid: &str, change: ProfileChange) -> Result<u32, Error> {
        self.get().await?.change_saved(ssid, change).await
    }

    async fn ethernet_up(
        &self,
        interface: &str,
        timeout: std::time::Duration,
    ) -> Result<(), Error> {
        self.get().await?.ethernet_up(interface, timeout).await
    }

    async fn ethernet_down(&self, interface: &str) -> Result<(), Error> {
        self.get().await?.ethernet_down(interface).await
    }

    async fn hotspot_start(&self, request: &HotspotRequest) -> Result<Hotspot, Error> {
        self.get().await?.hotspot_start(request).await
    }

    async fn hotspot_stop(&self, interface: &str) -> Result<(), Error> {
        self.get().await?.hotspot_stop(interface).await
    }

    async fn scan(&self, interfaces: &[String], rescan: bool) -> Result<Vec<WifiNetwork>, Error> {
        self.get().await?.scan(interfaces, rescan).await
    }

    async fn join(&self, request: &JoinRequest) -> Result<Joining, Error> {
        self.get().await?.join(request).await
    }

    async fn abandon(&self, joining: &Joining) {
        if let Ok(backend) = self.get().await {
            backend.abandon(joining).await;
        }
    }

    async fn disconnect(&self, interface: &str) -> Result<(), Error> {
        self.get().await?.disconnect(interface).await
    }

    async fn forget(&self, ssid: &str) -> Result<u32, Error> {
        self.get().await?.forget(ssid).await
    }

    async fn remember(
        &self,
        uuid: &str,
        ssid: &str,
        setting: &str,
        secrets: &[(String, Secret)],
    ) -> Result<(), Error> {
        self.get()
            .await?
            .remember(uuid, ssid, setting, secrets)
            .await
    }

    async fn recall(&self, uuid: &str, setting: &str) -> Vec<(String, Secret)> {
        match self.get().await {
            Ok(backend) => backend.recall(uuid, setting).await,
            Err(_) => Vec::new(),
        }
    }
}

impl WifiBackend for NmBackend {
    async fn snapshot(&self) -> Result<LinkSnapshot, Error> {
        let devices = self.client.wifi_devices().await?;
        let mut device_links = Vec::new();
        let mut hotspots = Vec::new();
        for device in &devices {
            let Some(profile) = self.client.active_profile(device).await? else {
                continue;
            };
            // A profile deleted meanwhile is nobody's.
            let Ok(settings) = self.client.settings(&profile).await else {
                continue;
            };
            let interface = device.device.interface.clone();
            if let Some(spec) = super::device::spec_of(&settings) {
                device_links.push((interface, spec.name));
            } else if super::api::string(&settings, "802-11-wireless", "mode").as_deref()
                == Some("ap")
            {
                hotspots.push(interface);
            }
        }
        let default_routes = crate::routes::default_routes()?
            .into_iter()
            .map(|route| route.interface)
            .collect();
        Ok(LinkSnapshot {
            wifi: devices.into_iter().map(|d| d.device).collect(),
            device_links,
            default_routes,
            hotspots,
        })
    }

    async fn menu(&self) -> Result<Menu, Error> {
        super::menu::look(&self.client).await
    }

    async fn request_scan(&self, interfaces: &[String]) -> Result<(), Error> {
        let devices = join::devices(&self.client, interfaces).await?;
        self.client.scan(&devices).await
    }

    async fn set_wifi_enabled(&self, enabled: bool) -> Result<RadioSwitch, Error> {
        self.client.set_wifi_enabled(enabled).await
    }

    async fn change_saved(&self, ssid: &str, change: ProfileChange) -> Result<u32, Error> {
        let menu = super::menu::look_saved(&self.client).await?;
        let mut changed = 0;
        for (path, _) in menu
            .into_iter()
            .filter(|(_, p)| p.ssid == ssid && !p.hotspot && p.device_link.is_none())
        {
            self.client
                .update_profile(&path, |settings| {
                    let connection = settings.entry("connection".into()).or_default();
                    if let Some(autoconnect) = change.autoconnect {
                        connection.insert("autoconnect".into(), autoconnect.into());
                    }
                    if let Some(priority) = change.priority {
                        connection.insert("autoconnect-priority".into(), priority.into());
                    }
                })
                .await?;
            changed += 1;
        }
        if changed == 0 {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("no saved network named {ssid:?}"),
            )
            .with_hint("netpilot wifi saved lists the saved networks"));
        }
        Ok(changed)
    }

    async fn ethernet_up(
        &self,
        interface: &str,
        timeout: std::time::Duration,
    ) -> Result<(), Error> {
        super::ethernet::up(&self.client, interface, timeout).await
    }

    async fn ethernet_down(&self, interface: &str) -> Result<(), Error> {
        super::ethernet::down(&self.client, interface).await
    }

    async fn hotspot_start(&self, request: &HotspotRequest) -> Result<Hotspot, Error> {
        super::hotspot::start(&self.client, &self.store, request).await
    }

    async fn hotspot_stop(&self, interface: &str) -> Result<(), Error> {
        super::hotspot::stop(&self.client, &self.store, interface).await
    }

    async fn scan(&self, interfaces: &[String], rescan: bool) -> Result<Vec<WifiNetwork>, Error> {
        let devices = join::devices(&self.client, interfaces).await?;
        if rescan {
            self.client.scan(&devices).await?;
        }
        let mut access_points = Vec::new();
        for device in &devices {
            access_points.extend(
                self.client
                    .access_points(device)
                    .await?
                    .into_iter()
                    .map(|ap| ap.access_point),
            );
        }
        let known: Vec<String> = self
            .client
            .saved_wifi()
            .await?
            .into_iter()
            .map(|s| s.ssid)
            .collect();
        Ok(networks(&access_points, &known))
    }

    async fn join(&self, request: &JoinRequest) -> Result<Joining, Error> {
        let hidden_security = if request.has_password || request.interactive {
            Security::WpaPsk
        } else {
            Security::Open
        };
        let target = join::resolve(
            &self.client,
            &request.ssid,
            &request.device,
            request.hidden,
            hidden_security,
        )
        .await?;
        let secured = target.security.needs_password();
        if secured && !request.has_password && !request.interactive && target.saved.is_none() {
            return Err(Error::new(
                ErrorCode::SecretsRequired,
                format!("{:?} needs a password", request.ssid),
            )
            .with_hint(
                "give \"password\", or connect with \"interactive\": true and answer the prompt",
            ));
        }
        let started = join::activate(
            &self.client,
            &target,
            request.bind.then_some(request.device.as_str()),
            request.hidden,
            request.save,
        )
        .await?;
        let profile_uuid = self
            .client
            .saved_wifi()
            .await?
            .into_iter()
            .find(|s| s.path == started.profile)
            .map(|s| s.uuid);
        Ok(Joining {
            interface: target.device.device.interface,
            in_range: target.in_range,
            secured,
            created_profile: started.created.then(|| started.profile.to_string()),
            profile_uuid,
        })
    }

    async fn abandon(&self, joining: &Joining) {
        if let Some(path) = &joining.created_profile
            && let Ok(path) = OwnedObjectPath::try_from(path.as_str())
        {
            let _ = self.client.delete_profile(&path).await;
        }
    }

    async fn disconnect(&self, interface: &str) -> Result<(), Error> {
        let device = join::devices(&self.client, &[interface.to_string()])
            .await?
            .remove(0);
        self.client.disconnect(&device).await
    }

    async fn forget(&self, ssid: &str) -> Result<u32, Error> {
        let mut profiles = 0;
        for saved in self
            .client
            .saved_wifi()
            .await?
            .into_iter()
            .filter(|s| s.ssid == ssid)
        {
            self.client.delete_profile(&saved.path).await?;
            self.store.delete(&saved.uuid).await?;
            profiles += 1;
        }
        if profiles == 0 {
            return Err(Error::new(
                ErrorCode::NotFound,
                format!("no saved network named {ssid:?}"),
            )
            .with_hint("saved networks are marked \"known\" in: netpilot wifi list"));
        }
        Ok(profiles)
    }

    async fn remember(
        &self,
        uuid: &str,
        ssid: &str,
        setting: &str,
        secrets: &[(String, Secret)],
    ) -> Result<(), Error> {
        self.store.save(uuid, Some(ssid), setting, secrets).await
    }

    async fn recall(&self, uuid: &str, setting: &str) -> Vec<(String, Secret)> {
        self.store.load(uuid, setting).await.unwrap_or_default()
    }
}
