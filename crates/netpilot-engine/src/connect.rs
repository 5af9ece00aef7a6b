//! Judging one WiFi connection attempt from NetworkManager's device states, the secret
//! agent's requests and the clock: when it succeeded, when and why it failed.
//!
//! Pure logic fed by its caller (the `network` service, for the daemon and the CLI), so every
//! timeout runs in tests without waiting. Timeouts are the seed's: connect 30 s (time spent
//! waiting for the user's password does not count), DHCP 15 s, password prompt 2 min.

use netpilot_core::wifi::{ConnectStage, DeviceState, FailureReason};
use netpilot_core::{Error, ErrorCode};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub dhcp: Duration,
    pub prompt: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            dhcp: Duration::from_secs(15),
            prompt: Duration::from_secs(120),
        }
    }
}

/// What the attempt knew before it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub ssid: String,
    /// The network was in the last scan (tells a WPA3 wrong password, which NetworkManager
    /// reports as "SSID not found", from a network out of range).
    pub in_range: bool,
    /// The network needs a password.
    pub secured: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Connected,
    Failed(Error),
}

#[derive(Debug)]
pub struct ConnectTracker {
    attempt: Attempt,
    timeouts: Timeouts,
    connect_deadline: Instant,
    dhcp_deadline: Option<Instant>,
    prompt_since: Option<Instant>,
    stage: Option<ConnectStage>,
    /// NetworkManager asked again with REQUEST_NEW: the password given was wrong.
    password_rejected: bool,
    user_canceled: bool,
}

impl ConnectTracker {
    pub fn new(attempt: Attempt, timeouts: Timeouts, now: Instant) -> Self {
        ConnectTracker {
            attempt,
            timeouts,
            connect_deadline: now + timeouts.connect,
            dhcp_deadline: None,
            prompt_since: None,
            stage: None,
            password_rejected: false,
            user_canceled: false,
        }
    }

    /// The join reported back: what it learned of the network.
    pub fn joined(&mut self, in_range: bool, secured: bool) {
        self.attempt.in_range = in_range;
        self.attempt.secured = secured;
    }

    /// The stage reached so far, for progress.
    pub fn stage(&self) -> Option<ConnectStage> {
        self.stage
    }

    /// When [`ConnectTracker::on_timer`] must be called next.
    pub fn deadline(&self) -> Instant {
        let mut deadline = match self.prompt_since {
            Some(since) => since + self.timeouts.prompt,
            None => self.connect_deadline,
        };
        if let Some(dhcp) = self.dhcp_deadline {
            deadline = deadline.min(dhcp);
        }
        deadline
    }

    pub fn on_device(
        &mut self,
        state: DeviceState,
        reason: FailureReason,
        now: Instant,
    ) -> Option<Verdict> {
        match state {
            DeviceState::Connecting(stage) => {
                self.stage = Some(stage);
                if stage == ConnectStage::GettingAddress && self.dhcp_deadline.is_none() {
                    self.dhcp_deadline = Some(now + self.timeouts.dhcp);
                }
                None
            }
            DeviceState::Connected => Some(Verdict::Connected),
            DeviceState::Failed => Some(Verdict::Failed(self.failure(reason))),
            // Leaving an attempt without FAILED: someone took the device away.
            DeviceState::Disconnected | DeviceState::Unavailable | DeviceState::Unmanaged
                if self.stage.is_some() =>
            {
                Some(Verdict::Failed(self.failure(reason)))
            }
            _ => None,
        }
    }

    /// The user is being asked for the password; the connect timeout stops meanwhile.
    pub fn prompt_started(&mut self, now: Instant) {
        self.prompt_since.get_or_insert(now);
    }

    pub fn prompt_finished(&mut self, now: Instant) {
        if let Some(since) = self.prompt_since.take() {
            self.connect_deadline += now.saturating_duration_since(since);
        }
    }

    /// NetworkManager asked for the password again (REQUEST_NEW).
    pub fn password_rejected(&mut self) {
        self.password_rejected = true;
    }

    pub fn user_canceled(&mut self) {
        self.user_canceled = true;
    }

    pub fn on_timer(&mut self, now: Instant) -> Option<Verdict> {
        let ssid = &self.attempt.ssid;
        if let Some(since) = self.prompt_since
            && now >= since + self.timeouts.prompt
        {
            let message = format!(
                "no password for {ssid:?} was given within {} s",
                self.timeouts.prompt.as_secs()
            );
            return Some(Verdict::Failed(Error::new(ErrorCode::Timeout, message)));
        }
        if let Some(dhcp) = self.dhcp_deadline
            && now >= dhcp
        {
            let message = format!(
                "joined {ssid:?} but got no IP address within {} s",
                self.timeouts.dhcp.as_secs()
            );
            let error = Error::new(ErrorCode::DhcpTimeout, message)
                .with_hint("the network's DHCP server may be down; try again, or ask its owner");
            return Some(Verdict::Failed(error));
        }
        if self.prompt_since.is_none() && now >= self.connect_deadline {
            let message = format!(
                "connecting to {ssid:?} took longer than {} s",
                self.timeouts.connect.as_secs()
            );
            let error = Error::new(ErrorCode::Timeout, message)
                .with_hint("move closer to the access point, or check that it works");
            return Some(Verdict::Failed(error));
        }
        None
    }

    fn failure(&self, reason: FailureReason) -> Error {
        let ssid = &self.attempt.ssid;
        let wrong_password = || {
            Error::new(
                ErrorCode::AuthenticationFailed,
                format!("the password for {ssid:?} was rejected"),
            )
            .with_hint(format!(
                "check it and try again: netpilot wifi connect {ssid:?} --ask"
            ))
        };
        if self.password_rejected {
            return wrong_password();
        }
        match reason {
            FailureReason::NoSecrets if self.user_canceled => Error::new(
                ErrorCode::UserCanceled,
                format!("connecting to {ssid:?} was cancelled"),
            ),
            FailureReason::NoSecrets => Error::new(
                ErrorCode::SecretsRequired,
                format!("{ssid:?} needs a password"),
            )
            .with_hint("give it with --ask or --password-stdin"),
            FailureReason::SupplicantFailed | FailureReason::SupplicantTimeout
                if self.attempt.secured =>
            {
                wrong_password()
            }
            // NetworkManager reports a WPA3 (SAE) wrong password as "SSID not found".
            FailureReason::SsidNotFound if self.attempt.in_range && self.attempt.secured => {
                wrong_password()
            }
            FailureReason::SsidNotFound => Error::new(
                ErrorCode::NetworkNotFound,
                format!("no network named {ssid:?} is in range"),
            )
            .with_hint("see what is: netpilot wifi list (a hidden network needs --hidden)"),
            FailureReason::IpConfigUnavailable => Error::new(
                ErrorCode::DhcpTimeout,
                format!("joined {ssid:?} but got no IP address"),
            )
            .with_hint("the network's DHCP server may be down"),
            FailureReason::ConnectionRemoved => Error::new(
                ErrorCode::ConnectionRemoved,
                format!("the profile of {ssid:?} was removed while connecting"),
            ),
            FailureReason::Interrupted
            | FailureReason::SupplicantFailed
            | FailureReason::SupplicantTimeout
            | FailureReason::Other(_) => Error::new(
                ErrorCode::ConnectionAttemptFailed,
                format!("NetworkManager could not connect to {ssid:?} ({reason:?})"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(in_range: bool, secured: bool) -> (ConnectTracker, Instant) {
        let now = Instant::now();
        let attempt = Attempt {
            ssid: "np-home".into(),
            in_range,
            secured,
        };
        (ConnectTracker::new(attempt, Timeouts::default(), now), now)
    }

    fn connecting(stage: ConnectStage) -> DeviceState {
        DeviceState::Connecting(stage)
    }

    fn code(verdict: Option<Verdict>) -> ErrorCode {
        match verdict {
            Some(Verdict::Failed(error)) => error.code,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn activated_is_connected() {
        let (mut t, now) = tracker(true, true);
        assert_eq!(
            t.on_device(
                connecting(ConnectStage::Preparing),
                FailureReason::Other(0),
                now
            ),
            None
        );
        assert_eq!(t.stage(), Some(ConnectStage::Preparing));
        assert_eq!(
            t.on_device(DeviceState::Connected, FailureReason::Other(0), now),
            Some(Verdict::Connected)
        );
    }

    #[test]
    fn a_rejected_password_is_authentication_failed_whatever_the_final_reason() {
        let (mut t, now) = tracker(true, true);
        t.password_rejected();
        assert_eq!(
            code(t.on_device(DeviceState::Failed, FailureReason::NoSecrets, now)),
            ErrorCode::AuthenticationFailed
        );
    }

    #[test]
    fn wpa3_wrong_password_reported_as_ssid_not_found_is_authentication_failed() {
        let (mut t, now) = tracker(true, true);
        assert_eq!(
            code(t.on_device(DeviceState::Failed, FailureReason::SsidNotFound, now)),
            ErrorCode::AuthenticationFailed
        );
        let (mut t, now) = tracker(false, true);
        assert_eq!(
            code(t.on_device(DeviceState::Failed, FailureReason::SsidNotFound, now)),
            ErrorCode::NetworkNotFound
        );
    }

    #[test]
    fn no_secrets_is_secrets_required_or_cancelled() {
        let (mut t, now) = tracker(true, true);
        assert_eq!(
            code(t.on_device(DeviceState::Failed, FailureReason::NoSecrets, now)),
            ErrorCode::SecretsRequired
        );
        let (mut t, now) = tracker(true, true);
        t.user_canceled();
        assert_eq!(
            code(t.on_device(DeviceState::Failed, FailureReason::NoSecrets, now)),
            ErrorCode::UserCanceled
        );
    }

    #[test]
    fn the_connect_timeout_pauses_while_the_user_types() {
        let (mut t, start) = tracker(true, true);
        t.on_device(
            connecting(ConnectStage::Authenticating),
            FailureReason::Other(0),
            start,
        );
        t.prompt_started(start + Duration::from_secs(5));
        assert_eq!(
            t.on_timer(start + Duration::from_secs(40)),
            None,
            "prompting: no connect timeout"
        );
        t.prompt_finished(start + Duration::from_secs(65));
        // 30 s budget, 60 s of it spent prompting: the deadline moved to 90 s.
        assert_eq!(t.deadline(), start + Duration::from_secs(90));
        assert_eq!(t.on_timer(start + Duration::from_secs(89)), None);
        assert_eq!(
            code(t.on_timer(start + Duration::from_secs(90))),
            ErrorCode::Timeout
        );
    }

    #[test]
    fn an_unanswered_prompt_times_out_after_two_minutes() {
        let (mut t, start) = tracker(true, true);
        t.prompt_started(start);
        assert_eq!(t.deadline(), start + Duration::from_secs(120));
        assert_eq!(
            code(t.on_timer(start + Duration::from_secs(120))),
            ErrorCode::Timeout
        );
    }

    #[test]
    fn dhcp_has_fifteen_seconds_from_getting_address() {
        let (mut t, start) = tracker(true, true);
        let at = start + Duration::from_secs(4);
        t.on_device(
            connecting(ConnectStage::GettingAddress),
            FailureReason::Other(0),
            at,
        );
        assert_eq!(t.deadline(), at + Duration::from_secs(15));
        assert_eq!(t.on_timer(at + Duration::from_secs(14)), None);
        assert_eq!(
            code(t.on_timer(at + Duration::from_secs(15))),
            ErrorCode::DhcpTimeout
        );
    }

    #[test]
    fn being_disconnected_mid_attempt_is_a_failure() {
        let (mut t, now) = tracker(true, false);
        assert_eq!(
            t.on_device(DeviceState::Disconnected, FailureReason::Other(0), now),
            None,
            "not started yet"
        );
        t.on_device(
            connecting(ConnectStage::Configuring),
            FailureReason::Other(0),
            now,
        );
        assert_eq!(
            code(t.on_device(DeviceState::Disconnected, FailureReason::Interrupted, now)),
            ErrorCode::ConnectionAttemptFailed
        );
    }
}
