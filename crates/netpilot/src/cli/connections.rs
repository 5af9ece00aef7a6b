//! `netpilot connections`

use super::{Ctx, Scope};
use crate::output::notes::hidden_note;
use crate::output::table::{Align, Table};
use crate::output::{print_json, rows};
use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use netpilot_api::monitor::{ConnectionSummary, ConnectionsDocument};
use netpilot_core::ConnectionKind;
use netpilot_engine::monitor::{ConnectionFilter, collect_connections};
use netpilot_linux::{ProcFs, SockDiag};
use std::io::Write;

#[derive(Debug, Args)]
#[command(
    after_help = "Sockets come from the kernel's socket diagnostics (sock_diag) and are \
matched to processes through /proc/PID/fd. Without root, sockets of other users' processes \
are shown without a process."
)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    scope: Scope,
    /// Which sockets: all, tcp, udp, established, or listen (listening TCP and bound,
    /// unconnected UDP).
    #[arg(long, default_value = "all", value_parser = kind_parser())]
    kind: ConnectionKind,
    /// Only sockets held by this process id.
    #[arg(long, value_name = "PID")]
    pid: Option<u32>,
    /// Only sockets held by processes of this name (as in /proc/PID/comm).
    #[arg(long, value_name = "NAME")]
    process: Option<String>,
    /// Only sockets with this local or remote port.
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
}

impl ConnectionsArgs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        self.scope.enter()?;
        let filter = ConnectionFilter {
            kind: self.kind,
            pid: self.pid,
            process: self.process,
            port: self.port,
        };
        let snapshot = collect_connections(&SockDiag::open()?, &ProcFs::open()?, &filter)?;
        if let Some(note) = hidden_note(&snapshot.visibility, "connections") {
            ctx.note(&note);
        }
        let document = ConnectionsDocument::from(snapshot);
        if ctx.json {
            return print_json(&document);
        }
        let mut table = Table::new(&[
            ("PROTO", Align::Left),
            ("STATE", Align::Left),
            ("LOCAL", Align::Left),
            ("REMOTE", Align::Left),
            ("PROCESS", Align::Left),
            ("USER", Align::Left),
        ]);
        for c in &document.connections {
            table.row(rows::connection(c));
        }
        let mut out = crate::output::stdout();
        table.write(&mut out)?;
        writeln!(out, "{}", summary_line(&document.summary))?;
        out.flush()?;
        Ok(())
    }
}

/// `--kind`: the names `ConnectionKind` itself parses.
fn kind_parser() -> impl TypedValueParser<Value = ConnectionKind> {
    PossibleValuesParser::new(ConnectionKind::ALL.map(ConnectionKind::as_str))
        .try_map(|name| name.parse::<ConnectionKind>())
}

fn summary_line(summary: &ConnectionSummary) -> String {
    let states: Vec<String> = summary
        .by_state
        .iter()
        .map(|(state, n)| format!("{} {n}", state.label()))
        .collect();
    let sockets = if summary.total == 1 {
        "socket"
    } else {
        "sockets"
    };
    if states.is_empty() {
        format!("{} {sockets}", summary.total)
    } else {
        format!("{} {sockets}: {}", summary.total, states.join(", "))
    }
}
