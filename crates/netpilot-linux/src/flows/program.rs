//! Loading `bpf/traffic.bpf.c` (compiled by build.rs) with aya, and reading its map.

use super::PRIVILEGE_HINT;
use aya::maps::{MapData, PerCpuArray, PerCpuHashMap};
use aya::programs::{CgroupAttachMode, CgroupSkb, CgroupSkbAttachType};
use netpilot_core::{Error, ErrorCode, Flow, FlowCounters, FlowKey};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;

/// The compiled program; aligned, as the ELF parser reads its headers in place.
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/traffic.bpf.o"));
/// The same without the namespace filter, for kernels before 6.14 (their cgroup_skb
/// programs may not call bpf_get_netns_cookie).
static OBJECT_ALL_NAMESPACES: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/traffic-all-namespaces.bpf.o"));

const PROGRAMS: [(&str, CgroupSkbAttachType); 2] = [
    ("netpilot_ingress", CgroupSkbAttachType::Ingress),
    ("netpilot_egress", CgroupSkbAttachType::Egress),
];

/// `struct key` of the C program.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct RawKey {
    cookie: u64,
    ifindex: u32,
    remote_port: u16,
    protocol: u8,
    pad: u8,
    remote: [u8; 16],
}

/// `struct counters` of the C program.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
struct RawCounters {
    rx_payload: u64,
    rx_packets: u64,
    rx_wire: u64,
    tx_payload: u64,
    tx_packets: u64,
    tx_wire: u64,
}

// SAFETY: both are repr(C) structs of integers with no padding (the C side names its
// padding byte), so every bit pattern is a valid value, as aya's Pod requires.
#[allow(unsafe_code)]
unsafe impl aya::Pod for RawKey {}
#[allow(unsafe_code)]
unsafe impl aya::Pod for RawCounters {}

pub struct Loaded {
    /// Owns the programs and their links: dropping it detaches them.
    ebpf: aya::Ebpf,
    /// Whether only this network namespace's packets are counted.
    pub this_namespace_only: bool,
    flows: PerCpuHashMap<MapData, RawKey, RawCounters>,
    missed: PerCpuArray<MapData, u64>,
}

impl Loaded {
    /// Loads the namespace-filtering program, or on a kernel that refuses it
    /// (or when asked to: `every_namespace`) the other.
    pub fn attach(cgroup_root: &OwnedFd, every_namespace: bool) -> Result<Loaded, Error> {
        if every_namespace {
            return Self::attach_object(cgroup_root, OBJECT_ALL_NAMESPACES, None);
        }
        let netns = super::netns_cookie().map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("reading the namespace's cookie: {e}"),
            )
        })?;
        match Self::attach_object(cgroup_root, OBJECT, Some(netns)) {
            Err(e) if e.code == ErrorCode::Unsupported && e.message.contains("loading") => {
                tracing::debug!(error = %e.message, "namespace filter refused; counting every namespace");
                Self::attach_object(cgroup_root, OBJECT_ALL_NAMESPACES, None)
            }
            other => other,
        }
    }

    fn attach_object(
        cgroup_root: &OwnedFd,
        object: &[u8],
        netns: Option<u64>,
    ) -> Result<Loaded, Error> {
        let mut loader = aya::EbpfLoader::new();
        if let Some(cookie) = &netns {
            // A read-only global: the verifier sees a constant, the packet path no lookup.
            loader.set_global("counted_netns", cookie, true);
        }
        let mut ebpf = loader
            .load(object)
            .map_err(|e| refused("creating its maps", &e))?;
        for (name, attach_type) in PROGRAMS {
            let program: &mut CgroupSkb = ebpf
                .program_mut(name)
                .ok_or_else(|| missing(name))?
                .try_into()
                .map_err(|e| refused("loading it", &e))?;
            program.load().map_err(|e| refused("loading it", &e))?;
            // aya makes a BPF link (kernels ≥ 5.7), not the legacy attach: the kernel
            // detaches a link when its last fd closes, so nothing outlives this process,
            // and links always coexist on a cgroup (several netpilots, other tools). A
            // link takes no attach flags (the kernel answers EINVAL to ALLOW_MULTI):
            // `Single` passes none.
            program
                .attach(cgroup_root, attach_type, CgroupAttachMode::Single)
                .map_err(|e| refused("attaching it to the cgroup v2 root", &e))?;
        }
        let flows = ebpf.take_map("flows").ok_or_else(|| missing("flows"))?;
        let missed = ebpf.take_map("missed").ok_or_else(|| missing("missed"))?;
        Ok(Loaded {
            flows: PerCpuHashMap::try_from(flows).map_err(|e| refused("opening its map", &e))?,
            missed: PerCpuArray::try_from(missed).map_err(|e| refused("opening its map", &e))?,
            ebpf,
            this_namespace_only: netns.is_some(),
        })
    }

    pub fn program_ids(&self) -> Vec<u32> {
        PROGRAMS
            .iter()
            .filter_map(|(name, _)| {
                let program: &CgroupSkb = self.ebpf.program(name)?.try_into().ok()?;
                program.info().ok().map(|info| info.id())
            })
            .collect()
    }

    pub fn flows(&mut self) -> Result<Vec<Flow>, Error> {
        let mut flows = Vec::new();
        for entry in self.flows.iter() {
            let (key, per_cpu) = match entry {
                Ok(entry) => entry,
                // Only netpilot deletes entries, never while it iterates; a failure here
                // is the kernel's, and the next read starts over.
                Err(e) => {
                    return Err(Error::new(
                        ErrorCode::Io,
                        format!("reading the packet counter's map: {e}"),
                    ));
                }
            };
            let mut counters = FlowCounters::default();
            for c in per_cpu.iter() {
                counters.add(&FlowCounters {
                    rx_payload: c.rx_payload,
                    rx_packets: c.rx_packets,
                    rx_wire: c.rx_wire,
                    tx_payload: c.tx_payload,
                    tx_packets: c.tx_packets,
                    tx_wire: c.tx_wire,
                });
            }
            flows.push(Flow {
                key: key_from(&key),
                counters,
            });
        }
        Ok(flows)
    }

    pub fn forget(&mut self, keys: &[FlowKey]) {
        for key in keys {
            // Already gone is fine: the goal is that it is gone.
            let _ = self.flows.remove(&raw_key(key));
        }
    }

    pub fn missed(&self) -> u64 {
        self.missed
            .get(&0, 0)
            .map(|per_cpu| per_cpu.iter().sum())
            .unwrap_or(0)
    }
}

fn key_from(raw: &RawKey) -> FlowKey {
    FlowKey {
        cookie: raw.cookie,
        ifindex: raw.ifindex,
        ip_protocol: raw.protocol,
        remote: SocketAddr::new(
            IpAddr::V6(Ipv6Addr::from(raw.remote)).to_canonical(),
            raw.remote_port,
        ),
    }
}

fn raw_key(key: &FlowKey) -> RawKey {
    let remote = match key.remote.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    };
    RawKey {
        cookie: key.cookie,
        ifindex: key.ifindex,
        remote_port: key.remote.port(),
        protocol: key.ip_protocol,
        pad: 0,
        remote: remote.octets(),
    }
}

fn missing(name: &str) -> Error {
    Error::new(
        ErrorCode::Protocol,
        format!("the packet counter's object has no {name} (a build problem)"),
    )
}

/// The errno somewhere in an aya error's chain of sources.
fn errno_of(error: &(dyn std::error::Error + 'static)) -> Option<i32> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(errno) = io.raw_os_error()
        {
            return Some(errno);
        }
        next = e.source();
    }
    None
}

/// An error with its sources, `a: b: c`.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        text.push_str(": ");
        text.push_str(&e.to_string());
        next = e.source();
    }
    text
}

/// What to tell a user whose kernel refused `stage` of starting the counter.
fn refused(stage: &str, error: &(dyn std::error::Error + 'static)) -> Error {
    use rustix::io::Errno;
    let described = chain(error);
    let errno = errno_of(error).map(Errno::from_raw_os_error);
    let verifier = matches!(
        error.downcast_ref::<aya::programs::ProgramError>(),
        Some(aya::programs::ProgramError::LoadError { .. })
    );
    match errno {
        Some(Errno::PERM) | Some(Errno::ACCESS) if !verifier => Error::new(
            ErrorCode::PermissionDenied,
            format!(
                "UDP bytes are not measured: the kernel refused {stage}, the eBPF packet \
                 counter (it needs root, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN)"
            ),
        )
        .with_hint(PRIVILEGE_HINT),
        Some(Errno::INVAL | Errno::OPNOTSUPP | Errno::NOSYS) if stage.starts_with("attach") => {
            Error::new(
                ErrorCode::Unsupported,
                format!(
                    "UDP bytes are not measured: this kernel cannot attach eBPF programs to \
                     cgroups ({described})"
                ),
            )
            .with_hint("use a kernel built with CONFIG_CGROUP_BPF and CONFIG_BPF_SYSCALL")
        }
        Some(Errno::NOSYS) => Error::new(
            ErrorCode::Unsupported,
            "UDP bytes are not measured: this kernel has no eBPF (CONFIG_BPF_SYSCALL)",
        )
        .with_hint("use a kernel built with CONFIG_BPF_SYSCALL and CONFIG_CGROUP_BPF"),
        _ => {
            // The verifier's log is long; its last lines say what it refused.
            let text = described;
            let tail: Vec<&str> = text.lines().rev().take(3).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Error::new(
                ErrorCode::Unsupported,
                format!(
                    "UDP bytes are not measured: the kernel refused {stage}, the eBPF packet \
                     counter: {}",
                    tail.join(" / ")
                ),
            )
            .with_hint("report this with `uname -r`; TCP bytes are still exact")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_the_kernel_layout() {
        for remote in ["10.77.0.2:53", "[fd00::2]:443", "192.0.2.1:0"] {
            let key = FlowKey {
                cookie: 42,
                ifindex: 3,
                ip_protocol: 17,
                remote: remote.parse().unwrap(),
            };
            assert_eq!(key_from(&raw_key(&key)), key, "{remote}");
        }
        assert_eq!(std::mem::size_of::<RawKey>(), 32, "the C struct key");
        assert_eq!(
            std::mem::size_of::<RawCounters>(),
            48,
            "the C struct counters"
        );
    }
}
