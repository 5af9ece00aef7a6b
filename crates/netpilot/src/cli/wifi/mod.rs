//! `netpilot wifi`: WiFi through NetworkManager, with netpilot as the secret agent. Every
//! verb goes through a netpilot daemon when one runs (it owns the machine's secret agent and
//! knows which radios device links hold), else through an engine of the command's own: the
//! same protocol either way.

mod connect;
mod disconnect;
mod forget;
mod hotspot;
mod list;
mod radio;
mod saved;
mod show;
mod status;

use super::Ctx;
use clap::{Args, Subcommand};
use netpilot_api::client::Client;
use netpilot_core::Error;
use netpilot_engine::connect::Timeouts;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "\
With a netpilot daemon running, these commands go through it: it is NetworkManager's secret \
agent for the machine and knows which radio carries a device link, which WiFi commands never \
take. Without one (or with --no-daemon) the command runs the same engine itself, as the secret \
agent for as long as it runs.")]
pub struct WifiArgs {
    /// The daemon's socket [default: $NETPILOT_SOCKET, else the daemon's default for this
    /// user, else /run/netpilot/netpilot.sock].
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
    /// Do not use a running daemon: run the engine in this command.
    #[arg(long, global = true)]
    no_daemon: bool,
    /// How long to wait for each answer of the daemon before giving up (exit 6) [default:
    /// 30]. The wait for a network to join has its own timeouts (`connect --help`).
    #[arg(long, value_name = "SECONDS", global = true, value_parser = super::parse_seconds)]
    daemon_timeout: Option<std::time::Duration>,
    #[command(subcommand)]
    command: WifiCommand,
}

#[derive(Debug, Subcommand)]
enum WifiCommand {
    /// Networks in range: SSID, signal, security, channel, whether known and in use.
    List(list::ListArgs),
    /// Join a network, asking for its password if needed.
    Connect(connect::ConnectArgs),
    /// Each WiFi device: its role (internet, device link, free), state, network, address.
    Status(status::StatusArgs),
    /// Leave the internet's WiFi network (or the one on --interface).
    Disconnect(disconnect::DisconnectArgs),
    /// Delete a network's saved profile and password.
    Forget(forget::ForgetArgs),
    /// Whether WiFi is on; turn it on or off (`radio on|off|toggle`).
    Radio(radio::RadioArgs),
    /// Every saved network, in range or not: autoconnect, priority, last used.
    Saved(saved::SavedArgs),
    /// Change a saved network: `--autoconnect yes|no`, `--priority N`.
    Set(saved::SetArgs),
    /// A network's access points (BSSID, signal, channel, rate) and saved settings.
    Show(show::ShowArgs),
    /// A hotspot others join: `hotspot start SSID --password-stdin`, `stop`, `status`.
    Hotspot(hotspot::HotspotArgs),
}

/// Where the command's requests go.
pub struct Session {
    pub client: Client,
    /// Through a running daemon (else the command's own engine).
    pub daemon: bool,
}

impl WifiArgs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let timeouts = match &self.command {
            WifiCommand::Connect(args) => args.timeouts(),
            _ => Timeouts::default(),
        };
        if let WifiCommand::Set(args) = &self.command {
            args.check()?;
        }
        // Read before connecting: a prompt must not wait on an open socket.
        let hotspot_password = match &self.command {
            WifiCommand::Hotspot(args) => args.password()?,
            _ => None,
        };
        runtime.block_on(async {
            let session = session(
                self.socket.clone(),
                self.no_daemon,
                self.daemon_timeout,
                timeouts,
            )
            .await?;
            match self.command {
                WifiCommand::List(args) => args.run(ctx, session).await,
                WifiCommand::Connect(args) => args.run(ctx, session).await,
                WifiCommand::Status(args) => args.run(ctx, session).await,
                WifiCommand::Disconnect(args) => args.run(ctx, session).await,
                WifiCommand::Forget(args) => args.run(ctx, session).await,
                WifiCommand::Radio(args) => args.run(ctx, session).await,
                WifiCommand::Saved(args) => args.run(ctx, session).await,
                WifiCommand::Set(args) => args.run(ctx, session).await,
                WifiCommand::Show(args) => args.run(ctx, session).await,
                WifiCommand::Hotspot(args) => args.run(ctx, session, hotspot_password).await,
            }
        })
    }
}

/// The daemon, unless told not to or none answers; else the command's own engine.
pub async fn session(
    socket: Option<PathBuf>,
    no_daemon: bool,
    daemon_timeout: Option<std::time::Duration>,
    timeouts: Timeouts,
) -> Result<Session, Error> {
    if !no_daemon {
        match Client::find(socket.clone()).await {
            Ok(mut client) => {
                if let Some(within) = daemon_timeout {
                    client.answer_within(within);
                }
                return Ok(Session {
                    client,
                    daemon: true,
                });
            }
            // A socket named explicitly must answer.
            Err(error) if socket.is_some() => return Err(error),
            Err(_) => {}
        }
    }
    let client = crate::daemon::private::start(timeouts).await?;
    Ok(Session {
        client,
        daemon: false,
    })
}
