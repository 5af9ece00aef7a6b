//! The actor: one task owns the state, the attempt in progress and the pending prompts;
//! commands, backend events and timers are handled one at a time, so nothing is locked.

use super::handle::Reply;
use super::{Command, Config, ConnectParams, ServiceEvent};
use crate::connect::ConnectTracker;
use crate::radios::Claim;
use netpilot_core::network::{NetworkState, Prompt, PromptOutcome};
use netpilot_core::ports::{
    Joining, LinkSnapshot, SecretAnswer, SecretResponder, WifiBackend, WifiEvent,
};
use netpilot_core::wifi::{DeviceState, FailureReason, WifiRadio};
use netpilot_core::{Error, ErrorCode, Secret, SecretRequest};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;

/// Results of backend calls that ran beside the actor.
pub(super) enum Internal {
    Joined {
        ssid: String,
        result: Result<Joining, Error>,
    },
    Snapshot(Result<LinkSnapshot, Error>),
    /// The answer of [`Service::refresh`]'s one look in flight.
    Refreshed(Result<LinkSnapshot, Error>),
    /// The menu's look (see `menu`).
    Menu(Result<netpilot_core::menu::Menu, Error>),
    /// An action changed what the menu shows: look again now.
    MenuStale,
    /// A scan asked for without waiting has finished on every radio it was asked of.
    Scanned,
    /// [`Service::refresh_with_menu`]'s answers.
    Both {
        snapshot: Result<LinkSnapshot, Error>,
        menu: Result<netpilot_core::menu::Menu, Error>,
    },
    /// A fresh snapshot for a command that chooses its radio by role.
    Fresh {
        snapshot: Result<LinkSnapshot, Error>,
        then: Deferred,
    },
    /// What the store holds for a request of the attempt that gave no password.
    Recalled {
        request: SecretRequest,
        responder: Box<dyn SecretResponder>,
        stored: Vec<(String, Secret)>,
    },
}

/// A command that waits for a fresh look at the radios.
pub(super) enum Deferred {
    Hotspot(super::HotspotParams, Reply<netpilot_core::menu::Hotspot>),
    HotspotStop(Option<String>, Reply<Vec<String>>),
    Connect(ConnectParams, Reply<()>),
    Disconnect(Option<String>, Reply<Vec<String>>),
    Scan {
        interface: Option<String>,
        rescan: bool,
        /// Answer once the scan is done (else at once, the results following as events).
        wait: bool,
        reply: Reply<Vec<netpilot_core::wifi::WifiNetwork>>,
    },
}

pub(super) struct PendingPrompt {
    pub(super) prompt: Prompt,
    pub(super) responder: Box<dyn SecretResponder>,
    pub(super) connection_uuid: String,
    /// For prompts outside an attempt (none yet): when to give up.
    pub(super) expires: Instant,
}

pub(super) struct ActiveAttempt {
    pub(super) ssid: String,
    pub(super) password: Option<Secret>,
    pub(super) interactive: bool,
    pub(super) save: bool,
    /// What the backend started, once it reports back.
    pub(super) joining: Option<Joining>,
    /// Judges the attempt from the request on: NetworkManager may ask for secrets, and
    /// the user may cancel, before the join reports back.
    pub(super) tracker: ConnectTracker,
    /// Device events that came before the join reported back (which device is ours is
    /// known only then): replayed to the tracker when it does.
    pub(super) early: Vec<(String, DeviceState, FailureReason)>,
    /// The last password handed to the backend.
    pub(super) answered: Option<(String, Vec<(String, Secret)>)>,
    /// Wrong passwords asked for again so far.
    pub(super) reprompts: u32,
    /// The radio it joins on.
    pub(super) device: String,
    /// A failure held back until then: the device left NetworkManager's hands, which is
    /// also how NetworkManager stopping begins (then the attempt ends as `nm-unavailable`).
    pub(super) held: Option<(Instant, Error)>,
}

pub(super) struct Service<B> {
    pub(super) backend: Arc<B>,
    pub(super) config: Config,
    pub(super) state: NetworkState,
    pub(super) attempt: Option<ActiveAttempt>,
    pub(super) prompts: Vec<PendingPrompt>,
    pub(super) broadcast: broadcast::Sender<ServiceEvent>,
    pub(super) internal: mpsc::Sender<Internal>,
    /// A state event is due at this time (debounce).
    pub(super) flush_at: Option<Instant>,
    /// When the last state event went out: the next waits until the debounce has passed.
    pub(super) sent_at: Option<Instant>,
    /// The last state sent, so unchanged states are not repeated.
    pub(super) sent: Option<NetworkState>,
    /// What the backend last reported (`None` until it first answered), and its error.
    pub(super) snapshot: Option<Result<LinkSnapshot, Error>>,
    /// `ready` callers waiting for the first answer.
    pub(super) waiting: Vec<Reply<()>>,
    /// The radio the user last joined for the internet, while it stays on it.
    pub(super) joined: Option<String>,
    /// The radios device links hold.
    pub(super) claims: watch::Receiver<Vec<Claim>>,
    /// Every radio's role, for the device-link service.
    pub(super) radios: watch::Sender<Vec<WifiRadio>>,
    /// NetworkManager has left and not come back yet.
    pub(super) backend_gone: bool,
    /// A refresh's look is in flight, and whether another was asked for meanwhile.
    pub(super) refreshing: bool,
    pub(super) refresh_again: bool,
    /// The menu's fields: their last look, and the next.
    pub(super) menu: super::menu::MenuLook,
}

impl<B: WifiBackend> Service<B> {
    pub(super) async fn run(
        mut self,
        mut inbox: mpsc::Receiver<Command>,
        mut events: mpsc::Receiver<WifiEvent>,
        mut internal: mpsc::Receiver<Internal>,
    ) {
        self.refresh();
        self.look_at_menu();
        let mut claims = self.claims.clone();
        let mut claimed = true;
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                command = inbox.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => return, // every handle is gone: the daemon is stopping
                },
                Some(event) = events.recv() => self.on_event(event),
                Some(done) = internal.recv() => self.on_internal(done),
                changed = claims.changed(), if claimed => match changed {
                    Ok(()) => self.roles_changed(),
                    Err(_) => claimed = false, // no device-link service (any more)
                },
                _ = sleep_until(deadline) => self.on_timer(),
            }
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let tracker = self
            .attempt
            .as_ref()
            .map(|a| Instant::from_std(a.tracker.deadline()));
        let prompts = self.prompts.iter().map(|p| p.expires).min();
        let held = self
            .attempt
            .as_ref()
            .and_then(|a| a.held.as_ref().map(|(at, _)| *at));
        let menu_due = self.menu.due.filter(|_| self.menu.scanning == 0);
        [tracker, prompts, self.flush_at, held, menu_due]
            .into_iter()
            .flatten()
            .min()
    }

    pub(super) fn on_command(&mut self, command: Command) {
        match command {
            // Before the first looks, the state would say no radio, WiFi off: wait for them.
            Command::Status(reply) if !self.looked_once() => self.menu.waiting.push(reply),
            Command::Status(reply) => {
                let _ = reply.send(self.state.clone());
            }
            Command::Pending(reply) => {
                let _ = reply.send(self.prompts.iter().map(|p| p.prompt.clone()).collect());
            }
            Command::Ready(reply) => match &self.snapshot {
                Some(Ok(_)) => {
                    let _ = reply.send(Ok(()));
                }
                Some(Err(error)) => {
                    let _ = reply.send(Err(error.clone()));
                }
                None => self.waiting.push(reply),
            },
            Command::Connect(params, reply) => {
                // Checked before anything is asked of the backend.
                if let Err(error) = params.validate() {
                    let _ = reply.send(Err(error));
                    return;
                }
                self.afresh(Deferred::Connect(params, reply));
            }
            Command::Submit {
                token,
                secrets,
                save,
                reply,
            } => {
                let _ = reply.send(self.submit(&token, secrets, save));
            }
            Command::Cancel { token, reply } => {
                let _ = reply.send(self.cancel(&token));
            }
            Command::Scan {
                interface,
                rescan,
                wait,
                reply,
            } => self.afresh(Deferred::Scan {
                interface,
                rescan,
                wait,
                reply,
            }),
            Command::Withdraw(reply) => self.stopping(reply),
            Command::SetWifi { enabled, reply } => self.set_wifi(enabled, reply),
            Command::ChangeSaved {
                ssid,
                change,
                reply,
            } => self.change_saved(ssid, change, reply),
            Command::Info { ssid, reply } if !self.looked_once() => {
                self.menu.waiting_info.push((ssid, reply))
            }
            Command::Info { ssid, reply } => {
                let _ = reply.send(self.info(&ssid));
            }
            // Wired devices, and what acts on them, wait for the first looks too.
            command @ (Command::Wired(_)
            | Command::EthernetUp { .. }
            | Command::EthernetDown { .. })
                if !self.looked_once() =>
            {
                self.menu.deferred.push(command)
            }
            Command::Wired(reply) => {
                let _ = reply.send(self.menu.last.wired.clone());
            }
            Command::EthernetUp { interface, reply } => self.ethernet_up(interface, reply),
            Command::HotspotStart(params, reply) => {
                if let Err(error) = params.validate() {
                    let _ = reply.send(Err(error));
                    return;
                }
                self.afresh(Deferred::Hotspot(params, reply));
            }
            Command::HotspotStop { interface, reply } => {
                self.afresh(Deferred::HotspotStop(interface, reply))
            }
            Command::EthernetDown { interface, reply } => self.ethernet_down(interface, reply),
            Command::Disconnect { interface, reply } => {
                self.afresh(Deferred::Disconnect(interface, reply))
            }
            Command::Forget { ssid, reply } => {
                let backend = Arc::clone(&self.backend);
                let internal = self.internal.clone();
                tokio::spawn(async move {
                    let _ = reply.send(backend.forget(&ssid).await);
                    let _ = internal
                        .send(Internal::Snapshot(backend.snapshot().await))
                        .await;
                });
            }
        }
    }

    pub(super) fn on_internal(&mut self, done: Internal) {
        match done {
            Internal::Joined { ssid, result } => {
                let Some(attempt) = self
                    .attempt
                    .as_mut()
                    .filter(|a| a.ssid == ssid && a.joining.is_none())
                else {
                    // The attempt was replaced or ended meanwhile: undo what it started (once
                    // NetworkManager is back, if it left in between).
                    if let Ok(joining) = result {
                        if self.backend_gone {
                            tracing::debug!(profile = ?joining.created_profile, "left: NetworkManager went away meanwhile");
                        } else {
                            let backend = Arc::clone(&self.backend);
                            tokio::spawn(async move { backend.abandon(&joining).await });
                        }
                    }
                    return;
                };
                match result {
                    Ok(joining) => {
                        attempt.tracker.joined(joining.in_range, joining.secured);
                        let early = std::mem::take(&mut attempt.early);
                        let interface = joining.interface.clone();
                        attempt.joining = Some(joining);
                        for (_, state, reason) in early.into_iter().filter(|e| e.0 == interface) {
                            if self.attempt.is_some() {
                                self.on_our_device(state, reason);
                            }
                        }
                    }
                    Err(error) => self.fail(error),
                }
            }
            Internal::Snapshot(snapshot) => self.apply_snapshot(snapshot),
            Internal::Refreshed(snapshot) => {
                self.refreshing = false;
                self.apply_snapshot(snapshot);
                if std::mem::take(&mut self.refresh_again) {
                    self.refresh();
                }
            }
            Internal::Menu(menu) => self.apply_menu(menu),
            Internal::MenuStale => self.look_at_menu(),
            Internal::Scanned => {
                self.menu.scanning -= 1;
                self.look_at_menu();
            }
            Internal::Both { snapshot, menu } => {
                let first = self.store_menu(menu);
                self.refreshing = false;
                self.apply_snapshot(snapshot);
                if std::mem::take(&mut self.refresh_again) {
                    self.refresh();
                }
                self.menu_settled(first);
            }
            Internal::Fresh { snapshot, then } => self.afresh_done(snapshot, then),
            Internal::Recalled {
                request,
                responder,
                stored,
            } => self.recalled(request, responder, stored),
        }
    }

    pub(super) fn on_event(&mut self, event: WifiEvent) {
        match event {
            WifiEvent::Device {
                interface,
                state,
                reason,
            } => {
                tracing::trace!(%interface, ?state, ?reason, "device");
                if self.joined.as_deref() == Some(interface.as_str())
                    && matches!(
                        state,
                        DeviceState::Disconnected
                            | DeviceState::Unavailable
                            | DeviceState::Unmanaged
                            | DeviceState::Failed
                    )
                {
                    self.joined = None;
                }
                if let Some(attempt) = self.attempt.as_mut() {
                    match &attempt.joining {
                        None => attempt.early.push((interface, state, reason)),
                        Some(joining) if joining.interface == interface => {
                            self.on_our_device(state, reason)
                        }
                        Some(_) => {}
                    }
                }
                if matches!(
                    state,
                    DeviceState::Connected | DeviceState::Disconnected | DeviceState::Unavailable
                ) {
                    // Which access point each radio is on changed too.
                    self.refresh_with_menu();
                }
            }
            WifiEvent::RoutesChanged => self.refresh(),
            WifiEvent::MenuChanged => self.menu_changed(),
            WifiEvent::Appeared => {
                self.backend_gone = false;
                self.refresh();
                self.menu_changed();
            }
            // Now, not at the attempt's timeout: nothing will come of it. The profile it
            // made is not deleted from here: its path was NetworkManager's for one run only
            // and may name another profile once it is back. The backend deletes it then,
            // as a profile an attempt left (it never connected).
            WifiEvent::Vanished => {
                self.backend_gone = true;
                if let Some(attempt) = self.attempt.as_mut() {
                    attempt.joining = None;
                }
                self.fail(
                    Error::new(
                        ErrorCode::NmUnavailable,
                        "NetworkManager stopped during the attempt",
                    )
                    .with_hint("start it again (sudo systemctl start NetworkManager), then retry"),
                );
                self.refresh();
            }
            WifiEvent::SecretsRequested { request, responder } => {
                self.secrets_requested(request, responder)
            }
            WifiEvent::SecretsCanceled {
                connection_uuid,
                setting,
            } => self
                .withdraw(|p| p.connection_uuid == connection_uuid && p.prompt.setting == setting),
        }
    }

    pub(super) fn on_timer(&mut self) {
        let now = Instant::now();
        // While a scan asked for runs, its results wait for it to end (one look then).
        if self.menu.scanning == 0 && self.menu.due.is_some_and(|at| at <= now) {
            self.look_at_menu();
        }
        if self.flush_at.is_some_and(|at| at <= now) {
            self.flush_at = None;
            // Nothing before the menu's first look (it calls `changed` then); nothing while
            // a look asked for with the radios is out (storing it changes the state, which
            // flushes again); nothing for signals moving by a few points.
            let news = self
                .sent
                .as_ref()
                .is_none_or(|sent| super::menu::is_news(sent, &self.state));
            if self.looked_once() && !self.events_held() && news {
                self.sent = Some(self.state.clone());
                self.sent_at = Some(now);
                let _ = self
                    .broadcast
                    .send(ServiceEvent::Network(Arc::new(self.state.clone())));
            }
        }
        let expired: Vec<usize> = self
            .prompts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.expires <= now)
            .map(|(i, _)| i)
            .collect();
        let mut unanswered = None;
        for index in expired.into_iter().rev() {
            let pending = self.prompts.remove(index);
            self.resolved(&pending.prompt.token, PromptOutcome::Expired);
            pending.responder.answer(SecretAnswer::UserCanceled);
            if self
                .attempt
                .as_ref()
                .is_some_and(|a| a.ssid == pending.prompt.ssid)
            {
                unanswered = Some(pending.prompt.ssid);
            }
        }
        if let Some(ssid) = unanswered {
            // Ends the attempt now: NetworkManager would report "no secrets" instead.
            let message = format!(
                "no password for {ssid:?} was given within {} s",
                self.config.timeouts.prompt.as_secs()
            );
            self.fail(Error::new(ErrorCode::Timeout, message));
        }
        let held = self
            .attempt
            .as_mut()
            .and_then(|a| a.held.take_if(|(at, _)| *at <= now));
        if let Some((_, error)) = held {
            self.fail(error);
        }
        let verdict = self
            .attempt
            .as_mut()
            .and_then(|a| a.tracker.on_timer(clock_now()));
        self.judged(verdict);
    }

    /// The state changed: send it as soon as the handler is done, unless an event went out
    /// within the debounce; then once it has passed, merged with what follows. A lone
    /// change costs no latency; a burst costs a UI at most one event per debounce.
    pub(super) fn changed(&mut self) {
        if self.flush_at.is_none() {
            let now = Instant::now();
            let allowed = self.sent_at.map_or(now, |at| at + self.config.debounce);
            self.flush_at = Some(allowed.max(now));
        }
    }
}

/// Now, on tokio's clock (paused and advanced in tests), as the tracker's `Instant`.
pub(super) fn clock_now() -> std::time::Instant {
    Instant::now().into_std()
}

pub(super) fn unknown_token() -> Error {
    Error::new(
        ErrorCode::UnknownToken,
        "no pending prompt has this token (already answered, cancelled or expired)",
    )
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
