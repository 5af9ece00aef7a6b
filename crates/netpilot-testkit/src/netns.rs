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
    let path = format!(
        "/proc/self/task/{}/ns/net",
        rustix::thread::gettid().as_raw_nonzero()
    );
    Ok(rustix::fs::stat(path.as_str())?.st_ino)
}

/// A named namespace (`ip netns add`), for testing `--netns NAME`; deleted on drop.
pub struct NamedNetns {
    pub name: String,
}

impl NamedNetns {
    pub fn create(prefix: &str) -> io::Result<Self> {
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            rustix::thread::gettid().as_raw_nonzero()
        );
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

/// A veth pair from the calling thread's namespace to the namespace of process `peer`,
/// with IPv4 addresses, static neighbours (no ARP) and IPv6 off (no router or multicast
/// chatter), so the only frames on it are the test's own.
pub struct Veth {
    pub local: &'static str,
    pub peer: &'static str,
    pub local_mac: &'static str,
    pub peer_mac: &'static str,
    pub local_ip: &'static str,
    pub peer_ip: &'static str,
}

impl Veth {
    pub const DEFAULT: Veth = Veth {
        local: "np0",
        peer: "np1",
        local_mac: "02:00:00:00:77:01",
        peer_mac: "02:00:00:00:77:02",
        local_ip: "10.77.0.1",
        peer_ip: "10.77.0.2",
    };

    /// The IPv6 addresses [`Veth::connect_dual_stack`] gives the two ends.
    pub const LOCAL_IP6: &'static str = "fd77::1";
    pub const PEER_IP6: &'static str = "fd77::2";

    pub fn connect_to(&self, peer_pid: u32) -> io::Result<()> {
        self.connect(peer_pid, false)
    }

    /// As [`Veth::connect_to`], plus IPv6 addresses ([`Veth::LOCAL_IP6`],
    /// [`Veth::PEER_IP6`]) with static neighbours, no duplicate address detection and no
    /// router solicitations. The kernel still sends an MLD report or two when the link
    /// comes up.
    pub fn connect_dual_stack(&self, peer_pid: u32) -> io::Result<()> {
        self.connect(peer_pid, true)
    }

    fn connect(&self, peer_pid: u32, ipv6: bool) -> io::Result<()> {
        let pid = peer_pid.to_string();
        let in_peer = |args: &[&str]| {
            let mut all = vec!["-t", &pid, "-n"];
            all.extend_from_slice(args);
            run("nsenter", &all)
        };
        let v6 = if ipv6 {
            [
                "-w",
                "net.ipv6.conf.default.accept_dad=0",
                "net.ipv6.conf.default.router_solicitations=0",
            ]
        } else {
            [
                "-w",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ]
        };
        run("sysctl", &v6)?;
        in_peer(&["sysctl", v6[0], v6[1], v6[2]])?;
        ip(&[
            "link",
            "add",
            self.local,
            "address",
            self.local_mac,
            "type",
            "veth",
            "peer",
            "name",
            self.peer,
            "address",
            self.peer_mac,
            "netns",
            &pid,
        ])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/24", self.local_ip),
            "dev",
            self.local,
        ])?;
        ip(&["link", "set", self.local, "up"])?;
        ip(&[
            "neigh",
            "replace",
            self.peer_ip,
            "lladdr",
            self.peer_mac,
            "dev",
            self.local,
            "nud",
            "permanent",
        ])?;
        in_peer(&["ip", "link", "set", "lo", "up"])?;
        in_peer(&[
            "ip",
            "addr",
            "add",
            &format!("{}/24", self.peer_ip),
            "dev",
            self.peer,
        ])?;
        in_peer(&["ip", "link", "set", self.peer, "up"])?;
        in_peer(&[
            "ip",
            "neigh",
            "replace",
            self.local_ip,
            "lladdr",
            self.local_mac,
            "dev",
            self.peer,
            "nud",
            "permanent",
        ])?;
        if ipv6 {
            let (local, peer) = (Self::LOCAL_IP6, Self::PEER_IP6);
            ip(&[
                "-6",
                "addr",
                "add",
                &format!("{local}/64"),
                "dev",
                self.local,
                "nodad",
            ])?;
            ip(&[
                "-6",
                "neigh",
                "replace",
                peer,
                "lladdr",
                self.peer_mac,
                "dev",
                self.local,
                "nud",
                "permanent",
            ])?;
            in_peer(&[
                "ip",
                "-6",
                "addr",
                "add",
                &format!("{peer}/64"),
                "dev",
                self.peer,
                "nodad",
            ])?;
            in_peer(&[
                "ip",
                "-6",
                "neigh",
                "replace",
                local,
                "lladdr",
                self.local_mac,
                "dev",
                self.peer,
                "nud",
                "permanent",
            ])?;
        }
        Ok(())
    }
}
