//! `netpilot wifi status`

use crate::cli::Ctx;
use crate::output::print_json;
use crate::output::table::{Align, Table};
use clap::Args;
use netpilot_api::wifi::WifiStatusDocument;
use netpilot_linux::nm::NmClient;
use netpilot_linux::nm::join::devices;
use std::io::Write;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this interface.
    #[arg(long, value_name = "IF")]
    interface: Option<String>,
}

impl StatusArgs {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let client = NmClient::connect().await?;
        let devices: Vec<_> = devices(&client, self.interface.as_deref())
            .await?
            .into_iter()
            .map(|d| d.device)
            .collect();
        if ctx.json {
            return print_json(&WifiStatusDocument { devices });
        }
        let mut table = Table::new(&[
            ("INTERFACE", Align::Left),
            ("STATE", Align::Left),
            ("SSID", Align::Left),
            ("IPV4", Align::Left),
            ("MAC", Align::Left),
        ]);
        for d in &devices {
            table.row(vec![
                d.interface.clone(),
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
