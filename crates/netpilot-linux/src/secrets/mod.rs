//! Agent-owned secrets at rest: in the user's keyring when a Secret Service runs on the
//! session bus (GNOME Keyring, KWallet…), otherwise in a 0600 file, as NetworkManager keeps
//! its own keyfiles. Secrets are keyed by connection UUID and setting.

mod file;
mod keyring;

pub use file::SecretFile;
pub use keyring::SecretService;

use netpilot_core::{Error, Secret};

pub enum SecretStore {
    Keyring(SecretService),
    File(SecretFile),
}

impl SecretStore {
    /// The user's keyring if one answers on the session bus, else the file store
    /// (`$NETPILOT_SECRETS_FILE`, which also forces the file).
    pub async fn open() -> SecretStore {
        if std::env::var_os("NETPILOT_SECRETS_FILE").is_none()
            && let Some(keyring) = SecretService::on_session_bus().await
        {
            return SecretStore::Keyring(keyring);
        }
        SecretStore::File(SecretFile::default_location())
    }

    /// Where secrets go, for messages.
    pub fn describe(&self) -> String {
        match self {
            SecretStore::Keyring(_) => "the keyring (Secret Service)".to_string(),
            SecretStore::File(file) => file.path().display().to_string(),
        }
    }

    pub async fn load(&self, uuid: &str, setting: &str) -> Result<Vec<(String, Secret)>, Error> {
        match self {
            SecretStore::Keyring(keyring) => keyring.load(uuid, setting).await,
            SecretStore::File(file) => file.load(uuid, setting),
        }
    }

    pub async fn save(
        &self,
        uuid: &str,
        ssid: Option<&str>,
        setting: &str,
        secrets: &[(String, Secret)],
    ) -> Result<(), Error> {
        match self {
            SecretStore::Keyring(keyring) => keyring.save(uuid, ssid, setting, secrets).await,
            SecretStore::File(file) => file.save(uuid, ssid, setting, secrets),
        }
    }

    /// Forgets every secret of a connection; true if there were any.
    pub async fn delete(&self, uuid: &str) -> Result<bool, Error> {
        match self {
            SecretStore::Keyring(keyring) => keyring.delete(uuid).await,
            SecretStore::File(file) => file.delete(uuid),
        }
    }
}
