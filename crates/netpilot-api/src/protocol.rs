//! Protocol v1 messages: requests in, responses and events out, one JSON object each.
//! Field names are the seed's (`networkmanager-api.md`); see docs/protocol.md.

use crate::monitor::TrafficDocument;
use netpilot_core::device::DeviceEvent;
use netpilot_core::internet::InternetEvent;
use netpilot_core::network::{NetworkState, Prompt, PromptOutcome};
use netpilot_core::{Error, ErrorCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The largest request line or message accepted.
pub const MAX_FRAME: usize = 1024 * 1024;

/// Every method of protocol v1; docs/protocol.md shows each (its tests check that).
pub const METHODS: [&str; 34] = [
    "subscribe",
    "unsubscribe",
    "network.status",
    "network.wifi.scan",
    "network.wifi.connect",
    "network.wifi.disconnect",
    "network.wifi.forget",
    "network.wifi.enable",
    "network.wifi.disable",
    "network.wifi.toggle",
    "network.wifi.saved",
    "network.wifi.setAutoconnect",
    "network.wifi.setPriority",
    "network.info",
    "network.ethernet.connect",
    "network.ethernet.disconnect",
    "network.ethernet.info",
    "network.hotspot.start",
    "network.hotspot.stop",
    "network.hotspot.status",
    "network.credentials.submit",
    "network.credentials.cancel",
    "monitor.interfaces",
    "monitor.connections",
    "monitor.ports",
    "monitor.traffic",
    "device.configure",
    "device.list",
    "device.status",
    "device.up",
    "device.down",
    "device.test",
    "device.reset",
    "device.discover",
];

/// The services a client can subscribe to.
pub const SERVICES: [&str; 5] = [
    "network",
    "network.credentials",
    "monitor.traffic",
    "device",
    "internet",
];

#[derive(Clone, PartialEq)]
pub struct Request {
    /// Echoed in the response; any JSON value.
    pub id: Option<Value>,
    pub method: String,
    pub params: Map<String, Value>,
}

/// Params can hold a password (connect, submit): only their names are shown.
impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A request that could not be understood, with whatever `id` could be read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub id: Option<Value>,
    pub error: Error,
}

impl Request {
    /// Parses one frame. Never fails silently: every problem becomes a [`Rejected`] with a
    /// code, to be answered.
    pub fn parse(frame: &str) -> Result<Request, Rejected> {
        let value: Value = serde_json::from_str(frame).map_err(|e| Rejected {
            id: None,
            error: Error::new(ErrorCode::ParseError, format!("not JSON: {}", category(&e))),
        })?;
        let Value::Object(mut object) = value else {
            return Err(Rejected {
                id: None,
                error: Error::new(ErrorCode::InvalidRequest, "a request is a JSON object"),
            });
        };
        let id = object.remove("id");
        let method = match object.remove("method") {
            Some(Value::String(method)) => method,
            Some(_) => return Err(invalid(id, "\"method\" must be a string")),
            None => return Err(invalid(id, "a request needs a \"method\"")),
        };
        let params = match object.remove("params") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(params)) => params,
            Some(_) => {
                return Err(Rejected {
                    id,
                    error: Error::new(ErrorCode::InvalidParams, "\"params\" must be an object"),
                });
            }
        };
        if let Some(field) = object.keys().next() {
            return Err(invalid(id, &format!("unknown field {field:?}")));
        }
        Ok(Request { id, method, params })
    }
}

fn invalid(id: Option<Value>, message: &str) -> Rejected {
    Rejected {
        id,
        error: Error::new(ErrorCode::InvalidRequest, message),
    }
}

/// Where in the input JSON broke, without quoting the input (it may hold a password).
fn category(error: &serde_json::Error) -> String {
    match error.classify() {
        serde_json::error::Category::Eof => "it ends too early".to_string(),
        _ => format!("error at line {} column {}", error.line(), error.column()),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Value>,
    pub success: bool,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl From<ErrorBody> for Error {
    fn from(body: ErrorBody) -> Error {
        Error {
            code: body.code,
            message: body.message,
            hint: body.hint,
        }
    }
}

impl Response {
    pub fn ok(id: Option<Value>, message: &str, result: Option<Value>) -> Self {
        Response {
            id,
            success: true,
            message: message.to_string(),
            result,
            error: None,
        }
    }

    /// `message` is the seed's user message for the code; `error.message` the particulars.
    pub fn failed(id: Option<Value>, error: Error) -> Self {
        Response {
            id,
            success: false,
            message: error.code.user_message().to_string(),
            result: None,
            error: Some(ErrorBody {
                code: error.code,
                message: error.message,
                hint: error.hint,
            }),
        }
    }

    pub fn to_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|_| r#"{"success":false,"message":"internal error"}"#.into())
    }
}

/// An event, typed: what each service sends (`{"service": …, "data": …}` on the wire).
/// The dispatcher writes these and the client reads them: one definition of each shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `network`: the state.
    Network(std::sync::Arc<NetworkState>),
    /// `network.credentials`: a prompt to answer.
    Prompt(Prompt),
    /// `network.credentials`: `{"token", "resolved"}`, the prompt is no longer pending.
    PromptResolved {
        token: String,
        outcome: PromptOutcome,
    },
    /// `device`: a device link's transition.
    Device(DeviceEvent),
    /// `internet`: the internet link's change.
    Internet(InternetEvent),
    /// `monitor.traffic`: one sample.
    Traffic(Box<TrafficDocument>),
}

/// An event as it travels.
#[derive(Serialize)]
struct WireOut {
    service: &'static str,
    data: Value,
}

#[derive(Deserialize)]
struct WireIn {
    service: String,
    data: Value,
}

#[derive(Serialize, Deserialize)]
struct Resolved {
    token: String,
    resolved: PromptOutcome,
}

impl Event {
    /// The service that sends it.
    pub fn service(&self) -> &'static str {
        match self {
            Event::Network(_) => "network",
            Event::Prompt(_) | Event::PromptResolved { .. } => "network.credentials",
            Event::Device(_) => "device",
            Event::Internet(_) => "internet",
            Event::Traffic(_) => "monitor.traffic",
        }
    }

    pub fn to_line(&self) -> String {
        let data = match self {
            Event::Network(state) => serde_json::to_value(state),
            Event::Prompt(prompt) => serde_json::to_value(prompt),
            Event::PromptResolved { token, outcome } => serde_json::to_value(Resolved {
                token: token.clone(),
                resolved: *outcome,
            }),
            Event::Device(event) => serde_json::to_value(event),
            Event::Internet(event) => serde_json::to_value(event),
            Event::Traffic(sample) => serde_json::to_value(sample),
        }
        .unwrap_or(Value::Null);
        let wire = WireOut {
            service: self.service(),
            data,
        };
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Reads the data of an event of `service`, one of [`SERVICES`].
    pub fn parse(service: &str, data: Value) -> Result<Event, serde_json::Error> {
        match service {
            "network" => serde_json::from_value(data).map(|state| Event::Network(Arc::new(state))),
            "network.credentials" if data.get("resolved").is_some() => serde_json::from_value(data)
                .map(|r: Resolved| Event::PromptResolved {
                    token: r.token,
                    outcome: r.resolved,
                }),
            "network.credentials" => serde_json::from_value(data).map(Event::Prompt),
            "device" => serde_json::from_value(data).map(Event::Device),
            "internet" => serde_json::from_value(data).map(Event::Internet),
            "monitor.traffic" => serde_json::from_value(data).map(|t| Event::Traffic(Box::new(t))),
            other => Err(serde::de::Error::custom(format!("no service {other:?}"))),
        }
    }
}

/// What the daemon sends: a response to a request, or an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Response(Response),
    Event(Event),
    /// An event of a service this netpilot does not know (a newer daemon).
    Unknown {
        service: String,
        data: Value,
    },
}

impl Message {
    /// Reads one frame the daemon sent.
    pub fn parse(frame: &str) -> Result<Message, Error> {
        let bad = |e: serde_json::Error| {
            Error::new(
                ErrorCode::Protocol,
                format!("the daemon sent something this netpilot cannot read: {e}"),
            )
            .with_hint("is the daemon the same version as this command?")
        };
        let value: Value = serde_json::from_str(frame).map_err(bad)?;
        if value.get("service").is_some() {
            let wire: WireIn = serde_json::from_value(value).map_err(bad)?;
            if !SERVICES.contains(&wire.service.as_str()) {
                return Ok(Message::Unknown {
                    service: wire.service,
                    data: wire.data,
                });
            }
            return Event::parse(&wire.service, wire.data)
                .map(Message::Event)
                .map_err(bad);
        }
        serde_json::from_value(value)
            .map(Message::Response)
            .map_err(bad)
    }
}

/// Parses params into `T`. The message names the expected shape, never the values given:
/// they may hold a password.
pub(crate) fn params_of<T: serde::de::DeserializeOwned>(
    params: Map<String, Value>,
    shape: &str,
) -> Result<T, Error> {
    serde_json::from_value(Value::Object(params))
        .map_err(|_| Error::new(ErrorCode::InvalidParams, format!("params must be {shape}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_has_an_optional_id_a_method_and_optional_params() {
        let request = Request::parse(r#"{"id": 7, "method": "network.status"}"#).unwrap();
        assert_eq!(
            (request.id, request.method.as_str(), request.params.len()),
            (Some(json!(7)), "network.status", 0)
        );
        let request =
            Request::parse(r#"{"method": "subscribe", "params": {"services": ["network"]}}"#)
                .unwrap();
        assert_eq!(request.id, None);
        assert_eq!(request.params["services"], json!(["network"]));
    }

    #[test]
    fn malformed_requests_are_rejected_with_codes_and_keep_their_id() {
        let code = |line: &str| Request::parse(line).unwrap_err().error.code;
        assert_eq!(code("{not json"), ErrorCode::ParseError);
        assert_eq!(code("[1, 2]"), ErrorCode::InvalidRequest);
        assert_eq!(code("\"network.status\""), ErrorCode::InvalidRequest);
        assert_eq!(code(r#"{"id": 1}"#), ErrorCode::InvalidRequest);
        assert_eq!(code(r#"{"method": 5}"#), ErrorCode::InvalidRequest);
        assert_eq!(
            code(r#"{"method": "x", "params": [1]}"#),
            ErrorCode::InvalidParams
        );
        assert_eq!(
            code(r#"{"method": "x", "extra": 1}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            Request::parse(r#"{"id": "a", "method": 5}"#)
                .unwrap_err()
                .id,
            Some(json!("a"))
        );
    }

    #[test]
    fn a_parse_error_does_not_quote_the_input() {
        let rejected = Request::parse(r#"{"method": "network.credentials.submit", "params": {"secrets": {"psk": "hunter2-secret"}"#).unwrap_err();
        assert!(
            !rejected.error.message.contains("hunter2"),
            "{}",
            rejected.error.message
        );
    }

    #[test]
    fn responses_carry_the_user_message_and_the_code() {
        let line = Response::failed(
            Some(json!(3)),
            Error::new(ErrorCode::UnknownMethod, "no method \"x\""),
        )
        .to_line();
        assert_eq!(
            line,
            r#"{"id":3,"success":false,"message":"Unknown method","error":{"code":"unknown-method","message":"no method \"x\""}}"#
        );
        assert_eq!(
            Response::ok(None, "connecting", None).to_line(),
            r#"{"success":true,"message":"connecting"}"#
        );
    }
}
