//! `netpilot wifi saved` and `netpilot wifi set`

use super::Session;
use crate::cli::Ctx;
use crate::output::print_json;
use crate::output::table::{Align, Table};
use clap::{Args, ValueEnum};
use netpilot_api::wifi::{WifiSavedDocument, WifiSetDocument};
use netpilot_core::{Error, ErrorCode};
use serde_json::json;
use std::io::Write;

#[derive(Debug, Args)]
#[command(after_help = "\
Every network NetworkManager keeps a profile for, in range or not (not hotspots, not device \
links: `netpilot device list`). LAST USED is when it was last joined. Change one with \
`netpilot wifi set SSID`, delete it with `netpilot wifi forget SSID`.")]
pub struct SavedArgs {}

impl SavedArgs {
    pub async fn run(self, ctx: &Ctx, mut session: Session) -> anyhow::Result<()> {
        let saved: WifiSavedDocument = session.client.call("network.wifi.saved", json!({})).await?;
        if ctx.json {
            return print_json(&saved);
        }
        if saved.networks.is_empty() {
            ctx.note("no saved network: join one with netpilot wifi connect SSID");
            return Ok(());
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut table = Table::new(&[
            ("SSID", Align::Left),
            ("IN RANGE", Align::Left),
            ("AUTOCONNECT", Align::Left),
            ("PRIORITY", Align::Right),
            ("SECURITY", Align::Left),
            ("LAST USED", Align::Left),
        ]);
        for network in &saved.networks {
            table.row(vec![
                network.ssid.clone(),
                yes_no(!network.out_of_range).into(),
                yes_no(network.autoconnect).into(),
                network.priority.to_string(),
                network.security.as_str().into(),
                network
                    .last_used
                    .map_or_else(|| "never".into(), |at| ago(now.saturating_sub(at))),
            ]);
        }
        let mut out = crate::output::stdout();
        table.write(&mut out)?;
        out.flush()?;
        Ok(())
    }
}

#[derive(Debug, Args)]
#[command(after_help = "\
Changes every saved profile of the network. NetworkManager joins a network by itself only \
when autoconnect is on; among those in range, the higher priority first (-999 to 999, \
default 0).

  netpilot wifi set home --priority 10
  netpilot wifi set cafe --autoconnect no")]
pub struct SetArgs {
    /// The saved network.
    ssid: String,
    /// Join it by itself when in range.
    #[arg(long, value_enum, value_name = "yes|no")]
    autoconnect: Option<YesNo>,
    /// Its rank when several are in range: the higher first (-999 to 999).
    #[arg(long, value_name = "N", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(-999..=999))]
    priority: Option<i32>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum YesNo {
    Yes,
    No,
}

impl SetArgs {
    /// Checked before the daemon is asked anything.
    pub fn check(&self) -> Result<(), Error> {
        if self.autoconnect.is_none() && self.priority.is_none() {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "nothing to change: give --autoconnect yes|no or --priority N",
            ));
        }
        Ok(())
    }

    pub async fn run(self, ctx: &Ctx, mut session: Session) -> anyhow::Result<()> {
        let mut changed: Option<WifiSetDocument> = None;
        if let Some(autoconnect) = self.autoconnect {
            let params =
                json!({ "ssid": self.ssid, "autoconnect": matches!(autoconnect, YesNo::Yes) });
            changed = Some(
                session
                    .client
                    .call("network.wifi.setAutoconnect", params)
                    .await?,
            );
        }
        if let Some(priority) = self.priority {
            let params = json!({ "ssid": self.ssid, "priority": priority });
            changed = Some(
                session
                    .client
                    .call("network.wifi.setPriority", params)
                    .await?,
            );
        }
        let changed = changed.expect("one change at least, checked above");
        if ctx.json {
            return print_json(&changed);
        }
        let profiles = changed.profiles;
        println!(
            "changed {:?} ({profiles} profile{})",
            changed.ssid,
            if profiles == 1 { "" } else { "s" }
        );
        Ok(())
    }
}

fn yes_no(yes: bool) -> &'static str {
    if yes { "yes" } else { "no" }
}

/// "5 min ago", "3 h ago", "2 days ago".
fn ago(seconds: u64) -> String {
    match seconds {
        0..60 => "just now".into(),
        60..3600 => format!("{} min ago", seconds / 60),
        3600..86_400 => format!("{} h ago", seconds / 3600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}
