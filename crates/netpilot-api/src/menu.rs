//! The methods a shell's network menu calls beside the seed's: the WiFi switch, saved
//! networks, a network's access points, the wired links. Each is one call on the network
//! service; the dispatcher routes these names here.

use crate::protocol::params_of;
use netpilot_core::ports::ProfileChange;
use netpilot_core::{Error, ErrorCode};
use netpilot_engine::network::{HotspotParams, NetworkHandle};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Every method of this module, for the dispatcher (and the docs' checks).
pub const METHODS: [&str; 13] = [
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
];

/// Runs `method` (one of [`METHODS`]): the response's message and result.
pub async fn call(
    network: &NetworkHandle,
    method: &str,
    params: Map<String, Value>,
) -> Result<(&'static str, Value), Error> {
    match method {
        "network.wifi.enable" | "network.wifi.disable" | "network.wifi.toggle" => {
            let _: NoParams = params_of(params, "{}")?;
            let enabled = match method {
                "network.wifi.enable" => Some(true),
                "network.wifi.disable" => Some(false),
                _ => None,
            };
            let switch = network.set_wifi(enabled).await?;
            let message = if switch.enabled {
                "enabled"
            } else {
                "disabled"
            };
            Ok((message, to_value(&switch)))
        }
        "network.wifi.saved" => {
            let _: NoParams = params_of(params, "{}")?;
            let state = network.status().await?;
            Ok(("ok", json!({ "networks": state.saved_wifi_networks })))
        }
        "network.wifi.setAutoconnect" => {
            let params: AutoconnectRequest =
                params_of(params, "{\"ssid\": string, \"autoconnect\": boolean}")?;
            let change = ProfileChange {
                autoconnect: Some(params.autoconnect),
                ..ProfileChange::default()
            };
            changed(network, params.ssid, change).await
        }
        "network.wifi.setPriority" => {
            let params: PriorityRequest =
                params_of(params, "{\"ssid\": string, \"priority\": integer}")?;
            if !(-999..=999).contains(&params.priority) {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    format!(
                        "a priority is -999 to 999 (the higher is joined first), not {}",
                        params.priority
                    ),
                ));
            }
            let change = ProfileChange {
                priority: Some(params.priority as i32),
                ..ProfileChange::default()
            };
            changed(network, params.ssid, change).await
        }
        "network.info" => {
            let params: SsidRequest = params_of(params, "{\"ssid\": string}")?;
            Ok(("ok", to_value(&network.info(params.ssid).await?)))
        }
        "network.ethernet.connect" => {
            let params: InterfaceRequest = params_of(params, "{\"interface\"?: string}")?;
            let device = network.ethernet_up(params.interface).await?;
            Ok(("connected", to_value(&device)))
        }
        "network.ethernet.disconnect" => {
            let params: InterfaceRequest = params_of(params, "{\"interface\"?: string}")?;
            let left = network.ethernet_down(params.interface).await?;
            Ok(("disconnected", json!({ "interfaces": left })))
        }
        "network.hotspot.start" => {
            let params: HotspotRequest = params_of(
                params,
                "{\"ssid\": string, \"password\": string, \"interface\"?: string, \"band\"?: \"bg\"|\"a\"}",
            )?;
            let hotspot = network
                .hotspot_start(HotspotParams {
                    ssid: params.ssid,
                    password: netpilot_core::Secret::new(params.password),
                    interface: params.interface,
                    band: params.band,
                })
                .await?;
            Ok(("started", to_value(&hotspot)))
        }
        "network.hotspot.stop" => {
            let params: InterfaceRequest = params_of(params, "{\"interface\"?: string}")?;
            let stopped = network.hotspot_stop(params.interface).await?;
            Ok(("stopped", json!({ "interfaces": stopped })))
        }
        "network.hotspot.status" => {
            let _: NoParams = params_of(params, "{}")?;
            let state = network.status().await?;
            Ok(("ok", json!({ "hotspot": state.hotspot })))
        }
        "network.ethernet.info" => {
            let params: InterfaceRequest = params_of(params, "{\"interface\"?: string}")?;
            let mut devices = network.wired().await?;
            if let Some(name) = &params.interface {
                devices.retain(|d| &d.interface == name);
                if devices.is_empty() {
                    return Err(Error::new(
                        ErrorCode::NotFound,
                        format!("{name:?} is not an Ethernet device NetworkManager knows"),
                    ));
                }
            }
            Ok(("ok", json!({ "devices": devices })))
        }
        other => Err(Error::new(
            ErrorCode::UnknownMethod,
            format!("no method {other:?}"),
        )),
    }
}

async fn changed(
    network: &NetworkHandle,
    ssid: String,
    change: ProfileChange,
) -> Result<(&'static str, Value), Error> {
    let profiles = network.change_saved(ssid.clone(), change).await?;
    Ok(("changed", json!({ "ssid": ssid, "profiles": profiles })))
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HotspotRequest {
    ssid: String,
    password: String,
    interface: Option<String>,
    band: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InterfaceRequest {
    interface: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SsidRequest {
    ssid: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AutoconnectRequest {
    ssid: String,
    autoconnect: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriorityRequest {
    ssid: String,
    priority: i64,
}
