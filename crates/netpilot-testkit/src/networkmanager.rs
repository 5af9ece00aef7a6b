//! A real NetworkManager for tests, without a VM: inside network, mount and pid
//! namespaces of its own, on a private D-Bus bus, so it sees only the links a test moves
//! into it and never this machine's eth0. /sys is remounted read-only there, which tells
//! NetworkManager not to wait for udev.

use crate::bus::PrivateBus;
use std::io;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NetworkManager {
    dir: PathBuf,
    /// Held for its lifetime; dropped (stopped) after the daemons above it.
    _bus: PrivateBus,
    /// `unshare`, which sits in NetworkManager's network and mount namespaces.
    namespaces: Child,
    pub bus_address: String,
}

const INNER: &str = r#"set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/NetworkManager /run/np-nm/connections /run/wpa_supplicant /var/lib/NetworkManager
mount -t tmpfs tmpfs /var/lib/NetworkManager
mount -t sysfs -o ro sysfs /sys
: > "$NP_DIR/resolv.conf"
mount --bind "$NP_DIR/resolv.conf" /etc/resolv.conf
ip link set lo up
wpa_supplicant -u -f "$NP_DIR/wpa_supplicant.log" &
exec NetworkManager --config="$NP_DIR/NetworkManager.conf" --config-dir="$NP_DIR/conf.d" --no-daemon
"#;

// dns=none: it must never write this machine's /etc/resolv.conf (a test that gets a DHCP
// lease would leave the host without DNS); INNER also gives it a private copy.
const CONFIG: &str = "[main]
plugins=keyfile
no-auto-default=*
auth-polkit=false
dns=none
rc-manager=unmanaged
[keyfile]
path=/run/np-nm/connections
[connectivity]
enabled=false
";

impl NetworkManager {
    /// Starts a bus and NetworkManager on it; returns once NetworkManager owns its name.
    pub fn start(tag: &str) -> io::Result<NetworkManager> {
        let dir = std::env::temp_dir().join(format!("np-nm-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("conf.d"))?;
        std::fs::write(dir.join("NetworkManager.conf"), CONFIG)?;
        let bus = PrivateBus::start(&dir)?;
        let address = bus.address.clone();
        let namespaces = Command::new("unshare")
            .args([
                "--net",
                "--mount",
                "--pid",
                "--fork",
                "--kill-child",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                INNER,
            ])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .env("NP_DIR", &dir)
            .stdout(Stdio::from(std::fs::File::create(
                dir.join("NetworkManager.log"),
            )?))
            .stderr(Stdio::from(std::fs::File::create(
                dir.join("NetworkManager.err"),
            )?))
            .spawn()?;
        let nm = NetworkManager {
            dir,
            _bus: bus,
            namespaces,
            bus_address: address,
        };
        nm.wait_for_name()?;
        Ok(nm)
    }

    /// The pid to move links into its network namespace with (`ip link set … netns PID`).
    pub fn pid(&self) -> u32 {
        self.namespaces.id()
    }

    /// A file as NetworkManager sees it (its /run is a tmpfs of its own).
    pub fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        std::fs::read(format!("/proc/{}/root{path}", self.pid()))
    }

    pub fn files(&self, dir: &str) -> io::Result<Vec<PathBuf>> {
        let root = PathBuf::from(format!("/proc/{}/root{dir}", self.pid()));
        Ok(std::fs::read_dir(root)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect())
    }

    /// The logs, for a failing test to show.
    pub fn logs(&self) -> String {
        ["NetworkManager.err", "wpa_supplicant.log"]
            .iter()
            .map(|name| {
                format!(
                    "--- {name}\n{}",
                    std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
                )
            })
            .collect()
    }

    fn wait_for_name(&self) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let owner = Command::new("dbus-send")
                .args([
                    "--system",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.NetworkManager",
                ])
                .env("DBUS_SYSTEM_BUS_ADDRESS", &self.bus_address)
                .output()?;
            if String::from_utf8_lossy(&owner.stdout).contains("boolean true") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "NetworkManager did not start:\n{}",
                    self.logs()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for NetworkManager {
    fn drop(&mut self) {
        // --kill-child: NetworkManager is pid 1 of its pid namespace, so wpa_supplicant
        // goes with it.
        let _ = self.namespaces.kill();
        let _ = self.namespaces.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
