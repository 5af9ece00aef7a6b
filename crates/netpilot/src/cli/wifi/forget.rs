//! `netpilot wifi forget`

use crate::cli::Ctx;
use crate::output::print_json;
use clap::Args;
use netpilot_api::wifi::WifiForgetDocument;
use netpilot_core::{Error, ErrorCode};
use netpilot_linux::nm::NmClient;
use netpilot_linux::secrets::SecretStore;

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// The network to forget.
    ssid: String,
}

impl ForgetArgs {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let client = NmClient::connect().await?;
        let store = SecretStore::open().await;
        let mut profiles = 0;
        for saved in client
            .saved_wifi()
            .await?
            .into_iter()
            .filter(|s| s.ssid == self.ssid)
        {
            client.delete_profile(&saved.path).await?;
            store.delete(&saved.uuid).await?;
            profiles += 1;
        }
        if profiles == 0 {
            let error = Error::new(
                ErrorCode::NotFound,
                format!("no saved network named {:?}", self.ssid),
            )
            .with_hint("saved networks are marked \"known\" in: netpilot wifi list");
            return Err(error.into());
        }
        if ctx.json {
            return print_json(&WifiForgetDocument {
                ssid: self.ssid,
                profiles,
            });
        }
        println!(
            "forgot {:?} ({profiles} profile{})",
            self.ssid,
            if profiles == 1 { "" } else { "s" }
        );
        Ok(())
    }
}
