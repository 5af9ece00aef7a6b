//! The daemon's doors: the Unix socket (0600, or 0660 for a group; never briefly
//! world-usable; a live daemon's socket is never taken over) and the WebSocket's token file.

use netpilot_core::{Error, ErrorCode};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

/// Binds the socket 0600 (0660 with a group), replacing a stale one, refusing to take
/// over a live one.
pub fn bind_socket(path: &PathBuf, group: Option<u32>) -> Result<tokio::net::UnixListener, Error> {
    let io = |what: &str, e: std::io::Error| {
        Error::new(ErrorCode::Io, format!("{what} {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent() {
        let mode = if rustix::process::geteuid().is_root() {
            0o755
        } else {
            0o700
        };
        std::fs::create_dir_all(dir).map_err(|e| io("cannot create the directory of", e))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode));
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("a daemon already listens on {}", path.display()),
            )
            .with_hint("stop it first, or give another --socket"));
        }
        std::fs::remove_file(path).map_err(|e| io("cannot remove the stale socket", e))?;
    }
    // Created private, then opened to the group if asked: never briefly world-usable.
    let umask = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = tokio::net::UnixListener::bind(path);
    rustix::process::umask(umask);
    let listener = bound.map_err(|e| io("cannot listen on", e))?;
    if let Some(gid) = group {
        rustix::fs::chown(path, None, Some(rustix::fs::Gid::from_raw(gid)))
            .map_err(|e| io("cannot give the group", e.into()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
            .map_err(|e| io("cannot open to the group", e))?;
    }
    Ok(listener)
}

/// The WebSocket token: read from the file, or made and written 0600.
pub fn token(path: &PathBuf) -> Result<String, Error> {
    if let Ok(existing) = std::fs::read_to_string(path)
        && existing.trim().len() >= 32
    {
        return Ok(existing.trim().to_string());
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let token = random_token();
    use std::io::Write;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut file| file.write_all(token.as_bytes()))
        .map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    Ok(token)
}

/// 128 random bits from the kernel, as hex: prompt tokens and the WebSocket token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    let mut filled = 0;
    while filled < bytes.len() {
        match rustix::rand::getrandom(&mut bytes[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => panic!("the kernel gave no random bytes: {e}"),
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
