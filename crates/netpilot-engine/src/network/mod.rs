//! The daemon's network service: the connect state machine and the credential broker,
//! as one task that owns the state (an actor). Requests come in as [`Command`]s; the
//! state and prompts go out to every subscriber as [`ServiceEvent`]s.
//!
//! IDLE → CONNECTING → (PROMPTING → CONNECTING)* → CONNECTED or ERROR, as the seed draws
//! it; success only by the seed's four-condition rule; timeouts (connect, DHCP, prompt)
//! enforced here with [`ConnectTracker`]; state events debounced, the final one never
//! dropped.
//!
//! The state describes the internet link: the WiFi device whose role is `internet`
//! ([`crate::radios`]), never a device link's; every radio and its role ride beside the
//! seed's seven fields. Connect and disconnect choose their radio by role, with the
//! backend asked afresh first.
//!
//! Files: [`handle`] (the commands and the cheap handle callers hold), `service` (the
//! actor: its state and loop), `actions` (scan and disconnect, by role), `attempt` (one connect attempt, from request to verdict),
//! `broker` (answering NetworkManager's requests for secrets: given, stored, or asked of
//! the subscribers), `state` (the `network` state and the roles from the backend's
//! snapshot and the device links' claims).

mod actions;
mod attempt;
mod broker;
mod ethernet;
mod handle;
mod hotspot;
mod menu;
mod service;
mod state;
#[cfg(test)]
mod tests;

pub use handle::{Command, NetworkHandle};
pub use hotspot::HotspotParams;

use crate::connect::Timeouts;
use crate::radios::Claim;
use netpilot_core::Secret;
use netpilot_core::network::{NetworkState, Prompt, PromptOutcome};
use netpilot_core::ports::{WifiBackend, WifiEvent};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

pub const REASON_REQUIRED: &str = "Credentials required";
pub const REASON_INCORRECT: &str = "Previous password was incorrect";

pub struct Config {
    pub timeouts: Timeouts,
    /// State events closer together than this are merged; the last is always sent.
    pub debounce: Duration,
    /// Makes prompt tokens; unguessable in the daemon, predictable in fixture tests.
    pub tokens: Box<dyn FnMut() -> String + Send>,
    /// The radios device links hold (the device-link service's [`claims`]); see
    /// [`no_claims`] where there is none.
    ///
    /// [`claims`]: crate::device::DeviceService::claims
    pub claims: watch::Receiver<Vec<Claim>>,
}

/// Claims for a service with no device links beside it (a command's own engine).
pub fn no_claims() -> watch::Receiver<Vec<Claim>> {
    watch::channel(Vec::new()).1
}

/// A wrong password is asked for again this many times in one attempt; the next wrong one
/// ends it as `authentication-failed`.
pub const REPROMPTS: u32 = 1;

/// What subscribers receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceEvent {
    /// Shared: every subscriber gets the same state.
    Network(Arc<NetworkState>),
    Prompt(Prompt),
    /// A prompt is no longer pending.
    PromptResolved {
        token: String,
        outcome: PromptOutcome,
    },
    /// A connect attempt ended: joined (`None`) or failed with this code. For counting
    /// (the daemon's metrics); the state says the same to UIs.
    AttemptEnded {
        code: Option<netpilot_core::ErrorCode>,
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

impl ConnectParams {
    /// What is checked before the backend is asked anything.
    pub fn validate(&self) -> Result<(), netpilot_core::Error> {
        netpilot_core::secret::validate_ssid(&self.ssid)?;
        if let Some(password) = &self.password {
            netpilot_core::secret::validate_psk(password)?;
        }
        Ok(())
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
    let (radios, radios_seen) = watch::channel(Vec::new());
    let (internal, internal_inbox) = mpsc::channel(16);
    let handle = NetworkHandle {
        commands,
        events: broadcast.clone(),
        radios: radios_seen,
    };
    let claims = config.claims.clone();
    let service = service::Service {
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
        snapshot: None,
        waiting: Vec::new(),
        joined: None,
        claims,
        radios,
        backend_gone: false,
        refreshing: false,
        refresh_again: false,
        menu: Default::default(),
    };
    tokio::spawn(service.run(inbox, events, internal_inbox));
    handle
}
