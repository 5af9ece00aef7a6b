//! `netpilot monitor`

use super::{Ctx, Scope, parse_seconds};
use crate::tui::{self, App, Sampler};
use clap::Args;
use netpilot_core::{Error, ErrorCode};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
#[command(
    after_help = "Keys: Tab or 1–4 switch views (Interfaces, Connections, Ports, \
Traffic); ↑↓ PgUp PgDn Home End move; in Connections a/t/u/e/l show all, tcp, udp, \
established or listening sockets, / searches by address, port, process or pid, s sorts by \
the next column and r reverses; ? lists the keys; q or Ctrl-C quits.

For scripts, the same figures come from `netpilot interfaces|connections|ports|traffic --json`."
)]
pub struct MonitorArgs {
    #[command(flatten)]
    scope: Scope,
    /// Seconds between refreshes.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_seconds)]
    interval: Duration,
    /// Write logs here (level from RUST_LOG, else info). The monitor never logs to the
    /// screen.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Numeric addresses: no reverse DNS for the Traffic view's remote hosts.
    #[arg(short = 'n', long)]
    numeric: bool,
}

impl MonitorArgs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        if ctx.json {
            return Err(usage(
                "the monitor is a screen, not a document: for JSON use \
                 `netpilot connections --json`, `ports --json`, `interfaces --json` or \
                 `traffic --json`",
            ));
        }
        if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
            return Err(usage(
                "netpilot monitor needs a terminal (stdin and stdout); for \
                 scripts use `netpilot connections --json` or `netpilot traffic --json`",
            ));
        }
        self.scope.enter()?;
        let sampler = Sampler::open(!self.numeric)?;
        let root = rustix::process::geteuid().is_root();
        let app = App::new(self.interval, root, self.scope.netns.clone());
        tui::run(sampler, app, self.interval)
    }
}

fn usage(message: &str) -> anyhow::Error {
    Error::new(ErrorCode::InvalidArgument, message).into()
}
