//! `netpilot wifi status`

use super::Session;
use crate::cli::Ctx;
use crate::output::print_json;
use crate::output::table::{Align, Table};
use clap::Args;
use netpilot_api::wifi::WifiStatusDocument;
use netpilot_core::network::NetworkState;
use netpilot_core::{Error, ErrorCode};
use serde_json::json;
use std::io::Write;

#[derive(Debug, Args)]
#[command(
    after_help = "Roles: `internet` is the WiFi link used for the internet (the one \
you joined for it, or the one with the lowest-metric default route); `device-link NAME` \
carries a device link (netpilot device status); `free` is neither. WiFi commands never take a \
device link's radio."
)]
pub struct StatusArgs {
    /// Only this interface.
    #[arg(long, value_name = "IF")]
    interface: Option<String>,
}

impl StatusArgs {
    pub async fn run(self, ctx: &Ctx, mut session: Session) -> anyhow::Result<()> {
        let state: NetworkState = session.client.call("network.status", json!({})).await?;
        let mut devices = state.wifi_devices;
        if let Some(name) = &self.interface {
            let here: Vec<String> = devices.iter().map(|d| d.interface.clone()).collect();
            devices.retain(|d| &d.interface == name);
            if devices.is_empty() {
                let error = Error::new(
                    ErrorCode::NotFound,
                    format!("{name:?} is not a WiFi device"),
                )
                .with_hint(format!("WiFi devices here: {}", here.join(", ")));
                return Err(error.into());
            }
        }
        if ctx.json {
            return print_json(&WifiStatusDocument { devices });
        }
        if devices.is_empty() {
            ctx.note("no WiFi device: plug in a WiFi adapter, or check `rfkill list`");
            return Ok(());
        }
        let mut table = Table::new(&[
            ("INTERFACE", Align::Left),
            ("ROLE", Align::Left),
            ("STATE", Align::Left),
            ("SSID", Align::Left),
            ("IPV4", Align::Left),
            ("MAC", Align::Left),
        ]);
        for d in &devices {
            table.row(vec![
                d.interface.clone(),
                d.role.label(),
                d.state.label().to_string(),
                d.ssid.clone().unwrap_or_else(|| "-".into()),
                d.ipv4.clone().unwrap_or_else(|| "-".into()),
                d.mac.clone().unwrap_or_else(|| "-".into()),
            ]);
        }
        let mut out = crate::output::stdout();
        table.write(&mut out)?;
        out.flush()?;
        Ok(())
    }
}
