//! `netpilot daemon`

use super::timeouts::TimeoutArgs;
use super::{Ctx, parse_seconds};
use crate::daemon::Settings;
use crate::daemon::metrics::MetricsSettings;
use clap::Args;
use netpilot_api::client::default_socket;
use netpilot_core::{Error, ErrorCode};
use netpilot_engine::device::{InternetWatch, Supervision};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
#[command(
    after_help = "Serves protocol v1 (docs/protocol.md): one JSON object per line on a \
Unix socket, and, with --websocket, one JSON object per text message on a loopback WebSocket \
(ws://ADDR/?token=TOKEN, the token read from --token-file). netpilot registers with \
NetworkManager as its secret agent and sends password prompts to clients subscribed to \
network.credentials. It starts without NetworkManager and connects when it appears.

With --metrics, serves Prometheus metrics at http://ADDR/metrics (docs/metrics.md): \
interfaces, sockets, per-process bytes, WiFi, connect attempts, prompts, device links.

Run as a service: `systemctl enable --now netpilot` (one daemon for the machine) or \
`systemctl --user enable --now netpilot` (your session's). The .deb installs both units; from \
source they are contrib/systemd/netpilot.service and netpilot-user.service."
)]
pub struct DaemonArgs {
    /// The Unix socket [default: /run/netpilot/netpilot.sock as root,
    /// $XDG_RUNTIME_DIR/netpilot/netpilot.sock otherwise]. Mode 0600.
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Let members of this group use the socket too (mode 0660).
    #[arg(long, value_name = "NAME")]
    group: Option<String>,
    /// Also serve a WebSocket on this loopback address, e.g. 127.0.0.1:7878.
    #[arg(long, value_name = "ADDR")]
    websocket: Option<SocketAddr>,
    /// The WebSocket's token; created (0600) with a random token if missing
    /// [default: ws-token beside the socket].
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// A browser origin allowed on the WebSocket besides loopback pages (repeatable).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    origins: Vec<String>,
    #[command(flatten)]
    timeouts: TimeoutArgs,
    /// How often each device link's device is probed, in seconds; no answer for
    /// two probes' time is a lost link.
    #[arg(long, value_name = "SECONDS", default_value = "0.5", value_parser = parse_seconds)]
    probe_interval: Duration,
    /// What `device test` connects to (by name, so DNS is tested too) to prove the
    /// internet still answers.
    #[arg(long, value_name = "HOST:PORT", default_value = "nmcheck.gnome.org:80")]
    internet_probe: String,
    /// Also probe --internet-probe through the internet's link every SECONDS, so an
    /// internet that stops answering behind a link that stays up is an `internet lost`
    /// event too [default: off: the default route and NetworkManager's connectivity
    /// check are followed, and nothing is sent].
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    internet_probe_every: Option<Duration>,
    /// Serve Prometheus metrics at http://ADDR/metrics [default ADDR: 127.0.0.1:9782].
    /// Loopback unless an address beyond it is given here: the metrics name your
    /// processes, SSIDs and device links, and are served without a token.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:9782")]
    metrics: Option<SocketAddr>,
    /// With --metrics: how many process names get series of their own (by bytes since
    /// the daemon started); the others are counted as `other`.
    #[arg(long, value_name = "N", default_value_t = 10, requires = "metrics")]
    metrics_top: usize,
    /// With --metrics: seconds between two samples of interfaces, sockets and processes.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_seconds, requires = "metrics")]
    metrics_interval: Duration,
}

impl DaemonArgs {
    pub fn run(self, _ctx: &Ctx) -> anyhow::Result<()> {
        let socket = self.socket.unwrap_or_else(default_socket);
        let token_file = self
            .token_file
            .unwrap_or_else(|| socket.with_file_name("ws-token"));
        let group = match &self.group {
            None => None,
            Some(name) => Some(uzers::get_group_by_name(name).map(|g| g.gid()).ok_or_else(
                || {
                    Error::new(
                        ErrorCode::InvalidArgument,
                        format!("no group named {name:?}"),
                    )
                },
            )?),
        };
        let settings = Settings {
            socket,
            group,
            websocket: self.websocket,
            token_file,
            origins: self.origins,
            timeouts: self.timeouts.timeouts(),
            supervision: Supervision {
                interval: self.probe_interval,
                loss_after: self.probe_interval * 2,
                ..Supervision::default()
            },
            internet: InternetWatch {
                probe: self
                    .internet_probe_every
                    .map(|_| self.internet_probe.clone()),
                every: self
                    .internet_probe_every
                    .unwrap_or(InternetWatch::default().every),
                ..InternetWatch::default()
            },
            internet_probe: self.internet_probe,
            metrics: self.metrics.map(|address| MetricsSettings {
                address,
                top: self.metrics_top,
                every: self.metrics_interval,
            }),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(crate::daemon::run(settings))
    }
}
