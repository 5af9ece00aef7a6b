//! `netpilot traffic`

use super::{Ctx, Scope, parse_seconds};
use crate::output::notes::hidden_note;
use crate::output::table::{Align, Table};
use crate::output::{print_json, rows, units};
use crate::traffic_sampler::{Sampled, TrafficSampler};
use clap::{Args, ValueEnum};
use netpilot_engine::monitor::UdpStatus;
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
#[command(
    after_help = "TCP bytes are the kernel's own per-socket counters (tcp_info \
bytes_acked and bytes_received): exact payload, without packet capture. Bytes of sockets that \
close between samples are counted from the kernel's destroy notices (root).

UDP bytes (and every interface's attributed share) come from netpilot's eBPF packet counter, \
attached to the root of the cgroup v2 hierarchy while netpilot runs (root, or CAP_BPF, \
CAP_PERFMON and CAP_NET_ADMIN): the datagrams' payload without IP and UDP headers, per socket, \
so TCP and UDP add up the same way. A received datagram counts when it reaches its socket, \
even if the socket then drops it for a full receive queue (the DROPPED figure of --json). \
Without the counter TCP stays exact and UDP says why it is not measured.

With no --count it runs until interrupted; with --json it prints one document per interval \
(JSON Lines), with every view."
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
    /// The table's rows: per process, per connection (a UDP socket has one per remote
    /// end), or per remote host.
    #[arg(long, value_enum, default_value_t = By::Process)]
    by: By,
    /// Numeric addresses: no reverse DNS for remote hosts.
    #[arg(short = 'n', long)]
    numeric: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum By {
    Process,
    Connection,
    Remote,
}

impl TrafficArgs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        self.scope.enter()?;
        // Opened after entering the namespace: netlink sockets stay in the one they
        // were created in, and the packet counter counts the namespace it started in.
        let mut sampler = TrafficSampler::open(!self.numeric && self.by == By::Remote)?;
        if !sampler.closed_sockets_tracked() {
            ctx.note(
                "note: the kernel's socket-destroy notices are unavailable, so bytes \
                      TCP sockets move just before they close are not counted",
            );
        }
        let first = sampler.sample(Instant::now())?;
        if let UdpStatus::NotMeasured(why) = &first.sample.udp {
            let hint = why
                .hint
                .as_deref()
                .map_or(String::new(), |h| format!("\n  {h}"));
            ctx.note(&format!("note: {}{hint}", why.message));
        }
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
            let sampled = sampler.sample(Instant::now())?;
            if !noted_hidden && let Some(note) = hidden_note(&sampled.sample.visibility, "traffic")
            {
                ctx.note(&note);
                noted_hidden = true;
            }
            if ctx.json {
                print_json(&sampled.document())?;
            } else {
                write_report(&sampled, self.by, reports > 1)?;
            }
        }
        Ok(())
    }
}

fn table(titles: &[&'static str], left: usize) -> Table {
    let columns: Vec<(&'static str, Align)> = titles
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, if i < left { Align::Left } else { Align::Right }))
        .collect();
    Table::new(&columns)
}

fn write_report(sampled: &Sampled, by: By, separate: bool) -> anyhow::Result<()> {
    let sample = &sampled.sample;
    let table = match by {
        By::Process => {
            let mut table = table(&rows::TRAFFIC, 3);
            for p in &sample.processes {
                table.row(rows::traffic(p));
            }
            let u = &sample.unattributed;
            if u.rx_bytes + u.tx_bytes > 0 {
                let mut cells = vec![
                    "-".into(),
                    "(unattributed)".into(),
                    "-".into(),
                    units::rate(u.rx_bytes_per_sec),
                    units::rate(u.tx_bytes_per_sec),
                    units::bytes(u.rx_bytes),
                    units::bytes(u.tx_bytes),
                ];
                cells.resize(rows::TRAFFIC.len(), String::new());
                table.row(cells);
            }
            table
        }
        By::Connection => {
            let mut table = table(&rows::CONNECTION_TRAFFIC, 5);
            for c in &sample.connections {
                table.row(rows::connection_traffic(c));
            }
            table
        }
        By::Remote => {
            let mut table = table(&rows::REMOTE_TRAFFIC, 2);
            for r in &sample.remotes {
                table.row(rows::remote_traffic(r));
            }
            table
        }
    };
    let mut out = crate::output::stdout();
    if separate {
        writeln!(out)?;
    }
    table.write(&mut out)?;
    let interval = sample.interval.map_or(0.0, |i| i.as_secs_f64());
    let mut footer = match &sample.udp {
        UdpStatus::Measured { missed_packets: 0 } => {
            format!("TCP and UDP payload over {interval:.2} s")
        }
        UdpStatus::Measured { missed_packets } => format!(
            "TCP and UDP payload over {interval:.2} s; {missed_packets} packets were not \
             counted (the packet counter's table is full)"
        ),
        UdpStatus::NotMeasured(_) => {
            format!("TCP payload over {interval:.2} s; UDP bytes not measured")
        }
    };
    if sample.lost_notices > 0 {
        footer.push_str(&format!(
            "; {} socket-close notices were dropped by the kernel",
            sample.lost_notices
        ));
    }
    writeln!(out, "{footer}")?;
    if matches!(sample.udp, UdpStatus::Measured { .. }) {
        for r in sampled.reconciliation.iter().filter(|r| r.bytes > 0) {
            writeln!(out, "{}", rows::reconciliation(r))?;
        }
    }
    out.flush()?;
    Ok(())
}
