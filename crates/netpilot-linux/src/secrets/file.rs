//! Agent-owned secrets in a JSON file readable by its owner only (0600 in a 0700
//! directory), as NetworkManager keeps its own keyfiles. Keyed by connection UUID.
//!
//! The location: `$NETPILOT_SECRETS_FILE` if set; for root `/var/lib/netpilot/secrets.json`;
//! otherwise `$XDG_DATA_HOME/netpilot/secrets.json` (`~/.local/share/…`).
//!
//! Every operation blocks on the disk (read, fsync, rename): async callers go through
//! [`super::SecretStore`], which runs them on tokio's blocking pool. The file's rules
//! (owner, mode, directory) and its atomic replacement are [`crate::private_file`]'s.

use crate::private_file;
use netpilot_core::{Error, ErrorCode, Secret};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use zeroize::{Zeroize, Zeroizing};

/// How the store names itself in messages.
const WHAT: &str = "the secret store";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    ssid: Option<String>,
    setting: String,
    /// The only place secrets are plain strings: on their way to and from disk.
    secrets: BTreeMap<String, String>,
}

impl Drop for Stored {
    fn drop(&mut self) {
        for value in self.secrets.values_mut() {
            value.zeroize();
        }
    }
}

/// The store at one path. Clones share one lock: a read-modify-write (save, delete) never
/// interleaves with another, now that they run on several blocking threads.
#[derive(Clone)]
pub struct SecretFile {
    path: PathBuf,
    lock: Arc<Mutex<()>>,
}

impl SecretFile {
    pub fn default_location() -> Self {
        let path = match std::env::var_os("NETPILOT_SECRETS_FILE") {
            Some(path) => PathBuf::from(path),
            None if rustix::process::geteuid().is_root() => {
                PathBuf::from("/var/lib/netpilot/secrets.json")
            }
            None => {
                let data = std::env::var_os("XDG_DATA_HOME")
                    .map(PathBuf::from)
                    .or_else(|| {
                        std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share"))
                    })
                    .unwrap_or_else(|| PathBuf::from("."));
                data.join("netpilot/secrets.json")
            }
        };
        Self::at(path)
    }

    pub fn at(path: impl Into<PathBuf>) -> Self {
        SecretFile {
            path: path.into(),
            lock: Arc::new(Mutex::new(())),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file (if there is one) and its directory follow the rules of
    /// [`private_file`]: the daemon checks this before it starts.
    pub fn check(&self) -> Result<(), Error> {
        private_file::check(&self.path, WHAT)
    }

    /// The secrets of `setting` saved for the connection `uuid`.
    pub fn load(&self, uuid: &str, setting: &str) -> Result<Vec<(String, Secret)>, Error> {
        let _held = self.hold();
        let mut all = self.read()?;
        let Some(mut stored) = all.remove(uuid).filter(|stored| stored.setting == setting) else {
            return Ok(Vec::new());
        };
        Ok(std::mem::take(&mut stored.secrets)
            .into_iter()
            .map(|(k, v)| (k, Secret::new(v)))
            .collect())
    }

    pub fn save(
        &self,
        uuid: &str,
        ssid: Option<&str>,
        setting: &str,
        secrets: &[(String, Secret)],
    ) -> Result<(), Error> {
        let _held = self.hold();
        let mut all = self.read()?;
        let stored = Stored {
            ssid: ssid.map(str::to_owned),
            setting: setting.to_string(),
            secrets: secrets
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string()))
                .collect(),
        };
        all.insert(uuid.to_string(), stored);
        self.write(&all)
    }

    /// Forgets the secrets of one connection; true if there were any.
    pub fn delete(&self, uuid: &str) -> Result<bool, Error> {
        let _held = self.hold();
        let mut all = self.read()?;
        let removed = all.remove(uuid).is_some();
        if removed {
            self.write(&all)?;
        }
        Ok(removed)
    }

    /// The store's lock, held for a whole operation (a panic in one leaves nothing
    /// half-done on disk, so a poisoned lock is taken as it is).
    pub(crate) fn hold(&self) -> MutexGuard<'_, ()> {
        self.lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read(&self) -> Result<BTreeMap<String, Stored>, Error> {
        let Some(bytes) = private_file::read(&self.path, WHAT)? else {
            return Ok(BTreeMap::new());
        };
        serde_json::from_slice(&bytes).map_err(|e| {
            // Never echo the file: it holds secrets.
            Error::new(
                ErrorCode::Io,
                format!(
                    "{} is not a valid secret store ({})",
                    self.path.display(),
                    e.classify_name()
                ),
            )
            .with_hint("move it away; netpilot will start a new one")
        })
    }

    /// Replaces the whole store at once (see [`private_file::write`]): a crash leaves the
    /// old store or the new one, never half of one.
    fn write(&self, all: &BTreeMap<String, Stored>) -> Result<(), Error> {
        let json = Zeroizing::new(
            serde_json::to_vec_pretty(all).map_err(|e| Error::new(ErrorCode::Io, e.to_string()))?,
        );
        private_file::write(&self.path, &json, WHAT)
    }
}

trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "bad JSON",
            serde_json::error::Category::Data => "unexpected content",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn store() -> (SecretFile, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "np-secrets-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        (SecretFile::at(dir.join("netpilot/secrets.json")), dir)
    }

    #[test]
    fn secrets_round_trip_by_uuid_and_setting_in_a_private_file() {
        let (file, dir) = store();
        let psk = vec![("psk".to_string(), Secret::new("home-secret-1"))];
        file.save("uuid-1", Some("np-home"), "802-11-wireless-security", &psk)
            .unwrap();
        assert_eq!(
            file.load("uuid-1", "802-11-wireless-security").unwrap(),
            psk
        );
        assert!(file.load("uuid-1", "802-1x").unwrap().is_empty());
        assert!(
            file.load("uuid-2", "802-11-wireless-security")
                .unwrap()
                .is_empty()
        );
        let mode = std::fs::metadata(file.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(file.path().parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        assert!(file.delete("uuid-1").unwrap());
        assert!(!file.delete("uuid-1").unwrap());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_corrupt_store_is_an_error_that_does_not_echo_its_content() {
        let (file, dir) = store();
        std::fs::create_dir_all(file.path().parent().unwrap()).unwrap();
        std::fs::write(
            file.path(),
            "{\"uuid\": {\"secrets\": {\"psk\": \"leaky-secret\"",
        )
        .unwrap();
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        let error = file.load("uuid", "802-11-wireless-security").unwrap_err();
        assert!(!error.message.contains("leaky-secret"), "{}", error.message);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_store_others_may_read_is_refused_unread() {
        let (file, dir) = store();
        let psk = vec![("psk".to_string(), Secret::new("home-secret-1"))];
        file.save("uuid-1", None, "802-11-wireless-security", &psk)
            .unwrap();
        std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        for error in [
            file.check().unwrap_err(),
            file.load("uuid-1", "802-11-wireless-security").unwrap_err(),
            file.save("uuid-2", None, "802-11-wireless-security", &psk)
                .unwrap_err(),
            file.delete("uuid-1").unwrap_err(),
        ] {
            assert_eq!(error.code, ErrorCode::PermissionDenied);
            assert!(
                error.message.starts_with("the secret store "),
                "{}",
                error.message
            );
            assert_eq!(
                error.hint,
                Some(format!("chmod 600 {}", file.path().display()))
            );
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
