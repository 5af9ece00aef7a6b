//! `netpilot wifi`: WiFi through NetworkManager, with netpilot as the secret agent.

mod connect;
mod disconnect;
mod forget;
mod list;
mod status;

use super::Ctx;
use clap::{Args, Subcommand};
use netpilot_core::{Error, ErrorCode};
use netpilot_linux::nm::{NmClient, NmWifiDevice};

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

/// The WiFi devices to act on: the one named, or all of them.
async fn devices(client: &NmClient, interface: Option<&str>) -> Result<Vec<NmWifiDevice>, Error> {
    let all = client.wifi_devices().await?;
    if all.is_empty() {
        return Err(
            Error::new(ErrorCode::NoWifiDevice, "no WiFi device found").with_hint(
                "plug in a WiFi adapter, or check `rfkill list` and that NetworkManager manages it",
            ),
        );
    }
    match interface {
        None => Ok(all),
        Some(name) => {
            let names: Vec<String> = all.iter().map(|d| d.device.interface.clone()).collect();
            let chosen: Vec<_> = all
                .into_iter()
                .filter(|d| d.device.interface == name)
                .collect();
            if chosen.is_empty() {
                return Err(Error::new(
                    ErrorCode::NotFound,
                    format!("{name:?} is not a WiFi device"),
                )
                .with_hint(format!("WiFi devices here: {}", names.join(", "))));
            }
            Ok(chosen)
        }
    }
}
