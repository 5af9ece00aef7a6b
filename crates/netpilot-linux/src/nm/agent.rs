//! netpilot's NetworkManager secret agent: the D-Bus object NetworkManager asks for the
//! secrets of agent-owned settings (`org.freedesktop.NetworkManager.SecretAgent`). It
//! decides nothing itself: every request goes to its owner as an [`AgentEvent`] and the
//! owner answers through [`PendingSecrets`].

use super::api::{nm_error, ssid, string};
use super::dbus::{AgentManagerProxy, NmSettings};
use netpilot_core::{Error, Secret, SecretFlags, SecretRequest};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

pub const AGENT_PATH: &str = "/org/freedesktop/NetworkManager/SecretAgent";

/// What NetworkManager told the agent.
#[derive(Debug)]
pub enum AgentEvent {
    /// Secrets are wanted; answer through the `PendingSecrets`.
    Request(PendingSecrets),
    /// NetworkManager no longer wants the secrets of a pending request.
    Canceled {
        connection_uuid: String,
        setting: String,
    },
    /// Store these agent-owned secrets (the user saved the connection).
    Save {
        connection_uuid: String,
        ssid: Option<String>,
        setting: String,
        secrets: Vec<(String, Secret)>,
    },
    /// The connection was deleted: forget its secrets.
    Delete { connection_uuid: String },
}

/// A GetSecrets call waiting for its answer. Dropping it answers `NoSecrets`.
#[derive(Debug)]
pub struct PendingSecrets {
    pub request: SecretRequest,
    answer: oneshot::Sender<Answer>,
}

#[derive(Debug)]
enum Answer {
    Secrets(Vec<(String, Secret)>),
    NoSecrets,
    UserCanceled,
}

impl PendingSecrets {
    pub fn answer(self, secrets: Vec<(String, Secret)>) {
        let _ = self.answer.send(Answer::Secrets(secrets));
    }

    /// "I have none": NetworkManager asks the next agent.
    pub fn no_secrets(self) {
        let _ = self.answer.send(Answer::NoSecrets);
    }

    /// The user said no: NetworkManager stops asking.
    pub fn user_canceled(self) {
        let _ = self.answer.send(Answer::UserCanceled);
    }
}

impl netpilot_core::ports::SecretResponder for PendingSecrets {
    fn answer(self: Box<Self>, answer: netpilot_core::ports::SecretAnswer) {
        match answer {
            netpilot_core::ports::SecretAnswer::Secrets(secrets) => {
                PendingSecrets::answer(*self, secrets)
            }
            netpilot_core::ports::SecretAnswer::NoSecrets => self.no_secrets(),
            netpilot_core::ports::SecretAnswer::UserCanceled => self.user_canceled(),
        }
    }
}

#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.freedesktop.NetworkManager.SecretAgent")]
enum AgentError {
    #[zbus(error)]
    ZBus(zbus::Error),
    NoSecrets(String),
    UserCanceled(String),
    AgentCanceled(String),
}

/// Requests in flight, so CancelGetSecrets can end them.
type InFlight = Arc<Mutex<Vec<(String, String, String, oneshot::Sender<()>)>>>;

struct SecretAgent {
    events: mpsc::Sender<AgentEvent>,
    in_flight: InFlight,
}

#[zbus::interface(name = "org.freedesktop.NetworkManager.SecretAgent")]
impl SecretAgent {
    async fn get_secrets(
        &self,
        connection: NmSettings,
        connection_path: OwnedObjectPath,
        setting_name: String,
        hints: Vec<String>,
        flags: u32,
    ) -> Result<HashMap<String, HashMap<String, OwnedValue>>, AgentError> {
        let request = secret_request(&connection, &setting_name, hints, flags);
        tracing::debug!(
            uuid = %request.connection_uuid,
            ssid = ?request.ssid,
            setting = %setting_name,
            flags = ?request.flags,
            fields = ?request.fields,
            "NetworkManager asks for secrets"
        );
        let uuid = request.connection_uuid.clone();
        let (answer, answered) = oneshot::channel();
        let (cancel, canceled) = oneshot::channel();
        let key = (connection_path.to_string(), setting_name.clone());
        lock(&self.in_flight).push((key.0.clone(), key.1.clone(), uuid, cancel));
        let sent = self
            .events
            .send(AgentEvent::Request(PendingSecrets { request, answer }))
            .await;
        let outcome = if sent.is_err() {
            Err(AgentError::NoSecrets("netpilot is not listening".into()))
        } else {
            tokio::select! {
                answer = answered => match answer {
                    Ok(Answer::Secrets(secrets)) => Ok(secrets_reply(&setting_name, secrets)),
                    Ok(Answer::UserCanceled) => Err(AgentError::UserCanceled("cancelled by the user".into())),
                    Ok(Answer::NoSecrets) | Err(_) => Err(AgentError::NoSecrets("no secrets".into())),
                },
                _ = canceled => Err(AgentError::AgentCanceled("cancelled by NetworkManager".into())),
            }
        };
        lock(&self.in_flight).retain(|(path, setting, _, _)| (path, setting) != (&key.0, &key.1));
        match &outcome {
            Ok(secrets) => {
                tracing::debug!(fields = ?secrets.get(&setting_name).map(|s| s.keys().collect::<Vec<_>>()), "secrets given")
            }
            Err(error) => tracing::debug!(%error, "no secrets given"),
        }
        outcome
    }

    async fn cancel_get_secrets(&self, connection_path: OwnedObjectPath, setting_name: String) {
        tracing::debug!(path = %connection_path, setting = %setting_name, "NetworkManager cancels its request");
        let path = connection_path.to_string();
        let canceled: Vec<_> = {
            let mut in_flight = lock(&self.in_flight);
            let (matching, rest) = std::mem::take(&mut *in_flight)
                .into_iter()
                .partition(|(p, s, _, _)| *p == path && *s == setting_name);
            *in_flight = rest;
            matching
        };
        for (_, setting, uuid, cancel) in canceled {
            let _ = cancel.send(());
            let event = AgentEvent::Canceled {
                connection_uuid: uuid,
                setting,
            };
            let _ = self.events.send(event).await;
        }
    }

    async fn save_secrets(&self, connection: NmSettings, _connection_path: OwnedObjectPath) {
        for (setting, fields) in [
            ("802-11-wireless-security", &["psk", "wep-key0"][..]),
            ("802-1x", &["password"][..]),
        ] {
            let secrets: Vec<(String, Secret)> = fields
                .iter()
                .filter_map(|field| {
                    Some((
                        field.to_string(),
                        Secret::new(string(&connection, setting, field)?),
                    ))
                })
                .collect();
            if !secrets.is_empty() {
                let event = AgentEvent::Save {
                    connection_uuid: string(&connection, "connection", "uuid").unwrap_or_default(),
                    ssid: ssid(&connection),
                    setting: setting.to_string(),
                    secrets,
                };
                let _ = self.events.send(event).await;
            }
        }
    }

    async fn delete_secrets(&self, connection: NmSettings, _connection_path: OwnedObjectPath) {
        let connection_uuid = string(&connection, "connection", "uuid").unwrap_or_default();
        let _ = self
            .events
            .send(AgentEvent::Delete { connection_uuid })
            .await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves the agent on `bus` and registers it with NetworkManager as `identifier`.
/// Events arrive on the returned receiver until the bus connection is dropped.
pub async fn register(
    bus: &zbus::Connection,
    identifier: &str,
) -> Result<mpsc::Receiver<AgentEvent>, Error> {
    let events = serve(bus).await?;
    AgentManagerProxy::new(bus)
        .await
        .map_err(nm_error)?
        .register_with_capabilities(identifier, 0)
        .await
        .map_err(nm_error)?;
    Ok(events)
}

/// Tells NetworkManager the agent on `bus` answers no more (it asks others from now on).
pub async fn unregister(bus: &zbus::Connection) -> Result<(), Error> {
    AgentManagerProxy::new(bus)
        .await
        .map_err(nm_error)?
        .unregister()
        .await
        .map_err(nm_error)
}

/// Serves the agent object on `bus` without registering it (tests call it directly).
pub async fn serve(bus: &zbus::Connection) -> Result<mpsc::Receiver<AgentEvent>, Error> {
    let (events, receiver) = mpsc::channel(16);
    let agent = SecretAgent {
        events,
        in_flight: InFlight::default(),
    };
    bus.object_server()
        .at(AGENT_PATH, agent)
        .await
        .map_err(nm_error)?;
    Ok(receiver)
}

fn secret_request(
    connection: &NmSettings,
    setting: &str,
    mut hints: Vec<String>,
    flags: u32,
) -> SecretRequest {
    let key_mgmt = string(connection, "802-11-wireless-security", "key-mgmt");
    let fields = match (setting, key_mgmt.as_deref()) {
        ("802-11-wireless-security", Some("none")) => vec!["wep-key0".to_string()],
        ("802-11-wireless-security", _) => vec!["psk".to_string()],
        ("802-1x", _) if string(connection, "802-1x", "identity").is_some() => {
            vec!["password".to_string()]
        }
        ("802-1x", _) => vec!["identity".to_string(), "password".to_string()],
        _ => Vec::new(),
    };
    if key_mgmt.as_deref() == Some("sae") {
        hints.extend(["wpa3".to_string(), "sae".to_string()]);
    }
    SecretRequest {
        connection_uuid: string(connection, "connection", "uuid").unwrap_or_default(),
        connection_id: string(connection, "connection", "id").unwrap_or_default(),
        ssid: ssid(connection),
        setting: setting.to_string(),
        fields,
        hints,
        flags: SecretFlags::from_bits(flags),
    }
}

fn secrets_reply(
    setting: &str,
    secrets: Vec<(String, Secret)>,
) -> HashMap<String, HashMap<String, OwnedValue>> {
    let values = secrets
        .into_iter()
        .filter_map(|(field, secret)| {
            // The one place a secret leaves netpilot: into NetworkManager's hands.
            let value = OwnedValue::try_from(Value::from(secret.expose().to_string())).ok()?;
            Some((field, value))
        })
        .collect();
    HashMap::from([(setting.to_string(), values)])
}
