//! The daemon's device-link service: configures links, brings them up and down, and
//! supervises each link that is up. Supervision probes the device every `interval` and
//! listens to the link's own signals (carrier, NetworkManager, the device's neighbour
//! entry); the link is lost when a signal says so or no probe has answered for
//! `loss_after` (an event), and the service rejoins with exponential backoff until the
//! device answers again. It never touches the internet link: everything goes through the
//! device's own profile.

use netpilot_core::device::{
    Check, DeviceEvent, DeviceSpec, DeviceStatus, LinkFailure, LinkSignal, LinkState, Teardown,
};
use netpilot_core::ports::{Configured, DeviceBackend, LinkWatch};
use netpilot_core::{Error, ErrorCode, Secret};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::Instant;

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

/// What the service knows about a link beyond its spec.
#[derive(Default)]
struct Live {
    state: Option<LinkState>,
    local_address: Option<String>,
    up_since: Option<Instant>,
    probe: Option<Duration>,
    last_failure: Option<LinkFailure>,
    supervisor: Option<tokio::task::AbortHandle>,
}

pub struct DeviceService<B> {
    backend: Arc<B>,
    supervision: Supervision,
    live: Mutex<HashMap<String, Live>>,
    /// One operation (configure, up, down, reset) at a time per link.
    operations: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    events: broadcast::Sender<DeviceEvent>,
    /// Unix time in ms (injected: fixture tests need stable output).
    clock: fn() -> u64,
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
            clock,
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
        self.transition(name, LinkState::Connecting, None);
        let up = match self.backend.up(&spec, self.supervision.up_timeout).await {
            Ok(up) => up,
            Err(error) => {
                // Undo what the attempt made (a virtual interface); the rest is untouched.
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

    /// Supervises the links that are already up (joined before the daemon started, or by
    /// NetworkManager's autoconnect): those whose device answers on its link.
    pub async fn adopt(self: &Arc<Self>) -> Result<(), Error> {
        for spec in self.backend.list().await? {
            let _operation = self.operation(&spec.name).await;
            if self.with_live(&spec.name, |live| live.supervisor.is_some()) {
                continue;
            }
            let Ok(rtt) = self.probe_once(&spec).await else {
                continue;
            };
            let address = match self
                .backend
                .up(&spec, self.supervision.rejoin_timeout)
                .await
            {
                Ok(up) => up.local_address,
                Err(_) => continue,
            };
            tracing::info!(name = %spec.name, "adopted a device link that was already up");
            self.came_up(&spec.name, address, rtt);
            self.supervise_from_now(spec);
        }
        Ok(())
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
        let timeout = self.supervision.interval;
        match tokio::time::timeout(timeout, self.backend.probe(spec, timeout)).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorCode::Timeout,
                format!("no answer from {} within {timeout:?}", spec.address),
            )),
        }
    }

    /// Probes while up and listens to the link's signals; on loss, rejoins with backoff;
    /// forever, until stopped.
    async fn supervise(self: Arc<Self>, spec: DeviceSpec) {
        let name = spec.name.as_str();
        let mut signals = Signals(match self.backend.watch(&spec).await {
            Ok(watch) => Some(watch),
            Err(error) => {
                tracing::warn!(name, %error, "cannot watch the link's signals; probing only");
                None
            }
        });
        let mut probes = tokio::time::interval(self.supervision.interval);
        probes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut answered = Instant::now();
        // No answer for this long: at least one probe went unanswered.
        let missed = self.supervision.interval * 3 / 2;
        loop {
            // A signal wins over a probe in flight: it is news, the probe may take a while.
            // A loss signal needs a probe to agree: it may be stale (read late, from while
            // the link was lost) or passing.
            let probed = async {
                probes.tick().await;
                self.probe_once(&spec).await
            };
            let (probe, signalled) = tokio::select! {
                biased;
                signal = signals.next() => match signal {
                    // A probe missed already bears the signal out; else one is sent now.
                    LinkSignal::Lost(reason) if answered.elapsed() >= missed => (None, Some(reason)),
                    LinkSignal::Lost(reason) => (Some(self.probe_once(&spec).await), Some(reason)),
                    LinkSignal::Changed => continue,
                },
                probe = probed => (Some(probe), None),
            };
            let reason = match (probe, signalled) {
                (Some(Ok(rtt)), _) => {
                    answered = Instant::now();
                    self.with_live(name, |live| live.probe = Some(rtt));
                    continue;
                }
                (_, Some(reason)) => reason,
                (Some(Err(error)), None) if answered.elapsed() >= self.supervision.loss_after => {
                    format!(
                        "{} stopped answering on {} ({})",
                        spec.address,
                        spec.interface.as_deref().unwrap_or("its link"),
                        error.message
                    )
                }
                _ => continue,
            };
            self.transition(name, LinkState::Lost, Some(reason));
            let (address, rtt) = self.rejoin(&spec, &mut signals).await;
            self.came_up(name, address, rtt);
            answered = Instant::now();
            probes.reset();
        }
    }

    /// Nudges the link back until the device answers again, probing meanwhile (at once
    /// when the link signals a change); the nudges are `backoff.0` apart at first,
    /// doubling to `backoff.1`, and after `patient_after` on to `patient_backoff`.
    async fn rejoin(
        self: &Arc<Self>,
        spec: &DeviceSpec,
        signals: &mut Signals<B::Watch>,
    ) -> (Option<String>, Duration) {
        let (mut wait, recent) = self.supervision.backoff;
        let lost_at = Instant::now();
        let rtt = 'answered: loop {
            let nudge = self.nudge(spec);
            let next = Instant::now() + wait;
            // The next nudge waits for this one, but the probes do not.
            while Instant::now() < next || !nudge.is_finished() {
                let started = Instant::now();
                if let Ok(rtt) = self.probe_once(spec).await {
                    break 'answered rtt;
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(started + self.supervision.interval) => {}
                    _ = signals.next() => {}
                }
            }
            let longest = if lost_at.elapsed() < self.supervision.patient_after {
                recent
            } else {
                self.supervision.patient_backoff
            };
            wait = (wait * 2).min(longest);
        };
        // The device answers; the address may have changed if the link was joined anew.
        let address = match self.backend.address(spec).await {
            Some(address) => Some(address),
            None => self.with_live(&spec.name, |l| l.local_address.clone()),
        };
        (address, rtt)
    }

    /// One nudge, in a task of its own: NetworkManager can take seconds to answer, and the
    /// device may be back meanwhile. Dropping it (the device answered, the supervisor was
    /// stopped) stops it.
    fn nudge(self: &Arc<Self>, spec: &DeviceSpec) -> Nudge {
        let service = Arc::clone(self);
        let spec = spec.clone();
        Nudge(tokio::spawn(async move {
            if let Err(error) = service.backend.rejoin(&spec).await {
                tracing::debug!(name = %spec.name, %error, "rejoin failed");
                // Kept for `status`: why the link is not coming back (an adapter unplugged…).
                let at_ms = (service.clock)();
                service.with_live(&spec.name, |live| {
                    live.last_failure = Some(LinkFailure {
                        at_ms,
                        reason: format!("rejoining: {}", error.message),
                    })
                });
            }
        }))
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
                at_ms,
            });
        }
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

/// A nudge under way; dropped, it is stopped.
struct Nudge(tokio::task::JoinHandle<()>);

impl Nudge {
    fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl Drop for Nudge {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A link's signals, or none when they could not be watched (the probes then suffice).
struct Signals<W>(Option<W>);

impl<W: LinkWatch> Signals<W> {
    /// The next signal; waits forever once the watch has ended. Cancel-safe, as
    /// [`LinkWatch::next`] is.
    async fn next(&mut self) -> LinkSignal {
        if let Some(watch) = &mut self.0 {
            if let Some(signal) = watch.next().await {
                return signal;
            }
            tracing::debug!("the link's signals ended; probing only");
            self.0 = None;
        }
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests;
