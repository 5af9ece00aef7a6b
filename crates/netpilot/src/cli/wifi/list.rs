//! `netpilot wifi list`

use crate::cli::Ctx;
use crate::cli::progress::Progress;
use crate::output::print_json;
use crate::output::table::{Align, Table};
use clap::Args;
use netpilot_api::wifi::WifiListDocument;
use netpilot_core::wifi::networks;
use netpilot_linux::nm::NmClient;
use netpilot_linux::nm::join::devices;
use std::io::Write;

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only the networks this interface sees.
    #[arg(long, value_name = "IF")]
    interface: Option<String>,
    /// Show the results of the last scan instead of scanning now (about 3 s).
    #[arg(long)]
    no_scan: bool,
}

impl ListArgs {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let client = NmClient::connect().await?;
        let devices = devices(&client, self.interface.as_deref()).await?;
        if !self.no_scan {
            let mut progress = Progress::new(ctx.json, ctx.quiet);
            progress.set("scanning…");
            client.scan(&devices).await?;
            progress.clear();
        }
        let mut access_points = Vec::new();
        for device in &devices {
            access_points.extend(
                client
                    .access_points(device)
                    .await?
                    .into_iter()
                    .map(|ap| ap.access_point),
            );
        }
        let known: Vec<String> = client
            .saved_wifi()
            .await?
            .into_iter()
            .map(|s| s.ssid)
            .collect();
        let networks = networks(&access_points, &known);
        if ctx.json {
            return print_json(&WifiListDocument { networks });
        }
        let mut table = Table::new(&[
            ("IN-USE", Align::Left),
            ("SSID", Align::Left),
            ("SIGNAL", Align::Right),
            ("SECURITY", Align::Left),
            ("CHANNEL", Align::Right),
            ("KNOWN", Align::Left),
        ]);
        for n in &networks {
            table.row(vec![
                if n.in_use { "*".into() } else { String::new() },
                n.ssid.clone(),
                n.signal.to_string(),
                n.security.as_str().to_string(),
                n.channel.to_string(),
                if n.known { "yes".into() } else { String::new() },
            ]);
        }
        let mut out = crate::output::stdout();
        table.write(&mut out)?;
        out.flush()?;
        Ok(())
    }
}
