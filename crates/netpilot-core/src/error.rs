//! Error codes shared by the CLI, the JSON output and the daemon's protocol.

use serde::{Deserialize, Serialize};

/// What went wrong, as a stable machine-readable code. The serialised form (kebab-case) is
/// part of the JSON contract: `{"error": {"code": "permission-denied", ...}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The kernel refused: the caller lacks a privilege or capability.
    PermissionDenied,
    /// `--netns NAME` named a network namespace that does not exist.
    NetnsNotFound,
    /// An argument was well-formed for the parser but not acceptable (a zero interval…).
    InvalidArgument,
    /// The running kernel lacks a feature netpilot needs (e.g. inet_diag).
    Unsupported,
    /// The kernel answered something netpilot could not understand.
    Protocol,
    /// Any other operating-system failure.
    Io,
    /// The network needs a password and none was given (and no one may be asked).
    SecretsRequired,
    /// The password was wrong.
    AuthenticationFailed,
    /// The network's profile was deleted while connecting.
    ConnectionRemoved,
    /// NetworkManager could not connect, for a reason not covered by another code.
    ConnectionAttemptFailed,
    /// No access point with that SSID is in range.
    NetworkNotFound,
    /// Connecting took longer than the connect timeout.
    Timeout,
    /// Associated, but no address came from DHCP within the DHCP timeout.
    DhcpTimeout,
    /// NetworkManager is not running, or the system bus is unreachable.
    NmUnavailable,
    /// No WiFi device is present (or none is managed by NetworkManager).
    NoWifiDevice,
    /// The user cancelled the password prompt.
    UserCanceled,
    /// The named network, interface or profile does not exist.
    NotFound,
    /// A device link needs a radio besides the internet's, and none is free.
    NoFreeRadio,
    /// The WiFi radio named is held by a device link (`device down NAME` frees it).
    RadioInUse,
    /// The netpilot daemon does not answer (for commands that go through it).
    DaemonUnavailable,
    /// WiFi is off by an rfkill hard block (a switch or key): no software turns it on.
    RadioBlocked,
    /// An enterprise network's server certificate did not match the CA (or domain) given.
    CertificateRejected,
    /// Protocol: the request is not JSON.
    ParseError,
    /// Protocol: JSON, but not a request object with a `method`.
    InvalidRequest,
    /// Protocol: no such method.
    UnknownMethod,
    /// Protocol: a parameter is missing or of the wrong type.
    InvalidParams,
    /// Protocol: a request line over 1 MiB.
    FrameTooLarge,
    /// Protocol: no pending prompt has this token (never issued, answered, cancelled, expired).
    UnknownToken,
    /// Protocol: too many requests from this client; slow down.
    RateLimited,
    /// Protocol: the client is not allowed (peer credentials, token, origin).
    Unauthorized,
}

impl ErrorCode {
    /// Whether trying again unchanged could succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::Io
                | ErrorCode::Timeout
                | ErrorCode::DhcpTimeout
                | ErrorCode::ConnectionAttemptFailed
        )
    }

    /// The code as the protocol spells it (`authentication-failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::PermissionDenied => "permission-denied",
            ErrorCode::NetnsNotFound => "netns-not-found",
            ErrorCode::InvalidArgument => "invalid-argument",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Protocol => "protocol",
            ErrorCode::Io => "io",
            ErrorCode::SecretsRequired => "secrets-required",
            ErrorCode::AuthenticationFailed => "authentication-failed",
            ErrorCode::ConnectionRemoved => "connection-removed",
            ErrorCode::ConnectionAttemptFailed => "connection-attempt-failed",
            ErrorCode::NetworkNotFound => "network-not-found",
            ErrorCode::Timeout => "timeout",
            ErrorCode::DhcpTimeout => "dhcp-timeout",
            ErrorCode::NmUnavailable => "nm-unavailable",
            ErrorCode::NoWifiDevice => "no-wifi-device",
            ErrorCode::UserCanceled => "user-canceled",
            ErrorCode::NotFound => "not-found",
            ErrorCode::NoFreeRadio => "no-free-radio",
            ErrorCode::RadioInUse => "radio-in-use",
            ErrorCode::DaemonUnavailable => "daemon-unavailable",
            ErrorCode::RadioBlocked => "radio-blocked",
            ErrorCode::CertificateRejected => "certificate-rejected",
            ErrorCode::ParseError => "parse-error",
            ErrorCode::InvalidRequest => "invalid-request",
            ErrorCode::UnknownMethod => "unknown-method",
            ErrorCode::InvalidParams => "invalid-params",
            ErrorCode::FrameTooLarge => "frame-too-large",
            ErrorCode::UnknownToken => "unknown-token",
            ErrorCode::RateLimited => "rate-limited",
            ErrorCode::Unauthorized => "unauthorized",
        }
    }

    /// What a user interface shows for this code (the seed's message table).
    pub fn user_message(self) -> &'static str {
        match self {
            ErrorCode::PermissionDenied => "Permission denied",
            ErrorCode::NetnsNotFound => "No such network namespace",
            ErrorCode::InvalidArgument => "Invalid input",
            ErrorCode::Unsupported => "Not supported by this system",
            ErrorCode::Protocol => "Unexpected answer from the system",
            ErrorCode::Io => "System error",
            ErrorCode::SecretsRequired => "Please enter password",
            ErrorCode::AuthenticationFailed => "Incorrect password",
            ErrorCode::ConnectionRemoved => "Network configuration removed",
            ErrorCode::ConnectionAttemptFailed => "Failed to connect",
            ErrorCode::NetworkNotFound => "Network not found",
            ErrorCode::Timeout => "Connection timed out",
            ErrorCode::DhcpTimeout => "Connected, but no IP address was assigned",
            ErrorCode::NmUnavailable => "NetworkManager is not running",
            ErrorCode::NoWifiDevice => "No WiFi device",
            ErrorCode::UserCanceled => "Cancelled",
            ErrorCode::NotFound => "Not found",
            ErrorCode::NoFreeRadio => "No free WiFi radio for the device",
            ErrorCode::RadioInUse => "This WiFi radio carries a device link",
            ErrorCode::DaemonUnavailable => "The netpilot daemon is not running",
            ErrorCode::RadioBlocked => "WiFi is switched off by hardware",
            ErrorCode::CertificateRejected => "The network's certificate is not trusted",
            ErrorCode::ParseError => "Malformed request",
            ErrorCode::InvalidRequest => "Invalid request",
            ErrorCode::UnknownMethod => "Unknown method",
            ErrorCode::InvalidParams => "Invalid parameters",
            ErrorCode::FrameTooLarge => "Request too large",
            ErrorCode::UnknownToken => "This prompt is no longer pending",
            ErrorCode::RateLimited => "Too many requests",
            ErrorCode::Unauthorized => "Not allowed",
        }
    }
}

/// An error fit to show a user: a code, what happened, and what to do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    /// The next step for the user ("run as root…"), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_kebab_case() {
        let json = serde_json::to_string(&ErrorCode::PermissionDenied).unwrap();
        assert_eq!(json, "\"permission-denied\"");
        let json = serde_json::to_string(&ErrorCode::NetnsNotFound).unwrap();
        assert_eq!(json, "\"netns-not-found\"");
    }

    #[test]
    fn the_seed_codes_keep_their_names() {
        for (code, name) in [
            (ErrorCode::SecretsRequired, "secrets-required"),
            (ErrorCode::AuthenticationFailed, "authentication-failed"),
            (ErrorCode::ConnectionRemoved, "connection-removed"),
            (
                ErrorCode::ConnectionAttemptFailed,
                "connection-attempt-failed",
            ),
            (ErrorCode::NetworkNotFound, "network-not-found"),
            (ErrorCode::Timeout, "timeout"),
            (ErrorCode::DhcpTimeout, "dhcp-timeout"),
        ] {
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{name}\""));
        }
        assert_eq!(
            ErrorCode::AuthenticationFailed.user_message(),
            "Incorrect password"
        );
    }

    #[test]
    fn as_str_is_the_serialised_name() {
        for code in [
            ErrorCode::PermissionDenied,
            ErrorCode::NetnsNotFound,
            ErrorCode::InvalidArgument,
            ErrorCode::Unsupported,
            ErrorCode::Protocol,
            ErrorCode::Io,
            ErrorCode::SecretsRequired,
            ErrorCode::AuthenticationFailed,
            ErrorCode::ConnectionRemoved,
            ErrorCode::ConnectionAttemptFailed,
            ErrorCode::NetworkNotFound,
            ErrorCode::Timeout,
            ErrorCode::DhcpTimeout,
            ErrorCode::NmUnavailable,
            ErrorCode::NoWifiDevice,
            ErrorCode::UserCanceled,
            ErrorCode::NotFound,
            ErrorCode::NoFreeRadio,
            ErrorCode::RadioInUse,
            ErrorCode::DaemonUnavailable,
            ErrorCode::RadioBlocked,
            ErrorCode::CertificateRejected,
            ErrorCode::ParseError,
            ErrorCode::InvalidRequest,
            ErrorCode::UnknownMethod,
            ErrorCode::InvalidParams,
            ErrorCode::FrameTooLarge,
            ErrorCode::UnknownToken,
            ErrorCode::RateLimited,
            ErrorCode::Unauthorized,
        ] {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }

    #[test]
    fn hint_is_omitted_when_absent() {
        let e = Error::new(ErrorCode::Io, "boom");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"io","message":"boom"}"#
        );
    }
}
