//! One connect attempt: the request, what NetworkManager does with it, the verdict, and
//! what is kept or undone afterwards.

use super::service::{ActiveAttempt, Internal, Service, clock_now};
use super::{ConnectParams, ServiceEvent};
use crate::connect::{Attempt, ConnectTracker, Verdict};
use crate::radios;
use netpilot_core::network::PromptOutcome;
use netpilot_core::ports::{JoinRequest, SecretAnswer, WifiBackend};
use netpilot_core::wifi::{DeviceState, FailureReason};
use netpilot_core::{Error, ErrorCode};
use std::sync::Arc;

/// How long a failure on a device that became unmanaged waits for NetworkManager to leave.
const UNMANAGED_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

impl<B: WifiBackend> Service<B> {
    /// Starts an attempt on the radio its role allows (the state was just refreshed).
    pub(super) fn connect(&mut self, params: ConnectParams) -> Result<(), Error> {
        params.validate()?;
        let device = radios::for_connect(&self.state.wifi_devices, params.interface.as_deref())?;
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
            device: device.clone(),
            bind: params.interface.is_some(),
            save: params.save,
            has_password: params.password.is_some(),
            interactive: params.interactive,
        };
        tracing::debug!(ssid = %params.ssid, %device, interactive = params.interactive, save = params.save, "connect");
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
            reprompts: 0,
            device,
            held: None,
        });
        self.state.is_connecting = true;
        self.state.connecting_ssid = params.ssid.clone();
        self.clear_error();
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

    /// A state of the device the attempt is on.
    pub(super) fn on_our_device(&mut self, state: DeviceState, reason: FailureReason) {
        let verdict = self
            .attempt
            .as_mut()
            .and_then(|a| a.tracker.on_device(state, reason, clock_now()));
        // Unmanaged mid-attempt: someone let go of the device, or NetworkManager is
        // stopping (it lets go of every device first). Which one, its leaving will say.
        if state == DeviceState::Unmanaged
            && let Some(Verdict::Failed(error)) = &verdict
            && let Some(attempt) = self.attempt.as_mut()
        {
            attempt.held = Some((tokio::time::Instant::now() + UNMANAGED_GRACE, error.clone()));
            return;
        }
        self.judged(verdict);
    }

    pub(super) fn judged(&mut self, verdict: Option<Verdict>) {
        match verdict {
            Some(Verdict::Connected) => self.succeed(),
            Some(Verdict::Failed(error)) => self.fail(error),
            None => {}
        }
    }

    pub(super) fn succeed(&mut self) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        tracing::debug!(ssid = %attempt.ssid, device = %attempt.device, "connected");
        let _ = self
            .broadcast
            .send(ServiceEvent::AttemptEnded { code: None });
        // The user joined it for the internet: it is the internet's while it stays on it.
        self.joined = Some(attempt.device.clone());
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
        self.clear_error();
        // Connected means with an address: take the backend's word for both, and send
        // the state once it has come (a state that is neither connecting nor connected
        // nor failed would read as a silent failure).
        self.refresh();
    }

    pub(super) fn fail(&mut self, error: Error) {
        let Some(attempt) = self.attempt.take() else {
            return;
        };
        tracing::debug!(ssid = %attempt.ssid, code = ?error.code, message = %error.message, "connect failed");
        let _ = self.broadcast.send(ServiceEvent::AttemptEnded {
            code: Some(error.code),
        });
        let ours: Vec<usize> = self
            .prompts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.prompt.ssid == attempt.ssid)
            .map(|(i, _)| i)
            .collect();
        for index in ours.into_iter().rev() {
            let pending = self.prompts.remove(index);
            self.resolved(&pending.prompt.token, PromptOutcome::Expired);
            pending.responder.answer(SecretAnswer::UserCanceled);
        }
        if let Some(joining) = attempt.joining.filter(|j| j.created_profile.is_some()) {
            let backend = Arc::clone(&self.backend);
            tokio::spawn(async move { backend.abandon(&joining).await });
        }
        self.state.is_connecting = false;
        self.state.connecting_ssid.clear();
        self.state.last_error = error.code.as_str().to_string();
        self.state.last_error_message = error.message;
        self.state.last_error_hint = error.hint.unwrap_or_default();
        self.changed();
        self.refresh();
    }

    fn clear_error(&mut self) {
        self.state.last_error.clear();
        self.state.last_error_message.clear();
        self.state.last_error_hint.clear();
    }

    /// The daemon is stopping: the prompts are withdrawn, the attempt in progress ends, and
    /// the profile it made is deleted before `done` is answered (nothing is left behind).
    pub(super) fn stopping(&mut self, done: tokio::sync::oneshot::Sender<()>) {
        self.withdraw(|_| true);
        let made = self
            .attempt
            .as_mut()
            .and_then(|a| a.joining.take())
            .filter(|j| j.created_profile.is_some());
        self.fail(Error::new(
            ErrorCode::ConnectionAttemptFailed,
            "netpilot's daemon stopped during the attempt",
        ));
        let backend = Arc::clone(&self.backend);
        tokio::spawn(async move {
            if let Some(joining) = made {
                backend.abandon(&joining).await;
            }
            let _ = done.send(());
        });
    }
}
