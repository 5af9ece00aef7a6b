//! `netpilot ports`

use super::connections::processes_cell;
use super::visibility::hidden_note;
use super::{Ctx, Scope};
use crate::output::print_json;
use crate::output::table::{Align, Table};
use clap::Args;
use netpilot_api::monitor::PortsDocument;
use netpilot_core::ListeningPort;
use netpilot_engine::monitor::collect_ports;
use netpilot_linux::{ProcFs, SockDiag};
use std::collections::BTreeSet;
use std::io::Write;
use std::net::IpAddr;

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
        if ctx.json {
            let document = PortsDocument {
                ports: snapshot.ports,
                visibility: snapshot.visibility,
            };
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
        for port in &snapshot.ports {
            table.row(row(port));
        }
        let mut out = crate::output::stdout();
        table.write(&mut out)?;
        out.flush()?;
        Ok(())
    }
}

fn row(port: &ListeningPort) -> Vec<String> {
    let addresses: Vec<String> = port
        .bindings
        .iter()
        .map(|b| show_address(b.address))
        .collect();
    let mut processes = BTreeSet::new();
    let mut users = BTreeSet::new();
    for binding in &port.bindings {
        processes.extend(binding.processes.iter().cloned());
        users.extend(binding.user.iter().cloned());
    }
    let processes: Vec<_> = processes.into_iter().collect();
    vec![
        port.protocol.as_str().to_string(),
        port.port.to_string(),
        port.service.clone().unwrap_or_else(|| "-".into()),
        addresses.join(", "),
        processes_cell(&processes),
        users.into_iter().collect::<Vec<_>>().join(","),
    ]
}

fn show_address(address: IpAddr) -> String {
    match address {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}
