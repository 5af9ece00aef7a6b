//! Error codes shared by the CLI, the JSON output and (later) the daemon's protocol.

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
}

impl ErrorCode {
    /// Whether trying again unchanged could succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorCode::Io)
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
    fn hint_is_omitted_when_absent() {
        let e = Error::new(ErrorCode::Io, "boom");
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"code":"io","message":"boom"}"#
        );
    }
}
