//! `netpilot interfaces`

use super::{Ctx, Scope, parse_seconds};
use crate::output::{print_json, units};
use clap::Args;
use netpilot_api::monitor::InterfacesDocument;
use netpilot_core::InterfaceSample;
use netpilot_core::ports::LinkSource;
use netpilot_engine::monitor::interfaces::{with_rates, without_rates};
use netpilot_linux::Links;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
#[command(
    after_help = "Rates are measured over --interval by reading the kernel's link \
counters twice. Run with --no-rate for an instant answer."
)]
pub struct InterfacesArgs {
    #[command(flatten)]
    scope: Scope,
    /// Measure rates over this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_seconds)]
    interval: Duration,
    /// Answer at once, without measuring rates.
    #[arg(long)]
    no_rate: bool,
}

impl InterfacesArgs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        self.scope.enter()?;
        let links = Links::open()?;
        let before = links.interfaces()?;
        let (samples, interval) = if self.no_rate {
            (without_rates(before), None)
        } else {
            if !ctx.json && std::io::stderr().is_terminal() {
                ctx.note(&format!(
                    "measuring rates for {:.1} s (--no-rate to skip)…",
                    self.interval.as_secs_f64()
                ));
            }
            let start = Instant::now();
            std::thread::sleep(self.interval);
            let after = links.interfaces()?;
            let elapsed = start.elapsed();
            (with_rates(&before, after, elapsed), Some(elapsed))
        };
        if ctx.json {
            let interval_ms = interval.map(|i| i.as_millis() as u64);
            return print_json(&InterfacesDocument {
                interval_ms,
                interfaces: samples,
            });
        }
        let mut out = crate::output::stdout();
        for sample in &samples {
            write_interface(&mut out, sample)?;
        }
        out.flush()?;
        Ok(())
    }
}

fn write_interface(out: &mut impl Write, sample: &InterfaceSample) -> std::io::Result<()> {
    let i = &sample.interface;
    let kind = match &i.link_kind {
        Some(link_kind) => format!("{}/{link_kind}", i.kind.as_str()),
        None => i.kind.as_str().to_string(),
    };
    let state = match (i.admin_up, i.oper_state) {
        (false, _) => "DOWN (admin)".to_string(),
        (true, state) => state.as_str().to_uppercase(),
    };
    let carrier = if i.carrier { "carrier" } else { "no-carrier" };
    let mut header = format!(
        "{}: {}  {kind}  {state}  {carrier}  mtu {}",
        i.index, i.name, i.mtu
    );
    if let Some(mac) = &i.mac {
        header.push_str(&format!("  {mac}"));
    }
    writeln!(out, "{header}")?;
    for a in &i.ipv4 {
        writeln!(out, "    inet   {a}")?;
    }
    for a in &i.ipv6 {
        writeln!(out, "    inet6  {a}")?;
    }
    let c = &i.counters;
    let lines = [
        (
            "RX",
            c.rx_bytes,
            c.rx_packets,
            c.rx_errors,
            c.rx_dropped,
            sample.rate.map(|r| r.rx_bytes_per_sec),
        ),
        (
            "TX",
            c.tx_bytes,
            c.tx_packets,
            c.tx_errors,
            c.tx_dropped,
            sample.rate.map(|r| r.tx_bytes_per_sec),
        ),
    ];
    let cells: Vec<[String; 5]> = lines
        .iter()
        .map(|&(_, bytes, packets, errors, dropped, rate)| {
            [
                units::bytes(bytes),
                format!("{} packets", units::count(packets)),
                format!("{} errors", units::count(errors)),
                format!("{} dropped", units::count(dropped)),
                rate.map_or_else(String::new, units::rate),
            ]
        })
        .collect();
    let width = |column: usize| cells.iter().map(|c| c[column].len()).max().unwrap_or(0);
    for (line, cell) in lines.iter().zip(&cells) {
        let text = format!(
            "    {}  {:>w0$}  {:>w1$}  {:>w2$}  {:>w3$}  {:>w4$}",
            line.0,
            cell[0],
            cell[1],
            cell[2],
            cell[3],
            cell[4],
            w0 = width(0),
            w1 = width(1),
            w2 = width(2),
            w3 = width(3),
            w4 = width(4),
        );
        writeln!(out, "{}", text.trim_end())?;
    }
    Ok(())
}
