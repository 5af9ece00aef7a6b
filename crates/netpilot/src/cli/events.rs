//! `netpilot events`: the daemon's events as they come, like `nmcli monitor`.

use super::Ctx;
use super::device::{clock, internet_word};
use clap::Args;
use netpilot_api::client::Client;
use netpilot_api::protocol::{Event, SERVICES};
use netpilot_core::network::NetworkState;
use netpilot_core::{Error, ErrorCode};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;

/// Followed when no `--service` is given (traffic samples come every second: asked for).
const DEFAULT_SERVICES: [&str; 4] = ["network", "network.credentials", "device", "internet"];

#[derive(Debug, Args)]
#[command(after_help = "\
Prints each event of the running daemon until Ctrl-C: one readable line each, or with --json \
the event itself (`{\"service\", \"data\"}`) as JSON Lines, as a UI receives it \
(docs/protocol.md). Services: network (the state: links, networks in range, saved networks), \
network.credentials (password prompts; never a password), device (device links), internet \
(the internet link), monitor.traffic (a traffic sample each second). Without --service, all \
but monitor.traffic.

  netpilot events
  netpilot events --json --service network | jq .data.wifiSSID

Needs the daemon (exit 6 when it is not running, or when it stops).")]
pub struct EventsArgs {
    /// A service to follow (repeat for several) [default: all but monitor.traffic].
    #[arg(long = "service", value_name = "S", value_parser = clap::builder::PossibleValuesParser::new(SERVICES))]
    services: Vec<String>,
    /// The daemon's socket [default: $NETPILOT_SOCKET, else the daemon's default for this
    /// user, else /run/netpilot/netpilot.sock].
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
}

impl EventsArgs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(self.follow(ctx))
    }

    async fn follow(self, ctx: &Ctx) -> anyhow::Result<()> {
        let mut daemon = Client::find(self.socket).await?;
        let services: Vec<String> = if self.services.is_empty() {
            DEFAULT_SERVICES.iter().map(|s| s.to_string()).collect()
        } else {
            self.services
        };
        let _: Value = daemon
            .call("subscribe", json!({ "services": services }))
            .await?;
        ctx.note(&format!(
            "following {} (Ctrl-C to stop)",
            services.join(", ")
        ));
        let mut last: Option<std::sync::Arc<NetworkState>> = None;
        loop {
            let event = match daemon.next_event().await {
                Ok(event) => event,
                Err(error) if error.code == ErrorCode::DaemonUnavailable => {
                    return Err(
                        Error::new(ErrorCode::DaemonUnavailable, "the daemon stopped")
                            .with_hint("start it again, then run netpilot events again")
                            .into(),
                    );
                }
                Err(error) => return Err(error.into()),
            };
            let mut out = crate::output::stdout();
            if ctx.json {
                writeln!(out, "{}", event.to_line())?;
            } else {
                writeln!(out, "{}", line(&event, last.as_deref()))?;
            }
            out.flush()?;
            if let Event::Network(state) = event {
                last = Some(state);
            }
        }
    }
}

/// One readable line for an event; a `network` state says what changed since `before`.
fn line(event: &Event, before: Option<&NetworkState>) -> String {
    let now = clock(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    );
    match event {
        Event::Network(state) => format!("{now} network   {}", network(state, before)),
        Event::Prompt(prompt) => format!(
            "{now} prompt    {:?} asks for {} ({}{}), token {}",
            prompt.ssid,
            prompt.fields.join(", "),
            prompt.reason,
            if prompt.retry { ", again" } else { "" },
            prompt.token
        ),
        Event::PromptResolved { token, outcome } => {
            format!("{now} prompt    {token} {}", outcome.as_str())
        }
        Event::Device(e) => format!(
            "{} device    {} {}{}",
            clock(e.at_ms),
            e.name,
            e.event.as_deref().unwrap_or(e.state.label()),
            e.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        Event::Internet(e) => format!(
            "{} internet  {}{}{}",
            clock(e.at_ms),
            internet_word(e.event),
            e.interface
                .as_deref()
                .map(|i| format!(" on {i}"))
                .unwrap_or_default(),
            e.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        Event::Traffic(sample) => {
            let (rx, tx) = sample.processes.iter().fold((0.0, 0.0), |(rx, tx), p| {
                (rx + p.rx_bytes_per_sec, tx + p.tx_bytes_per_sec)
            });
            format!(
                "{now} traffic   {} processes, in {} out {}",
                sample.processes.len(),
                crate::output::units::rate(rx),
                crate::output::units::rate(tx)
            )
        }
    }
}

/// The state in a few words: the internet's link, an attempt, and what changed in the
/// menu since the last state.
fn network(state: &NetworkState, before: Option<&NetworkState>) -> String {
    let mut words = Vec::new();
    if !state.wifi_enabled {
        words.push(if state.wifi_hardware_blocked {
            "WiFi off (hardware)".to_string()
        } else {
            "WiFi off".to_string()
        });
    }
    words.push(match state.network_status {
        netpilot_core::network::NetworkStatus::Disconnected => "disconnected".to_string(),
        netpilot_core::network::NetworkStatus::Ethernet => {
            format!(
                "ethernet {} {}",
                state.ethernet.interface, state.ethernet.ipv4
            )
        }
        netpilot_core::network::NetworkStatus::Wifi => format!(
            "wifi {:?} {} ({} %)",
            state.wifi_ssid, state.wifi_ip, state.wifi_signal
        ),
    });
    if state.is_connecting {
        words.push(format!("connecting to {:?}", state.connecting_ssid));
    } else if !state.last_error.is_empty() {
        words.push(format!("last attempt: {}", state.last_error));
    }
    if let Some(hotspot) = &state.hotspot {
        words.push(format!(
            "hotspot {:?} on {}",
            hotspot.ssid, hotspot.interface
        ));
    }
    let ssids = |s: &NetworkState| -> Vec<String> {
        s.wifi_networks.iter().map(|n| n.ssid.clone()).collect()
    };
    match before {
        Some(before) => {
            let (was, is) = (ssids(before), ssids(state));
            let came: Vec<&String> = is.iter().filter(|s| !was.contains(s)).collect();
            let went: Vec<&String> = was.iter().filter(|s| !is.contains(s)).collect();
            if !came.is_empty() {
                words.push(format!("in range: {came:?}"));
            }
            if !went.is_empty() {
                words.push(format!("out of range: {went:?}"));
            }
        }
        None => words.push(format!(
            "{} networks in range, {} saved",
            state.wifi_networks.len(),
            state.saved_wifi_networks.len()
        )),
    }
    words.join("; ")
}
