//! `netpilot connections`

use super::visibility::hidden_note;
use super::{Ctx, Scope};
use crate::output::print_json;
use crate::output::table::{Align, Table};
use clap::{Args, ValueEnum};
use netpilot_api::monitor::{ConnectionSummary, ConnectionsDocument};
use netpilot_core::{Connection, ProcessRef};
use netpilot_engine::monitor::{ConnectionFilter, ConnectionKind, collect_connections};
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
    #[arg(long, value_enum, default_value_t = Kind::All)]
    kind: Kind,
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

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    All,
    Tcp,
    Udp,
    Established,
    Listen,
}

impl ConnectionsArgs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        self.scope.enter()?;
        let filter = ConnectionFilter {
            kind: match self.kind {
                Kind::All => ConnectionKind::All,
                Kind::Tcp => ConnectionKind::Tcp,
                Kind::Udp => ConnectionKind::Udp,
                Kind::Established => ConnectionKind::Established,
                Kind::Listen => ConnectionKind::Listen,
            },
            pid: self.pid,
            process: self.process,
            port: self.port,
        };
        let snapshot = collect_connections(&SockDiag::open()?, &ProcFs::open()?, &filter)?;
        let summary = ConnectionSummary::of(&snapshot.connections);
        if let Some(note) = hidden_note(&snapshot.visibility, "connections") {
            ctx.note(&note);
        }
        if ctx.json {
            let document = ConnectionsDocument {
                connections: snapshot.connections,
                summary,
                visibility: snapshot.visibility,
            };
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
        for c in &snapshot.connections {
            table.row(cells(c));
        }
        let mut out = crate::output::stdout();
        table.write(&mut out)?;
        writeln!(out, "{}", summary_line(&summary))?;
        out.flush()?;
        Ok(())
    }
}

/// PROTO, STATE, LOCAL, REMOTE, PROCESS, USER: as the table and the monitor show them.
pub fn cells(c: &Connection) -> Vec<String> {
    vec![
        format!(
            "{}{}",
            c.protocol.as_str(),
            if c.family == netpilot_core::Family::Ipv6 {
                "6"
            } else {
                ""
            }
        ),
        c.state.label().to_string(),
        c.local.to_string(),
        c.remote.map_or_else(|| "*".to_string(), |r| r.to_string()),
        processes_cell(&c.processes),
        c.user
            .as_deref()
            .map_or_else(|| c.uid.to_string(), str::to_owned),
    ]
}

/// "812/sshd", "812/sshd +2", or "-" when no process can be seen.
pub fn processes_cell(processes: &[ProcessRef]) -> String {
    match processes {
        [] => "-".to_string(),
        [first] => format!("{}/{}", first.pid, first.name),
        [first, rest @ ..] => format!("{}/{} +{}", first.pid, first.name, rest.len()),
    }
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
