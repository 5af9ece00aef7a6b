//! Files only their owner may read: the WebSocket token and the secret store. netpilot
//! refuses one that others could read or change, and replaces one so that a crash leaves
//! the old content or the new, and a power cut after the write returned keeps the new.
//!
//! The rules, checked on the open file (`fstat`, so the file judged is the file read):
//! - the file is a regular file (not a symlink, a FIFO or a directory), owned by the
//!   effective user, with no permission bit for group or others (`mode & 0o077 == 0`);
//! - its directory is owned by the effective user or root and not writable by group or
//!   others (`mode & 0o022 == 0`): whoever may write there could swap the file;
//! - a missing file is not an error: it is created 0600 (its directory 0700) when written.
//!
//! Refusals are `permission-denied` (exit code 4) with the command that fixes them.

use netpilot_core::{Error, ErrorCode};
use rustix::fs::{FileType, Mode, OFlags};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Checks the file (if it exists) and its directory (if it exists) without reading.
pub fn check(path: &Path, what: &str) -> Result<(), Error> {
    check_directory(path, what)?;
    open_checked(path, what).map(|_| ())
}

/// The file's content, or `None` if there is no file; an error if the rules refuse it.
pub fn read(path: &Path, what: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
    check_directory(path, what)?;
    let Some(mut file) = open_checked(path, what)? else {
        return Ok(None);
    };
    let mut content = Zeroizing::new(Vec::new());
    file.read_to_end(&mut content)
        .map_err(|e| io_error(what, path, "cannot read", &e))?;
    Ok(Some(content))
}

/// Replaces the file with `content`: written 0600 to a temporary file in the same
/// directory, fsynced, renamed over the file, then the directory fsynced (so the rename
/// itself is on disk). Creates the directory 0700 if it is missing.
pub fn write(path: &Path, content: &[u8], what: &str) -> Result<(), Error> {
    let dir = directory(path);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| io_error(what, &dir, "cannot create the directory", &e))?;
    check_directory(path, what)?;
    let temporary = temporary_path(path);
    // Only this user may write in the directory (checked above): a file by that name is
    // one of ours, left by a crash.
    let _ = std::fs::remove_file(&temporary);
    let written = write_new(&temporary, content)
        .and_then(|()| std::fs::rename(&temporary, path))
        .and_then(|()| std::fs::File::open(&dir)?.sync_all());
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        io_error(what, path, "cannot write", &e)
    })
}

/// Where `write` puts the new content before the rename.
pub fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    path.with_file_name(name)
}

fn write_new(temporary: &Path, content: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(temporary)?;
    // Exactly 0600 whatever the umask (one of 0o400 would leave the owner unable to read).
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(content)?;
    file.sync_all()
}

/// The file opened for reading after its type, owner and mode were checked on the open
/// descriptor; `None` if it does not exist.
fn open_checked(path: &Path, what: &str) -> Result<Option<std::fs::File>, Error> {
    // NOFOLLOW: a symlink is refused, not followed; NONBLOCK: a FIFO is refused at once
    // instead of waiting for a writer.
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(rustix::io::Errno::LOOP) => return Err(not_regular(what, path, "a symbolic link")),
        Err(e) => return Err(io_error(what, path, "cannot open", &e.into())),
    };
    let stat =
        rustix::fs::fstat(&fd).map_err(|e| io_error(what, path, "cannot stat", &e.into()))?;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => {}
        FileType::Fifo => return Err(not_regular(what, path, "a FIFO")),
        FileType::Directory => return Err(not_regular(what, path, "a directory")),
        _ => return Err(not_regular(what, path, "a special file")),
    }
    let me = rustix::process::geteuid().as_raw();
    if stat.st_uid != me {
        return Err(Error::new(
            ErrorCode::PermissionDenied,
            format!(
                "{what} {} is owned by uid {}, not by netpilot's user (uid {me})",
                path.display(),
                stat.st_uid
            ),
        )
        .with_hint(format!(
            "chown {} {} (or remove it if you did not make it)",
            user_name(me),
            path.display()
        )));
    }
    let mode = stat.st_mode & 0o7777;
    if mode & 0o077 != 0 {
        return Err(Error::new(
            ErrorCode::PermissionDenied,
            format!(
                "{what} {} is open to other users (mode {mode:04o}); it must be readable by its owner only",
                path.display()
            ),
        )
        .with_hint(format!("chmod 600 {}", path.display())));
    }
    Ok(Some(std::fs::File::from(fd)))
}

/// The directory must be the user's or root's, and not writable by group or others.
fn check_directory(path: &Path, what: &str) -> Result<(), Error> {
    let dir = directory(path);
    let metadata = match std::fs::metadata(&dir) {
        Ok(metadata) => metadata,
        // Created 0700 when the file is written.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(what, &dir, "cannot look at the directory", &e)),
    };
    let me = rustix::process::geteuid().as_raw();
    if metadata.uid() != me && metadata.uid() != 0 {
        return Err(Error::new(
            ErrorCode::PermissionDenied,
            format!(
                "{what}'s directory {} is owned by uid {} (neither netpilot's user, uid {me}, nor root)",
                dir.display(),
                metadata.uid()
            ),
        )
        .with_hint(format!(
            "chown {} {}, or put the file in a directory of your own",
            user_name(me),
            dir.display()
        )));
    }
    let mode = metadata.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Error::new(
            ErrorCode::PermissionDenied,
            format!(
                "{what}'s directory {} can be written by other users (mode {mode:04o}), who could replace the file",
                dir.display()
            ),
        )
        .with_hint(format!(
            "chmod go-w {}, or put the file in a directory of your own",
            dir.display()
        )));
    }
    Ok(())
}

fn directory(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn not_regular(what: &str, path: &Path, kind: &str) -> Error {
    Error::new(
        ErrorCode::PermissionDenied,
        format!("{what} {} is {kind}, not a regular file", path.display()),
    )
    .with_hint(format!(
        "remove {} (netpilot writes a new one), or give a path to a regular file",
        path.display()
    ))
}

fn user_name(uid: u32) -> String {
    uzers::get_user_by_uid(uid)
        .map(|user| user.name().to_string_lossy().into_owned())
        .unwrap_or_else(|| uid.to_string())
}

fn io_error(what: &str, path: &Path, doing: &str, error: &std::io::Error) -> Error {
    let code = if error.kind() == std::io::ErrorKind::PermissionDenied {
        ErrorCode::PermissionDenied
    } else {
        ErrorCode::Io
    };
    Error::new(code, format!("{what}: {doing} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests;
