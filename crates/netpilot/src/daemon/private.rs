//! A command's own engine, for `netpilot wifi …` when no daemon runs (or with
//! `--no-daemon`): the same network service over the same NetworkManager backend, served
//! to the command as a session of the same dispatcher, so the command talks to it exactly
//! as it talks to a daemon. Its secret agent lives as long as the command.

use super::monitor::LinuxMonitor;
use netpilot_api::client::Client;
use netpilot_api::device::NoDevices;
use netpilot_api::dispatch::{Dispatcher, RateLimit};
use netpilot_core::Error;
use netpilot_engine::connect::Timeouts;
use netpilot_engine::network::{self, Config, no_claims};
use netpilot_linux::nm::NetworkManagerBackend;
use std::sync::Arc;
use std::time::Duration;

/// Starts the engine; returns once it has looked at the radios (an error if
/// NetworkManager cannot be reached).
pub async fn start(timeouts: Timeouts) -> Result<Client, Error> {
    let identifier = format!("dev.netpilot.cli.p{}", std::process::id());
    let (backend, events) = NetworkManagerBackend::new(&identifier);
    let config = Config {
        timeouts,
        debounce: Duration::from_millis(50),
        tokens: Box::new(super::listen::random_token),
        claims: no_claims(),
    };
    let network = network::spawn(backend, events, config);
    network.ready().await?;
    let (traffic, _) = tokio::sync::broadcast::channel(1);
    let dispatcher = Dispatcher::new(
        network,
        LinuxMonitor,
        Arc::new(NoDevices::default()),
        traffic,
        RateLimit::default(),
    );
    Ok(Client::session(Arc::new(dispatcher)))
}
