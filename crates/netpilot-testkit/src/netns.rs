//! Network namespaces for tests, in netavark's manner: the test's own thread moves into a
//! fresh namespace, so tests run in parallel, may use fixed names, and leave nothing on
//! the host. Processes spawned from that thread start inside it.

use std::io;
use std::process::Command;

/// Moves the calling thread into a new, empty network namespace with `lo` up.
pub fn enter_fresh() -> io::Result<()> {
    // SAFETY: CLONE_NEWNET only changes this thread's network namespace; it shares no
    // memory or file table state that other threads could observe half-changed.
    #[allow(unsafe_code)]
    unsafe {
        rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNET)?
    };
    ip(&["link", "set", "lo", "up"])
}

/// Runs `ip ARGS` in the calling thread's namespace.
pub fn ip(args: &[&str]) -> io::Result<()> {
    run("ip", args)
}

/// Runs a command to completion, failing with its stderr if it fails.
pub fn run(program: &str, args: &[&str]) -> io::Result<()> {
    let output = Command::new(program).args(args).output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// The inode of this thread's network namespace, to tell namespaces apart.
pub fn current_id() -> io::Result<u64> {
    let path = format!("/proc/self/task/{}/ns/net", rustix::thread::gettid().as_raw_nonzero());
    Ok(rustix::fs::stat(path.as_str())?.st_ino)
}

/// A named namespace (`ip netns add`), for testing `--netns NAME`; deleted on drop.
pub struct NamedNetns {
    pub name: String,
}

impl NamedNetns {
    pub fn create(prefix: &str) -> io::Result<Self> {
        let name = format!("{prefix}-{}-{}", std::process::id(), rustix::thread::gettid().as_raw_nonzero());
        run("ip", &["netns", "add", &name])?;
        run("ip", &["-n", &name, "link", "set", "lo", "up"])?;
        Ok(NamedNetns { name })
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "delete", &self.name]);
    }
}
