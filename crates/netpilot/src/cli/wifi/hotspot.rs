//! `netpilot wifi hotspot start|stop|status`

use super::Session;
use crate::cli::Ctx;
use crate::output::print_json;
use clap::{Args, Subcommand, ValueEnum};
use netpilot_api::wifi::{HotspotStatusDocument, WifiDisconnectDocument};
use netpilot_core::menu::Hotspot;
use netpilot_core::{Error, ErrorCode, Secret};
use serde_json::json;
use std::io::IsTerminal;

#[derive(Debug, Args)]
#[command(after_help = "\
A hotspot is an access point other devices join: NetworkManager's shared mode gives them \
addresses (10.42.0.0/24) and, where the firewall tools are installed, the internet through \
this machine. It runs on a free radio: never the one that carries the internet unless named \
(its network then drops), never a device link's. Its password (WPA2, 8 to 63 characters) is \
kept by netpilot, never in NetworkManager's profile, and is never printed.

  echo 'spot-secret-1' | netpilot wifi hotspot start np-spot --password-stdin
  netpilot wifi hotspot status
  netpilot wifi hotspot stop")]
pub struct HotspotArgs {
    #[command(subcommand)]
    command: HotspotCommand,
}

#[derive(Debug, Subcommand)]
enum HotspotCommand {
    /// Start a hotspot; returns once others can join it.
    Start(StartArgs),
    /// Stop the hotspot (and delete its profile and password).
    Stop(StopArgs),
    /// Whether a hotspot runs: where, its name, its address.
    Status,
}

#[derive(Debug, Args)]
struct StartArgs {
    /// The hotspot's network name.
    ssid: String,
    /// Read its password from the first line of standard input.
    #[arg(long, conflicts_with = "ask")]
    password_stdin: bool,
    /// Ask for its password on the terminal.
    #[arg(long)]
    ask: bool,
    /// The radio to run it on [default: a free one].
    #[arg(long, value_name = "IF")]
    interface: Option<String>,
    /// The band: bg (2.4 GHz, every device joins) or a (5 GHz) [default: the radio's choice].
    #[arg(long, value_enum)]
    band: Option<Band>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Band {
    Bg,
    A,
}

#[derive(Debug, Args)]
struct StopArgs {
    /// Only the hotspot on this radio.
    #[arg(long, value_name = "IF")]
    interface: Option<String>,
}

impl HotspotArgs {
    /// The password, read before anything is asked of the daemon.
    pub fn password(&self) -> Result<Option<Secret>, Error> {
        let HotspotCommand::Start(args) = &self.command else {
            return Ok(None);
        };
        if args.password_stdin {
            return crate::cli::prompt::read_stdin_password().map(Some);
        }
        if !args.ask || !std::io::stderr().is_terminal() {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "a hotspot needs a password: give it with --password-stdin, or --ask on a terminal",
            ));
        }
        let abandon = std::sync::atomic::AtomicBool::new(false);
        let prompt = format!("Password for the hotspot {:?}: ", args.ssid);
        match crate::cli::prompt::read_password(&prompt, &abandon) {
            Ok(Some(password)) => {
                netpilot_core::secret::validate_psk(&password)?;
                Ok(Some(password))
            }
            Ok(None) => Err(Error::new(ErrorCode::UserCanceled, "cancelled")),
            Err(e) => Err(Error::new(
                ErrorCode::Io,
                format!("cannot read the password from the terminal: {e}"),
            )),
        }
    }

    pub async fn run(
        self,
        ctx: &Ctx,
        mut session: Session,
        password: Option<Secret>,
    ) -> anyhow::Result<()> {
        let client = &mut session.client;
        match self.command {
            HotspotCommand::Start(args) => {
                let password = password.expect("read before, for start");
                let mut params = json!({ "ssid": args.ssid, "password": password.expose() });
                if let Some(interface) = &args.interface {
                    params["interface"] = json!(interface);
                }
                if let Some(band) = args.band {
                    params["band"] = json!(match band {
                        Band::Bg => "bg",
                        Band::A => "a",
                    });
                }
                let mut progress = crate::cli::progress::Progress::new(ctx.json, ctx.quiet);
                progress.set("starting the hotspot…");
                let started = client
                    .call::<Hotspot>("network.hotspot.start", params)
                    .await;
                progress.clear();
                let hotspot = started?;
                if ctx.json {
                    return print_json(&hotspot);
                }
                println!(
                    "hotspot {:?} on {} ({})",
                    hotspot.ssid,
                    hotspot.interface,
                    hotspot.ipv4.as_deref().unwrap_or("no address yet")
                );
                Ok(())
            }
            HotspotCommand::Stop(args) => {
                let params = match &args.interface {
                    Some(interface) => json!({ "interface": interface }),
                    None => json!({}),
                };
                let stopped: WifiDisconnectDocument =
                    client.call("network.hotspot.stop", params).await?;
                if ctx.json {
                    return print_json(&stopped);
                }
                match stopped.interfaces.is_empty() {
                    true => ctx.note("no hotspot runs: nothing to stop"),
                    false => println!("stopped the hotspot on {}", stopped.interfaces.join(", ")),
                }
                Ok(())
            }
            HotspotCommand::Status => {
                let status: HotspotStatusDocument =
                    client.call("network.hotspot.status", json!({})).await?;
                if ctx.json {
                    return print_json(&status);
                }
                match &status.hotspot {
                    None => println!("no hotspot runs"),
                    Some(h) => println!(
                        "hotspot {:?} on {}{}{}, {}",
                        h.ssid,
                        h.interface,
                        h.band
                            .as_deref()
                            .map(|b| format!(", band {b}"))
                            .unwrap_or_default(),
                        h.ipv4
                            .as_deref()
                            .map(|a| format!(", {a}"))
                            .unwrap_or_default(),
                        if h.active { "up" } else { "starting" }
                    ),
                }
                Ok(())
            }
        }
    }
}
