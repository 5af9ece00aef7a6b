//! The root of the cgroup v2 hierarchy, where the packet counter is attached: every
//! process is in it or below it, so a program there sees every local socket.

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::os::fd::OwnedFd;

/// Why the cgroup v2 root could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("no cgroup v2 is mounted, and mounting one privately failed: {0}")]
    Mount(Errno),
    #[error("opening the cgroup v2 root {path}: {errno}")]
    Open { path: String, errno: Errno },
}

impl CgroupError {
    pub fn errno(&self) -> Errno {
        match self {
            CgroupError::Mount(errno) | CgroupError::Open { errno, .. } => *errno,
        }
    }
}

/// Opens the cgroup v2 root: a mounted one (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified`
/// on hybrid systems), else a fresh mount made where the host never sees it.
pub fn open_root() -> Result<OwnedFd, CgroupError> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    match mounted_root(&mountinfo) {
        Some(path) => open_dir(&path).map_err(|errno| CgroupError::Open { path, errno }),
        None => mount_privately(),
    }
}

fn open_dir(path: &str) -> Result<OwnedFd, Errno> {
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// The mount point of a cgroup2 mount of the hierarchy's root (as this process's cgroup
/// namespace sees it), from `/proc/self/mountinfo`.
fn mounted_root(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        let mut fields = mount.split(' ');
        let root = fields.nth(3)?;
        let point = fields.next()?;
        (fs.split(' ').next() == Some("cgroup2") && root == "/").then(|| unescape(point))
    })
}

/// mountinfo writes space, tab, newline and backslash as octal escapes (`\040`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mounts cgroup2 in a mount namespace of a helper thread's own, opens its root and lets
/// the mount go: the open directory keeps the cgroup (not the mount) for attaching, and
/// the host's mount table never shows it. The root of any cgroup2 mount holds every
/// process, whether or not a cgroup2 is mounted elsewhere.
pub fn mount_privately() -> Result<OwnedFd, CgroupError> {
    let helper = std::thread::spawn(|| -> Result<OwnedFd, Errno> {
        // SAFETY: unsharing the mount namespace changes only this helper thread's view of
        // the file system (it also gets its own cwd and root, CLONE_FS); no other thread
        // shares its state, and the thread ends right after.
        #[allow(unsafe_code)]
        unsafe {
            rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS)?
        };
        use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
        rustix::mount::mount_change(
            "/",
            MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
        )?;
        let dir = std::env::temp_dir().join(format!(
            "netpilot-cgroup2-{}-{}",
            std::process::id(),
            rustix::thread::gettid().as_raw_nonzero()
        ));
        std::fs::create_dir(&dir).map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::IO))?;
        let opened = rustix::mount::mount("none", &dir, "cgroup2", MountFlags::empty(), None)
            .and_then(|()| {
                let fd = rustix::fs::open(
                    &dir,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                );
                let _ = rustix::mount::unmount(&dir, UnmountFlags::DETACH);
                fd
            });
        let _ = std::fs::remove_dir(&dir);
        opened
    });
    helper
        .join()
        .unwrap_or(Err(Errno::IO))
        .map_err(CgroupError::Mount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cgroup2_root_mount_is_found_on_hybrid_and_unified_systems() {
        let hybrid = "\
25 31 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd";
        assert_eq!(
            mounted_root(hybrid).as_deref(),
            Some("/sys/fs/cgroup/unified")
        );
        let unified = "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw";
        assert_eq!(mounted_root(unified).as_deref(), Some("/sys/fs/cgroup"));
        // A bind mount of a sub-cgroup is not the root; cgroup v1 is no cgroup2.
        let neither = "\
40 1 0:26 /system.slice /mnt/sub rw - cgroup2 cgroup2 rw
41 1 0:27 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu";
        assert_eq!(mounted_root(neither), None);
        let spaced = r"50 1 0:26 / /mnt/my\040cgroup rw - cgroup2 none rw";
        assert_eq!(mounted_root(spaced).as_deref(), Some("/mnt/my cgroup"));
    }
}
