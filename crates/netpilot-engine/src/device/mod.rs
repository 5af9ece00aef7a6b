//! The daemon's device-link service: configures links, brings them up and down, and
//! supervises each link that is up. Supervision probes the device every `interval` and
//! listens to the link's own signals (carrier, NetworkManager, the device's neighbour
//! entry); the link is lost when a signal says so or no probe has answered for
//! `loss_after` (an event), and the service rejoins with exponential backoff until the
//! device answers again. It never touches the internet link: everything goes through the
//! device's own profile.

use crate::radios::Claim;
pub use internet::InternetWatch;
use netpilot_core::device::{
    Check, DeviceEvent, DeviceSpec, DeviceStatus, Discovered, LinkFailure, LinkState, Teardown,
};
use netpilot_core::ports::{Configured, DeviceBackend};
use netpilot_core::wifi::WifiRadio;
use netpilot_core::{Error, ErrorCode, Secret};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

mod internet;
mod radios;
mod supervise;
#[cfg(test)]
mod tests;

#[derive(Debug, Clone, Copy)]
pub struct Supervision {
    /// Time between probes (a probe may take this long before it counts as unanswered).
    pub interval: Duration,
    /// No answer for this long: the link is lost.
    pub loss_after: Duration,
    /// How long `up` may take.
    pub up_timeout: Duration,
    /// How long one rejoin attempt may take.
    pub rejoin_timeout: Duration,
    /// The first and the longest wait between rejoin attempts while the loss is recent.
    pub backoff: (Duration, Duration),
    /// Lost for longer than this, the waits double on to `patient_backoff`: each attempt
    /// is a scan (off the home channel, on a radio shared with the internet), and a device
    /// switched off for long is looked for less often.
    pub patient_after: Duration,
    pub patient_backoff: Duration,
}

impl Default for Supervision {
    fn default() -> Self {
        Supervision {
            interval: Duration::from_millis(500),
            loss_after: Duration::from_millis(1000),
            up_timeout: Duration::from_secs(30),
            rejoin_timeout: Duration::from_secs(8),
            backoff: (Duration::from_millis(500), Duration::from_secs(2)),
            patient_after: Duration::from_secs(60),
            patient_backoff: Duration::from_secs(8),
        }
    }
}

/// A device that answered a probe, and how fast.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeAnswer {
    pub name: String,
    pub rtt: Duration,
}

/// What the service knows about a link beyond its spec.
#[derive(Default)]
struct Live {
    state: Option<LinkState>,
    local_address: Option<String>,
    up_since: Option<Instant>,
    probe: Option<Duration>,
    last_failure: Option<LinkFailure>,
    supervisor: Option<tokio::task::AbortHandle>,
    /// The radio it is on, while it holds one.
    interface: Option<String>,
    /// Its radio was taken for the internet while it waited, and that was said.
    overtaken: bool,
    /// Taken down here (or its `up` failed): not adopted again until NetworkManager has
    /// let go of it.
    held_down: bool,
    /// Being adopted.
    adopting: bool,
}

pub struct DeviceService<B> {
    backend: Arc<B>,
    supervision: Supervision,
    live: Mutex<HashMap<String, Live>>,
    /// One operation (configure, up, down, reset) at a time per link.
    operations: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    events: broadcast::Sender<DeviceEvent>,
    /// Every answered probe, for whoever measures them (the daemon's metrics).
    answers: broadcast::Sender<ProbeAnswer>,
    /// Unix time in ms (injected: fixture tests need stable output).
    clock: fn() -> u64,
    /// The radios the links hold, for the network service's roles.
    claims: watch::Sender<Vec<Claim>>,
    /// Every radio's role, as the network service last told.
    radios: Mutex<Vec<WifiRadio>>,
    /// The internet's changes, and the last one (what it is now).
    internet_events: broadcast::Sender<netpilot_core::internet::InternetEvent>,
    internet: Mutex<Option<netpilot_core::internet::InternetEvent>>,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl<B: DeviceBackend> DeviceService<B> {
    pub fn new(backend: Arc<B>, supervision: Supervision) -> Arc<Self> {
        Self::with_clock(backend, supervision, unix_ms)
    }

    pub fn with_clock(backend: Arc<B>, supervision: Supervision, clock: fn() -> u64) -> Arc<Self> {
        let (events, _) = broadcast::channel(256);
        Arc::new(DeviceService {
            backend,
            supervision,
            live: Mutex::new(HashMap::new()),
            operations: Mutex::new(HashMap::new()),
            events,
            answers: broadcast::channel(64).0,
            clock,
            claims: watch::channel(Vec::new()).0,
            radios: Mutex::new(Vec::new()),
            internet_events: broadcast::channel(64).0,
            internet: Mutex::new(None),
        })
    }

    /// The service's clock: Unix time in milliseconds.
    pub fn now_ms(&self) -> u64 {
        (self.clock)()
    }

    /// The internet link now.
    pub async fn internet(&self) -> Result<Option<netpilot_core::device::InternetLink>, Error> {
        self.backend.internet().await
    }

    pub fn subscribe(&self) -> broadcast::Receiver<DeviceEvent> {
        self.events.subscribe()
    }

    /// The probes that were answered, as they are.
    pub fn probe_answers(&self) -> broadcast::Receiver<ProbeAnswer> {
        self.answers.subscribe()
    }

    pub async fn configure(
        &self,
        spec: DeviceSpec,
        password: Option<Secret>,
    ) -> Result<Configured, Error> {
        let _operation = self.operation(&spec.name).await;
        if let Some(state) = self
            .live_state(&spec.name)
            .filter(|s| *s != LinkState::Down)
        {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!(
                    "{} is {}; it cannot be reconfigured while in use",
                    spec.name,
                    state.label()
                ),
            )
            .with_hint(format!("netpilot device down {}", spec.name)));
        }
        self.backend.configure(spec, password).await
    }

    pub async fn list(&self) -> Result<Vec<DeviceStatus>, Error> {
        let specs = self.backend.list().await?;
        Ok(specs.into_iter().map(|spec| self.status_of(spec)).collect())
    }

    pub async fn status(&self, name: &str) -> Result<DeviceStatus, Error> {
        Ok(self.status_of(self.spec(name).await?))
    }

    /// Brings the link up, waits until the device answers, and supervises it from then on.
    /// A link already supervised (up, or lost and rejoining) is left as it is.
    pub async fn up(self: &Arc<Self>, name: &str) -> Result<DeviceStatus, Error> {
        let _operation = self.operation(name).await;
        let spec = self.spec(name).await?;
        if self.with_live(name, |live| live.supervisor.is_some()) {
            return Ok(self.status_of(spec));
        }
        self.stop_supervising(name);
        self.with_live(name, |live| {
            live.interface = spec.interface.clone();
            live.held_down = false;
        });
        self.transition(name, LinkState::Connecting, None);
        let up = match self.backend.up(&spec, self.supervision.up_timeout).await {
            Ok(up) => up,
            Err(error) => {
                // Undo what the attempt made (a virtual interface); the rest is untouched.
                self.with_live(name, |live| live.held_down = true);
                self.undo(&spec).await;
                self.transition(name, LinkState::Down, Some(error.message.clone()));
                return Err(error);
            }
        };
        // The address came; the device must answer too before the link is up.
        let deadline = Instant::now() + self.supervision.up_timeout / 3;
        let rtt = loop {
            match self.probe_once(&spec).await {
                Ok(rtt) => break rtt,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(self.supervision.interval).await
                }
                Err(error) => {
                    let reason = format!(
                        "joined {} on {}, but {} does not answer ({})",
                        spec.ssid, up.interface, spec.address, error.message
                    );
                    self.transition(name, LinkState::Down, Some(reason.clone()));
                    self.with_live(name, |live| live.held_down = true);
                    self.undo(&spec).await;
                    return Err(Error::new(ErrorCode::Timeout, reason)
                        .with_hint("is the device on, and is --address right?"));
                }
            }
        };
        self.came_up(name, up.local_address, rtt);
        self.supervise_from_now(spec.clone());
        Ok(self.status_of(spec))
    }
    fn supervise_from_now(self: &Arc<Self>, spec: DeviceSpec) {
        let name = spec.name.clone();
        let service = Arc::clone(self);
        let task = tokio::spawn(async move { service.supervise(spec).await });
        self.with_live(&name, |live| live.supervisor = Some(task.abort_handle()));
    }

    pub async fn down(&self, name: &str) -> Result<Teardown, Error> {
        let _operation = self.operation(name).await;
        let spec = self.spec(name).await?;
        self.stop_supervising(name);
        self.with_live(name, |live| live.held_down = true);
        let teardown = self.backend.down(&spec).await;
        self.transition(name, LinkState::Down, None);
        Ok(teardown)
    }

    pub async fn reset(&self, name: &str) -> Result<Teardown, Error> {
        let _operation = self.operation(name).await;
        let spec = self.spec(name).await?;
        self.stop_supervising(name);
        let teardown = self.backend.reset(&spec).await;
        self.transition(name, LinkState::Down, None);
        self.live.lock().map(|mut l| l.remove(name)).ok();
        Ok(teardown)
    }

    pub async fn test(&self, name: &str, internet: &str) -> Result<Vec<Check>, Error> {
        let spec = self.spec(name).await?;
        self.backend.test(&spec, internet).await
    }

    /// The devices in range that match a preset, each with what joining it would take and
    /// the link already configured for it; the strongest first.
    pub async fn discover(&self) -> Result<Vec<Discovered>, Error> {
        let mut found = self.backend.discover().await?;
        let configured = self.backend.list().await?;
        for device in &mut found {
            device.configured = configured
                .iter()
                .find(|spec| spec.ssid == device.ssid)
                .map(|spec| spec.name.clone());
        }
        found.sort_by(|a, b| b.signal.cmp(&a.signal).then(a.ssid.cmp(&b.ssid)));
        Ok(found)
    }

    /// Waits for the link's turn: the other operations on it have finished.
    async fn operation(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut operations = self.operations.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(operations.entry(name.to_string()).or_default())
        };
        lock.lock_owned().await
    }

    /// Takes down what a failed `up` made; what could not be undone is logged.
    async fn undo(&self, spec: &DeviceSpec) {
        for failed in self.backend.down(spec).await.failed {
            tracing::warn!(name = %spec.name, step = %failed.step, error = %failed.error, "could not undo");
        }
    }

    async fn spec(&self, name: &str) -> Result<DeviceSpec, Error> {
        self.backend
            .list()
            .await?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| {
                Error::new(ErrorCode::NotFound, format!("no device link named {name:?}"))
                    .with_hint(
                        "see `netpilot device list`, or create it: netpilot device configure NAME --ssid SSID --preset PRESET",
                    )
            })
    }

    async fn probe_once(&self, spec: &DeviceSpec) -> Result<Duration, Error> {
        // On a radio that carries the internet now, an answer came through the internet's
        // network: it says nothing of the device's link.
        if let Some(interface) = &spec.interface
            && self.carries_the_internet(interface)
        {
            return Err(Error::new(
                ErrorCode::RadioInUse,
                format!("{interface} carries the internet, not the device's network"),
            ));
        }
        let timeout = self.supervision.interval;
        let result = match tokio::time::timeout(timeout, self.backend.probe(spec, timeout)).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorCode::Timeout,
                format!("no answer from {} within {timeout:?}", spec.address),
            )),
        };
        if let Ok(rtt) = result
            && self.answers.receiver_count() > 0
        {
            let _ = self.answers.send(ProbeAnswer {
                name: spec.name.clone(),
                rtt,
            });
        }
        result
    }

    fn came_up(&self, name: &str, local_address: Option<String>, rtt: Duration) {
        self.with_live(name, |live| {
            live.local_address = local_address;
            live.up_since = Some(Instant::now());
            live.probe = Some(rtt);
        });
        self.transition(name, LinkState::Up, None);
    }

    fn stop_supervising(&self, name: &str) {
        if let Some(task) = self.with_live(name, |live| live.supervisor.take()) {
            task.abort();
        }
    }

    fn live_state(&self, name: &str) -> Option<LinkState> {
        self.live
            .lock()
            .ok()
            .and_then(|live| live.get(name).and_then(|l| l.state))
    }

    fn with_live<T>(&self, name: &str, f: impl FnOnce(&mut Live) -> T) -> T {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        f(live.entry(name.to_string()).or_default())
    }

    /// Records a new state and tells subscribers; a failure reason is kept for `status`.
    fn transition(&self, name: &str, state: LinkState, reason: Option<String>) {
        let at_ms = (self.clock)();
        let changed = self.with_live(name, |live| {
            let changed = live.state != Some(state) || reason.is_some();
            live.state = Some(state);
            if state != LinkState::Up {
                live.up_since = None;
                live.probe = None;
            }
            if state == LinkState::Down {
                live.local_address = None;
            }
            if let Some(reason) = &reason {
                live.last_failure = Some(LinkFailure {
                    at_ms,
                    reason: reason.clone(),
                });
            }
            changed
        });
        if changed {
            tracing::info!(
                name,
                ?state,
                reason = reason.as_deref().unwrap_or(""),
                "device link"
            );
            let _ = self.events.send(DeviceEvent {
                name: name.to_string(),
                state,
                reason,
                event: None,
                route: None,
                at_ms,
            });
        }
        self.claims_changed();
    }

    fn status_of(&self, spec: DeviceSpec) -> DeviceStatus {
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let live = live.get(&spec.name);
        let state = live.and_then(|l| l.state).unwrap_or(LinkState::Down);
        DeviceStatus {
            state,
            local_address: live.and_then(|l| l.local_address.clone()),
            uptime_s: live.and_then(|l| l.up_since).map(|t| t.elapsed().as_secs()),
            probe_ms: live
                .and_then(|l| l.probe)
                .map(|p| (p.as_secs_f64() * 10_000.0).round() / 10.0),
            last_failure: live.and_then(|l| l.last_failure.clone()),
            spec,
        }
    }
}
