//! `netpilot wifi disconnect`

use super::Session;
use crate::cli::Ctx;
use crate::output::print_json;
use clap::Args;
use netpilot_api::wifi::WifiDisconnectDocument;
use serde_json::json;

#[derive(Debug, Args)]
#[command(
    after_help = "A device link's radio is left alone: take the link down with \
`netpilot device down NAME`."
)]
pub struct DisconnectArgs {
    /// The interface to disconnect [default: the WiFi link used for the internet]; not a
    /// device link's.
    #[arg(long, value_name = "IF")]
    interface: Option<String>,
}

impl DisconnectArgs {
    pub async fn run(self, ctx: &Ctx, mut session: Session) -> anyhow::Result<()> {
        let params = match &self.interface {
            Some(interface) => json!({ "interface": interface }),
            None => json!({}),
        };
        let left: WifiDisconnectDocument = session
            .client
            .call("network.wifi.disconnect", params)
            .await?;
        if ctx.json {
            return print_json(&left);
        }
        match (left.interfaces.is_empty(), &self.interface) {
            (false, _) => println!("disconnected {}", left.interfaces.join(", ")),
            (true, Some(interface)) => ctx.note(&format!("{interface} was not connected")),
            (true, None) => ctx.note("no WiFi link carries the internet: nothing to leave"),
        }
        Ok(())
    }
}
