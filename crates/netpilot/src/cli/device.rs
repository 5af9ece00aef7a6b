//! `netpilot device`: device links beside the internet, through the daemon (which owns
//! the secret agent and supervises the links).

use super::Ctx;
use super::progress::Progress;
use crate::output::print_json;
use crate::output::table::{Align, Table};
use clap::{Args, Subcommand};
use netpilot_api::client::Client;
use netpilot_core::device::{
    Check, DeviceSpec, DeviceStatus, Discovered, InternetLink, PRESETS, Teardown,
};
use netpilot_core::wifi::WifiRadio;
use netpilot_core::{Error, ErrorCode, Secret};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
#[command(after_help = "\
A device link joins a device's own WiFi access point (a robot, a drone, a camera, a dev \
board) on a second radio, while the default route and DNS stay on the internet link. \
The link is supervised by the daemon: when the device stops answering it is reported and \
rejoined as soon as the device is back.

These commands talk to the netpilot daemon (run `sudo netpilot daemon`, or its systemd \
unit: `sudo systemctl enable --now netpilot`).

Example (an Anki Cozmo; its password is shown on its face):
  netpilot device configure cozmo --ssid Cozmo_A1B2C3 --preset cozmo --ask
  netpilot device up cozmo
  netpilot device test cozmo
  netpilot device down cozmo")]
pub struct DeviceArgs {
    /// The daemon's socket [default: $NETPILOT_SOCKET, else the daemon's default for this
    /// user, else /run/netpilot/netpilot.sock].
    #[arg(long, value_name = "PATH", global = true)]
    socket: Option<PathBuf>,
    /// How long to wait for each answer of the daemon before giving up (exit 6): `up`
    /// waits for the join (30 s at most) and the device's first answer [default: 120].
    #[arg(long, value_name = "SECONDS", global = true, value_parser = super::parse_seconds)]
    daemon_timeout: Option<std::time::Duration>,
    #[command(subcommand)]
    command: DeviceCommand,
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Save a device link: the device's network, and a radio that is not the internet's.
    Configure(ConfigureArgs),
    /// The configured device links and their state.
    List,
    /// Join the device's network and wait until the device answers; supervised from then on.
    Up(NameArgs),
    /// Leave the device's network (the profile stays for next time).
    Down(NameArgs),
    /// The internet link and each device link: addresses, uptime, probe latency, last failure
    /// (--watch: live, with the events as they come).
    Status(StatusArgs),
    /// Prove the link left the internet alone: default route and DNS are not the device's,
    /// the device answers on its link, the internet answers on the other.
    Test(TestArgs),
    /// Down, then delete the profile and the saved password.
    Reset(NameArgs),
    /// The devices netpilot knows: SSID pattern, address, subnet and probe.
    Presets,
    /// Scan for devices in range whose network matches a preset: their channel, the
    /// home network's, and whether a link could join them now (changes nothing).
    Discover,
}

#[derive(Debug, Args)]
struct NameArgs {
    /// The device link's name (see `netpilot device list`).
    name: String,
}

#[derive(Debug, Args)]
struct MaybeNameArgs {
    /// Only this device link.
    name: Option<String>,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// Only this device link.
    name: Option<String>,
    /// Keep watching: redrawn every second with the last events (on a terminal), else one
    /// line per event (JSON Lines with --json), until Ctrl-C.
    #[arg(long)]
    watch: bool,
}

#[derive(Debug, Args)]
struct TestArgs {
    /// The device link's name.
    name: String,
    /// What to connect to, by name, to prove DNS and the internet answer
    /// [default: the daemon's --internet-probe].
    #[arg(long, value_name = "HOST:PORT")]
    internet: Option<String>,
}

#[derive(Debug, Args)]
struct ConfigureArgs {
    /// A name for the link (letters, digits, - and _), e.g. cozmo.
    name: String,
    /// The device's network name.
    #[arg(long, required_unless_present = "from_scan")]
    ssid: Option<String>,
    /// Take the SSID from a scan (`netpilot device discover`): the one device in range
    /// that matches --preset (or the preset named like the link), else any preset.
    #[arg(long, conflicts_with = "ssid")]
    from_scan: bool,
    /// A known device: cozmo, tello, gopro, esp32 (see `netpilot device presets`).
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
    /// Read the network's password from the first line of standard input.
    #[arg(long, conflicts_with = "ask")]
    password_stdin: bool,
    /// Ask for the network's password on the terminal.
    #[arg(long)]
    ask: bool,
    /// The radio for the device [default: auto, a free one that is not the internet's].
    #[arg(long, value_name = "IF|auto")]
    interface: Option<String>,
    /// The device's address, when there is no preset (e.g. 192.168.4.1).
    #[arg(long, value_name = "IP")]
    address: Option<String>,
    /// The device's subnet [default: the preset's, or the address's /24].
    #[arg(long, value_name = "NET/LEN")]
    subnet: Option<String>,
    /// How to tell the device answers: arp (an ARP request on the link: every device
    /// answers it, and its own protocol never sees it), icmp, or tcp:PORT [default: arp].
    #[arg(long, value_name = "arp|icmp|tcp:PORT")]
    probe: Option<String>,
    /// Do not join the device's network by itself when it is in range.
    #[arg(long)]
    no_auto_connect: bool,
}

impl DeviceArgs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        if let DeviceCommand::Presets = self.command {
            return presets(ctx);
        }
        // Read before connecting: a prompt must not wait on an open socket.
        let password = match &self.command {
            DeviceCommand::Configure(args) => password(args)?,
            _ => None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let mut daemon = Client::find(self.socket).await?;
            daemon.answer_within(
                self.daemon_timeout
                    .unwrap_or(std::time::Duration::from_secs(120)),
            );
            match self.command {
                DeviceCommand::Configure(args) => configure(ctx, &mut daemon, args, password).await,
                DeviceCommand::List => list(ctx, &mut daemon).await,
                DeviceCommand::Up(args) => up(ctx, &mut daemon, &args.name).await,
                DeviceCommand::Down(args) => teardown(ctx, &mut daemon, "down", &args.name).await,
                DeviceCommand::Reset(args) => teardown(ctx, &mut daemon, "reset", &args.name).await,
                DeviceCommand::Status(args) if args.watch => {
                    watch(ctx, &mut daemon, args.name).await
                }
                DeviceCommand::Status(args) => status(ctx, &mut daemon, args.name).await,
                DeviceCommand::Test(args) => test(ctx, &mut daemon, args).await,
                DeviceCommand::Discover => discover(ctx, &mut daemon).await,
                DeviceCommand::Presets => Ok(()),
            }
        })
    }
}

fn password(args: &ConfigureArgs) -> Result<Option<Secret>, Error> {
    if args.password_stdin {
        return super::prompt::read_stdin_password().map(Some);
    }
    if !args.ask {
        return Ok(None);
    }
    if !std::io::stderr().is_terminal() {
        return Err(
            Error::new(ErrorCode::InvalidArgument, "--ask needs a terminal")
                .with_hint("give the password with --password-stdin"),
        );
    }
    let abandon = std::sync::atomic::AtomicBool::new(false);
    let prompt = match &args.ssid {
        Some(ssid) => format!("Password for {ssid:?}: "),
        None => format!("Password for {}'s network: ", args.name),
    };
    match super::prompt::read_password(&prompt, &abandon) {
        Ok(Some(password)) => {
            netpilot_core::secret::validate_psk(&password)?;
            Ok(Some(password))
        }
        Ok(None) => Err(Error::new(ErrorCode::UserCanceled, "cancelled")),
        Err(e) => Err(Error::new(
            ErrorCode::Io,
            format!("cannot read the password from the terminal: {e}"),
        )),
    }
}

/// The daemon's answers, typed: the result and, for `--json`, the result as sent.
async fn call<T: for<'de> Deserialize<'de>>(
    daemon: &mut Client,
    method: &str,
    params: Value,
) -> Result<(T, Value), Error> {
    let result: Value = daemon.call(method, params).await?;
    let typed = T::deserialize(&result).map_err(|e| {
        Error::new(
            ErrorCode::Protocol,
            format!("the daemon's answer to {method} is not what this netpilot expects: {e}"),
        )
        .with_hint("is the daemon the same version as this command?")
    })?;
    Ok((typed, result))
}

#[derive(Deserialize)]
struct Configured {
    device: DeviceSpec,
    warnings: Vec<String>,
}

#[derive(Deserialize)]
struct Devices {
    devices: Vec<DeviceStatus>,
}

#[derive(Deserialize)]
struct Up {
    device: DeviceStatus,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    internet: Option<InternetLink>,
    #[serde(default)]
    internet_state: Option<netpilot_core::internet::InternetEvent>,
    devices: Vec<DeviceStatus>,
    #[serde(default)]
    wifi_devices: Vec<WifiRadio>,
}

#[derive(Deserialize)]
struct Checks {
    checks: Vec<Check>,
}

#[derive(Deserialize)]
struct Found {
    devices: Vec<Discovered>,
}

async fn discover(ctx: &Ctx, daemon: &mut Client) -> anyhow::Result<()> {
    let mut progress = Progress::new(ctx.json, ctx.quiet);
    progress.set("scanning every radio for devices");
    let answer = call(daemon, "device.discover", json!({})).await;
    progress.clear();
    let (Found { devices }, result) = answer?;
    if ctx.json {
        return print_json(&result);
    }
    if devices.is_empty() {
        ctx.note(
            "no device in range matches a preset (netpilot device presets); is it on? \
             a device of your own: netpilot device configure NAME --ssid SSID --address IP",
        );
        return Ok(());
    }
    let mut table = Table::new(&[
        ("SSID", Align::Left),
        ("PRESET", Align::Left),
        ("SIGNAL", Align::Right),
        ("CH", Align::Right),
        ("HOME CH", Align::Right),
        ("JOIN NOW", Align::Left),
        ("LINK", Align::Left),
    ]);
    for device in &devices {
        table.row(vec![
            device.ssid.clone(),
            device.preset.clone(),
            format!("{}%", device.signal),
            device.channel.to_string(),
            device
                .home_channel
                .map_or_else(|| "-".into(), |c| c.to_string()),
            match (&device.via, device.joinable) {
                (Some(via), true) => format!("yes, on {via}"),
                _ => "no".into(),
            },
            device.configured.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let mut out = crate::output::stdout();
    table.write(&mut out)?;
    out.flush()?;
    for device in &devices {
        if let Some(reason) = &device.reason {
            ctx.note(&format!("{}: cannot be joined now: {reason}", device.ssid));
        }
        for warning in &device.warnings {
            ctx.note(&format!("{}: warning: {warning}", device.ssid));
        }
    }
    if let Some(device) = devices
        .iter()
        .find(|d| d.configured.is_none() && d.joinable)
    {
        ctx.note(&format!(
            "set one up: netpilot device configure {} --from-scan --preset {} --ask",
            device.preset, device.preset
        ));
    }
    Ok(())
}

/// The SSID (and preset) of the one device in range that `args` can mean.
async fn from_scan(daemon: &mut Client, args: &mut ConfigureArgs) -> Result<(), Error> {
    let (Found { devices }, _) = call(daemon, "device.discover", json!({})).await?;
    let chosen = pick(&devices, args.preset.as_deref(), &args.name)?;
    args.ssid = Some(chosen.ssid.clone());
    args.preset.get_or_insert_with(|| chosen.preset.clone());
    Ok(())
}

/// The one device of `found` that matches `preset`, else the preset named like the link,
/// else any; none or several is an error that says what to do.
fn pick<'a>(
    found: &'a [Discovered],
    preset: Option<&str>,
    name: &str,
) -> Result<&'a Discovered, Error> {
    let wanted = preset.or_else(|| PRESETS.iter().find(|p| p.name == name).map(|p| p.name));
    let candidates: Vec<&Discovered> = found
        .iter()
        .filter(|d| wanted.is_none_or(|p| d.preset == p))
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(Error::new(
            ErrorCode::NotFound,
            format!(
                "no {}device is in range",
                wanted.map(|p| format!("{p} ")).unwrap_or_default()
            ),
        )
        .with_hint("is it switched on and near? see what is: netpilot device discover")),
        several => Err(Error::new(
            ErrorCode::InvalidArgument,
            format!(
                "{} devices are in range: {}",
                several.len(),
                several
                    .iter()
                    .map(|d| d.ssid.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .with_hint("choose one with --ssid SSID")),
    }
}

async fn configure(
    ctx: &Ctx,
    daemon: &mut Client,
    mut args: ConfigureArgs,
    password: Option<Secret>,
) -> anyhow::Result<()> {
    if args.from_scan {
        let mut progress = Progress::new(ctx.json, ctx.quiet);
        progress.set("scanning for the device");
        let found = from_scan(daemon, &mut args).await;
        progress.clear();
        found?;
    }
    let mut params = Map::new();
    params.insert("name".into(), json!(args.name));
    params.insert("ssid".into(), json!(args.ssid.clone().unwrap_or_default()));
    params.insert("autoConnect".into(), json!(!args.no_auto_connect));
    for (key, value) in [
        ("preset", args.preset),
        ("interface", args.interface),
        ("address", args.address),
        ("subnet", args.subnet),
        ("probe", args.probe),
    ] {
        if let Some(value) = value {
            params.insert(key.into(), json!(value));
        }
    }
    if let Some(password) = &password {
        params.insert("password".into(), json!(password.expose()));
    }
    let (configured, result): (Configured, _) =
        call(daemon, "device.configure", Value::Object(params)).await?;
    if ctx.json {
        return print_json(&result);
    }
    let Configured {
        device: spec,
        warnings,
    } = configured;
    for warning in &warnings {
        ctx.note(&format!("warning: {warning}"));
    }
    let mut out = crate::output::stdout();
    writeln!(
        out,
        "configured {}: {:?} on {} (device {}, subnet {}, probe {}){}",
        spec.name,
        spec.ssid,
        spec.interface.as_deref().unwrap_or("?"),
        spec.address,
        spec.subnet,
        spec.probe,
        if password.is_some() {
            ", password saved"
        } else {
            ", open network"
        }
    )?;
    out.flush()?;
    ctx.note(&format!("bring it up: netpilot device up {}", spec.name));
    Ok(())
}

async fn list(ctx: &Ctx, daemon: &mut Client) -> anyhow::Result<()> {
    let (Devices { devices }, result) = call(daemon, "device.list", json!({})).await?;
    if ctx.json {
        return print_json(&result);
    }
    if devices.is_empty() {
        ctx.note("no device links yet: netpilot device configure NAME --ssid SSID --preset PRESET");
        return Ok(());
    }
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("SSID", Align::Left),
        ("INTERFACE", Align::Left),
        ("STATE", Align::Left),
        ("DEVICE", Align::Left),
        ("PROBE", Align::Left),
    ]);
    for device in devices {
        table.row(vec![
            device.spec.name,
            device.spec.ssid,
            device.spec.interface.unwrap_or_default(),
            device.state.label().into(),
            device.spec.address.to_string(),
            device.spec.probe.to_string(),
        ]);
    }
    let mut out = crate::output::stdout();
    table.write(&mut out)?;
    out.flush()?;
    Ok(())
}

async fn up(ctx: &Ctx, daemon: &mut Client, name: &str) -> anyhow::Result<()> {
    let mut progress = Progress::new(ctx.json, ctx.quiet);
    progress.set(format!(
        "bringing {name} up (joining its network, then waiting for it to answer)…"
    ));
    let call = call::<Up>(daemon, "device.up", json!({ "name": name }));
    tokio::pin!(call);
    let mut ticks = tokio::time::interval(Duration::from_millis(120));
    let result = loop {
        tokio::select! {
            result = &mut call => break result,
            _ = ticks.tick() => progress.tick(),
        }
    };
    progress.clear();
    let (Up { device }, result) = result?;
    if ctx.json {
        return print_json(&result);
    }
    let mut out = crate::output::stdout();
    writeln!(
        out,
        "{name} is {}: {} {}, {} answers in {}",
        device.state.label(),
        device.spec.interface.as_deref().unwrap_or("?"),
        device.local_address.as_deref().unwrap_or("(no address)"),
        device.spec.address,
        device
            .probe_ms
            .map_or("?".to_string(), |ms| format!("{ms} ms")),
    )?;
    out.flush()?;
    ctx.note("the daemon watches it from now on: netpilot device status");
    Ok(())
}

async fn teardown(ctx: &Ctx, daemon: &mut Client, verb: &str, name: &str) -> anyhow::Result<()> {
    let (teardown, result): (Teardown, _) =
        call(daemon, &format!("device.{verb}"), json!({ "name": name })).await?;
    if ctx.json {
        print_json(&result)?;
    } else {
        let mut out = crate::output::stdout();
        for step in &teardown.done {
            writeln!(out, "done    {step}")?;
        }
        for failed in &teardown.failed {
            writeln!(out, "FAILED  {}: {}", failed.step, failed.error.message)?;
        }
        if teardown.done.is_empty() && teardown.failed.is_empty() {
            writeln!(out, "{name} was already down")?;
        }
        out.flush()?;
    }
    match teardown.failed.first() {
        None => Ok(()),
        Some(first) => Err(Error::new(
            first.error.code,
            format!(
                "{} of the steps of `device {verb} {name}` failed",
                teardown.failed.len()
            ),
        )
        .with_hint("each is listed above; fix what it says and run the command again")
        .into()),
    }
}

async fn status(ctx: &Ctx, daemon: &mut Client, name: Option<String>) -> anyhow::Result<()> {
    let (status, result) = call(daemon, "device.status", status_params(&name)).await?;
    if ctx.json {
        return print_json(&result);
    }
    let mut out = crate::output::stdout();
    render(&mut out, status)?;
    out.flush()?;
    Ok(())
}

fn status_params(name: &Option<String>) -> Value {
    match name {
        Some(name) => json!({ "name": name }),
        None => json!({}),
    }
}

/// `status --watch`: the status redrawn each second and at each event, with the last
/// events under it; without a terminal, each event as a line.
async fn watch(ctx: &Ctx, daemon: &mut Client, name: Option<String>) -> anyhow::Result<()> {
    use netpilot_api::protocol::Event;
    let live = !ctx.json && std::io::stdout().is_terminal();
    let _: Value = daemon
        .call("subscribe", json!({ "services": ["device", "internet"] }))
        .await?;
    let mut recent: std::collections::VecDeque<String> = std::collections::VecDeque::new();
    let mut redraw_at = tokio::time::Instant::now();
    loop {
        if live && tokio::time::Instant::now() >= redraw_at {
            let (status, _) = call(daemon, "device.status", status_params(&name)).await?;
            let mut screen = Vec::new();
            render(&mut screen, status)?;
            writeln!(screen, "\nlast events (Ctrl-C to stop):")?;
            for line in &recent {
                writeln!(screen, "  {line}")?;
            }
            let mut out = crate::output::stdout();
            // Home, clear, the whole view at once: no flicker, no scroll.
            out.write_all(b"\x1b[H\x1b[2J")?;
            out.write_all(&screen)?;
            out.flush()?;
            redraw_at = tokio::time::Instant::now() + Duration::from_secs(1);
        }
        let event = match tokio::time::timeout_at(redraw_at, daemon.next_event()).await {
            Ok(event) => event?,
            Err(_) => continue,
        };
        let line = match &event {
            Event::Device(e) if name.as_ref().is_none_or(|n| *n == e.name) => {
                let what = e.event.as_deref().unwrap_or(e.state.label());
                Some(format!(
                    "{} {} {what}{}",
                    clock(e.at_ms),
                    e.name,
                    e.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ))
            }
            Event::Internet(e) => Some(format!(
                "{} internet {}{}{}",
                clock(e.at_ms),
                internet_word(e.event),
                e.interface
                    .as_deref()
                    .map(|i| format!(" on {i}"))
                    .unwrap_or_default(),
                e.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )),
            _ => None,
        };
        let Some(line) = line else { continue };
        if ctx.json {
            let mut out = crate::output::stdout();
            writeln!(out, "{}", event.to_line())?;
            out.flush()?;
        } else if live {
            recent.push_front(line);
            recent.truncate(10);
            redraw_at = tokio::time::Instant::now();
        } else {
            let mut out = crate::output::stdout();
            writeln!(out, "{line}")?;
            out.flush()?;
        }
    }
}

pub(super) fn internet_word(change: netpilot_core::internet::InternetChange) -> &'static str {
    use netpilot_core::internet::InternetChange;
    match change {
        InternetChange::Up => "up",
        InternetChange::Lost => "lost",
        InternetChange::Moved => "moved",
        InternetChange::Portal => "behind a captive portal",
    }
}

/// HH:MM:SS (UTC) of a Unix time in ms.
pub(super) fn clock(at_ms: u64) -> String {
    let seconds = at_ms / 1000 % 86_400;
    format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn render(out: &mut impl Write, status: Status) -> std::io::Result<()> {
    let Status {
        internet,
        internet_state,
        devices,
        wifi_devices,
    } = status;
    match internet {
        Some(link) => writeln!(
            out,
            "internet  {}{} (metric {}){}",
            link.interface,
            link.gateway
                .map(|g| format!(" via {g}"))
                .unwrap_or_default(),
            link.metric,
            internet_state
                .as_ref()
                .map(|s| format!(
                    ": {}{}",
                    internet_word(s.event),
                    s.probe_ms
                        .map(|ms| format!(", {ms} ms"))
                        .unwrap_or_default()
                ))
                .unwrap_or_default()
        )?,
        None => writeln!(out, "internet  none (no default route)")?,
    }
    if let Some(state) = internet_state.as_ref().filter(|s| s.reason.is_some()) {
        writeln!(
            out,
            "          {}",
            state.reason.as_deref().unwrap_or_default()
        )?;
    }
    if !wifi_devices.is_empty() {
        let radios: Vec<String> = wifi_devices
            .iter()
            .map(|r| format!("{} {}", r.interface, r.role.label()))
            .collect();
        writeln!(out, "radios    {}", radios.join(", "))?;
    }
    for device in devices {
        writeln!(out)?;
        writeln!(
            out,
            "{}  {}  {:?} on {}",
            device.spec.name,
            device.state.label(),
            device.spec.ssid,
            device.spec.interface.as_deref().unwrap_or("?")
        )?;
        if let Some(address) = &device.local_address {
            writeln!(out, "  address   {address}")?;
        }
        writeln!(
            out,
            "  device    {} ({}, probe {})",
            device.spec.address, device.spec.subnet, device.spec.probe
        )?;
        if let Some(uptime) = device.uptime_s {
            writeln!(out, "  uptime    {}", duration(uptime))?;
        }
        if let Some(ms) = device.probe_ms {
            writeln!(out, "  latency   {ms} ms")?;
        }
        if let Some(failure) = &device.last_failure {
            writeln!(out, "  last failure  {}", failure.reason)?;
        }
    }
    Ok(())
}

fn duration(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

async fn test(ctx: &Ctx, daemon: &mut Client, args: TestArgs) -> anyhow::Result<()> {
    let mut params = json!({ "name": args.name });
    if let Some(internet) = &args.internet {
        params["internet"] = json!(internet);
    }
    let (Checks { checks }, result) = call(daemon, "device.test", params).await?;
    if ctx.json {
        print_json(&result)?;
    } else {
        let mut out = crate::output::stdout();
        for check in &checks {
            let mark = if check.passed { "PASS" } else { "FAIL" };
            writeln!(out, "{mark}  {}: {}", check.name, check.detail)?;
        }
        out.flush()?;
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    if failed == 0 {
        return Ok(());
    }
    Err(Error::new(
        ErrorCode::ConnectionAttemptFailed,
        format!("{failed} of {} checks failed", checks.len()),
    )
    .into())
}

fn presets(ctx: &Ctx) -> anyhow::Result<()> {
    if ctx.json {
        let presets: Vec<Value> = PRESETS
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "description": p.description,
                    "ssidPattern": p.ssid_pattern,
                    "address": p.address.to_string(),
                    "subnet": p.subnet.to_string(),
                    "probe": p.probe.to_string(),
                })
            })
            .collect();
        return print_json(&json!({ "presets": presets }));
    }
    let mut table = Table::new(&[
        ("PRESET", Align::Left),
        ("SSID", Align::Left),
        ("DEVICE", Align::Left),
        ("SUBNET", Align::Left),
        ("PROBE", Align::Left),
        ("WHAT", Align::Left),
    ]);
    for preset in PRESETS {
        table.row(vec![
            preset.name.into(),
            preset.ssid_pattern.into(),
            preset.address.to_string(),
            preset.subnet.to_string(),
            preset.probe.to_string(),
            preset.description.into(),
        ]);
    }
    let mut out = crate::output::stdout();
    table.write(&mut out)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(ssid: &str, preset: &str) -> Discovered {
        Discovered {
            ssid: ssid.into(),
            preset: preset.into(),
            bssid: String::new(),
            signal: 50,
            frequency_mhz: 2412,
            channel: 1,
            security: netpilot_core::wifi::Security::WpaPsk,
            seen_on: "wlan1".into(),
            home_channel: None,
            joinable: true,
            via: Some("wlan1".into()),
            reason: None,
            warnings: Vec::new(),
            configured: None,
        }
    }

    #[test]
    fn from_scan_takes_the_one_device_the_link_can_mean() {
        let here = [
            found("Cozmo_A1B2C3", "cozmo"),
            found("TELLO-0A1B2C", "tello"),
        ];
        // The preset named like the link, or the one given.
        assert_eq!(pick(&here, None, "cozmo").unwrap().ssid, "Cozmo_A1B2C3");
        assert_eq!(
            pick(&here, Some("tello"), "drone").unwrap().ssid,
            "TELLO-0A1B2C"
        );
        // Two devices and nothing to choose by: the SSIDs, and --ssid.
        let several = pick(&here, None, "robot").unwrap_err();
        assert_eq!(several.code, ErrorCode::InvalidArgument);
        assert!(
            several.message.contains("Cozmo_A1B2C3, TELLO-0A1B2C"),
            "{several:?}"
        );
        // None of that preset in range.
        let none = pick(&here, Some("gopro"), "cam").unwrap_err();
        assert_eq!(none.code, ErrorCode::NotFound);
        assert!(none.message.contains("no gopro device"), "{none:?}");
    }
}
