//! `netpilot wifi connect`: join a network, with netpilot as NetworkManager's secret agent.

use super::via_daemon::Request;
use crate::cli::client::Daemon;
use crate::cli::progress::Progress;
use crate::cli::prompt::read_password;
use crate::cli::{Ctx, parse_seconds};
use crate::output::print_json;
use clap::Args;
use futures_util::StreamExt;
use netpilot_api::wifi::WifiConnectDocument;
use netpilot_core::secret::{validate_psk, validate_ssid};
use netpilot_core::wifi::{DeviceState, Security};
use netpilot_core::{Error, ErrorCode, Secret};
use netpilot_engine::connect::{Attempt, ConnectTracker, Timeouts, Verdict};
use netpilot_linux::nm::agent::{self, AgentEvent, PendingSecrets};
use netpilot_linux::nm::{NmClient, join};
use netpilot_linux::secrets::SecretStore;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const WIRELESS_SECURITY: &str = "802-11-wireless-security";

#[derive(Debug, Args)]
#[command(
    after_help = "Without a password, netpilot asks for one on the terminal when \
NetworkManager needs it (--ask, the default when run on a terminal); a wrong password is asked \
for once more. The password is kept for next time (NetworkManager's psk-flags=1, agent-owned, \
in netpilot's 0600 secret store) unless --no-save is given."
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
    /// Use this WiFi interface (default: the first one).
    #[arg(long, value_name = "IF")]
    interface: Option<String>,
    /// Do not keep the password: ask again next time.
    #[arg(long)]
    no_save: bool,
    /// Join directly even when a netpilot daemon runs (by default the daemon, being
    /// NetworkManager's secret agent, does the joining and this command answers its prompts).
    #[arg(long)]
    no_daemon: bool,
    /// Give up when not connected within this many seconds (time spent typing the
    /// password does not count).
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    connect_timeout: Duration,
    /// Give up when no address came from DHCP this many seconds after associating.
    #[arg(long, value_name = "SECONDS", default_value = "15", value_parser = parse_seconds)]
    dhcp_timeout: Duration,
    /// Give up when the password prompt is not answered within this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "120", value_parser = parse_seconds)]
    prompt_timeout: Duration,
}

/// How this process answers NetworkManager's requests for the password.
struct Secrets {
    ssid: String,
    /// Given with --password-stdin.
    given: Option<Secret>,
    /// May ask on the terminal.
    interactive: bool,
    /// Asked once more after a wrong password already.
    reprompted: bool,
    /// The last password handed to NetworkManager (stored on success).
    answered: Option<Secret>,
    store: SecretStore,
    /// UUID of a saved profile whose stored password may answer.
    saved_uuid: Option<String>,
}

struct Prompt {
    pending: PendingSecrets,
    entry: PasswordEntry,
}

/// A password being typed on the terminal, on a blocking thread.
pub struct PasswordEntry {
    abandon: Arc<AtomicBool>,
    reading: JoinHandle<std::io::Result<Option<Secret>>>,
}

impl PasswordEntry {
    /// What was typed; `None` when the user cancelled (or the terminal failed).
    pub async fn typed(&mut self) -> Option<Secret> {
        match (&mut self.reading).await {
            Ok(Ok(password)) => password,
            _ => None,
        }
    }

    /// Stops asking and gives the terminal back.
    pub async fn abandon(self) {
        self.abandon.store(true, Ordering::Relaxed);
        let _ = self.reading.await;
    }
}

impl ConnectArgs {
    pub async fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        validate_ssid(&self.ssid)?;
        let given = if self.password_stdin {
            Some(crate::cli::prompt::read_stdin_password()?)
        } else {
            None
        };
        let on_terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
        let interactive = self.ask || (given.is_none() && on_terminal);
        let mut progress = Progress::new(ctx.json, ctx.quiet);
        if !self.no_daemon
            && let Some(daemon) = Daemon::find(&netpilot_api::client::default_socket()).await
        {
            let request = Request {
                ssid: &self.ssid,
                password: given,
                interactive,
                hidden: self.hidden,
                interface: self.interface.as_deref(),
                save: !self.no_save,
            };
            let document = daemon.connect(request, &mut progress).await?;
            return print_connected(ctx, &document);
        }
        let client = NmClient::connect().await?;
        if !self.hidden {
            progress.set(format!("looking for {:?}…", self.ssid));
        }
        let hidden_security = if given.is_some() || self.ask {
            Security::WpaPsk
        } else {
            Security::Open
        };
        let target = join::resolve(
            &client,
            &self.ssid,
            self.interface.as_deref(),
            self.hidden,
            hidden_security,
        )
        .await;
        progress.clear();
        let target = target?;
        let secured = target.security.needs_password();
        if secured && given.is_none() && !interactive && target.saved.is_none() {
            let error = Error::new(
                ErrorCode::SecretsRequired,
                format!("{:?} needs a password", self.ssid),
            )
            .with_hint(
                "give it with --password-stdin, or run on a terminal (or with --ask) to be asked",
            );
            return Err(error.into());
        }

        // The agent is registered and the device watched before activation starts, so no
        // request or state change can come first.
        let identifier = format!("dev.netpilot.cli.p{}", std::process::id());
        let mut agent_events = agent::register(client.bus(), &identifier).await?;
        let mut changes = client.device_changes(&target.device).await?;
        let save = !self.no_save;
        let started = join::activate(
            &client,
            &target,
            self.interface.as_deref(),
            self.hidden,
            save,
        )
        .await?;
        let (profile, created, device, saved, in_range) = (
            started.profile,
            started.created,
            target.device,
            target.saved,
            target.in_range,
        );

        let mut secrets = Secrets {
            ssid: self.ssid.clone(),
            answered: given.clone(),
            given,
            interactive,
            reprompted: false,
            store: SecretStore::open().await,
            saved_uuid: saved.as_ref().map(|s| s.uuid.clone()),
        };
        let attempt = Attempt {
            ssid: self.ssid.clone(),
            in_range,
            secured,
        };
        let timeouts = Timeouts {
            connect: self.connect_timeout,
            dhcp: self.dhcp_timeout,
            prompt: self.prompt_timeout,
        };
        let mut tracker = ConnectTracker::new(attempt, timeouts, Instant::now());
        let mut prompt: Option<Prompt> = None;
        let mut ticks = tokio::time::interval(Duration::from_millis(120));
        progress.set(format!("connecting to {:?}…", self.ssid));
        let verdict = loop {
            let deadline = tokio::time::Instant::from_std(tracker.deadline());
            tokio::select! {
                Some(change) = changes.next() => {
                    if let DeviceState::Connecting(stage) = change.state {
                        progress.set(format!("connecting to {:?}: {}…", self.ssid, stage.label()));
                    }
                    if let Some(verdict) = tracker.on_device(change.state, change.reason, Instant::now()) {
                        break verdict;
                    }
                }
                Some(event) = agent_events.recv() => {
                    if let Some(started) = secrets.handle(event, &mut tracker).await {
                        progress.clear();
                        tracker.prompt_started(Instant::now());
                        prompt = Some(started);
                    }
                }
                read = async { prompt.as_mut().expect("guarded").entry.typed().await }, if prompt.is_some() => {
                    let Prompt { pending, .. } = prompt.take().expect("guarded");
                    tracker.prompt_finished(Instant::now());
                    match read {
                        Some(password) => {
                            secrets.answered = Some(password.clone());
                            let field = field(&pending);
                            pending.answer(vec![(field, password)]);
                        }
                        _ => {
                            tracker.user_canceled();
                            pending.user_canceled();
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if let Some(verdict) = tracker.on_timer(Instant::now()) {
                        break verdict;
                    }
                }
                _ = ticks.tick() => progress.tick(),
            }
        };
        if let Some(open) = prompt.take() {
            // The attempt ended while the user was typing: give the terminal back.
            open.entry.abandon().await;
        }
        progress.clear();

        match verdict {
            Verdict::Connected => {
                let ipv4 = client.ipv4(&device.path).await?.unwrap_or_default();
                let uuid = client
                    .saved_wifi()
                    .await?
                    .into_iter()
                    .find(|s| s.path == profile)
                    .map(|s| s.uuid);
                if save && let (Some(uuid), Some(password)) = (uuid, &secrets.answered) {
                    let psk = [("psk".to_string(), password.clone())];
                    // Connected either way: a store that refuses costs the next prompt only.
                    if let Err(error) = secrets
                        .store
                        .save(&uuid, Some(&self.ssid), WIRELESS_SECURITY, &psk)
                        .await
                    {
                        ctx.note(&format!(
                            "note: the password was not saved in {}: {error}",
                            secrets.store.describe()
                        ));
                    }
                }
                let document = WifiConnectDocument {
                    ssid: self.ssid.clone(),
                    interface: device.device.interface.clone(),
                    ipv4,
                    saved: save && secured,
                };
                print_connected(ctx, &document)
            }
            Verdict::Failed(error) => {
                if created {
                    // A failed first attempt leaves no profile behind.
                    let _ = client.delete_profile(&profile).await;
                }
                Err(error.into())
            }
        }
    }
}

fn print_connected(ctx: &Ctx, document: &WifiConnectDocument) -> anyhow::Result<()> {
    if ctx.json {
        print_json(document)?;
    } else {
        println!(
            "connected to {:?} on {} ({})",
            document.ssid, document.interface, document.ipv4
        );
    }
    Ok(())
}

impl Secrets {
    /// Answers what can be answered at once; returns a prompt to run when the user must type.
    async fn handle(&mut self, event: AgentEvent, tracker: &mut ConnectTracker) -> Option<Prompt> {
        match event {
            AgentEvent::Request(pending)
                if pending.request.ssid.as_deref() == Some(self.ssid.as_str()) =>
            {
                let request_new = pending.request.flags.request_new;
                if request_new {
                    // Never resend a password NetworkManager just rejected.
                    tracker.password_rejected();
                    if !self.interactive || self.reprompted {
                        pending.user_canceled();
                        return None;
                    }
                    self.reprompted = true;
                    return Some(start_prompt(
                        pending,
                        &self.ssid,
                        Some("Previous password was incorrect"),
                    ));
                }
                if let Some(password) = &self.given {
                    let field = field(&pending);
                    pending.answer(vec![(field, password.clone())]);
                    return None;
                }
                if let Some(uuid) = &self.saved_uuid
                    && let Ok(stored) = self.store.load(uuid, &pending.request.setting).await
                    && !stored.is_empty()
                {
                    pending.answer(stored);
                    return None;
                }
                if self.interactive {
                    return Some(start_prompt(pending, &self.ssid, None));
                }
                pending.no_secrets();
                None
            }
            AgentEvent::Request(other) => {
                // Not the network this command is joining: answer from the store if we can,
                // else step aside so another agent may answer.
                let stored = self
                    .store
                    .load(&other.request.connection_uuid, &other.request.setting)
                    .await
                    .unwrap_or_default();
                if stored.is_empty() || other.request.flags.request_new {
                    other.no_secrets();
                } else {
                    other.answer(stored);
                }
                None
            }
            AgentEvent::Save {
                connection_uuid,
                ssid,
                setting,
                secrets,
            } => {
                let _ = self
                    .store
                    .save(&connection_uuid, ssid.as_deref(), &setting, &secrets)
                    .await;
                None
            }
            AgentEvent::Delete { connection_uuid } => {
                let _ = self.store.delete(&connection_uuid).await;
                None
            }
            AgentEvent::Canceled { .. } => None,
        }
    }
}

fn start_prompt(pending: PendingSecrets, ssid: &str, reason: Option<&str>) -> Prompt {
    Prompt {
        pending,
        entry: start_password_entry(ssid, reason),
    }
}

/// Asks for the password of `ssid` on the terminal (after `reason`, if any), until a
/// valid one is typed or the user cancels.
pub fn start_password_entry(ssid: &str, reason: Option<&str>) -> PasswordEntry {
    let abandon = Arc::new(AtomicBool::new(false));
    let text = match reason {
        Some(reason) => format!("{reason}.\nPassword for {ssid:?}: "),
        None => format!("Password for {ssid:?}: "),
    };
    let flag = Arc::clone(&abandon);
    let reading = tokio::task::spawn_blocking(move || {
        loop {
            match read_password(&text, &flag)? {
                Some(password) if validate_psk(&password).is_err() => {
                    eprintln!("A WiFi password is 8 to 63 characters (or 64 hex digits).");
                }
                other => return Ok(other),
            }
        }
    });
    PasswordEntry { abandon, reading }
}

fn field(pending: &PendingSecrets) -> String {
    pending
        .request
        .fields
        .first()
        .cloned()
        .unwrap_or_else(|| "psk".to_string())
}
