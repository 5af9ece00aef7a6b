//! `netpilot ports`

use super::{Ctx, Scope};
use crate::output::notes::hidden_note;
use crate::output::table::{Align, Table};
use crate::output::{print_json, rows};
use clap::Args;
use netpilot_api::monitor::PortsDocument;
use netpilot_engine::monitor::collect_ports;
use netpilot_linux::{ProcFs, SockDiag};
use std::io::Write;

#[derive(Debug, Args)]
pub struct PortsArgs {
    #[command(flatten)]
    scope: Scope,
}

impl PortsArgs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        self.scope.enter()?;
        let snapshot = collect_ports(&SockDiag::open()?, &ProcFs::open()?)?;
        if let Some(note) = hidden_note(&snapshot.visibility, "ports") {
            ctx.note(&note);
        }
        let document = PortsDocument::from(snapshot);
        if ctx.json {
            return print_json(&document);
        }
        let mut table = Table::new(&[
            ("PROTO", Align::Left),
            ("PORT", Align::Right),
            ("SERVICE", Align::Left),
            ("ADDRESSES", Align::Left),
            ("PROCESS", Align::Left),
            ("USER", Align::Left),
        ]);
        for port in &document.ports {
            table.row(rows::port(port));
        }
        let mut out = crate::output::stdout();
        table.write(&mut out)?;
        out.flush()?;
        Ok(())
    }
}
