//! `netpilot traffic`

use super::{Ctx, Scope, parse_seconds};
use crate::output::notes::hidden_note;
use crate::output::table::{Align, Table};
use crate::output::{print_json, rows, units};
use clap::Args;
use netpilot_api::monitor::TrafficDocument;
use netpilot_engine::monitor::{TrafficMeter, TrafficSample};
use netpilot_linux::{ClosedSocketListener, ProcFs, SockDiag};
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
#[command(
    after_help = "TCP bytes are the kernel's own per-socket counters (tcp_info \
bytes_acked and bytes_received): exact payload, without packet capture. Bytes of sockets that \
close between samples are counted from the kernel's destroy notices (root). UDP sockets are \
counted, but the kernel keeps no per-socket UDP byte counters, so their bytes are not measured.

With no --count it runs until interrupted; with --json it prints one document per interval \
(JSON Lines)."
)]
pub struct TrafficArgs {
    #[command(flatten)]
    scope: Scope,
    /// Seconds between reports.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = parse_seconds)]
    interval: Duration,
    /// Stop after this many reports.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
}

impl TrafficArgs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        self.scope.enter()?;
        // Opened after entering the namespace: netlink sockets stay in the one they
        // were created in.
        let closed = ClosedSocketListener::start();
        if closed.is_none() {
            ctx.note(
                "note: the kernel's socket-destroy notices are unavailable, so bytes \
                      sockets move just before they close are not counted",
            );
        }
        let mut meter = TrafficMeter::new(SockDiag::open()?, ProcFs::open()?, closed);
        meter.sample(Instant::now())?;
        // Reports keep to a fixed schedule from the baseline (the first sample reads all
        // of /proc and may be slow); one that falls behind starts a new schedule.
        let mut deadline = Instant::now();
        let mut reports = 0;
        let mut noted_hidden = false;
        while self.count.is_none_or(|count| reports < count) {
            reports += 1;
            deadline += self.interval;
            let now = Instant::now();
            if deadline < now {
                deadline = now + self.interval;
            }
            std::thread::sleep(deadline - now);
            let sample = meter.sample(Instant::now())?;
            if !noted_hidden && let Some(note) = hidden_note(&sample.visibility, "traffic") {
                ctx.note(&note);
                noted_hidden = true;
            }
            if ctx.json {
                print_json(&TrafficDocument::from(sample))?;
            } else {
                write_report(&sample, reports > 1)?;
            }
        }
        Ok(())
    }
}

fn write_report(sample: &TrafficSample, separate: bool) -> anyhow::Result<()> {
    let mut table = Table::new(&[
        ("PID", Align::Right),
        ("PROCESS", Align::Left),
        ("RX/s", Align::Right),
        ("TX/s", Align::Right),
        ("RX TOTAL", Align::Right),
        ("TX TOTAL", Align::Right),
        ("CONNS", Align::Right),
        ("ESTAB", Align::Right),
        ("LISTEN", Align::Right),
        ("UDP", Align::Right),
    ]);
    for p in &sample.processes {
        table.row(rows::traffic(p));
    }
    let u = &sample.unattributed;
    if u.rx_bytes + u.tx_bytes > 0 {
        table.row(vec![
            "-".into(),
            "(unattributed)".into(),
            units::rate(u.rx_bytes_per_sec),
            units::rate(u.tx_bytes_per_sec),
            units::bytes(u.rx_bytes),
            units::bytes(u.tx_bytes),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    let mut out = crate::output::stdout();
    if separate {
        writeln!(out)?;
    }
    table.write(&mut out)?;
    let interval = sample.interval.map_or(0.0, |i| i.as_secs_f64());
    let mut footer = format!("TCP payload over {interval:.2} s; UDP bytes not measured");
    if sample.lost_notices > 0 {
        footer.push_str(&format!(
            "; {} socket-close notices were dropped by the kernel",
            sample.lost_notices
        ));
    }
    writeln!(out, "{footer}")?;
    out.flush()?;
    Ok(())
}
