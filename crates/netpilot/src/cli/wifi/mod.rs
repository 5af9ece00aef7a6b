//! `netpilot wifi`: WiFi through NetworkManager, with netpilot as the secret agent.

mod connect;
mod disconnect;
mod forget;
mod list;
mod status;
mod via_daemon;

use super::Ctx;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct WifiArgs {
    #[command(subcommand)]
    command: WifiCommand,
}

#[derive(Debug, Subcommand)]
enum WifiCommand {
    /// Networks in range: SSID, signal, security, channel, whether known and in use.
    List(list::ListArgs),
    /// Join a network, asking for its password if needed.
    Connect(connect::ConnectArgs),
    /// What each WiFi device is connected to.
    Status(status::StatusArgs),
    /// Leave the current network.
    Disconnect(disconnect::DisconnectArgs),
    /// Delete a network's saved profile and password.
    Forget(forget::ForgetArgs),
}

impl WifiArgs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            match self.command {
                WifiCommand::List(args) => args.run(ctx).await,
                WifiCommand::Connect(args) => args.run(ctx).await,
                WifiCommand::Status(args) => args.run(ctx).await,
                WifiCommand::Disconnect(args) => args.run(ctx).await,
                WifiCommand::Forget(args) => args.run(ctx).await,
            }
        })
    }
}
