//! The command line: one module per subcommand.

mod completions;
mod connections;
mod daemon;
mod device;
mod ethernet;
mod events;
pub mod exit;
mod interfaces;
mod manpages;
mod monitor;
mod ports;
mod progress;
mod prompt;
mod timeouts;
mod traffic;
mod wifi;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::io::Write;

/// A Linux network companion: see what your network is doing.
///
/// netpilot shows interfaces with their rates, every connection with the process that
/// holds it, listening ports, and exact per-process TCP traffic, read from the kernel
/// (netlink, sock_diag, /proc). Every command prints a table, or JSON with --json.
#[derive(Debug, Parser)]
#[command(name = "netpilot", version, after_help = exit::EXIT_CODES)]
pub struct Cli {
    /// Print JSON on stdout instead of a table: one document, or one per line for
    /// `traffic`. Errors become {"error":{"code","message","hint"}}.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print no notes (hidden sockets, what is not measured) on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Network interfaces: state, addresses, counters and current rates.
    Interfaces(interfaces::InterfacesArgs),
    /// Sockets with their state, peer and the process that holds them.
    Connections(connections::ConnectionsArgs),
    /// Listening TCP and bound UDP ports with their processes and service names.
    Ports(ports::PortsArgs),
    /// Live per-process traffic: bytes/s, totals and connection counts.
    Traffic(traffic::TrafficArgs),
    /// The live monitor: interfaces, connections, ports and traffic on one screen.
    Monitor(monitor::MonitorArgs),
    /// WiFi: list networks, connect (asking for passwords), status, disconnect, forget; the
    /// WiFi switch, saved networks, a network's access points.
    Wifi(wifi::WifiArgs),
    /// Wired links: connect, disconnect, show (address, gateway, DNS).
    Ethernet(ethernet::EthernetArgs),
    /// Device links: join a robot's, drone's or camera's own WiFi on a second radio while
    /// the internet stays where it is (through the daemon).
    Device(device::DeviceArgs),
    /// Serve the JSON API (protocol v1) on a Unix socket and a WebSocket, as
    /// NetworkManager's secret agent.
    Daemon(daemon::DaemonArgs),
    /// The daemon's events as they come (network, prompts, device links, internet), as
    /// readable lines or JSON Lines, until Ctrl-C.
    Events(events::EventsArgs),
    /// Print the completion script for bash, zsh, fish, elvish or PowerShell.
    Completions(completions::CompletionsArgs),
}

/// The command line, parsed as `Cli::parse()` would. Like clap's --help, the hidden
/// `manpages DIR` (for scripts/package) does its work here and exits.
pub fn parse() -> Cli {
    let matches = manpages::with_manpages(Cli::command()).get_matches();
    if let Some(dir) = manpages::requested(&matches) {
        match manpages::write_all(Cli::command(), dir) {
            Ok(pages) => {
                for page in pages {
                    println!("{}", page.display());
                }
                std::process::exit(0)
            }
            Err(e) => {
                eprintln!(
                    "netpilot: cannot write the manual pages into {}: {e}",
                    dir.display()
                );
                std::process::exit(1)
            }
        }
    }
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// What every command may need: output mode and where to write.
pub struct Ctx {
    pub json: bool,
    pub quiet: bool,
}

impl Ctx {
    /// A note for the human reading stderr; silent with --quiet.
    pub fn note(&self, message: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr(), "{message}");
        }
    }
}

impl Cli {
    pub fn run(self) -> anyhow::Result<()> {
        let ctx = Ctx {
            json: self.json,
            quiet: self.quiet,
        };
        match self.command {
            Command::Interfaces(args) => args.run(&ctx),
            Command::Connections(args) => args.run(&ctx),
            Command::Ports(args) => args.run(&ctx),
            Command::Traffic(args) => args.run(&ctx),
            Command::Monitor(args) => args.run(&ctx),
            Command::Wifi(args) => args.run(&ctx),
            Command::Device(args) => args.run(&ctx),
            Command::Ethernet(args) => args.run(&ctx),
            Command::Daemon(args) => args.run(&ctx),
            Command::Events(args) => args.run(&ctx),
            Command::Completions(args) => args.run(&ctx),
        }
    }
}

/// Where logs go.
pub enum LogTarget {
    /// With RUST_LOG only: stdout is for tables and JSON.
    Stderr,
    /// The monitor owns the screen.
    Nowhere,
    /// The monitor's `--log-file` (RUST_LOG, else info).
    File(std::path::PathBuf),
}

impl Cli {
    pub fn log_target(&self) -> LogTarget {
        match &self.command {
            Command::Monitor(args) => match &args.log_file {
                Some(file) => LogTarget::File(file.clone()),
                None => LogTarget::Nowhere,
            },
            _ => LogTarget::Stderr,
        }
    }
}

/// Where to look: this network namespace or a named one.
#[derive(Debug, Clone, Args)]
pub struct Scope {
    /// Inspect the named network namespace (`ip netns list`) instead of this one, as
    /// `ss -N NAME` does. Needs root.
    #[arg(long, value_name = "NAME")]
    pub netns: Option<String>,
}

impl Scope {
    /// Enters the namespace, if one was named. Call before opening any netlink socket.
    pub fn enter(&self) -> Result<(), netpilot_core::Error> {
        match &self.netns {
            Some(name) => netpilot_linux::netns::enter(name),
            None => Ok(()),
        }
    }
}

/// Parses a positive number of seconds ("1", "0.5") for --interval.
pub fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.01..=3600.0).contains(&seconds) {
        return Err("give between 0.01 and 3600 seconds".into());
    }
    Ok(std::time::Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn intervals_are_positive_seconds() {
        assert_eq!(
            parse_seconds("0.5"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
        assert!(parse_seconds("NaN").is_err());
    }

    #[test]
    fn the_systemd_units_start_the_daemon_with_arguments_it_accepts() {
        let units = [
            include_str!("../../../../contrib/systemd/netpilot.service"),
            include_str!("../../../../contrib/systemd/netpilot-user.service"),
        ];
        for unit in units {
            let exec = unit
                .lines()
                .find_map(|l| l.strip_prefix("ExecStart="))
                .expect("an ExecStart line");
            let args = exec.split_whitespace().skip(1);
            let cli = Cli::try_parse_from(std::iter::once("netpilot").chain(args))
                .unwrap_or_else(|e| panic!("{exec}: {e}"));
            assert!(matches!(cli.command, Command::Daemon(_)), "{exec}");
        }
    }
}
