//! The freedesktop Secret Service (https://specifications.freedesktop.org/secret-service/)
//! over zbus: one item per secret field, in the default collection, found by attributes.
//! The session uses the "plain" algorithm: the bus to the keyring is local to the user.

use netpilot_core::{Error, ErrorCode, Secret};
use std::collections::HashMap;
use zbus::proxy;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};

const SCHEMA: &str = "dev.netpilot.Secret";

/// A secret as the Secret Service carries it: (session, parameters, value, content type).
type WireSecret = (OwnedObjectPath, Vec<u8>, Vec<u8>, String);

#[proxy(
    interface = "org.freedesktop.Secret.Service",
    default_service = "org.freedesktop.secrets",
    default_path = "/org/freedesktop/secrets"
)]
trait Service {
    fn open_session(
        &self,
        algorithm: &str,
        input: &Value<'_>,
    ) -> zbus::Result<(OwnedValue, OwnedObjectPath)>;
    fn search_items(
        &self,
        attributes: HashMap<&str, &str>,
    ) -> zbus::Result<(Vec<OwnedObjectPath>, Vec<OwnedObjectPath>)>;
    fn get_secrets(
        &self,
        items: &[OwnedObjectPath],
        session: &ObjectPath<'_>,
    ) -> zbus::Result<HashMap<OwnedObjectPath, WireSecret>>;
    fn read_alias(&self, name: &str) -> zbus::Result<OwnedObjectPath>;
}

#[proxy(
    interface = "org.freedesktop.Secret.Collection",
    default_service = "org.freedesktop.secrets"
)]
trait Collection {
    fn create_item(
        &self,
        properties: HashMap<&str, Value<'_>>,
        secret: &(ObjectPath<'_>, Vec<u8>, Vec<u8>, &str),
        replace: bool,
    ) -> zbus::Result<(OwnedObjectPath, OwnedObjectPath)>;
}

#[proxy(
    interface = "org.freedesktop.Secret.Item",
    default_service = "org.freedesktop.secrets"
)]
trait Item {
    fn delete(&self) -> zbus::Result<OwnedObjectPath>;
    #[zbus(property)]
    fn attributes(&self) -> zbus::Result<HashMap<String, String>>;
}

pub struct SecretService {
    bus: zbus::Connection,
    service: ServiceProxy<'static>,
    session: OwnedObjectPath,
}

impl SecretService {
    /// The keyring on the session bus, if the bus is there and a Secret Service answers.
    pub async fn on_session_bus() -> Option<SecretService> {
        let bus = zbus::Connection::session().await.ok()?;
        Self::on(bus).await.ok()
    }

    pub async fn on(bus: zbus::Connection) -> Result<SecretService, Error> {
        let service = ServiceProxy::new(&bus).await.map_err(keyring_error)?;
        let (_, session) = service
            .open_session("plain", &Value::from(""))
            .await
            .map_err(keyring_error)?;
        Ok(SecretService {
            bus,
            service,
            session,
        })
    }

    pub async fn load(&self, uuid: &str, setting: &str) -> Result<Vec<(String, Secret)>, Error> {
        let attributes = HashMap::from([
            ("xdg:schema", SCHEMA),
            ("connection-uuid", uuid),
            ("setting", setting),
        ]);
        // Locked items would need the user to unlock the keyring in a dialog: as if absent.
        let (unlocked, _locked) = self
            .service
            .search_items(attributes)
            .await
            .map_err(keyring_error)?;
        if unlocked.is_empty() {
            return Ok(Vec::new());
        }
        let secrets = self
            .service
            .get_secrets(&unlocked, &self.session.as_ref())
            .await
            .map_err(keyring_error)?;
        let mut found = Vec::new();
        for (path, (_, _, value, _)) in secrets {
            let Some(field) = self
                .item(&path)
                .await?
                .attributes()
                .await
                .map_err(keyring_error)?
                .remove("field")
            else {
                continue;
            };
            found.push((
                field,
                Secret::new(String::from_utf8_lossy(&value).into_owned()),
            ));
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }

    pub async fn save(
        &self,
        uuid: &str,
        ssid: Option<&str>,
        setting: &str,
        secrets: &[(String, Secret)],
    ) -> Result<(), Error> {
        let collection = self
            .service
            .read_alias("default")
            .await
            .map_err(keyring_error)?;
        if collection.as_str() == "/" {
            return Err(
                Error::new(ErrorCode::Io, "the keyring has no default collection")
                    .with_hint("create one in your keyring manager (e.g. Seahorse)"),
            );
        }
        let collection = CollectionProxy::builder(&self.bus)
            .path(collection)
            .map_err(keyring_error)?
            .build()
            .await
            .map_err(keyring_error)?;
        for (field, secret) in secrets {
            let attributes: HashMap<&str, &str> = HashMap::from([
                ("xdg:schema", SCHEMA),
                ("connection-uuid", uuid),
                ("setting", setting),
                ("field", field.as_str()),
            ]);
            let label = format!("netpilot: {} ({field})", ssid.unwrap_or(uuid));
            let properties = HashMap::from([
                ("org.freedesktop.Secret.Item.Label", Value::from(label)),
                (
                    "org.freedesktop.Secret.Item.Attributes",
                    Value::from(attributes),
                ),
            ]);
            let value = secret.expose().as_bytes().to_vec();
            let wire = (self.session.as_ref(), Vec::new(), value, "text/plain");
            let (_, prompt) = collection
                .create_item(properties, &wire, true)
                .await
                .map_err(keyring_error)?;
            if prompt.as_str() != "/" {
                return Err(
                    Error::new(ErrorCode::Io, "the keyring is locked").with_hint(
                        "unlock it, then connect again; or set NETPILOT_SECRETS_FILE to use a file",
                    ),
                );
            }
        }
        Ok(())
    }

    pub async fn delete(&self, uuid: &str) -> Result<bool, Error> {
        let attributes = HashMap::from([("xdg:schema", SCHEMA), ("connection-uuid", uuid)]);
        let (unlocked, locked) = self
            .service
            .search_items(attributes)
            .await
            .map_err(keyring_error)?;
        let mut deleted = false;
        for path in unlocked.iter().chain(&locked) {
            self.item(path)
                .await?
                .delete()
                .await
                .map_err(keyring_error)?;
            deleted = true;
        }
        Ok(deleted)
    }

    async fn item(&self, path: &OwnedObjectPath) -> Result<ItemProxy<'static>, Error> {
        ItemProxy::builder(&self.bus)
            .path(path.clone())
            .map_err(keyring_error)?
            .build()
            .await
            .map_err(keyring_error)
    }
}

fn keyring_error(error: zbus::Error) -> Error {
    Error::new(ErrorCode::Io, format!("keyring: {error}"))
}
