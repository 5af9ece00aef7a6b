//! `netpilot wifi connect`: asks the network service to join, follows the attempt as a UI
//! would (the seed's success rule on the `network` state), and answers password prompts on
//! the terminal. The same loop whether the service is a daemon's or the command's own.

use super::Session;
use crate::cli::Ctx;
use crate::cli::progress::Progress;
use crate::cli::prompt::PasswordEntry;
use crate::cli::timeouts::TimeoutArgs;
use crate::output::print_json;
use clap::Args;
use netpilot_api::client::Client;
use netpilot_api::protocol::Event;
use netpilot_api::wifi::WifiConnectDocument;
use netpilot_core::network::NetworkState;
use netpilot_core::secret::validate_ssid;
use netpilot_core::wifi::Role;
use netpilot_core::{Error, ErrorCode, Secret};
use netpilot_engine::connect::Timeouts;
use serde_json::{Value, json};
use std::io::IsTerminal;
use std::time::Duration;

#[derive(Debug, Args)]
#[command(
    after_help = "Without a password, netpilot asks for one on the terminal when \
NetworkManager needs it (--ask, the default when run on a terminal); a wrong password is asked \
for once more. The password is kept for next time (NetworkManager's psk-flags=1, agent-owned, \
in netpilot's 0600 secret store or your keyring) unless --no-save is given.

Without --interface, the radio already used for the internet is used, else a free one; a \
radio that carries a device link is never taken (`netpilot wifi status` shows each radio's \
role). Through a daemon, the daemon's own time limits apply (netpilot daemon --connect-timeout …)."
)]
pub struct ConnectArgs {
    /// The network's name (SSID).
    ssid: String,
    /// Read the password from the first line of standard input.
    #[arg(long, conflicts_with = "ask")]
    password_stdin: bool,
    /// Ask for the password on the terminal, without echo, when NetworkManager needs it.
    #[arg(long)]
    ask: bool,
    /// The network does not broadcast its SSID.
    #[arg(long)]
    hidden: bool,
    /// Use this WiFi interface, and bind a new profile to it [default: the internet's
    /// radio, else a free one].
    #[arg(long, value_name = "IF")]
    interface: Option<String>,
    /// Do not keep the password: ask again next time.
    #[arg(long)]
    no_save: bool,
    #[command(flatten)]
    timeouts: TimeoutArgs,
}

impl ConnectArgs {
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts.timeouts()
    }

    pub async fn run(self, ctx: &Ctx, session: Session) -> anyhow::Result<()> {
        validate_ssid(&self.ssid)?;
        let password = if self.password_stdin {
            Some(crate::cli::prompt::read_stdin_password()?)
        } else {
            None
        };
        if session.daemon && self.timeouts.given() {
            ctx.note(
                "note: the time limits given do not apply through the netpilot daemon: its own do \
                 (netpilot daemon --connect-timeout …), or run with --no-daemon",
            );
        }
        let on_terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        let interactive = self.ask || (password.is_none() && on_terminal);
        let mut progress = Progress::new(ctx.json, ctx.quiet);
        let session_daemon = session.daemon;
        let attempt = Attempt {
            args: &self,
            password,
            interactive,
            through: if session.daemon {
                " (through the netpilot daemon)"
            } else {
                ""
            },
        };
        let document = attempt.follow(session.client, &mut progress).await;
        progress.clear();
        let document = document.map_err(|mut error| {
            if session_daemon {
                error.message.push_str(" (reported by the netpilot daemon)");
            }
            hint_for_terminal(error, &self.ssid)
        })?;
        if ctx.json {
            print_json(&document)?;
        } else {
            println!(
                "connected to {:?} on {} ({})",
                document.ssid, document.interface, document.ipv4
            );
        }
        Ok(())
    }
}

/// One connect, as the service is asked for it.
struct Attempt<'a> {
    args: &'a ConnectArgs,
    password: Option<Secret>,
    interactive: bool,
    through: &'static str,
}

impl Attempt<'_> {
    async fn follow(
        self,
        mut client: Client,
        progress: &mut Progress,
    ) -> Result<WifiConnectDocument, Error> {
        let ssid = self.args.ssid.as_str();
        client
            .call::<Value>(
                "subscribe",
                json!({ "services": ["network", "network.credentials"] }),
            )
            .await?;
        let mut params = json!({
            "ssid": ssid,
            "interactive": self.interactive,
            "hidden": self.args.hidden,
            "save": !self.args.no_save,
        });
        if let Some(password) = &self.password {
            params["password"] = json!(password.expose());
        }
        if let Some(interface) = &self.args.interface {
            params["interface"] = json!(interface);
        }
        if !self.args.hidden {
            progress.set(format!("looking for {ssid:?}{}…", self.through));
        }
        client.call::<Value>("network.wifi.connect", params).await?;
        // Only what follows the response tells of this attempt: the state and prompts that
        // `subscribe` sent arrive before it (the service answers one request at a time and
        // sends an attempt's events after its response).
        client.clear_events();
        let mut entry: Option<(String, String, PasswordEntry)> = None; // token, field, entry
        let mut gave_password = self.password.is_some();
        let mut ticks = tokio::time::interval(Duration::from_millis(120));
        let state = loop {
            tokio::select! {
                event = client.next_event() => match event? {
                    Event::Network(state) if !state.is_connecting && (!state.last_error.is_empty() || state.connected_to(ssid)) => {
                        break state;
                    }
                    Event::Network(state) if state.is_connecting => progress.set(format!(
                        "connecting to {ssid:?}{}: {}…",
                        self.through,
                        stage(&state)
                    )),
                    Event::Prompt(prompt) if prompt.ssid == ssid && entry.is_none() && self.interactive => {
                        progress.clear();
                        let reason = prompt.retry.then_some(prompt.reason.as_str());
                        let field = prompt.fields.first().cloned().unwrap_or_else(|| "psk".into());
                        entry = Some((prompt.token, field, PasswordEntry::start(ssid, reason)));
                    }
                    Event::PromptResolved { token, .. } if entry.as_ref().is_some_and(|(t, ..)| *t == token) => {
                        // Answered elsewhere (a UI), cancelled or expired: stop asking here.
                        if let Some((.., open)) = entry.take() {
                            open.abandon().await;
                        }
                    }
                    _ => {}
                },
                typed = async { entry.as_mut().map(|e| &mut e.2).expect("guarded").typed().await }, if entry.is_some() => {
                    let (token, field, _) = entry.take().expect("guarded");
                    gave_password |= typed.is_some();
                    let answer = match typed {
                        Some(password) => client.call::<Value>("network.credentials.submit", json!({
                            "token": token,
                            "secrets": { field: password.expose() },
                            "save": !self.args.no_save,
                        })).await,
                        None => client.call::<Value>("network.credentials.cancel", json!({ "token": token })).await,
                    };
                    match answer {
                        Err(error) if error.code == ErrorCode::UnknownToken => {} // someone else answered
                        other => { other?; }
                    }
                    progress.set(format!("connecting to {ssid:?}{}…", self.through));
                }
                _ = ticks.tick() => progress.tick(),
            }
        };
        if let Some((.., open)) = entry.take() {
            open.abandon().await;
        }
        if let Some(error) = failure(&state) {
            return Err(error);
        }
        let radio = state
            .wifi_devices
            .iter()
            .find(|r| r.role == Role::Internet && r.ssid.as_deref() == Some(ssid));
        Ok(WifiConnectDocument {
            ssid: ssid.to_string(),
            interface: radio.map(|r| r.interface.clone()).unwrap_or_default(),
            ipv4: radio
                .and_then(|r| r.ipv4.clone())
                .unwrap_or_else(|| state.wifi_ip.clone()),
            saved: !self.args.no_save && gave_password,
        })
    }
}

/// What the state says went wrong, if anything.
fn failure(state: &NetworkState) -> Option<Error> {
    if state.last_error.is_empty() {
        return None;
    }
    let code: ErrorCode = serde_json::from_value(json!(state.last_error))
        .unwrap_or(ErrorCode::ConnectionAttemptFailed);
    let message = if state.last_error_message.is_empty() {
        code.user_message().to_string()
    } else {
        state.last_error_message.clone()
    };
    let error = Error::new(code, message);
    Some(match state.last_error_hint.as_str() {
        "" => error,
        hint => error.with_hint(hint),
    })
}

/// What the progress line says of a state that is still connecting.
fn stage(state: &NetworkState) -> &'static str {
    let connecting = state.wifi_devices.iter().find_map(|r| match r.state {
        netpilot_core::wifi::DeviceState::Connecting(stage) => Some(stage.label()),
        _ => None,
    });
    connecting.unwrap_or("starting")
}

/// The service's hints speak to any client; on the command line, say which flag to use.
fn hint_for_terminal(error: Error, ssid: &str) -> Error {
    match error.code {
        ErrorCode::SecretsRequired => Error {
            hint: Some(format!(
                "give it with --password-stdin, or run on a terminal (or with --ask) to be asked: \
                 netpilot wifi connect {ssid:?} --ask"
            )),
            ..error
        },
        _ => error,
    }
}
