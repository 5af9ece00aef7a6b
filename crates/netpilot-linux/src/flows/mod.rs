//! The eBPF packet counter: what every local socket sends and receives, per socket
//! cookie, interface and remote end, for every protocol (UDP above all: the kernel keeps
//! no per-socket UDP byte counters). See `bpf/traffic.bpf.c` for the program.
//!
//! The program is attached at the root of the cgroup v2 hierarchy ([`cgroup`]), ingress
//! and egress, through BPF links that only this process holds: when it exits, or is
//! killed, the kernel closes them and the program is detached. Each netpilot process
//! loads its own program and map, so several can count at once.

#[cfg_attr(not(netpilot_bpf), allow(dead_code))]
mod cgroup;
#[cfg(netpilot_bpf)]
mod program;

pub use cgroup::CgroupError;

use netpilot_core::ports::FlowSource;
use netpilot_core::{Error, ErrorCode, Flow, FlowKey};

/// Whether this netpilot was built with the counter (clang was found at build time).
pub const BUILT_IN: bool = cfg!(netpilot_bpf);

/// The fix for missing privileges, in one place for every message that needs it.
pub const PRIVILEGE_HINT: &str = "run as root, or grant the binary the capabilities: sudo setcap \
     cap_bpf,cap_perfmon,cap_net_admin,cap_sys_admin,cap_sys_ptrace,cap_dac_read_search+ep \
     $(command -v netpilot)";

/// How [`FlowCounter::start_with`] starts.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Start {
    pub private_mount: bool,
    pub every_namespace: bool,
}

/// The loaded and attached counter; dropping it detaches the program.
pub struct FlowCounter {
    #[cfg(netpilot_bpf)]
    loaded: program::Loaded,
}

impl FlowCounter {
    /// Loads the program and attaches it; the error says why it could not and what to do.
    pub fn start() -> Result<FlowCounter, Error> {
        Self::start_with(Start::default())
    }

    /// [`FlowCounter::start`] along a path this machine would not take by itself, for the
    /// kernel tests: a private cgroup2 mount though one is mounted, or the program for
    /// kernels without the namespace filter.
    #[doc(hidden)]
    pub fn start_with(how: Start) -> Result<FlowCounter, Error> {
        #[cfg(netpilot_bpf)]
        {
            let root = if how.private_mount {
                cgroup::mount_privately()
            } else {
                cgroup::open_root()
            }
            .map_err(cgroup_error)?;
            Ok(FlowCounter {
                loaded: program::Loaded::attach(&root, how.every_namespace)?,
            })
        }
        #[cfg(not(netpilot_bpf))]
        {
            let _ = how;
            Err(not_built_in())
        }
    }

    /// Whether only this network namespace's packets are counted (kernels ≥ 6.14); on
    /// older kernels every namespace's sockets are counted and only known cookies count.
    pub fn this_namespace_only(&self) -> bool {
        #[cfg(netpilot_bpf)]
        {
            self.loaded.this_namespace_only
        }
        #[cfg(not(netpilot_bpf))]
        {
            false
        }
    }

    /// The kernel's id of each attached program (ingress, egress), as `bpftool` shows
    /// them.
    pub fn program_ids(&self) -> Vec<u32> {
        #[cfg(netpilot_bpf)]
        {
            self.loaded.program_ids()
        }
        #[cfg(not(netpilot_bpf))]
        {
            Vec::new()
        }
    }
}

/// The cookie of the calling thread's network namespace (`SO_NETNS_COOKIE`, Linux 5.14),
/// from a socket opened for the purpose.
#[cfg_attr(not(netpilot_bpf), allow(dead_code))]
fn netns_cookie() -> std::io::Result<u64> {
    use std::os::fd::AsRawFd;
    const SO_NETNS_COOKIE: i32 = 71;
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")
        .or_else(|_| std::net::UdpSocket::bind("[::1]:0"))?;
    let mut cookie = 0u64;
    let mut length = std::mem::size_of::<u64>() as aya_libc::socklen_t;
    // SAFETY: getsockopt writes at most `length` bytes into `cookie`, a u64 of that size,
    // and the fd is a socket we own for the duration of the call.
    #[allow(unsafe_code)]
    let status = unsafe {
        aya_libc::getsockopt(
            socket.as_raw_fd(),
            aya_libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&raw mut cookie).cast(),
            &mut length,
        )
    };
    if status != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(cookie)
}

/// The error of a netpilot built without clang.
pub fn not_built_in() -> Error {
    Error::new(
        ErrorCode::Unsupported,
        "UDP bytes are not measured: this netpilot was built without its eBPF packet counter \
         (clang was not found at build time)",
    )
    .with_hint("install clang (apt install clang) and rebuild netpilot")
}

#[cfg_attr(not(netpilot_bpf), allow(dead_code))]
fn cgroup_error(error: CgroupError) -> Error {
    use rustix::io::Errno;
    match error.errno() {
        Errno::PERM | Errno::ACCESS => Error::new(
            ErrorCode::PermissionDenied,
            format!("UDP bytes are not measured: {error}"),
        )
        .with_hint(PRIVILEGE_HINT),
        Errno::NODEV => Error::new(
            ErrorCode::Unsupported,
            "UDP bytes are not measured: this kernel has no cgroup v2 (CONFIG_CGROUPS), where \
             the packet counter attaches",
        )
        .with_hint("use a kernel built with cgroup v2 and CONFIG_CGROUP_BPF"),
        _ => Error::new(
            ErrorCode::Io,
            format!("UDP bytes are not measured: {error}"),
        ),
    }
}

impl FlowSource for FlowCounter {
    fn flows(&mut self) -> Result<Vec<Flow>, Error> {
        #[cfg(netpilot_bpf)]
        {
            self.loaded.flows()
        }
        #[cfg(not(netpilot_bpf))]
        {
            Ok(Vec::new())
        }
    }

    fn forget(&mut self, flows: &[FlowKey]) {
        #[cfg(netpilot_bpf)]
        self.loaded.forget(flows);
        #[cfg(not(netpilot_bpf))]
        let _ = flows;
    }

    fn this_namespace_only(&self) -> bool {
        FlowCounter::this_namespace_only(self)
    }

    fn missed(&mut self) -> u64 {
        #[cfg(netpilot_bpf)]
        {
            self.loaded.missed()
        }
        #[cfg(not(netpilot_bpf))]
        {
            0
        }
    }
}
