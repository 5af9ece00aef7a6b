//! Agent-owned secrets in a JSON file readable by its owner only (0600 in a 0700
//! directory), as NetworkManager keeps its own keyfiles. Keyed by connection UUID.
//!
//! The location: `$NETPILOT_SECRETS_FILE` if set; for root `/var/lib/netpilot/secrets.json`;
//! otherwise `$XDG_DATA_HOME/netpilot/secrets.json` (`~/.local/share/…`).

use netpilot_core::{Error, ErrorCode, Secret};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    ssid: Option<String>,
    setting: String,
    /// The only place secrets are plain strings: on their way to and from disk.
    secrets: BTreeMap<String, String>,
}

pub struct SecretFile {
    path: PathBuf,
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
        SecretFile { path }
    }

    pub fn at(path: impl Into<PathBuf>) -> Self {
        SecretFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The secrets of `setting` saved for the connection `uuid`.
    pub fn load(&self, uuid: &str, setting: &str) -> Result<Vec<(String, Secret)>, Error> {
        Ok(self
            .read()?
            .remove(uuid)
            .filter(|stored| stored.setting == setting)
            .map(|stored| {
                stored
                    .secrets
                    .into_iter()
                    .map(|(k, v)| (k, Secret::new(v)))
                    .collect()
            })
            .unwrap_or_default())
    }

    pub fn save(
        &self,
        uuid: &str,
        ssid: Option<&str>,
        setting: &str,
        secrets: &[(String, Secret)],
    ) -> Result<(), Error> {
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
        let mut all = self.read()?;
        let removed = all.remove(uuid).is_some();
        if removed {
            self.write(&all)?;
        }
        Ok(removed)
    }

    fn read(&self) -> Result<BTreeMap<String, Stored>, Error> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
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
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(io_error(&self.path, &e)),
        }
    }

    /// Writes to a temporary file created 0600 and renames it over the store, so a crash
    /// leaves the old store or the new one, never half of one.
    fn write(&self, all: &BTreeMap<String, Stored>) -> Result<(), Error> {
        if let Some(dir) = self.path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| io_error(dir, &e))?;
        }
        let temporary = self.path.with_extension("json.new");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .map_err(|e| io_error(&temporary, &e))?;
        let json =
            serde_json::to_vec_pretty(all).map_err(|e| Error::new(ErrorCode::Io, e.to_string()))?;
        file.write_all(&json)
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error(&temporary, &e))?;
        std::fs::rename(&temporary, &self.path).map_err(|e| io_error(&self.path, &e))
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

fn io_error(path: &Path, error: &std::io::Error) -> Error {
    let code = if error.kind() == std::io::ErrorKind::PermissionDenied {
        ErrorCode::PermissionDenied
    } else {
        ErrorCode::Io
    };
    Error::new(code, format!("secret store {}: {error}", path.display()))
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
        let error = file.load("uuid", "802-11-wireless-security").unwrap_err();
        assert!(!error.message.contains("leaky-secret"), "{}", error.message);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
