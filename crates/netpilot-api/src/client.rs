//! A protocol v1 client: where the daemon listens, and (below) how to talk to it.

use std::path::PathBuf;

/// The system daemon's socket (the systemd unit's).
pub const SYSTEM_SOCKET: &str = "/run/netpilot/netpilot.sock";

/// Where `netpilot daemon` listens unless told: `$NETPILOT_SOCKET` if set; the system path
/// for root (a service); a per-user one under `$XDG_RUNTIME_DIR` otherwise.
pub fn default_socket() -> PathBuf {
    if let Some(path) = std::env::var_os("NETPILOT_SOCKET") {
        return PathBuf::from(path);
    }
    if rustix::process::geteuid().is_root() {
        return PathBuf::from(SYSTEM_SOCKET);
    }
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    runtime.join("netpilot/netpilot.sock")
}

/// Where a client looks for a daemon, in order: the socket it was given; else this user's
/// default, then the system daemon's (a user's commands may use the machine's daemon).
pub fn sockets(given: Option<PathBuf>) -> Vec<PathBuf> {
    let mut candidates = match given {
        Some(socket) => vec![socket],
        None => vec![default_socket(), PathBuf::from(SYSTEM_SOCKET)],
    };
    candidates.dedup();
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_given_socket_is_the_only_one_tried() {
        assert_eq!(
            sockets(Some(PathBuf::from("/tmp/x.sock"))),
            [PathBuf::from("/tmp/x.sock")]
        );
        let looked = sockets(None);
        assert_eq!(looked.last(), Some(&PathBuf::from(SYSTEM_SOCKET)));
        assert_eq!(looked.first(), Some(&default_socket()));
    }
}
