//! `netpilot wifi show`

use super::Session;
use crate::cli::Ctx;
use crate::output::print_json;
use crate::output::table::{Align, Table};
use clap::Args;
use netpilot_api::wifi::WifiShowDocument;
use serde_json::json;
use std::io::Write;

#[derive(Debug, Args)]
#[command(after_help = "\
Every access point (BSSID) any radio sees for the network, from the radios' last scans \
(`netpilot wifi list` scans afresh), and its saved profile's settings; never its password. \
A hidden network is listed once joined.")]
pub struct ShowArgs {
    /// The network.
    ssid: String,
}

impl ShowArgs {
    pub async fn run(self, ctx: &Ctx, mut session: Session) -> anyhow::Result<()> {
        let info: WifiShowDocument = session
            .client
            .call("network.info", json!({ "ssid": self.ssid }))
            .await?;
        if ctx.json {
            return print_json(&info);
        }
        let mut out = crate::output::stdout();
        if info.access_points.is_empty() {
            writeln!(out, "{:?}: not in range", info.ssid)?;
        } else {
            let mut table = Table::new(&[
                ("IN-USE", Align::Left),
                ("BSSID", Align::Left),
                ("SIGNAL", Align::Right),
                ("FREQ", Align::Right),
                ("CHAN", Align::Right),
                ("RATE", Align::Right),
                ("SECURITY", Align::Left),
                ("SEEN ON", Align::Left),
            ]);
            for ap in &info.access_points {
                table.row(vec![
                    if ap.connected { "*" } else { "" }.into(),
                    ap.bssid.clone(),
                    format!("{} %", ap.signal),
                    format!("{} MHz", ap.frequency),
                    ap.channel.to_string(),
                    if ap.rate == 0 {
                        "-".into()
                    } else {
                        format!("{} Mbit/s", ap.rate)
                    },
                    ap.security.as_str().into(),
                    ap.interface.clone(),
                ]);
            }
            table.write(&mut out)?;
        }
        match &info.saved {
            None => writeln!(out, "\nnot saved")?,
            Some(profile) => {
                writeln!(out, "\nsaved as {:?} ({})", profile.name, profile.uuid)?;
                writeln!(
                    out,
                    "  autoconnect  {}",
                    if profile.autoconnect { "yes" } else { "no" }
                )?;
                writeln!(out, "  priority     {}", profile.priority)?;
                writeln!(out, "  security     {}", profile.security.as_str())?;
                writeln!(
                    out,
                    "  hidden       {}",
                    if profile.hidden { "yes" } else { "no" }
                )?;
                writeln!(
                    out,
                    "  interface    {}",
                    profile.interface.as_deref().unwrap_or("any")
                )?;
            }
        }
        out.flush()?;
        Ok(())
    }
}
