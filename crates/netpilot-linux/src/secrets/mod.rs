//! Agent-owned secrets at rest: in the user's keyring when a Secret Service runs on the
//! session bus (GNOME Keyring, KWallet…), otherwise in a 0600 file, as NetworkManager keeps
//! its own keyfiles. Secrets are keyed by connection UUID and setting.

mod file;
mod keyring;

pub use file::SecretFile;
pub use keyring::SecretService;

use netpilot_core::{Error, ErrorCode, Secret};

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
            SecretStore::File(file) => {
                let (file, uuid, setting) = (file.clone(), uuid.to_owned(), setting.to_owned());
                off_the_runtime(move || file.load(&uuid, &setting)).await
            }
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
            SecretStore::File(file) => {
                let file = file.clone();
                let (uuid, ssid, setting) =
                    (uuid.to_owned(), ssid.map(str::to_owned), setting.to_owned());
                let secrets = secrets.to_vec();
                off_the_runtime(move || file.save(&uuid, ssid.as_deref(), &setting, &secrets)).await
            }
        }
    }

    /// Forgets every secret of a connection; true if there were any.
    pub async fn delete(&self, uuid: &str) -> Result<bool, Error> {
        match self {
            SecretStore::Keyring(keyring) => keyring.delete(uuid).await,
            SecretStore::File(file) => {
                let (file, uuid) = (file.clone(), uuid.to_owned());
                off_the_runtime(move || file.delete(&uuid)).await
            }
        }
    }
}

/// Runs a file store operation on tokio's blocking pool: a slow disk (an fsync that takes
/// seconds, a home on NFS) or another operation holding the store's lock delays that
/// operation only, never the other tasks of the runtime's thread (the daemon has one).
async fn off_the_runtime<T: Send + 'static>(
    operation: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(operation).await.map_err(|e| {
        Error::new(
            ErrorCode::Io,
            format!("the secret store's task failed: {e}"),
        )
    })?
}

#[cfg(test)]
mod tests;
