//! Entering a named network namespace, as `ip netns exec` and `ss -N` do.

use netpilot_core::{Error, ErrorCode};
use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::thread::LinkNameSpaceType;

/// Where iproute2 keeps named namespaces (`ip netns add NAME`).
const NETNS_RUN_DIR: &str = "/run/netns";

/// Moves the calling thread into the network namespace `name`. Netlink sockets opened
/// afterwards on this thread (and threads it spawns) see that namespace. `/proc` needs no
/// switch: socket inodes are unique across namespaces.
pub fn enter(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("{name:?} is not a network namespace name"),
        )
        .with_hint("list them with: ip netns list"));
    }
    let path = format!("{NETNS_RUN_DIR}/{name}");
    let fd =
        rustix::fs::open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| {
            match e {
                Errno::NOENT => Error::new(
                    ErrorCode::NetnsNotFound,
                    format!("no network namespace named {name:?} ({path} does not exist)"),
                )
                .with_hint("list them with: ip netns list"),
                Errno::ACCESS | Errno::PERM => Error::new(
                    ErrorCode::PermissionDenied,
                    format!("cannot open {path}: {e}"),
                )
                .with_hint("entering a network namespace needs root (CAP_SYS_ADMIN)"),
                e => Error::new(ErrorCode::Io, format!("cannot open {path}: {e}")),
            }
        })?;
    rustix::thread::move_into_link_name_space(fd.as_fd(), Some(LinkNameSpaceType::Network)).map_err(
        |e| match e {
            Errno::PERM => Error::new(
                ErrorCode::PermissionDenied,
                format!("cannot enter network namespace {name:?}: {e}"),
            )
            .with_hint("entering a network namespace needs root (CAP_SYS_ADMIN)"),
            Errno::INVAL => Error::new(
                ErrorCode::InvalidArgument,
                format!("{path} is not a network namespace"),
            ),
            e => Error::new(
                ErrorCode::Io,
                format!("cannot enter network namespace {name:?}: {e}"),
            ),
        },
    )
}
