//! The credential broker: NetworkManager's requests for secrets answered with the password
//! given, the one stored, or by asking every subscriber of `network.credentials`; the first
//! answer wins, a wrong password is never resent, and an unanswered prompt expires.

use super::service::{Internal, PendingPrompt, Service, clock_now, unknown_token};
use super::{REASON_INCORRECT, REASON_REQUIRED, ServiceEvent};
use netpilot_core::network::{Prompt, PromptOutcome};
use netpilot_core::ports::{SecretAnswer, SecretResponder, WifiBackend};
use netpilot_core::secret::validate_psk;
use netpilot_core::{Error, ErrorCode, Secret, SecretRequest};
use std::sync::Arc;
use tokio::time::Instant;

impl<B: WifiBackend> Service<B> {
    pub(super) fn secrets_requested(
        &mut self,
        request: SecretRequest,
        responder: Box<dyn SecretResponder>,
    ) {
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
            // The password given was wrong: never send it again; ask again, a bounded
            // number of times (then NetworkManager fails the attempt as a wrong password).
            attempt.tracker.password_rejected();
            attempt.password = None;
            if attempt.interactive && attempt.reprompts < super::REPROMPTS {
                attempt.reprompts += 1;
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

    /// What the store holds for a request of the attempt that gave no password: sent, or
    /// else the subscribers are asked.
    pub(super) fn recalled(
        &mut self,
        request: SecretRequest,
        responder: Box<dyn SecretResponder>,
        stored: Vec<(String, Secret)>,
    ) {
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

    pub(super) fn prompt(
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
            retry: reason == REASON_INCORRECT,
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

    pub(super) fn take_prompt(&mut self, token: &str) -> Result<PendingPrompt, Error> {
        let index = self
            .prompts
            .iter()
            .position(|p| p.prompt.token == token)
            .ok_or_else(unknown_token)?;
        Ok(self.prompts.remove(index))
    }

    pub(super) fn submit(
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
        self.resolved(token, PromptOutcome::Answered);
        pending.responder.answer(SecretAnswer::Secrets(secrets));
        Ok(())
    }

    /// The user gave up: the prompt ends, and with it the attempt it belongs to (at once,
    /// not when NetworkManager gets round to failing the activation).
    pub(super) fn cancel(&mut self, token: &str) -> Result<(), Error> {
        let pending = self.take_prompt(token)?;
        self.resolved(token, PromptOutcome::Cancelled);
        pending.responder.answer(SecretAnswer::UserCanceled);
        let ssid = pending.prompt.ssid;
        if self.attempt.as_ref().is_some_and(|a| a.ssid == ssid) {
            let message = format!("the password prompt for {ssid:?} was cancelled");
            self.fail(Error::new(ErrorCode::UserCanceled, message));
        }
        Ok(())
    }

    pub(super) fn resolved(&self, token: &str, outcome: PromptOutcome) {
        let _ = self.broadcast.send(ServiceEvent::PromptResolved {
            token: token.to_string(),
            outcome,
        });
    }

    /// Withdraws the pending prompts `which` picks: their subscribers are told, and
    /// NetworkManager may ask another agent.
    pub(super) fn withdraw(&mut self, which: impl Fn(&PendingPrompt) -> bool) {
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.prompts)
            .into_iter()
            .partition(|p| which(p));
        self.prompts = kept;
        for pending in gone {
            self.resolved(&pending.prompt.token, PromptOutcome::Withdrawn);
            pending.responder.answer(SecretAnswer::NoSecrets);
        }
    }
}
