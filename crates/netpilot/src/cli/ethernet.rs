//! `netpilot ethernet`: wired links through NetworkManager.

use super::Ctx;
use super::wifi::session;
use crate::output::print_json;
use crate::output::table::{Align, Table};
use clap::{Args, Subcommand};
use netpilot_api::wifi::{EthernetDevicesDocument, WifiDisconnectDocument};
use netpilot_core::menu::WiredDevice;
use netpilot_engine::connect::Timeouts;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "\
Through the daemon when one runs, else with an engine of the command's own (as `wifi`). The \
internet goes through the link with the lowest-metric default route: `netpilot events` says \
whether that is Ethernet.")]
pub struct EthernetArgs {
    /// The daemon's socket [default: $NETPILOT_SOCKET, else the daemon's default for this
    /// user, else /run/netpilot/netpilot.sock].
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
    /// Do not use a running daemon: run the engine in this command.
    #[arg(long, global = true)]
    no_daemon: bool,
    #[command(subcommand)]
    command: EthernetCommand,
}

#[derive(Debug, Subcommand)]
enum EthernetCommand {
    /// Connect a wired device (its saved profile, else a new one) and wait until it has an
    /// address (30 s at most).
    Up(Interface),
    /// Disconnect a wired device (every connected one without --interface).
    Down(Interface),
    /// Each wired device: state, cable, addresses, gateway, DNS.
    Show(Interface),
}

#[derive(Debug, Args)]
struct Interface {
    /// The wired device [default: up: the first with a cable; down: every connected one].
    #[arg(long, value_name = "IF")]
    interface: Option<String>,
}

impl EthernetArgs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let mut session =
                session(self.socket, self.no_daemon, None, Timeouts::default()).await?;
            let client = &mut session.client;
            match self.command {
                EthernetCommand::Up(args) => {
                    let device: WiredDevice = client
                        .call("network.ethernet.connect", params(&args))
                        .await?;
                    if ctx.json {
                        return print_json(&device);
                    }
                    println!(
                        "connected {} ({})",
                        device.interface,
                        device.ipv4.as_deref().unwrap_or("no IPv4 address")
                    );
                    Ok(())
                }
                EthernetCommand::Down(args) => {
                    let left: WifiDisconnectDocument = client
                        .call("network.ethernet.disconnect", params(&args))
                        .await?;
                    if ctx.json {
                        return print_json(&left);
                    }
                    match left.interfaces.is_empty() {
                        true => ctx.note("no wired device was connected: nothing to leave"),
                        false => println!("disconnected {}", left.interfaces.join(", ")),
                    }
                    Ok(())
                }
                EthernetCommand::Show(args) => {
                    let shown: EthernetDevicesDocument =
                        client.call("network.ethernet.info", params(&args)).await?;
                    if ctx.json {
                        return print_json(&shown);
                    }
                    show(ctx, &shown.devices)
                }
            }
        })
    }
}

fn params(args: &Interface) -> serde_json::Value {
    match &args.interface {
        Some(interface) => json!({ "interface": interface }),
        None => json!({}),
    }
}

fn show(ctx: &Ctx, devices: &[WiredDevice]) -> anyhow::Result<()> {
    if devices.is_empty() {
        ctx.note("no wired device NetworkManager manages");
        return Ok(());
    }
    let mut table = Table::new(&[
        ("INTERFACE", Align::Left),
        ("STATE", Align::Left),
        ("CABLE", Align::Left),
        ("IPV4", Align::Left),
        ("IPV6", Align::Left),
        ("GATEWAY", Align::Left),
        ("DNS", Align::Left),
        ("PROFILE", Align::Left),
    ]);
    let or_dash = |v: Option<&str>| v.unwrap_or("-").to_string();
    for d in devices {
        table.row(vec![
            d.interface.clone(),
            d.state.label().into(),
            if d.carrier { "yes" } else { "no" }.into(),
            or_dash(d.ipv4.as_deref()),
            or_dash(d.ipv6.first().map(String::as_str)),
            or_dash(d.gateway.as_deref()),
            if d.dns.is_empty() {
                "-".into()
            } else {
                d.dns.join(" ")
            },
            or_dash(d.profile.as_deref()),
        ]);
    }
    let mut out = crate::output::stdout();
    table.write(&mut out)?;
    out.flush()?;
    Ok(())
}
