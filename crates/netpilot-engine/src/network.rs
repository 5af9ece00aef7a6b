//! The daemon's network service: the connect state machine and the credential broker,
//! as one task that owns the state (an actor). Requests come in as [`Command`]s; the
//! state and prompts go out to every subscriber as [`ServiceEvent`]s.
//!
//! IDLE → CONNECTING → (PROMPTING → CONNECTING)* → CONNECTED or ERROR, as the seed draws
//! it; success only by the seed's four-condition rule; timeouts (connect, DHCP, prompt)
//! enforced here with [`ConnectTracker`]; state events debounced, the final one never
//! dropped.

use crate::connect::{Attempt, ConnectTracker, Timeouts, Verdict};
use netpilot_core::network::{NetworkState, NetworkStatus, Prompt};
use netpilot_core::ports::{
    JoinRequest, Joining, LinkSnapshot, SecretAnswer, SecretResponder, WifiBackend, WifiEvent,
};
use netpilot_core::secret::{validate_psk, validate_ssid};
use netpilot_core::wifi::{DeviceState, FailureReason, WifiNetwork};
use netpilot_core::{Error, ErrorCode, Secret, SecretRequest};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;

pub const REASON_REQUIRED: &str = "Credentials required";
pub const REASON_INCORRECT: &str = "Previous password was incorrect";

pub struct Config {
    pub timeouts: Timeouts,
    /// State events closer together than this are merged; the last is always sent.
    pub debounce: Duration,
    /// Makes prompt tokens; unguessable in the daemon, predictable in fixture tests.
    pub tokens: Box<dyn FnMut() -> String + Send>,
}

/// What subscribers receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceEvent {
    Network(NetworkState),
    Prompt(Prompt),
    /// A prompt is no longer pending: `answered`, `cancelled`, `expired` or `withdrawn`.
    PromptResolved {
        token: String,
        outcome: &'static str,
    },
}

pub struct ConnectParams {
    pub ssid: String,
    pub password: Option<Secret>,
    /// May ask subscribers of `network.credentials` for the password (default: true
    /// when no password is given).
    pub interactive: bool,
    pub hidden: bool,
    pub save: bool,
    pub interface: Option<String>,
}

type Reply<T> = oneshot::Sender<Result<T, Error>>;

pub enum Command {
    Status(oneshot::Sender<NetworkState>),
    /// The pending prompts, for a client that subscribes late.
    Pending(oneshot::Sender<Vec<Prompt>>),
    Connect(ConnectParams, Reply<()>),
    Submit {
        token: String,
        secrets: Vec<(String, Secret)>,
        save: Option<bool>,
        reply: Reply<()>,
    },
    Cancel {
        token: String,
        reply: Reply<()>,
    },
    Scan(Reply<Vec<WifiNetwork>>),
    Disconnect(Reply<Vec<String>>),
    Forget {
        ssid: String,
        reply: Reply<u32>,
    },
}

/// A cheap handle to the running service.
#[derive(Clone)]
pub struct NetworkHandle {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<ServiceEvent>,
}

impl NetworkHandle {
    pub fn subscribe(&self) -> broadcast::Receiver<ServiceEvent> {
        self.events.subscribe()
    }

    pub async fn status(&self) -> Result<NetworkState, Error> {
        self.ask(Command::Status).await
    }

    pub async fn pending(&self) -> Result<Vec<Prompt>, Error> {
        self.ask(Command::Pending).await
    }

    pub async fn connect(&self, params: ConnectParams) -> Result<(), Error> {
        self.ask(|reply| Command::Connect(params, reply)).await?
    }

    pub async fn submit(
        &self,
        token: String,
        secrets: Vec<(String, Secret)>,
        save: Option<bool>,
    ) -> Result<(), Error> {
        self.ask(|reply| Command::Submit {
            token,
            secrets,
            save,
            reply,
        })
        .await?
    }

    pub async fn cancel(&self, token: String) -> Result<(), Error> {
        self.ask(|reply| Command::Cancel { token, reply }).await?
    }

    pub async fn scan(&self) -> Result<Vec<WifiNetwork>, Error> {
        self.ask(Command::Scan).await?
    }

    pub async fn disconnect(&self) -> Result<Vec<String>, Error> {
        self.ask(Command::Disconnect).await?
    }

    pub async fn forget(&self, ssid: String) -> Result<u32, Error> {
        self.ask(|reply| Command::Forget { ssid, reply }).await?
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::new(ErrorCode::Io, "the network service has stopped");
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())
    }
}

/// Starts the service on the current tokio runtime.
pub fn spawn<B: WifiBackend>(
    backend: B,
    events: mpsc::Receiver<WifiEvent>,
    config: Config,
) -> NetworkHandle {
    let (commands, inbox) = mpsc::channel(64);
    let (broadcast, _) = broadcast::channel(1024);
    let handle = NetworkHandle {
        commands,
        events: broadcast.clone(),
    };
    let (internal, internal_inbox) = mpsc::channel(16);
    let service = Service {
        backend: Arc::new(backend),
        config,
        state: NetworkState::default(),
        attempt: None,
        prompts: Vec::new(),
        broadcast,
        internal,
        flush_at: None,
        sent_at: None,
        // Subscribers get the state when they subscribe; the first event is a change.
        sent: Some(NetworkState::default()),
    };
    tokio::spawn(service.run(inbox, events, internal_inbox));
    handle
}

/// Results of backend calls that ran beside the actor.
enum Internal {
    Joined {
        ssid: String,
        result: Result<Joining, Error>,
    },
    Snapshot(Result<LinkSnapshot, Error>),
    /// What the store holds for a request of the attempt that gave no password.
    Recalled {
        request: SecretRequest,
        responder: Box<dyn SecretResponder>,
        stored: Vec<(String, Secret)>,
    },
}

struct PendingPrompt {
    prompt: Prompt,
    responder: Box<dyn SecretResponder>,
    connection_uuid: String,
    /// For prompts outside an attempt (none yet): when to give up.
    expires: Instant,
}

struct ActiveAttempt {
    ssid: String,
    password: Option<Secret>,
    interactive: bool,
    save: bool,
    /// What the backend started, once it reports back.
    joining: Option<Joining>,
    /// Judges the attempt from the request on: NetworkManager may ask for secrets, and
    /// the user may cancel, before the join reports back.
    tracker: ConnectTracker,
    /// Device events that came before the join reported back (which device is ours is
    /// known only then): replayed to the tracker when it does.
    early: Vec<(String, DeviceState, FailureReason)>,
    /// The last password handed to the backend.
    answered: Option<(String, Vec<(String, Secret)>)>,
}

struct Service<B> {
    backend: Arc<B>,
    config: Config,
    state: NetworkState,
    attempt: Option<ActiveAttempt>,
    prompts: Vec<PendingPrompt>,
    broadcast: broadcast::Sender<ServiceEvent>,
    internal: mpsc::Sender<Internal>,
    /// A state event is due at this time (debounce).
    flush_at: Option<Instant>,
    /// When the last state event went out: the next waits until the debounce has passed.
    sent_at: Option<Instant>,
    /// The last state sent, so unchanged states are not repeated.
    sent: Option<NetworkState>,
}

impl<B: WifiBackend> Service<B> {
    async fn run(
        mut self,
        mut inbox: mpsc::Receiver<Command>,
        mut events: mpsc::Receiver<WifiEvent>,
        mut internal: mpsc::Receiver<Internal>,
    ) {
        self.refresh();
        loop {
            let deadline = self.next_deadline();
            tokio::select! {
                command = inbox.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => return, // every handle is gone: the daemon is stopping
                },
                Some(event) = events.recv() => self.on_event(event),
                Some(done) = internal.recv() => self.on_internal(done),
                _ = sleep_until(deadline) => self.on_timer(),
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let tracker = self
            .attempt
            .as_ref()
            .map(|a| Instant::from_std(a.tracker.deadline()));
        let prompts = self.prompts.iter().map(|p| p.expires).min();
        [tracker, prompts, self.flush_at]
            .into_iter()
            .flatten()
            .min()
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Status(reply) => {
                let _ = reply.send(self.state.clone());
            }
            Command::Pending(reply) => {
                let _ = reply.send(self.prompts.iter().map(|p| p.prompt.clone()).collect());
            }
            Command::Connect(params, reply) => {
                let _ = reply.send(self.connect(params));
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
            Command::Scan(reply) => {
                let backend = Arc::clone(&self.backend);
                tokio::spawn(async move {
                    let _ = reply.send(backend.scan().await);
                });
            }
            Command::Disconnect(reply) => {
                if self.attempt.is_some() {
                    self.fail(Error::new(
                        ErrorCode::ConnectionAttemptFailed,
                        "disconnected while connecting",
                    ));
                }
                let backend = Arc::clone(&self.backend);
                let internal = self.internal.clone();
                tokio::spawn(async move {
                    let result = backend.disconnect(None).await;
                    let _ = reply.send(result);
                    let _ = internal
                        .send(Internal::Snapshot(backend.snapshot().await))
                        .await;
                });
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

    fn connect(&mut self, params: ConnectParams) -> Result<(), Error> {
        validate_ssid(&params.ssid)?;
        if let Some(password) = &params.password {
            validate_psk(password)?;
        }
        if self.attempt.is_some() {
            // A new request replaces the attempt in progress, as NetworkManager does.
            self.fail(Error::new(
                ErrorCode::ConnectionAttemptFailed,
                "replaced by a newer request",
            ));
        }
        let request = JoinRequest {
            ssid: params.ssid.clone(),
            hidden: params.hidden,
            interface: params.interface.clone(),
            save: params.save,
            has_password: params.password.is_some(),
            interactive: params.interactive,
        };
        tracing::debug!(ssid = %params.ssid, interactive = params.interactive, save = params.save, "connect");
        // Until the join reports back: assume in range, and secured if a password may come.
        let described = Attempt {
            ssid: params.ssid.clone(),
            in_range: true,
            secured: params.password.is_some() || params.interactive,
        };
        self.attempt = Some(ActiveAttempt {
            ssid: params.ssid.clone(),
            password: params.password,
            interactive: params.interactive,
            save: params.save,
            joining: None,
            tracker: ConnectTracker::new(described, self.config.timeouts, clock_now()),
            early: Vec::new(),
            answered: None,
        });
        self.state.is_connecting = true;
        self.state.connecting_ssid = params.ssid.clone();
        self.state.last_error.clear();
        self.changed();
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let result = backend.join(&request).await;
            let _ = internal
                .send(Internal::Joined {
                    ssid: request.ssid,
                    result,
                })
                .await;
        });
        Ok(())
    }

    fn on_internal(&mut self, done: Internal) {
        match done {
            Internal::Joined { ssid, result } => {
                let Some(attempt) = self
                    .attempt
                    .as_mut()
                    .filter(|a| a.ssid == ssid && a.joining.is_none())
                else {
                    // The attempt was replaced or ended meanwhile: undo what it started.
                    if let Ok(joining) = result {
                        let backend = Arc::clone(&self.backend);
                        tokio::spawn(async move { backend.abandon(&joining).await });
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
            Internal::Snapshot(Ok(snapshot)) => self.apply_snapshot(&snapshot),
            Internal::Snapshot(Err(error)) => {
                tracing::debug!(%error, "no snapshot");
                self.changed();
            }
            Internal::Recalled {
                request,
                responder,
                stored,
            } => {
                let interactive = self.attempt.as_ref().is_some_and(|a| a.interactive);
                if let Some(attempt) = self.attempt.as_mut().filter(|_| !stored.is_empty()) {
                    attempt.answered = Some((request.setting.clone(), stored.clone()));
                    responder.answer(SecretAnswer::Secrets(stored));
                } else if interactive {
                    self.prompt(request, responder, REASON_REQUIRED);
                } else {
                    responder.answer(SecretAnswer::NoSecrets);
                }
            }
        }
    }

    fn on_event(&mut self, event: WifiEvent) {
        match event {
            WifiEvent::Device {
                interface,
                state,
                reason,
            } => {
                tracing::trace!(%interface, ?state, ?reason, "device");
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
                    self.refresh();
                }
            }
            WifiEvent::SecretsRequested { request, responder } => {
                self.secrets_requested(request, responder)
            }
            WifiEvent::SecretsCanceled {
                connection_uuid,
                setting,
            } => {
                let withdrawn: Vec<usize> = self
                    .prompts
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| {
                        p.connection_uuid == connection_uuid && p.prompt.setting == setting
                    })
                    .map(|(i, _)| i)
                    .collect();
                for index in withdrawn.into_iter().rev() {
                    let pending = self.prompts.remove(index);
                    self.resolved(&pending.prompt.token, "withdrawn");
                    pending.responder.answer(SecretAnswer::NoSecrets);
                }
            }
        }
    }

    fn secrets_requested(&mut self, request: SecretRequest, responder: Box<dyn SecretResponder>) {
        let ssid = request.ssid.clone().unwrap_or_default();
        let Some(attempt) = self.attempt.as_mut().filter(|a| a.ssid == ssid) else {
            // Not the network being joined (autoconnect): answer from the store, if any.
            let backend = Arc::clone(&self.backend);
            tokio::spawn(async move {
                let stored = backend
                    .recall(&request.connection_uuid, &request.setting)
                    .await;
                if stored.is_empty() || request.flags.request_new {
                    responder.answer(SecretAnswer::NoSecrets);
                } else {
                    responder.answer(SecretAnswer::Secrets(stored));
                }
            });
            return;
        };
        if request.flags.request_new {
            // The password given was wrong: never send it again.
            attempt.tracker.password_rejected();
            attempt.password = None;
            if attempt.interactive {
                self.prompt(request, responder, REASON_INCORRECT);
            } else {
                responder.answer(SecretAnswer::UserCanceled);
            }
            return;
        }
        let field = request
            .fields
            .first()
            .cloned()
            .unwrap_or_else(|| "psk".to_string());
        if let Some(password) = attempt.password.clone() {
            let secrets = vec![(field, password)];
            attempt.answered = Some((request.setting.clone(), secrets.clone()));
            responder.answer(SecretAnswer::Secrets(secrets));
            return;
        }
        // A profile saved earlier may have its password in the store: look there first
        // (by the request's own UUID, which is known before the join reports back).
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let stored = backend
                .recall(&request.connection_uuid, &request.setting)
                .await;
            let _ = internal
                .send(Internal::Recalled {
                    request,
                    responder,
                    stored,
                })
                .await;
        });
    }

    fn prompt(
        &mut self,
        request: SecretRequest,
        responder: Box<dyn SecretResponder>,
        reason: &str,
    ) {
        let prompt = Prompt {
            token: (self.config.tokens)(),
            ssid: request.ssid.clone().unwrap_or_default(),
            setting: request.setting.clone(),
            fields: request.fields.clone(),
            hints: request.hints.clone(),
            reason: reason.to_string(),
        };
        if let Some(attempt) = self.attempt.as_mut() {
            attempt.tracker.prompt_started(clock_now());
        }
        // Not the token: it answers the prompt.
        tracing::debug!(ssid = %prompt.ssid, reason, "prompt");
        let _ = self.broadcast.send(ServiceEvent::Prompt(prompt.clone()));
        self.prompts.push(PendingPrompt {
            prompt,
            responder,
            connection_uuid: request.connection_uuid,
            expires: Instant::now() + self.config.timeouts.prompt,
        });
    }

    fn take_prompt(&mut self, token: &str) -> Result<PendingPrompt, Error> {
        let index = self
            .prompts
            .iter()
            .position(|p| p.prompt.token == token)
            .ok_or_else(unknown_token)?;
        Ok(self.prompts.remove(index))
    }

    fn submit(
        &mut self,
        token: &str,
        secrets: Vec<(String, Secret)>,
        save: Option<bool>,
    ) -> Result<(), Error> {
        let Some(index) = self.prompts.iter().position(|p| p.prompt.token == token) else {
            return Err(unknown_token());
        };
        let fields = &self.prompts[index].prompt.fields;
        for field in fields {
            let Some((_, value)) = secrets.iter().find(|(name, _)| name == field) else {
                return Err(Error::new(
                    ErrorCode::InvalidParams,
                    format!("secrets.{field} is missing"),
                ));
            };
            if field == "psk" {
                validate_psk(value)?;
            }
        }
        let pending = self.prompts.remove(index);
        if let Some(attempt) = self
            .attempt
            .as_mut()
            .filter(|a| a.ssid == pending.prompt.ssid)
        {
            if let Some(save) = save {
                attempt.save = save;
            }
            attempt.answered = Some((pending.prompt.setting.clone(), secrets.clone()));
            attempt.tracker.prompt_finished(clock_now());
        }
        self.resolved(token, "answered");
        pending.responder.answer(SecretAnswer::Secrets(secrets));
        Ok(())
    }

    /// The user gave up: the prompt ends, and with it the attempt it belongs to (at once,
    /// not when NetworkManager gets round to failing the activation).
    fn cancel(&mut self, token: &str) -> Result<(), Error> {
        let pending = self.take_prompt(token)?;
        self.resolved(token, "cancelled");
        pending.responder.answer(SecretAnswer::UserCanceled);
        let ssid = pending.prompt.ssid;
        if self.attempt.as_ref().is_some_and(|a| a.ssid == ssid) {
            let message = format!("the password prompt for {ssid:?} was cancelled");
            self.fail(Error::new(ErrorCode::UserCanceled, message));
        }
        Ok(())
    }

    fn resolved(&self, token: &str, outcome: &'static str) {
        let _ = self.broadcast.send(ServiceEvent::PromptResolved {
            token: token.to_string(),
            outcome,
        });
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        if self.flush_at.is_some_and(|at| at <= now) {
            self.flush_at = None;
            if self.sent.as_ref() != Some(&self.state) {
                self.sent = Some(self.state.clone());
                self.sent_at = Some(now);
                let _ = self
                    .broadcast
                    .send(ServiceEvent::Network(self.state.clone()));
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
            self.resolved(&pending.prompt.token, "expired");
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
        let verdict = self
            .attempt
            .as_mut()
            .and_then(|a| a.tracker.on_timer(clock_now()));
        self.judged(verdict);
    }

    /// A state of the device the attempt is on.
    fn on_our_device(&mut self, state: DeviceState, reason: FailureReason) {
        let verdict = self
            .attempt
            .as_mut()
            .and_then(|a| a.tracker.on_device(state, reason, clock_now()));
        self.judged(verdict);
    }

    fn judged(&mut self, verdict: Option<Verdict>) {
        match verdict {
            Some(Verdict::Connected) => self.succeed(),
            Some(Verdict::Failed(error)) => self.fail(error),
            None => {}
        }
    }

    fn succeed(&mut self) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        tracing::debug!(ssid = %attempt.ssid, "connected");
        if attempt.save
            && let (Some(joining), Some((setting, secrets))) = (&attempt.joining, &attempt.answered)
        {
            let backend = Arc::clone(&self.backend);
            let (ssid, setting, secrets, joining) = (
                attempt.ssid.clone(),
                setting.clone(),
                secrets.clone(),
                joining.clone(),
            );
            tokio::spawn(async move {
                if let Some(uuid) = &joining.profile_uuid
                    && let Err(error) = backend.remember(uuid, &ssid, &setting, &secrets).await
                {
                    tracing::warn!(%error, "the password was not saved");
                }
            });
        }
        self.state.is_connecting = false;
        self.state.connecting_ssid.clear();
        self.state.last_error.clear();
        // Connected means with an address: take the backend's word for both, and send
        // the state once it has come (a state that is neither connecting nor connected
        // nor failed would read as a silent failure).
        self.refresh();
    }

    fn fail(&mut self, error: Error) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        tracing::debug!(ssid = %attempt.ssid, code = ?error.code, message = %error.message, "connect failed");
        let ours: Vec<usize> = self
            .prompts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.prompt.ssid == attempt.ssid)
            .map(|(i, _)| i)
            .collect();
        for index in ours.into_iter().rev() {
            let pending = self.prompts.remove(index);
            self.resolved(&pending.prompt.token, "expired");
            pending.responder.answer(SecretAnswer::UserCanceled);
        }
        if let Some(joining) = attempt.joining.filter(|j| j.created_profile.is_some()) {
            let backend = Arc::clone(&self.backend);
            tokio::spawn(async move { backend.abandon(&joining).await });
        }
        self.state.is_connecting = false;
        self.state.connecting_ssid.clear();
        self.state.last_error = error.code.as_str().to_string();
        self.changed();
        self.refresh();
    }

    fn apply_snapshot(&mut self, snapshot: &LinkSnapshot) {
        let wifi = snapshot
            .wifi
            .as_ref()
            .filter(|d| d.state == DeviceState::Connected);
        self.state.wifi_connected = wifi.is_some();
        self.state.wifi_ssid = wifi.and_then(|d| d.ssid.clone()).unwrap_or_default();
        self.state.wifi_ip = wifi
            .and_then(|d| d.ipv4.as_deref())
            .map(|ip| ip.split('/').next().unwrap_or(ip).to_string())
            .unwrap_or_default();
        self.state.network_status = if snapshot.ethernet_connected {
            NetworkStatus::Ethernet
        } else if self.state.wifi_connected {
            NetworkStatus::Wifi
        } else {
            NetworkStatus::Disconnected
        };
        self.changed();
    }

    /// Asks the backend what is up now; the answer updates the state.
    fn refresh(&self) {
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let _ = internal
                .send(Internal::Snapshot(backend.snapshot().await))
                .await;
        });
    }

    /// The state changed: send it as soon as the handler is done, unless an event went out
    /// within the debounce; then once it has passed, merged with what follows. A lone
    /// change costs no latency; a burst costs a UI at most one event per debounce.
    fn changed(&mut self) {
        if self.flush_at.is_none() {
            let now = Instant::now();
            let allowed = self.sent_at.map_or(now, |at| at + self.config.debounce);
            self.flush_at = Some(allowed.max(now));
        }
    }
}

/// Now, on tokio's clock (paused and advanced in tests), as the tracker's `Instant`.
fn clock_now() -> std::time::Instant {
    Instant::now().into_std()
}

fn unknown_token() -> Error {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeResponder, FakeWifi, wifi_secrets_request};
    use netpilot_core::ports::LinkSnapshot;
    use netpilot_core::wifi::{ConnectStage, FailureReason, WifiDevice};

    struct Harness {
        handle: NetworkHandle,
        events: broadcast::Receiver<ServiceEvent>,
        backend_events: mpsc::Sender<WifiEvent>,
        backend: Arc<FakeWifi>,
    }

    fn start(secured: bool) -> Harness {
        let (fake, backend_events, receiver) = FakeWifi::new(secured);
        let backend = Arc::new(fake);
        let mut counter = 0;
        let config = Config {
            timeouts: Timeouts::default(),
            debounce: Duration::from_millis(50),
            tokens: Box::new(move || {
                counter += 1;
                format!("token-{counter}")
            }),
        };
        let handle = spawn(Arc::clone(&backend), receiver, config);
        let events = handle.subscribe();
        Harness {
            handle,
            events,
            backend_events,
            backend,
        }
    }

    fn params(ssid: &str, password: Option<&str>, interactive: bool) -> ConnectParams {
        ConnectParams {
            ssid: ssid.into(),
            password: password.map(Secret::new),
            interactive,
            hidden: false,
            save: true,
            interface: None,
        }
    }

    impl Harness {
        /// The next event, within the (paused) time given.
        async fn next(&mut self) -> ServiceEvent {
            tokio::time::timeout(Duration::from_secs(300), self.events.recv())
                .await
                .expect("an event")
                .expect("open")
        }

        async fn next_network(&mut self) -> NetworkState {
            loop {
                if let ServiceEvent::Network(state) = self.next().await {
                    return state;
                }
            }
        }

        async fn next_prompt(&mut self) -> Prompt {
            loop {
                if let ServiceEvent::Prompt(prompt) = self.next().await {
                    return prompt;
                }
            }
        }

        async fn device(&self, state: DeviceState, reason: FailureReason) {
            let event = WifiEvent::Device {
                interface: "wlan0".into(),
                state,
                reason,
            };
            self.backend_events.send(event).await.unwrap();
        }

        async fn ask_secrets(&self, ssid: &str, request_new: bool) -> FakeResponder {
            let responder = FakeResponder::default();
            let event = WifiEvent::SecretsRequested {
                request: wifi_secrets_request(ssid, request_new),
                responder: Box::new(responder.clone()),
            };
            self.backend_events.send(event).await.unwrap();
            responder
        }

        /// Lets the service and its helper tasks run (time is paused).
        async fn settle(&self) {
            for _ in 0..20 {
                tokio::task::yield_now().await;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }

        fn connected_snapshot(&self, ssid: &str) {
            *self.backend.snapshot.lock().unwrap() = LinkSnapshot {
                wifi: Some(WifiDevice {
                    interface: "wlan0".into(),
                    state: DeviceState::Connected,
                    ssid: Some(ssid.into()),
                    ipv4: Some("192.168.50.10/24".into()),
                    mac: None,
                }),
                ethernet_connected: false,
            };
        }
    }

    #[tokio::test(start_paused = true)]
    async fn connecting_with_a_password_goes_connecting_then_connected() {
        let mut h = start(true);
        h.handle
            .connect(params("home", Some("home-secret-1"), false))
            .await
            .unwrap();
        let connecting = h.next_network().await;
        assert!(
            connecting.is_connecting
                && connecting.connecting_ssid == "home"
                && connecting.last_error.is_empty()
        );
        h.settle().await;
        h.device(
            DeviceState::Connecting(ConnectStage::Configuring),
            FailureReason::Other(0),
        )
        .await;
        let responder = h.ask_secrets("home", false).await;
        h.settle().await;
        assert_eq!(
            responder.answer(),
            Some(SecretAnswer::Secrets(vec![(
                "psk".into(),
                Secret::new("home-secret-1")
            )]))
        );
        h.connected_snapshot("home");
        h.device(DeviceState::Connected, FailureReason::Other(0))
            .await;
        let done = loop {
            let state = h.next_network().await;
            if !state.is_connecting && state.wifi_connected {
                break state;
            }
        };
        assert!(done.connected_to("home"), "{done:?}");
        assert_eq!(done.network_status, NetworkStatus::Wifi);
        assert_eq!(done.wifi_ip, "192.168.50.10");
        h.settle().await;
        assert_eq!(
            h.backend
                .recall("uuid-1", "802-11-wireless-security")
                .await
                .len(),
            1,
            "saved (agent-owned)"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_password_the_prompt_goes_to_subscribers_and_the_first_answer_wins() {
        let mut h = start(true);
        h.handle.connect(params("home", None, true)).await.unwrap();
        h.settle().await;
        let responder = h.ask_secrets("home", false).await;
        let prompt = h.next_prompt().await;
        assert_eq!(
            (
                prompt.ssid.as_str(),
                prompt.reason.as_str(),
                prompt.fields.as_slice()
            ),
            ("home", REASON_REQUIRED, &["psk".to_string()][..])
        );
        assert_eq!(
            h.handle.pending().await.unwrap(),
            vec![prompt.clone()],
            "re-delivered to late subscribers"
        );

        let short = vec![("psk".to_string(), Secret::new("short"))];
        let error = h
            .handle
            .submit(prompt.token.clone(), short, None)
            .await
            .unwrap_err();
        assert_eq!(
            error.code,
            ErrorCode::InvalidArgument,
            "an invalid answer leaves the prompt pending"
        );
        let missing = h
            .handle
            .submit(prompt.token.clone(), vec![], None)
            .await
            .unwrap_err();
        assert_eq!(missing.code, ErrorCode::InvalidParams);

        let good = vec![("psk".to_string(), Secret::new("home-secret-1"))];
        h.handle
            .submit(prompt.token.clone(), good.clone(), Some(false))
            .await
            .unwrap();
        let second = h
            .handle
            .submit(prompt.token.clone(), good.clone(), None)
            .await
            .unwrap_err();
        assert_eq!(
            second.code,
            ErrorCode::UnknownToken,
            "the second answer loses"
        );
        h.settle().await;
        assert_eq!(responder.answer(), Some(SecretAnswer::Secrets(good)));
        assert!(h.handle.pending().await.unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_wrong_password_prompts_again_with_the_reason() {
        let mut h = start(true);
        h.handle.connect(params("home", None, true)).await.unwrap();
        h.settle().await;
        let _first = h.ask_secrets("home", false).await;
        let prompt = h.next_prompt().await;
        h.handle
            .submit(
                prompt.token,
                vec![("psk".into(), Secret::new("wrong-password"))],
                None,
            )
            .await
            .unwrap();
        let again = h.ask_secrets("home", true).await;
        let reprompt = h.next_prompt().await;
        assert_eq!(reprompt.reason, REASON_INCORRECT);
        h.handle.cancel(reprompt.token.clone()).await.unwrap();
        h.settle().await;
        assert_eq!(again.answer(), Some(SecretAnswer::UserCanceled));
        let after_cancel = h
            .handle
            .submit(
                reprompt.token,
                vec![("psk".into(), Secret::new("home-secret-1"))],
                None,
            )
            .await;
        assert_eq!(
            after_cancel.unwrap_err().code,
            ErrorCode::UnknownToken,
            "submit after cancel"
        );
        // Cancelling ends the attempt at once, without waiting for NetworkManager.
        let failed = loop {
            let state = h.next_network().await;
            if !state.is_connecting && !state.last_error.is_empty() {
                break state;
            }
        };
        assert_eq!(failed.last_error, "user-canceled");
        h.settle().await;
        assert_eq!(
            h.backend.abandoned.lock().unwrap().len(),
            1,
            "the profile made for the attempt is removed"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_anyone_to_ask_a_secured_network_fails_fast() {
        let mut h = start(true);
        h.handle.connect(params("home", None, false)).await.unwrap();
        let failed = loop {
            let state = h.next_network().await;
            if !state.is_connecting {
                break state;
            }
        };
        assert_eq!(failed.last_error, "secrets-required");
    }

    #[tokio::test(start_paused = true)]
    async fn bad_input_is_refused_before_anything_starts() {
        let h = start(true);
        let long = "x".repeat(33);
        assert_eq!(
            h.handle
                .connect(params(&long, None, true))
                .await
                .unwrap_err()
                .code,
            ErrorCode::InvalidArgument
        );
        assert_eq!(
            h.handle
                .connect(params("home", Some("short"), true))
                .await
                .unwrap_err()
                .code,
            ErrorCode::InvalidArgument
        );
        assert!(h.backend.joins.lock().unwrap().is_empty());
        assert_eq!(
            h.handle.cancel("nope".into()).await.unwrap_err().code,
            ErrorCode::UnknownToken
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_connect_timeout_is_enforced_by_the_daemon() {
        let mut h = start(true);
        let start = Instant::now();
        h.handle
            .connect(params("home", Some("home-secret-1"), false))
            .await
            .unwrap();
        let failed = loop {
            let state = h.next_network().await;
            if !state.is_connecting {
                break state;
            }
        };
        assert_eq!(failed.last_error, "timeout");
        let took = start.elapsed();
        assert!(
            took >= Duration::from_secs(30) && took < Duration::from_secs(31),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_prompt_expires_after_two_minutes() {
        let mut h = start(true);
        h.handle.connect(params("home", None, true)).await.unwrap();
        h.settle().await;
        let responder = h.ask_secrets("home", false).await;
        let prompt = h.next_prompt().await;
        let start = Instant::now();
        let resolved = loop {
            if let ServiceEvent::PromptResolved { token, outcome } = h.next().await {
                break (token, outcome);
            }
        };
        assert_eq!(resolved, (prompt.token, "expired"));
        assert!(
            start.elapsed() >= Duration::from_secs(120) - Duration::from_millis(100),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(responder.answer(), Some(SecretAnswer::UserCanceled));
        let state = h.handle.status().await.unwrap();
        assert_eq!(state.last_error, "timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn dhcp_has_fifteen_seconds() {
        let mut h = start(false);
        h.handle.connect(params("open", None, false)).await.unwrap();
        h.settle().await;
        h.device(
            DeviceState::Connecting(ConnectStage::GettingAddress),
            FailureReason::Other(0),
        )
        .await;
        let start = Instant::now();
        let failed = loop {
            let state = h.next_network().await;
            if !state.is_connecting {
                break state;
            }
        };
        assert_eq!(failed.last_error, "dhcp-timeout");
        assert!(
            start.elapsed() >= Duration::from_secs(15),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn bursts_of_changes_are_merged_and_the_last_state_is_sent() {
        let mut h = start(true);
        h.settle().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        while h.events.try_recv().is_ok() {} // the state at start
        // A burst: each request replaces the one before, within the debounce.
        for ssid in ["home", "cafe", "work", "shop"] {
            h.handle
                .connect(params(ssid, Some("a-long-secret"), false))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut sent = Vec::new();
        while let Ok(ServiceEvent::Network(state)) = h.events.try_recv() {
            sent.push(state.connecting_ssid);
        }
        assert_eq!(
            sent.last().map(String::as_str),
            Some("shop"),
            "the final state of the burst: {sent:?}"
        );
        assert!(
            sent.len() <= 2,
            "the first change at once, then the merged rest: {sent:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn what_networkmanager_does_before_the_join_reports_back_counts() {
        let mut h = start(true);
        *h.backend.join_delay.lock().unwrap() = Duration::from_secs(2);
        let asked = Instant::now();
        h.handle.connect(params("home", None, true)).await.unwrap();
        // NetworkManager asks, the user cancels, the activation fails: all before the
        // join call returns.
        let _request = h.ask_secrets("home", false).await;
        let prompt = h.next_prompt().await;
        h.handle.cancel(prompt.token).await.unwrap();
        h.device(DeviceState::Failed, FailureReason::NoSecrets)
            .await;
        let failed = loop {
            let state = h.next_network().await;
            if !state.is_connecting && !state.last_error.is_empty() {
                break state;
            }
        };
        assert_eq!(failed.last_error, "user-canceled");
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "{:?}",
            asked.elapsed()
        );
        // The profile the late join made is removed once it reports back.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(h.backend.abandoned.lock().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_before_the_join_reports_back_is_not_lost() {
        let mut h = start(true);
        *h.backend.join_delay.lock().unwrap() = Duration::from_secs(2);
        let asked = Instant::now();
        h.handle
            .connect(params("home", Some("home-secret-1"), false))
            .await
            .unwrap();
        h.device(
            DeviceState::Connecting(netpilot_core::wifi::ConnectStage::Preparing),
            FailureReason::Other(0),
        )
        .await;
        h.device(DeviceState::Failed, FailureReason::Other(0)).await;
        let failed = loop {
            let state = h.next_network().await;
            if !state.is_connecting && !state.last_error.is_empty() {
                break state;
            }
        };
        assert_eq!(failed.last_error, "connection-attempt-failed");
        let took = asked.elapsed();
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(5),
            "judged when the join reported back, not at the connect timeout: {took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_change_is_sent_without_waiting_for_the_debounce() {
        let mut h = start(true);
        h.settle().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        while h.events.try_recv().is_ok() {}
        let asked = Instant::now();
        h.handle
            .connect(params("home", Some("home-secret-1"), false))
            .await
            .unwrap();
        let state = h.next_network().await;
        assert_eq!(state.connecting_ssid, "home");
        assert!(
            asked.elapsed() < Duration::from_millis(5),
            "{:?}",
            asked.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_for_other_networks_are_answered_from_the_store_or_declined() {
        let h = start(true);
        h.backend
            .remember(
                "uuid-1",
                "home",
                "802-11-wireless-security",
                &[("psk".into(), Secret::new("home-secret-1"))],
            )
            .await
            .unwrap();
        let stored = h.ask_secrets("home", false).await;
        h.settle().await;
        assert!(
            matches!(stored.answer(), Some(SecretAnswer::Secrets(_))),
            "autoconnect of a saved network"
        );
        let rejected = h.ask_secrets("home", true).await;
        h.settle().await;
        assert_eq!(
            rejected.answer(),
            Some(SecretAnswer::NoSecrets),
            "a rejected stored password is not resent"
        );
    }
}
