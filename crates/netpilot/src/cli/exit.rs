//! Exit codes and how failures are shown.

use netpilot_api::monitor::ErrorDocument;
use netpilot_core::{Error, ErrorCode};
use std::io::Write;
use std::process::ExitCode;

/// Printed at the end of `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success (also when the reader of a pipe goes away, as with `| head`)
  1  the operation failed
  2  bad usage: an unknown flag or value, a network namespace that does not exist
  3  NetworkManager (or the system D-Bus) is not running
  4  permission denied: run as root or grant the capability named in the message; or the
     daemon's token file or secret store is open to others or another user's (its hint says
     the chmod or chown)
  5  no WiFi device (for a device link, no free radio; the radio named carries a device link;
     WiFi is switched off by hardware)
  6  the netpilot daemon is not running (device commands need it)";

fn exit_code(code: ErrorCode) -> u8 {
    match code {
        ErrorCode::InvalidArgument | ErrorCode::NetnsNotFound => 2,
        ErrorCode::NmUnavailable => 3,
        ErrorCode::PermissionDenied => 4,
        ErrorCode::NoWifiDevice
        | ErrorCode::NoFreeRadio
        | ErrorCode::RadioInUse
        | ErrorCode::RadioBlocked => 5,
        ErrorCode::DaemonUnavailable => 6,
        _ => 1,
    }
}

/// Prints `error` (as a JSON document on stdout with `--json`, else on stderr) and
/// returns the exit code. A closed pipe is not an error worth a word.
pub fn report(error: &anyhow::Error, json: bool) -> ExitCode {
    if is_broken_pipe(error) {
        return ExitCode::SUCCESS;
    }
    let error = match error.downcast_ref::<Error>() {
        Some(e) => e.clone(),
        None => Error::new(ErrorCode::Io, format!("{error:#}")),
    };
    if json {
        let document = ErrorDocument {
            error: error.clone(),
        };
        let mut out = crate::output::stdout();
        let _ = serde_json::to_writer(&mut out, &document);
        let _ = writeln!(out);
    } else {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "netpilot: {}", headline(&error));
        if let Some(hint) = &error.hint {
            let _ = writeln!(err, "  hint: {hint}");
        }
    }
    ExitCode::from(exit_code(error.code))
}

/// Connection failures lead with the seed's user message ("Incorrect password"), then
/// the particulars.
fn headline(error: &Error) -> String {
    match error.code {
        ErrorCode::SecretsRequired
        | ErrorCode::AuthenticationFailed
        | ErrorCode::ConnectionRemoved
        | ErrorCode::ConnectionAttemptFailed
        | ErrorCode::NetworkNotFound
        | ErrorCode::Timeout
        | ErrorCode::DhcpTimeout => format!("{}: {}", error.code.user_message(), error.message),
        _ => error.message.clone(),
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_anywhere_in_the_chain_is_recognised() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let error = anyhow::Error::from(pipe).context("writing the table");
        assert!(is_broken_pipe(&error));
        assert!(!is_broken_pipe(&anyhow::anyhow!("no")));
    }

    #[test]
    fn connection_failures_lead_with_the_user_message() {
        let error = Error::new(
            ErrorCode::AuthenticationFailed,
            "the password for \"x\" was rejected",
        );
        assert_eq!(
            headline(&error),
            "Incorrect password: the password for \"x\" was rejected"
        );
        let error = Error::new(ErrorCode::NetnsNotFound, "no network namespace named \"x\"");
        assert_eq!(headline(&error), "no network namespace named \"x\"");
    }

    #[test]
    fn usage_and_permission_errors_have_their_own_codes() {
        assert_eq!(exit_code(ErrorCode::NetnsNotFound), 2);
        assert_eq!(exit_code(ErrorCode::PermissionDenied), 4);
        assert_eq!(exit_code(ErrorCode::Io), 1);
        assert_eq!(exit_code(ErrorCode::NmUnavailable), 3);
        assert_eq!(exit_code(ErrorCode::NoWifiDevice), 5);
    }
}
