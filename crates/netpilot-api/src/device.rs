//! The `device.*` methods and the `device` event service: protocol v1 over the engine's
//! device-link service. Type-erased ([`Devices`]) so the dispatcher does not carry the
//! backend's type.

use crate::protocol::params_of;
use netpilot_core::device::{DeviceEvent, DeviceRequest, Probe, Subnet};
use netpilot_core::internet::InternetEvent;
use netpilot_core::ports::DeviceBackend;
use netpilot_core::{Error, ErrorCode, Secret};
use netpilot_engine::device::DeviceService;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::broadcast;

pub type Reply<'a> = Pin<Box<dyn Future<Output = Result<(String, Value), Error>> + Send + 'a>>;

/// The device-link methods, whatever the backend.
pub trait Devices: Send + Sync + 'static {
    /// Runs `device.<verb>`; the response's message and result.
    fn call(&self, verb: &str, params: Map<String, Value>) -> Reply<'_>;
    fn subscribe(&self) -> broadcast::Receiver<DeviceEvent>;
    /// Every link's state now, as `device` events (what a new subscriber gets first).
    fn snapshot(&self) -> Pin<Box<dyn Future<Output = Vec<DeviceEvent>> + Send + '_>>;
    /// The `internet` service: its changes, and the last one (what it is now).
    fn subscribe_internet(&self) -> broadcast::Receiver<InternetEvent>;
    fn internet_state(&self) -> Option<InternetEvent>;
}

/// No device-link service: a command's own engine, which supervises nothing. (Its event
/// sender stays open: a session ends when a service's events end.)
pub struct NoDevices {
    events: broadcast::Sender<DeviceEvent>,
    internet: broadcast::Sender<InternetEvent>,
}

impl Default for NoDevices {
    fn default() -> Self {
        NoDevices {
            events: broadcast::channel(1).0,
            internet: broadcast::channel(1).0,
        }
    }
}

impl Devices for NoDevices {
    fn call(&self, verb: &str, _params: Map<String, Value>) -> Reply<'_> {
        let message =
            format!("device.{verb} needs the netpilot daemon, which supervises device links");
        Box::pin(async move {
            Err(Error::new(ErrorCode::DaemonUnavailable, message)
                .with_hint("start it: sudo netpilot daemon"))
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<DeviceEvent> {
        self.events.subscribe()
    }

    fn snapshot(&self) -> Pin<Box<dyn Future<Output = Vec<DeviceEvent>> + Send + '_>> {
        Box::pin(async { Vec::new() })
    }

    fn subscribe_internet(&self) -> broadcast::Receiver<InternetEvent> {
        self.internet.subscribe()
    }

    fn internet_state(&self) -> Option<InternetEvent> {
        None
    }
}

pub struct DeviceApi<B> {
    service: Arc<DeviceService<B>>,
    /// What `device.test` connects to when the request names nothing.
    internet: String,
}

impl<B: DeviceBackend> DeviceApi<B> {
    pub fn new(service: Arc<DeviceService<B>>, internet: String) -> Self {
        DeviceApi { service, internet }
    }
}

pub const CONFIGURE_SHAPE: &str = "{\"name\": string, \"ssid\": string, \"preset\"?: string, \"password\"?: string, \"address\"?: string, \"subnet\"?: string, \"probe\"?: string, \"interface\"?: string, \"autoConnect\"?: boolean}";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConfigureRequest {
    name: String,
    ssid: String,
    preset: Option<String>,
    password: Option<String>,
    address: Option<String>,
    subnet: Option<String>,
    probe: Option<String>,
    interface: Option<String>,
    auto_connect: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NameRequest {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaybeNameRequest {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestRequest {
    name: String,
    internet: Option<String>,
}

impl<B: DeviceBackend> Devices for DeviceApi<B> {
    fn call(&self, verb: &str, params: Map<String, Value>) -> Reply<'_> {
        let verb = verb.to_string();
        Box::pin(async move {
            let service = &self.service;
            Ok(match verb.as_str() {
                "configure" => {
                    let request: ConfigureRequest = params_of(params, CONFIGURE_SHAPE)?;
                    let password = request.password.filter(|p| !p.is_empty()).map(Secret::new);
                    if let Some(password) = &password {
                        netpilot_core::secret::validate_psk(password)?;
                    }
                    let address = request
                        .address
                        .map(|a| {
                            a.parse().map_err(|_| {
                                Error::new(
                                    ErrorCode::InvalidParams,
                                    format!("\"address\" must be an IPv4 address, not {a:?}"),
                                )
                            })
                        })
                        .transpose()?;
                    let (spec, mut warnings) = DeviceRequest {
                        name: request.name,
                        ssid: request.ssid,
                        preset: request.preset,
                        address,
                        subnet: request.subnet.as_deref().map(Subnet::parse).transpose()?,
                        probe: request.probe.as_deref().map(Probe::parse).transpose()?,
                        interface: request.interface,
                        auto_connect: request.auto_connect.unwrap_or(true),
                    }
                    .spec()?;
                    let configured = service.configure(spec, password).await?;
                    warnings.extend(configured.warnings);
                    (
                        "configured".into(),
                        json!({ "device": configured.spec, "warnings": warnings }),
                    )
                }
                "discover" => {
                    params_of::<NoParams>(params, "{}")?;
                    ("ok".into(), json!({ "devices": service.discover().await? }))
                }
                "list" => {
                    params_of::<MaybeNameRequest>(params, "{}")?;
                    ("ok".into(), json!({ "devices": service.list().await? }))
                }
                "status" => {
                    let request: MaybeNameRequest = params_of(params, "{\"name\"?: string}")?;
                    let devices = match request.name {
                        Some(name) => vec![service.status(&name).await?],
                        None => service.list().await?,
                    };
                    let internet = service.internet().await.ok().flatten();
                    let radios = service.radios();
                    let mut result =
                        json!({ "internet": internet, "devices": devices, "wifiDevices": radios });
                    // What the internet's supervision last said (the daemon's; a command's
                    // own engine supervises nothing).
                    if let Some(state) = service.internet_state() {
                        result["internetState"] = json!(state);
                    }
                    ("ok".into(), result)
                }
                "up" => {
                    let request: NameRequest = params_of(params, "{\"name\": string}")?;
                    let status = service.up(&request.name).await?;
                    ("up".into(), json!({ "device": status }))
                }
                "down" | "reset" => {
                    let request: NameRequest = params_of(params, "{\"name\": string}")?;
                    let teardown = if verb == "down" {
                        service.down(&request.name).await?
                    } else {
                        service.reset(&request.name).await?
                    };
                    let message = if !teardown.failed.is_empty() {
                        "some steps failed"
                    } else if verb == "down" {
                        "down"
                    } else {
                        "reset"
                    };
                    (
                        message.into(),
                        serde_json::to_value(teardown).unwrap_or_default(),
                    )
                }
                "test" => {
                    let request: TestRequest =
                        params_of(params, "{\"name\": string, \"internet\"?: \"HOST:PORT\"}")?;
                    let internet = request.internet.unwrap_or_else(|| self.internet.clone());
                    let checks = service.test(&request.name, &internet).await?;
                    let passed = checks.iter().all(|c| c.passed);
                    let message = if passed { "passed" } else { "failed" };
                    (
                        message.into(),
                        json!({ "passed": passed, "checks": checks }),
                    )
                }
                other => {
                    return Err(Error::new(
                        ErrorCode::UnknownMethod,
                        format!("no method \"device.{other}\""),
                    )
                    .with_hint("see docs/protocol.md for the methods"));
                }
            })
        })
    }

    fn subscribe(&self) -> broadcast::Receiver<DeviceEvent> {
        self.service.subscribe()
    }

    fn snapshot(&self) -> Pin<Box<dyn Future<Output = Vec<DeviceEvent>> + Send + '_>> {
        Box::pin(async move {
            let now = self.service.now_ms();
            self.service
                .list()
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|status| DeviceEvent {
                    name: status.spec.name,
                    state: status.state,
                    reason: None,
                    event: None,
                    route: None,
                    at_ms: now,
                })
                .collect()
        })
    }

    fn subscribe_internet(&self) -> broadcast::Receiver<InternetEvent> {
        self.service.internet_events()
    }

    fn internet_state(&self) -> Option<InternetEvent> {
        self.service.internet_state()
    }
}
