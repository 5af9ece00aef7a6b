//! The eBPF packet counter: what every local socket sends and receives, per socket
//! cookie, interface and remote end, for every protocol (UDP above all: the kernel keeps
//! no per-socket UDP byte counters). See `bpf/traffic.bpf.c` for the program.
//!
//! The program is attached at the root of the cgroup v2 hierarchy ([`cgroup`]), ingress
//! and egress, through BPF links that only this process holds: when it exits, or is
//! killed, the kernel closes them and the program is detached. Each netpilot process
//! loads its own program and map, so several can count at once.

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

/// The loaded and attached counter; dropping it detaches the program.
pub struct FlowCounter {
    #[cfg(netpilot_bpf)]
    loaded: program::Loaded,
}

impl FlowCounter {
    /// Loads the program and attaches it; the error says why it could not and what to do.
    pub fn start() -> Result<FlowCounter, Error> {
        #[cfg(netpilot_bpf)]
        {
            let root = cgroup::open_root().map_err(cgroup_error)?;
            Ok(FlowCounter {
                loaded: program::Loaded::attach(&root)?,
            })
        }
        #[cfg(not(netpilot_bpf))]
        {
            Err(not_built_in())
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
