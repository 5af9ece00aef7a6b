//! `netpilot wifi list`

use super::Session;
use crate::cli::Ctx;
use crate::cli::progress::Progress;
use crate::output::print_json;
use crate::output::table::{Align, Table};
use clap::Args;
use netpilot_api::wifi::WifiListDocument;
use serde_json::json;
use std::io::Write;

#[derive(Debug, Args)]
#[command(
    after_help = "A radio that carries a device link is not scanned (a scan takes it \
off its channel for a while); name it with --interface to see its last results."
)]
pub struct ListArgs {
    /// Only the networks this interface sees.
    #[arg(long, value_name = "IF")]
    interface: Option<String>,
    /// Show the results of the last scan instead of scanning now (about 3 s).
    #[arg(long)]
    no_scan: bool,
}

impl ListArgs {
    pub async fn run(self, ctx: &Ctx, mut session: Session) -> anyhow::Result<()> {
        let mut progress = Progress::new(ctx.json, ctx.quiet);
        if !self.no_scan {
            progress.set("scanning…");
        }
        // Waits for the scan's results (the daemon would otherwise answer at once).
        let mut params = json!({ "rescan": !self.no_scan, "wait": true });
        if let Some(interface) = &self.interface {
            params["interface"] = json!(interface);
        }
        let listed = session
            .client
            .call::<WifiListDocument>("network.wifi.scan", params)
            .await;
        progress.clear();
        let listed = listed?;
        if ctx.json {
            return print_json(&listed);
        }
        let mut table = Table::new(&[
            ("IN-USE", Align::Left),
            ("SSID", Align::Left),
            ("SIGNAL", Align::Right),
            ("SECURITY", Align::Left),
            ("CHANNEL", Align::Right),
            ("KNOWN", Align::Left),
        ]);
        for n in &listed.networks {
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
