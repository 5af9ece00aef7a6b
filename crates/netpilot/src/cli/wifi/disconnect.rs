//! `netpilot wifi disconnect`

use crate::cli::Ctx;
use crate::output::print_json;
use clap::Args;
use netpilot_api::wifi::WifiDisconnectDocument;
use netpilot_core::wifi::DeviceState;
use netpilot_linux::nm::NmClient;
use netpilot_linux::nm::join::devices;

#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// The interface to disconnect (default: every connected WiFi device).
    #[arg(long, value_name = "IF")]
    interface: Option<String>,
}

impl DisconnectArgs {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let client = NmClient::connect().await?;
        let mut interfaces = Vec::new();
        for device in devices(&client, self.interface.as_deref()).await? {
            let busy = matches!(
                device.device.state,
                DeviceState::Connected | DeviceState::Connecting(_)
            );
            if busy || self.interface.is_some() {
                client.disconnect(&device).await?;
                interfaces.push(device.device.interface);
            }
        }
        if ctx.json {
            return print_json(&WifiDisconnectDocument { interfaces });
        }
        if interfaces.is_empty() {
            ctx.note("no WiFi device was connected");
        } else {
            println!("disconnected {}", interfaces.join(", "));
        }
        Ok(())
    }
}
