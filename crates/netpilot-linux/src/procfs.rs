//! Processes and the sockets they hold, from `/proc`.
//!
//! Socket ownership is only visible as `/proc/PID/fd/N -> socket:[INODE]` links, so a
//! full scan is one `readlink` per open fd on the machine. This is the hot loop of
//! `netpilot connections`: it reads directories with `getdents64` into a reused buffer
//! and links into a stack buffer, relative to directory fds, allocating nothing per fd.

use netpilot_core::ports::{FdTableError, ProcessSource};
use netpilot_core::{Error, ErrorCode};
use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags, RawDir};
use rustix::io::Errno;
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::sync::Mutex;

pub struct ProcFs {
    proc: OwnedFd,
    user_names: Mutex<HashMap<u32, Option<String>>>,
}

impl ProcFs {
    pub fn open() -> Result<Self, Error> {
        let proc = rustix::fs::open(
            "/proc",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::new(ErrorCode::Io, format!("cannot open /proc: {e}")))?;
        Ok(ProcFs {
            proc,
            user_names: Mutex::new(HashMap::new()),
        })
    }
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW);

impl ProcessSource for ProcFs {
    fn pids(&self) -> Result<Vec<u32>, Error> {
        // A fresh fd per listing: directory offsets live in the open file, and callers
        // may list from several threads.
        let dir = rustix::fs::openat(&self.proc, ".", DIR_FLAGS, Mode::empty())
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot list /proc: {e}")))?;
        let mut buffer = [MaybeUninit::uninit(); 16 * 1024];
        let mut entries = RawDir::new(&dir, &mut buffer);
        let mut pids = Vec::new();
        while let Some(entry) = entries.next() {
            let entry =
                entry.map_err(|e| Error::new(ErrorCode::Io, format!("cannot list /proc: {e}")))?;
            if let Some(pid) = parse_decimal(entry.file_name().to_bytes()) {
                pids.push(pid as u32);
            }
        }
        Ok(pids)
    }

    fn socket_inodes(&self, pid: u32, inodes: &mut Vec<u64>) -> Result<(), FdTableError> {
        let fd_dir = rustix::fs::openat(&self.proc, format!("{pid}/fd"), DIR_FLAGS, Mode::empty())
            .map_err(fd_table_error)?;
        let mut buffer = [MaybeUninit::uninit(); 8 * 1024];
        let mut link = [MaybeUninit::<u8>::uninit(); 64];
        let mut entries = RawDir::new(&fd_dir, &mut buffer);
        while let Some(entry) = entries.next() {
            let entry = entry.map_err(fd_table_error)?;
            let name = entry.file_name();
            if name.to_bytes().first() == Some(&b'.') {
                continue;
            }
            match rustix::fs::readlinkat_raw(&fd_dir, name, &mut link) {
                Ok((target, _)) => {
                    if let Some(inode) = socket_inode(target) {
                        inodes.push(inode);
                    }
                }
                // The fd was closed between listing and reading: nothing to report.
                Err(Errno::NOENT) => {}
                Err(e) => return Err(fd_table_error(e)),
            }
        }
        Ok(())
    }

    fn fd_count(&self, pid: u32) -> Option<u64> {
        // Since Linux 6.2 the size of /proc/PID/fd is the number of open fds.
        let stat = rustix::fs::statat(
            &self.proc,
            format!("{pid}/fd"),
            rustix::fs::AtFlags::empty(),
        )
        .ok()?;
        u64::try_from(stat.st_size).ok().filter(|&n| n > 0)
    }

    fn process_name(&self, pid: u32) -> Option<String> {
        let comm = std::fs::read(format!("/proc/{pid}/comm")).ok()?;
        let comm = comm.strip_suffix(b"\n").unwrap_or(&comm);
        Some(String::from_utf8_lossy(comm).into_owned())
    }

    fn user_name(&self, uid: u32) -> Option<String> {
        let mut names = self.user_names.lock().unwrap_or_else(|e| e.into_inner());
        names
            .entry(uid)
            .or_insert_with(|| {
                uzers::get_user_by_uid(uid).map(|u| u.name().to_string_lossy().into_owned())
            })
            .clone()
    }
}

fn fd_table_error(errno: Errno) -> FdTableError {
    match errno {
        Errno::ACCESS | Errno::PERM => FdTableError::Denied,
        _ => FdTableError::Gone,
    }
}

/// `socket:[12345]` → 12345.
fn socket_inode(target: &[u8]) -> Option<u64> {
    parse_decimal(target.strip_prefix(b"socket:[")?.strip_suffix(b"]")?)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_links_give_their_inode() {
        assert_eq!(socket_inode(b"socket:[4026]"), Some(4026));
        assert_eq!(socket_inode(b"pipe:[4026]"), None);
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"socket:[12x]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
    }

    #[test]
    fn our_own_socket_is_found_in_our_fd_table() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let procfs = ProcFs::open().unwrap();
        let mut inodes = Vec::new();
        procfs
            .socket_inodes(std::process::id(), &mut inodes)
            .unwrap();
        let stat = rustix::fs::fstat(&listener).unwrap();
        assert!(
            inodes.contains(&stat.st_ino),
            "{inodes:?} lacks {}",
            stat.st_ino
        );
    }

    #[test]
    fn our_pid_is_listed_and_named() {
        let procfs = ProcFs::open().unwrap();
        assert!(procfs.pids().unwrap().contains(&std::process::id()));
        assert!(procfs.process_name(std::process::id()).is_some());
    }

    #[test]
    fn a_vanished_process_is_gone() {
        let procfs = ProcFs::open().unwrap();
        let mut inodes = Vec::new();
        // pid_max is at most 2^22, so this pid cannot exist.
        assert_eq!(
            procfs.socket_inodes(u32::MAX - 1, &mut inodes),
            Err(FdTableError::Gone)
        );
    }
}
