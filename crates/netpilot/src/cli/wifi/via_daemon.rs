//! `wifi connect` through a running `netpilot daemon`: the daemon is NetworkManager's
//! secret agent for the machine, so the command asks it to connect and answers its prompts
//! on the terminal; UIs connected to the daemon see the attempt and may answer too. The
//! daemon's time limits apply.

use super::connect::{PasswordEntry, start_password_entry};
use crate::cli::client::Daemon;
use crate::cli::progress::Progress;
use netpilot_api::monitor::InterfacesDocument;
use netpilot_api::wifi::WifiConnectDocument;
use netpilot_core::{Error, ErrorCode, Secret};
use serde_json::json;
use std::time::Duration;

/// What the command asks of the daemon.
pub struct Request<'a> {
    pub ssid: &'a str,
    pub password: Option<Secret>,
    pub interactive: bool,
    pub hidden: bool,
    pub interface: Option<&'a str>,
    pub save: bool,
}

impl Daemon {
    /// Connects as asked, answering prompts on the terminal when `interactive`.
    pub async fn connect(
        mut self,
        request: Request<'_>,
        progress: &mut Progress,
    ) -> Result<WifiConnectDocument, Error> {
        let ssid = request.ssid;
        self.call(
            "subscribe",
            json!({ "services": ["network", "network.credentials"] }),
        )
        .await?;
        let mut params = json!({
            "ssid": ssid,
            "interactive": request.interactive,
            "hidden": request.hidden,
            "save": request.save,
        });
        if let Some(password) = &request.password {
            params["password"] = json!(password.expose());
        }
        if let Some(interface) = request.interface {
            params["interface"] = json!(interface);
        }
        self.call("network.wifi.connect", params).await?;
        // Only what follows the response tells of this attempt: the state and prompts that
        // `subscribe` sent arrive before it (the daemon answers one request at a time and
        // sends an attempt's events after its response).
        self.events.clear();
        progress.set(format!(
            "connecting to {ssid:?} (through the netpilot daemon)…"
        ));
        let mut entry: Option<(String, String, PasswordEntry)> = None; // token, field, entry
        let mut gave_password = request.password.is_some();
        let mut ticks = tokio::time::interval(Duration::from_millis(120));
        let state = loop {
            tokio::select! {
                event = self.next_event() => {
                    let event = event?;
                    let data = &event["data"];
                    match event["service"].as_str() {
                        Some("network") if data["isConnecting"] == json!(false) => {
                            let failed = data["lastError"].as_str().unwrap_or_default();
                            if !failed.is_empty() || data["wifiSSID"] == json!(ssid) {
                                break data.clone();
                            }
                        }
                        Some("network.credentials") if data["ssid"] == json!(ssid) && entry.is_none() && request.interactive => {
                            progress.clear();
                            let reason = data["reason"].as_str().filter(|r| r.contains("incorrect"));
                            let field = data["fields"][0].as_str().unwrap_or("psk").to_string();
                            let token = data["token"].as_str().unwrap_or_default().to_string();
                            entry = Some((token, field, start_password_entry(ssid, reason)));
                        }
                        Some("network.credentials") if entry.as_ref().is_some_and(|(token, ..)| data["token"] == json!(token) && data.get("resolved").is_some()) => {
                            // Answered elsewhere (a UI), cancelled or expired: stop asking here.
                            if let Some((.., open)) = entry.take() {
                                open.abandon().await;
                            }
                        }
                        _ => {}
                    }
                }
                typed = async { entry.as_mut().expect("guarded").2.typed().await }, if entry.is_some() => {
                    let (token, field, _) = entry.take().expect("guarded");
                    gave_password |= typed.is_some();
                    let answer = match typed {
                        Some(password) => self.call("network.credentials.submit", json!({
                            "token": token,
                            "secrets": { field: password.expose() },
                            "save": request.save,
                        })).await,
                        None => self.call("network.credentials.cancel", json!({ "token": token })).await,
                    };
                    match answer {
                        Err(error) if error.code == ErrorCode::UnknownToken => {} // someone else answered
                        other => { other?; }
                    }
                    progress.set(format!("connecting to {ssid:?} (through the netpilot daemon)…"));
                }
                _ = ticks.tick() => progress.tick(),
            }
        };
        if let Some((.., open)) = entry.take() {
            open.abandon().await;
        }
        progress.clear();
        let failed = state["lastError"].as_str().unwrap_or_default();
        if !failed.is_empty() {
            let code: ErrorCode =
                serde_json::from_value(json!(failed)).unwrap_or(ErrorCode::ConnectionAttemptFailed);
            return Err(Error::new(
                code,
                format!(
                    "{} ({ssid:?}, reported by the netpilot daemon)",
                    code.user_message()
                ),
            ));
        }
        let ipv4 = state["wifiIP"].as_str().unwrap_or_default().to_string();
        Ok(WifiConnectDocument {
            ssid: ssid.to_string(),
            interface: self.interface_with(&ipv4).await.unwrap_or_default(),
            ipv4,
            saved: request.save && gave_password,
        })
    }

    /// The interface holding `ipv4`, from the daemon's monitor.
    async fn interface_with(&mut self, ipv4: &str) -> Option<String> {
        let response = self
            .call("monitor.interfaces", json!({ "rates": false }))
            .await
            .ok()?;
        let document: InterfacesDocument =
            serde_json::from_value(response["result"].clone()).ok()?;
        document
            .interfaces
            .into_iter()
            .find(|i| {
                i.interface
                    .ipv4
                    .iter()
                    .any(|a| a.address.to_string() == ipv4)
            })
            .map(|i| i.interface.name)
    }
}
