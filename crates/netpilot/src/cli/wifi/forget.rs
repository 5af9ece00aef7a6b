//! `netpilot wifi forget`

use super::Session;
use crate::cli::Ctx;
use crate::output::print_json;
use clap::Args;
use netpilot_api::wifi::WifiForgetDocument;
use serde_json::json;

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// The network to forget.
    ssid: String,
}

impl ForgetArgs {
    pub async fn run(self, ctx: &Ctx, mut session: Session) -> anyhow::Result<()> {
        let forgotten: WifiForgetDocument = session
            .client
            .call("network.wifi.forget", json!({ "ssid": self.ssid }))
            .await?;
        if ctx.json {
            return print_json(&forgotten);
        }
        let profiles = forgotten.profiles;
        println!(
            "forgot {:?} ({profiles} profile{})",
            forgotten.ssid,
            if profiles == 1 { "" } else { "s" }
        );
        Ok(())
    }
}
