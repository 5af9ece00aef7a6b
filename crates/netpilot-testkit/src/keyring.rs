//! A real Secret Service for tests: GNOME Keyring, unlocked, on a private session bus.

use crate::bus::PrivateBus;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Keyring {
    dir: PathBuf,
    /// Held for its lifetime; dropped (stopped) after the daemons above it.
    _bus: PrivateBus,
    daemon: Child,
    pub bus_address: String,
}

impl Keyring {
    pub fn start(tag: &str) -> io::Result<Keyring> {
        let dir = std::env::temp_dir().join(format!("np-keyring-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let bus = PrivateBus::start(&dir)?;
        let address = bus.address.clone();
        // --unlock reads the login keyring's password from stdin and creates the keyring.
        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--components=secrets", "--unlock"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("HOME", &dir)
            .env("XDG_RUNTIME_DIR", &dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(
                dir.join("gnome-keyring.log"),
            )?))
            .spawn()?;
        let mut stdin = daemon.stdin.take().expect("piped");
        stdin.write_all(b"np-keyring-test")?;
        drop(stdin);
        let keyring = Keyring {
            dir,
            _bus: bus,
            daemon,
            bus_address: address,
        };
        keyring.wait()?;
        Ok(keyring)
    }

    fn wait(&self) -> io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let reply = Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.secrets",
                    "/org/freedesktop/secrets",
                ])
                .args(["org.freedesktop.Secret.Service.ReadAlias", "string:default"])
                .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
                .output()?;
            if String::from_utf8_lossy(&reply.stdout).contains("/collection/") {
                return Ok(());
            }
            if Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(self.dir.join("gnome-keyring.log")).unwrap_or_default();
                return Err(io::Error::other(format!(
                    "gnome-keyring-daemon did not come up with a default collection:\n{log}"
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
