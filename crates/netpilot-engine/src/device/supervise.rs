//! Supervision of a link that is up: probes every `interval` and the link's own signals;
//! on loss, nudges with backoff until the device answers again.

use super::DeviceService;
use netpilot_core::device::{DeviceSpec, LinkFailure, LinkSignal, LinkState};
use netpilot_core::ports::{DeviceBackend, LinkWatch};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

impl<B: DeviceBackend> DeviceService<B> {
    /// Probes while up and listens to the link's signals; on loss, rejoins with backoff;
    /// forever, until stopped.
    pub(super) async fn supervise(self: Arc<Self>, spec: DeviceSpec) {
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
    pub(super) async fn rejoin(
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
    pub(super) fn nudge(self: &Arc<Self>, spec: &DeviceSpec) -> Nudge {
        let service = Arc::clone(self);
        let spec = spec.clone();
        Nudge(tokio::spawn(async move {
            // The internet took the link's radio meanwhile (reported): rejoining would take
            // it back and cut the internet off.
            if let Some(interface) = &spec.interface
                && service.carries_the_internet(interface)
            {
                tracing::debug!(name = %spec.name, %interface, "not nudged: the radio carries the internet");
                return;
            }
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
}

/// A nudge under way; dropped, it is stopped.
pub(super) struct Nudge(tokio::task::JoinHandle<()>);

impl Nudge {
    pub(super) fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl Drop for Nudge {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A link's signals, or none when they could not be watched (the probes then suffice).
pub(super) struct Signals<W>(Option<W>);

impl<W: LinkWatch> Signals<W> {
    /// The next signal; waits forever once the watch has ended. Cancel-safe, as
    /// [`LinkWatch::next`] is.
    pub(super) async fn next(&mut self) -> LinkSignal {
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
