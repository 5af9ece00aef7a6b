//! `netpilot wifi radio`

use super::Session;
use crate::cli::Ctx;
use crate::output::print_json;
use clap::{Args, ValueEnum};
use netpilot_api::wifi::WifiRadioDocument;
use netpilot_core::network::NetworkState;
use serde_json::json;

#[derive(Debug, Args)]
#[command(after_help = "\
Without a word, says whether WiFi is on. `off` disconnects every WiFi device (device links \
too: their links come back when WiFi is on again). A hardware switch or key (an rfkill hard \
block) is beyond any software: `on` then fails with exit 5 and says so.")]
pub struct RadioArgs {
    /// Turn WiFi on or off, or the other way round.
    #[arg(value_enum)]
    switch: Option<Switch>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Switch {
    On,
    Off,
    Toggle,
}

impl RadioArgs {
    pub async fn run(self, ctx: &Ctx, mut session: Session) -> anyhow::Result<()> {
        let switch: WifiRadioDocument = match self.switch {
            None => {
                let state: NetworkState = session.client.call("network.status", json!({})).await?;
                WifiRadioDocument {
                    enabled: state.wifi_enabled,
                    hardware_blocked: state.wifi_hardware_blocked,
                }
            }
            Some(switch) => {
                let method = match switch {
                    Switch::On => "network.wifi.enable",
                    Switch::Off => "network.wifi.disable",
                    Switch::Toggle => "network.wifi.toggle",
                };
                session.client.call(method, json!({})).await?
            }
        };
        if ctx.json {
            return print_json(&switch);
        }
        match (switch.enabled, switch.hardware_blocked) {
            (true, _) => println!("WiFi is on"),
            (false, false) => println!("WiFi is off (turn it on: netpilot wifi radio on)"),
            (false, true) => println!(
                "WiFi is off: blocked by hardware (the machine's WiFi switch or key; `rfkill list` shows it)"
            ),
        }
        Ok(())
    }
}
