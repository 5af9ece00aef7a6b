//! Protocol v1's methods, and one client's session: what it subscribed to, its request
//! budget, and the events it receives. Transport-agnostic: the Unix socket and the
//! WebSocket servers feed frames in and carry lines out.

use crate::device::Devices;
use crate::monitor::{ConnectionsDocument, InterfacesDocument, PortsDocument, TrafficDocument};
use crate::outbox::{Outbox, Refused};
use crate::protocol::{Event, Request, Response, SERVICES, params_of};
use netpilot_core::{ConnectionKind, Error, ErrorCode, Secret};
use netpilot_engine::network::{ConnectParams, NetworkHandle, ServiceEvent};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

/// The monitor, as the daemon offers it. Implemented by the binary over the Linux ports.
pub trait Monitor: Send + Sync + 'static {
    fn interfaces(
        &self,
        rates: bool,
    ) -> impl Future<Output = Result<InterfacesDocument, Error>> + Send;
    fn connections(
        &self,
        kind: ConnectionKind,
    ) -> impl Future<Output = Result<ConnectionsDocument, Error>> + Send;
    fn ports(&self) -> impl Future<Output = Result<PortsDocument, Error>> + Send;
    /// One sample of per-process traffic over about a second.
    fn traffic(&self) -> impl Future<Output = Result<TrafficDocument, Error>> + Send;
}

/// Per-client request budget (token bucket): a client may burst `burst` requests and
/// then `per_second`; requests beyond get `rate-limited`, the connection stays up.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub burst: f64,
    pub per_second: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            burst: 10_000.0,
            per_second: 50_000.0,
        }
    }
}

pub struct Dispatcher<M> {
    network: NetworkHandle,
    monitor: M,
    devices: Arc<dyn Devices>,
    traffic: broadcast::Sender<TrafficDocument>,
    /// Woken when a client subscribes to `monitor.traffic`, so the sampler runs only while
    /// someone listens (no wakeups when idle).
    traffic_wanted: tokio::sync::Notify,
    rate_limit: RateLimit,
    /// Set when the daemon stops: each session ends once its current request is answered.
    stopping: tokio::sync::watch::Sender<bool>,
    /// Sessions being served now.
    clients: AtomicUsize,
}

/// Counts a session for as long as it is served.
struct Served<'a>(&'a AtomicUsize);

impl<'a> Served<'a> {
    fn new(clients: &'a AtomicUsize) -> Self {
        clients.fetch_add(1, Ordering::Relaxed);
        Served(clients)
    }
}

impl Drop for Served<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<M: Monitor> Dispatcher<M> {
    /// `traffic` carries the samples of the `monitor.traffic` event service; whoever runs
    /// the sampler publishes there while it has receivers.
    pub fn new(
        network: NetworkHandle,
        monitor: M,
        devices: Arc<dyn Devices>,
        traffic: broadcast::Sender<TrafficDocument>,
        rate_limit: RateLimit,
    ) -> Self {
        Dispatcher {
            network,
            monitor,
            devices,
            traffic,
            traffic_wanted: tokio::sync::Notify::new(),
            stopping: tokio::sync::watch::channel(false).0,
            rate_limit,
            clients: AtomicUsize::new(0),
        }
    }

    /// How many clients are connected (every transport, the daemon's own CLI calls too).
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// Stops every session once it has answered the request it is on (what the services
    /// sent before is still delivered); the transports then close the connections.
    pub fn stop_sessions(&self) {
        self.stopping.send_replace(true);
    }

    /// The network service behind the methods.
    pub fn network(&self) -> &NetworkHandle {
        &self.network
    }

    /// Waits until some client listens to `monitor.traffic`.
    pub async fn traffic_listened(&self) {
        loop {
            // Registered before the check, so a subscription in between is not missed.
            let notified = self.traffic_wanted.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.traffic.receiver_count() > 0 {
                return;
            }
            notified.await;
        }
    }

    /// How many clients listen to `monitor.traffic`.
    pub fn traffic_listeners(&self) -> usize {
        self.traffic.receiver_count()
    }

    /// Publishes a sample to the clients listening to `monitor.traffic`.
    pub fn publish_traffic(&self, sample: TrafficDocument) {
        let _ = self.traffic.send(sample);
    }
}

/// A frame as a transport delivers it. No `Debug`: a frame can hold a password.
pub enum Incoming {
    Frame(String),
    /// A frame over the size limit (already skipped).
    TooLarge,
}

/// Serves one client until it goes away: frames in, response and event lines out.
pub async fn serve_session<M: Monitor>(
    dispatcher: Arc<Dispatcher<M>>,
    mut incoming: mpsc::Receiver<Incoming>,
    outgoing: Outbox,
) {
    let _served = Served::new(&dispatcher.clients);
    let mut session = Session {
        subscriptions: BTreeSet::new(),
        traffic: None,
        tokens: dispatcher.rate_limit.burst,
        refilled: Instant::now(),
    };
    let mut network = dispatcher.network.subscribe();
    let mut stopping = dispatcher.stopping.subscribe();
    let mut devices = dispatcher.devices.subscribe();
    let mut internet = dispatcher.devices.subscribe_internet();
    loop {
        let lines = tokio::select! {
            frame = incoming.recv() => match frame {
                Some(frame) => session.on_frame(&dispatcher, frame).await,
                None => return,
            },
            event = network.recv() => match event {
                Ok(event) => session.on_service_event(event),
                // Fell behind: what matters is the state now, and the prompts pending.
                Err(broadcast::error::RecvError::Lagged(_)) => session.resync(&dispatcher).await,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            event = devices.recv() => match event {
                Ok(event) if session.subscriptions.contains("device") => vec![Event::Device(event).to_line()],
                Ok(_) => Vec::new(),
                // Fell behind: every link's state now.
                Err(broadcast::error::RecvError::Lagged(_)) => session.device_snapshot(&dispatcher).await,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            event = internet.recv() => match event {
                Ok(event) if session.subscriptions.contains("internet") => vec![Event::Internet(event).to_line()],
                Ok(_) => Vec::new(),
                // Fell behind: what it is now.
                Err(broadcast::error::RecvError::Lagged(_)) => session.internet_snapshot(&dispatcher),
                Err(broadcast::error::RecvError::Closed) => return,
            },
            () = stopped(&mut stopping) => {
                // What the services said before the stop still goes out (a withdrawn prompt).
                let mut last = Vec::new();
                while let Ok(event) = network.try_recv() {
                    last.extend(session.on_service_event(event));
                }
                for line in last {
                    if outgoing.push(line).is_err() {
                        break;
                    }
                }
                return;
            }
            sample = next_sample(&mut session.traffic) => match sample {
                Ok(sample) => vec![Event::Traffic(Box::new(sample)).to_line()],
                Err(_) => Vec::new(),
            },
        };
        for line in lines {
            match outgoing.push(line) {
                Ok(()) => {}
                Err(Refused::Gone) => return,
                Err(Refused::Full { lines, bytes }) => {
                    tracing::warn!(
                        lines,
                        bytes,
                        "a client read nothing while this much waited for it: disconnected"
                    );
                    return;
                }
            }
        }
    }
}

/// Resolves once the daemon stops (never, if the dispatcher goes away first).
async fn stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    loop {
        if *stopping.borrow_and_update() {
            return;
        }
        if stopping.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

struct Session {
    subscriptions: BTreeSet<&'static str>,
    /// Samples of `monitor.traffic`, held only while subscribed (the sampler counts them).
    traffic: Option<broadcast::Receiver<TrafficDocument>>,
    tokens: f64,
    refilled: Instant,
}

async fn next_sample(
    traffic: &mut Option<broadcast::Receiver<TrafficDocument>>,
) -> Result<TrafficDocument, broadcast::error::RecvError> {
    match traffic {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

impl Session {
    async fn on_frame<M: Monitor>(
        &mut self,
        dispatcher: &Dispatcher<M>,
        frame: Incoming,
    ) -> Vec<String> {
        if !self.spend(dispatcher.rate_limit) {
            let error = Error::new(ErrorCode::RateLimited, "too many requests; slow down");
            return vec![Response::failed(None, error).to_line()];
        }
        let request = match frame {
            Incoming::TooLarge => {
                let error = Error::new(ErrorCode::FrameTooLarge, "a request may be at most 1 MiB");
                return vec![Response::failed(None, error).to_line()];
            }
            Incoming::Frame(text) => match Request::parse(&text) {
                Ok(request) => request,
                Err(rejected) => {
                    return vec![Response::failed(rejected.id, rejected.error).to_line()];
                }
            },
        };
        tracing::trace!(method = %request.method, "request");
        let id = request.id.clone();
        match self.dispatch(dispatcher, request).await {
            Ok((response, events)) => std::iter::once(response.to_line()).chain(events).collect(),
            Err(error) => vec![Response::failed(id, error).to_line()],
        }
    }

    /// Takes one request from the budget.
    fn spend(&mut self, limit: RateLimit) -> bool {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.tokens = (self.tokens + elapsed * limit.per_second).min(limit.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    async fn dispatch<M: Monitor>(
        &mut self,
        dispatcher: &Dispatcher<M>,
        request: Request,
    ) -> Result<(Response, Vec<String>), Error> {
        let Request { id, method, params } = request;
        let network = &dispatcher.network;
        let ok = |message: &str, result: Option<Value>| Response::ok(id.clone(), message, result);
        Ok(match method.as_str() {
            "subscribe" => {
                let services = services(&params)?;
                self.subscriptions.extend(services.iter().copied());
                self.follow_traffic(dispatcher);
                let mut events = Vec::new();
                // The current state at once, and prompts still pending: a UI that
                // (re)connects loses nothing.
                if services.contains(&"network") {
                    events.push(Event::Network(Arc::new(network.status().await?)).to_line());
                }
                if services.contains(&"device") {
                    events.extend(self.device_snapshot(dispatcher).await);
                }
                if services.contains(&"internet") {
                    events.extend(self.internet_snapshot(dispatcher));
                }
                if services.contains(&"network.credentials") {
                    events.extend(
                        network
                            .pending()
                            .await?
                            .iter()
                            .map(|p| Event::Prompt(p.clone()).to_line()),
                    );
                }
                (
                    ok(
                        "subscribed",
                        Some(json!({ "services": self.subscriptions })),
                    ),
                    events,
                )
            }
            "unsubscribe" => {
                if params.is_empty() {
                    self.subscriptions.clear();
                } else {
                    for service in services(&params)? {
                        self.subscriptions.remove(service);
                    }
                }
                self.follow_traffic(dispatcher);
                (
                    ok(
                        "unsubscribed",
                        Some(json!({ "services": self.subscriptions })),
                    ),
                    Vec::new(),
                )
            }
            "network.status" => (
                ok("ok", Some(to_value(&network.status().await?))),
                Vec::new(),
            ),
            "network.wifi.scan" => {
                let params: ScanRequest = params_of(
                    params,
                    "{\"interface\"?: string, \"rescan\"?: boolean, \"wait\"?: boolean}",
                )?;
                let rescan = params.rescan.unwrap_or(true);
                let wait = params.wait.unwrap_or(false);
                let networks = network.scan(params.interface, rescan, wait).await?;
                // Without `wait`: what is known now; the scan's results follow as events.
                let message = if rescan && !wait { "scanning" } else { "ok" };
                (
                    ok(message, Some(json!({ "networks": networks }))),
                    Vec::new(),
                )
            }
            "network.wifi.connect" => {
                let params: ConnectRequest = params_of(params, CONNECT_SHAPE)?;
                let password = params.password.filter(|p| !p.is_empty()).map(Secret::new);
                let interactive = params.interactive.unwrap_or(password.is_none());
                network
                    .connect(ConnectParams {
                        ssid: params.ssid,
                        password,
                        interactive,
                        hidden: params.hidden,
                        save: params.save.unwrap_or(true),
                        interface: params.interface,
                    })
                    .await?;
                (ok("connecting", None), Vec::new())
            }
            "network.wifi.disconnect" => {
                let params: InterfaceRequest = params_of(params, "{\"interface\"?: string}")?;
                let interfaces = network.disconnect(params.interface).await?;
                (
                    ok("disconnected", Some(json!({ "interfaces": interfaces }))),
                    Vec::new(),
                )
            }
            "network.wifi.forget" => {
                let params: SsidRequest = params_of(params, "{\"ssid\": string}")?;
                let profiles = network.forget(params.ssid.clone()).await?;
                (
                    ok(
                        "forgotten",
                        Some(json!({ "ssid": params.ssid, "profiles": profiles })),
                    ),
                    Vec::new(),
                )
            }
            "network.credentials.submit" => {
                let params: SubmitRequest = params_of(params, SUBMIT_SHAPE)?;
                let secrets = params
                    .secrets
                    .into_iter()
                    .map(|(k, v)| (k, Secret::new(v)))
                    .collect();
                // As the seed says: an answer is kept only when asked to.
                let save = Some(params.save.unwrap_or(false));
                network.submit(params.token, secrets, save).await?;
                (ok("submitted", None), Vec::new())
            }
            "network.credentials.cancel" => {
                let params: TokenRequest = params_of(params, "{\"token\": string}")?;
                network.cancel(params.token).await?;
                (ok("cancelled", None), Vec::new())
            }
            "monitor.interfaces" => {
                let params: InterfacesRequest = params_of(params, "{\"rates\"?: boolean}")?;
                let document = dispatcher
                    .monitor
                    .interfaces(params.rates.unwrap_or(false))
                    .await?;
                (ok("ok", Some(to_value(&document))), Vec::new())
            }
            "monitor.connections" => {
                let params: ConnectionsRequest = params_of(
                    params,
                    "{\"kind\"?: \"all\"|\"tcp\"|\"udp\"|\"established\"|\"listen\"}",
                )?;
                let document = dispatcher
                    .monitor
                    .connections(params.kind.unwrap_or_default())
                    .await?;
                (ok("ok", Some(to_value(&document))), Vec::new())
            }
            "monitor.ports" => (
                ok("ok", Some(to_value(&dispatcher.monitor.ports().await?))),
                Vec::new(),
            ),
            "monitor.traffic" => (
                ok("ok", Some(to_value(&dispatcher.monitor.traffic().await?))),
                Vec::new(),
            ),
            menu if crate::menu::METHODS.contains(&menu) => {
                let (message, result) = crate::menu::call(network, menu, params).await?;
                (ok(message, Some(result)), Vec::new())
            }
            device if device.starts_with("device.") => {
                let verb = &device["device.".len()..];
                let (message, result) = dispatcher.devices.call(verb, params).await?;
                (ok(&message, Some(result)), Vec::new())
            }
            other => {
                return Err(
                    Error::new(ErrorCode::UnknownMethod, format!("no method {other:?}"))
                        .with_hint("see docs/protocol.md for the methods"),
                );
            }
        })
    }

    /// Holds a traffic receiver exactly while subscribed to `monitor.traffic`.
    fn follow_traffic<M: Monitor>(&mut self, dispatcher: &Dispatcher<M>) {
        let wanted = self.subscriptions.contains("monitor.traffic");
        if wanted && self.traffic.is_none() {
            self.traffic = Some(dispatcher.traffic.subscribe());
            dispatcher.traffic_wanted.notify_waiters();
        } else if !wanted {
            self.traffic = None;
        }
    }

    fn on_service_event(&self, event: ServiceEvent) -> Vec<String> {
        match event {
            ServiceEvent::Network(state) if self.subscriptions.contains("network") => {
                vec![Event::Network(state).to_line()]
            }
            ServiceEvent::Prompt(prompt) if self.subscriptions.contains("network.credentials") => {
                vec![Event::Prompt(prompt).to_line()]
            }
            ServiceEvent::PromptResolved { token, outcome }
                if self.subscriptions.contains("network.credentials") =>
            {
                vec![Event::PromptResolved { token, outcome }.to_line()]
            }
            _ => Vec::new(),
        }
    }

    /// The internet's last change, as it is now (nothing before the first look).
    fn internet_snapshot<M: Monitor>(&self, dispatcher: &Dispatcher<M>) -> Vec<String> {
        if !self.subscriptions.contains("internet") {
            return Vec::new();
        }
        dispatcher
            .devices
            .internet_state()
            .map(|state| Event::Internet(state).to_line())
            .into_iter()
            .collect()
    }

    async fn device_snapshot<M: Monitor>(&self, dispatcher: &Dispatcher<M>) -> Vec<String> {
        if !self.subscriptions.contains("device") {
            return Vec::new();
        }
        dispatcher
            .devices
            .snapshot()
            .await
            .iter()
            .map(|event| Event::Device(event.clone()).to_line())
            .collect()
    }

    async fn resync<M: Monitor>(&self, dispatcher: &Dispatcher<M>) -> Vec<String> {
        let mut lines = Vec::new();
        if self.subscriptions.contains("network")
            && let Ok(state) = dispatcher.network.status().await
        {
            lines.push(Event::Network(Arc::new(state)).to_line());
        }
        if self.subscriptions.contains("network.credentials")
            && let Ok(prompts) = dispatcher.network.pending().await
        {
            lines.extend(prompts.into_iter().map(|p| Event::Prompt(p).to_line()));
        }
        lines
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn services(params: &Map<String, Value>) -> Result<Vec<&'static str>, Error> {
    let bad = || {
        Error::new(
            ErrorCode::InvalidParams,
            format!("\"services\" must be a list of: {}", SERVICES.join(", ")),
        )
    };
    let list = params
        .get("services")
        .and_then(Value::as_array)
        .ok_or_else(bad)?;
    list.iter()
        .map(|name| {
            name.as_str()
                .and_then(|name| SERVICES.iter().copied().find(|s| *s == name))
                .ok_or_else(bad)
        })
        .collect()
}

const CONNECT_SHAPE: &str = "{\"ssid\": string, \"password\"?: string, \"interactive\"?: boolean, \"save\"?: boolean, \"hidden\"?: boolean, \"interface\"?: string}";
const SUBMIT_SHAPE: &str = "{\"token\": string, \"secrets\": {field: string}, \"save\"?: boolean}";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectRequest {
    ssid: String,
    password: Option<String>,
    interactive: Option<bool>,
    save: Option<bool>,
    #[serde(default)]
    hidden: bool,
    interface: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanRequest {
    interface: Option<String>,
    rescan: Option<bool>,
    wait: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InterfaceRequest {
    interface: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitRequest {
    token: String,
    secrets: std::collections::BTreeMap<String, String>,
    save: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SsidRequest {
    ssid: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InterfacesRequest {
    rates: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionsRequest {
    kind: Option<ConnectionKind>,
}
