//! The daemon's network service: the connect state machine and the credential broker,
//! as one task that owns the state (an actor). Requests come in as [`Command`]s; the
//! state and prompts go out to every subscriber as [`ServiceEvent`]s.
//!
//! IDLE → CONNECTING → (PROMPTING → CONNECTING)* → CONNECTED or ERROR, as the seed draws
//! it; success only by the seed's four-condition rule; timeouts (connect, DHCP, prompt)
//! enforced here with [`ConnectTracker`]; state events debounced, the final one never
//! dropped.
//!
//! Files: [`handle`] (the commands and the cheap handle callers hold), `service` (the
//! actor: its state and loop), `attempt` (one connect attempt, from request to verdict),
//! `broker` (answering NetworkManager's requests for secrets: given, stored, or asked of
//! the subscribers), `state` (the `network` state from the backend's snapshot).

mod attempt;
mod broker;
mod handle;
mod service;
mod state;
#[cfg(test)]
mod tests;

pub use handle::{Command, NetworkHandle};

use crate::connect::Timeouts;
use netpilot_core::Secret;
use netpilot_core::network::{NetworkState, Prompt, PromptOutcome};
use netpilot_core::ports::{WifiBackend, WifiEvent};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

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
    /// A prompt is no longer pending.
    PromptResolved {
        token: String,
        outcome: PromptOutcome,
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
    };
    tokio::spawn(service.run(inbox, events, internal_inbox));
    handle
}
