//! The one place where netlink failures (rtnetlink, sock_diag) become user-facing
//! [`Error`]s, with the next step to take. NetworkManager's D-Bus errors have theirs in
//! `nm/api.rs` (`nm_error`).

use crate::netlink::NetlinkError;
use netpilot_core::{Error, ErrorCode};
use rustix::io::Errno;

/// Maps a netlink failure of `what` ("rtnetlink", "sock_diag") to a code, a message and
/// the next step to take.
pub fn netlink_to_error(what: &str, error: NetlinkError) -> Error {
    let errno = error.errno().map(Errno::from_raw_os_error);
    match errno {
        Some(Errno::PERM | Errno::ACCESS) => {
            Error::new(ErrorCode::PermissionDenied, format!("{what}: {error}"))
                .with_hint("run as root, or grant the binary cap_net_admin")
        }
        Some(Errno::NOENT | Errno::OPNOTSUPP | Errno::PROTONOSUPPORT | Errno::AFNOSUPPORT)
            if what == "sock_diag" =>
        {
            Error::new(
                ErrorCode::Unsupported,
                format!("{what}: the kernel does not offer socket diagnostics ({error})"),
            )
            .with_hint("load the modules: sudo modprobe -a inet_diag tcp_diag udp_diag")
        }
        _ => match error {
            NetlinkError::Decode(_) => Error::new(ErrorCode::Protocol, format!("{what}: {error}")),
            _ => Error::new(ErrorCode::Io, format!("{what}: {error}")),
        },
    }
}
