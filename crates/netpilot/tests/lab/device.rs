//! Device links against real NetworkManager, wpa_supplicant and hostapd: the home network
//! (np-home, the internet stand-in) on wlan0, the robot's AP (Cozmo_A1B2C3, DHCP pushing
//! its own DNS) on wlan1. Driven with the CLI as a user would, and through the Unix socket
//! for the supervision timings.

use super::aps::{HOME, ROBOT};
use super::daemon::{Daemon, SOCKET};
use super::{in_lab, lab_out, netpilot};
use crate::e2e::metrics::{METRICS, Prometheus, get, sample, tool};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

pub(super) const ROBOT_AP: &str = "wlan3";
pub(super) const HOME_AP: &str = "wlan2";
const RUN: &str = "/run/np-lab";

pub(super) fn sh(command: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", command])
        .output()
        .expect("sh runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Joins the home network on wlan0 with nmcli (the user's own internet link).
fn home_on_wlan0() {
    home_on("wlan0");
}

pub(super) fn home_on(interface: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = Command::new("nmcli")
            .args(["device", "wifi", "connect", HOME.0, "password", HOME.1])
            .args(["ifname", interface])
            .output()
            .expect("nmcli runs");
        if out.status.success() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nmcli could not join the home network: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(
        default_routes().contains(&format!("dev {interface}")),
        "{}",
        default_routes()
    );
}

pub(super) fn default_routes() -> String {
    sh("ip -4 route show default; ip -6 route show default")
}

fn resolv_conf() -> String {
    std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default()
}

/// `netpilot device …` on the lab daemon's socket.
pub(super) fn device(args: &[&str], stdin: &str) -> std::process::Output {
    let mut all = vec!["device", "--socket", SOCKET];
    all.extend_from_slice(args);
    netpilot(&all, stdin)
}

pub(super) fn text(output: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub(super) fn json_of(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("not JSON: {}", text(output)))
}

pub(super) fn configure_robot(extra: &[&str]) -> std::process::Output {
    let mut args = vec!["configure", "cozmo", "--ssid", ROBOT.0, "--preset", "cozmo"];
    args.extend_from_slice(extra);
    args.push("--password-stdin");
    device(&args, &format!("{}\n", ROBOT.1))
}

pub(super) fn start_daemon(name: &str) -> Daemon {
    Daemon::start(name, &["--internet-probe", "internet.lab:80"])
}

/// An access point switched off: hostapd killed without a goodbye, its radio down.
pub(super) fn ap_off(ap: &str) {
    sh(&format!(
        "kill -9 $(cat {RUN}/hostapd-{ap}.pid); ip -n aps link set {ap} down"
    ));
}

/// The access point switched on again; returns once hostapd has started.
pub(super) fn ap_on(ap: &str) {
    let out = sh(&format!(
        "ip -n aps link set {ap} up && ip netns exec aps hostapd -B -t -P {RUN}/hostapd-{ap}.pid \
         -f {out}/hostapd-{ap}-restarted.log {RUN}/hostapd-{ap}.conf && echo started",
        out = lab_out(),
    ));
    assert!(
        out.contains("started"),
        "hostapd did not start again: {out}"
    );
}

pub(super) fn robot_off() {
    ap_off(ROBOT_AP);
}

pub(super) fn robot_on() {
    ap_on(ROBOT_AP);
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn device_link_on_a_second_radio_leaves_route_and_dns_alone() {
    if !in_lab("device_link_on_a_second_radio_leaves_route_and_dns_alone") {
        return;
    }
    home_on_wlan0();
    let routes_before = default_routes();
    let dns_before = resolv_conf();
    assert!(
        dns_before.contains("192.168.50.1"),
        "NetworkManager should have written the home DNS server: {dns_before}"
    );
    let daemon = start_daemon("device-two-radios");

    let configured = configure_robot(&[]);
    assert!(configured.status.success(), "{}", text(&configured));
    let said = String::from_utf8_lossy(&configured.stdout);
    assert!(
        said.contains("on \"wlan1\"") || said.contains("on wlan1"),
        "{said}"
    );
    // The profile as NetworkManager keeps it.
    let profile = sh(
        "nmcli -g connection.interface-name,ipv4.never-default,ipv4.ignore-auto-dns,ipv4.route-metric,ipv6.method,802-11-wireless-security.psk-flags connection show netpilot-cozmo",
    );
    assert_eq!(
        profile.trim(),
        "wlan1\nyes\nyes\n2000\ndisabled\n1",
        "{profile}"
    );

    let up = device(&["up", "cozmo"], "");
    assert!(up.status.success(), "{}\n{}", text(&up), daemon.log());
    let said = String::from_utf8_lossy(&up.stdout);
    assert!(said.contains("cozmo is up: wlan1 172.31.1."), "{said}");

    // The default route and DNS did not move; the robot's subnet is reached on wlan1.
    assert_eq!(default_routes(), routes_before);
    assert_eq!(resolv_conf(), dns_before);
    assert!(!resolv_conf().contains("172.31.1.1"));
    assert!(sh("ip route get 172.31.1.1").contains("dev wlan1"));
    assert!(sh("getent hosts internet.lab").contains("192.168.50.1"));
    assert!(sh("busybox ping -c1 -W2 -I wlan1 172.31.1.1").contains("1 packets received"));

    let test = device(&["test", "cozmo", "--json"], "");
    let checks = json_of(&test);
    assert!(test.status.success(), "{}", text(&test));
    assert_eq!(checks["passed"], json!(true), "{checks}");
    let names: Vec<&str> = checks["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default())
        .collect();
    for name in [
        "default route",
        "DNS stays on the internet link",
        "device answers",
        "internet answers",
    ] {
        assert!(names.contains(&name), "{checks}");
    }

    let status = json_of(&device(&["status", "cozmo", "--json"], ""));
    assert_eq!(status["internet"]["interface"], json!("wlan0"), "{status}");
    assert_eq!(status["devices"][0]["state"], json!("up"), "{status}");
    assert!(
        status["devices"][0]["probeMs"].as_f64().is_some(),
        "{status}"
    );

    // Down leaves the radio; the profile stays for next time. Reset removes the rest.
    let down = device(&["down", "cozmo"], "");
    assert!(down.status.success(), "{}", text(&down));
    assert!(String::from_utf8_lossy(&down.stdout).contains("done    disconnect wlan1"));
    assert!(!sh("nmcli -t -f DEVICE,STATE device").contains("wlan1:connected"));
    assert_eq!(default_routes(), routes_before);

    // A link NetworkManager joins by itself (autoconnect, nmcli) is supervised too.
    sh("nmcli connection up netpilot-cozmo");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = json_of(&device(&["status", "cozmo", "--json"], ""));
        if status["devices"][0]["state"] == json!("up") {
            break;
        }
        assert!(Instant::now() < deadline, "not adopted: {status}");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(default_routes(), routes_before);
    let reset = device(&["reset", "cozmo"], "");
    assert!(reset.status.success(), "{}", text(&reset));
    assert!(!sh("nmcli -g NAME connection show").contains("netpilot-cozmo"));
    let secrets = std::fs::read_to_string(std::env::var("NETPILOT_SECRETS_FILE").expect("set"))
        .unwrap_or_default();
    assert!(
        !secrets.contains(ROBOT.0),
        "the robot's secret was kept: {secrets}"
    );
    for output in [&configured, &up, &test, &down, &reset] {
        assert!(!text(output).contains(ROBOT.1), "the password was shown");
    }
}

/// Ten times: the robot goes off (the loss must be reported within 2 s, the internet keeps
/// working), and on again (the link must come back with no one asking, within 10 s).
/// Loss is timed from the moment the AP is gone (hostapd killed, its radio down), return
/// from the moment hostapd has started; the figures are written out for the record.
#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn device_loss_is_reported_within_2_s_and_the_link_returns_by_itself() {
    if !in_lab("device_loss_is_reported_within_2_s_and_the_link_returns_by_itself") {
        return;
    }
    home_on_wlan0();
    let routes = default_routes();
    // The robot's firmware ignores pings (the aps namespace holds the robot's address):
    // the preset's ARP probe does not need them.
    struct PingsAnswered;
    impl Drop for PingsAnswered {
        fn drop(&mut self) {
            sh("ip netns exec aps sysctl -qw net.ipv4.icmp_echo_ignore_all=0");
        }
    }
    let _pings = PingsAnswered;
    sh("ip netns exec aps sysctl -qw net.ipv4.icmp_echo_ignore_all=1");
    let daemon = start_daemon("device-supervision");
    assert!(configure_robot(&[]).status.success());
    let mut ui = daemon.local_client();
    ui.subscribe(&["device"]);
    let up = ui.ok("device.up", json!({ "name": "cozmo" }));
    assert_eq!(up["result"]["device"]["probe"], json!("arp"), "{up}");
    ui.until("device", Duration::from_secs(5), |e| {
        e["state"] == json!("up")
    });
    // `device test` says which probes the robot answers: ARP (the link's), not pings.
    let tested = json_of(&device(&["test", "cozmo", "--json"], ""));
    let answers = tested["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == json!("device answers")))
        .cloned()
        .unwrap_or_else(|| panic!("{tested}"));
    assert_eq!(answers["passed"], json!(true), "{tested}");
    assert_eq!(answers["probes"][0]["probe"], json!("arp"), "{answers}");
    assert_eq!(answers["probes"][0]["answered"], json!(true), "{answers}");
    assert_eq!(answers["probes"][1]["probe"], json!("icmp"), "{answers}");
    assert_eq!(answers["probes"][1]["answered"], json!(false), "{answers}");

    let mut detections = Vec::new();
    let mut recoveries = Vec::new();
    let rounds = super::rounds(10, 3);
    for round in 0..rounds {
        robot_off();
        let off = Instant::now();
        let lost = ui.until("device", Duration::from_secs(10), |e| {
            e["state"] == json!("lost")
        });
        detections.push(off.elapsed());
        // From a probe, the carrier, NetworkManager or ARP: each names the link.
        assert!(
            lost["reason"]
                .as_str()
                .unwrap_or_default()
                .contains("wlan1"),
            "{lost}"
        );
        // The internet is untouched meanwhile.
        assert_eq!(default_routes(), routes, "round {round}");
        assert!(sh("getent hosts internet.lab").contains("192.168.50.1"));
        // Off for 2, 6 or 12 s: the longer, the further apart the supplicant's own scans
        // and netpilot's nudges (4 s at most).
        std::thread::sleep(Duration::from_secs([2, 6, 12][round % 3]));

        robot_on();
        let on = Instant::now();
        ui.until("device", Duration::from_secs(60), |e| {
            e["state"] == json!("up")
        });
        recoveries.push(on.elapsed());
        assert_eq!(default_routes(), routes, "round {round}");
    }
    let figures = format!(
        "device link, {rounds} rounds: loss reported after {} (median {}, worst {}); back after the AP is up: {} (median {}, worst {})\n",
        list(&detections),
        seconds(median(&detections)),
        seconds(*detections.iter().max().expect("a round")),
        list(&recoveries),
        seconds(median(&recoveries)),
        seconds(*recoveries.iter().max().expect("a round")),
    );
    eprint!("{figures}");
    std::fs::write(format!("{}/device-figures.txt", lab_out()), &figures).expect("figures written");
    assert!(
        detections.iter().all(|d| *d <= Duration::from_secs(2)),
        "{figures}"
    );
    // Every round: a nudge also lifts the supplicant's 10 s disabling of the SSID after
    // failed attempts on the AP it still remembered (one round in 20 took 12.7 s before).
    assert!(
        recoveries.iter().all(|d| *d <= Duration::from_secs(10)),
        "{figures}"
    );
    ui.ok("device.reset", json!({ "name": "cozmo" }));
    ui.assert_no_secret();
}

/// The daemon's metrics as a fleet's Prometheus sees them: a link up, lost once, back.
#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn device_link_state_losses_and_recovery_reach_prometheus() {
    if !in_lab("device_link_state_losses_and_recovery_reach_prometheus") {
        return;
    }
    home_on_wlan0();
    let daemon = Daemon::start(
        "device-metrics",
        &[
            "--internet-probe",
            "internet.lab:80",
            "--metrics",
            "--metrics-interval",
            "2",
        ],
    );
    let server = tool("prometheus").map(|binary| Prometheus::start(&binary));
    assert!(configure_robot(&[]).status.success());
    let mut ui = daemon.local_client();
    ui.subscribe(&["device"]);
    ui.ok("device.up", json!({ "name": "cozmo" }));
    ui.until("device", Duration::from_secs(5), |e| {
        e["state"] == json!("up")
    });
    let up = "netpilot_device_link_up{name=\"cozmo\"}";
    if let Some(server) = &server {
        let seen = wait_until_some(Duration::from_secs(60), || {
            server.query(up).filter(|v| *v == 1.0)
        });
        assert_eq!(seen, Some(1.0), "{}", server.log());
    }
    robot_off();
    ui.until("device", Duration::from_secs(10), |e| {
        e["state"] == json!("lost")
    });
    // The metrics count the event the UI got (a task of their own: soon after, not before).
    let losses = "netpilot_device_link_losses_total{name=\"cozmo\"}";
    let scrape = wait_until_some(Duration::from_secs(5), || {
        get(METRICS, "/metrics", "*/*").filter(|s| sample(s, losses) == Some(1.0))
    })
    .expect("the loss counted");
    assert_eq!(sample(&scrape, up), Some(0.0), "{scrape}");
    if let Some(server) = &server {
        let seen = wait_until_some(Duration::from_secs(30), || {
            server.query(up).filter(|v| *v == 0.0)
        });
        assert_eq!(
            seen,
            Some(0.0),
            "Prometheus saw the link down: {}",
            server.log()
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    robot_on();
    ui.until("device", Duration::from_secs(60), |e| {
        e["state"] == json!("up")
    });
    let recovered = "netpilot_device_link_recovery_seconds_count{name=\"cozmo\"}";
    let scrape = wait_until_some(Duration::from_secs(5), || {
        get(METRICS, "/metrics", "*/*").filter(|s| sample(s, recovered) == Some(1.0))
    })
    .expect("the recovery measured");
    let value = |series: &str| sample(&scrape, series);
    assert_eq!(value(up), Some(1.0), "{scrape}");
    assert_eq!(
        value("netpilot_device_link_recovery_seconds_count{name=\"cozmo\"}"),
        Some(1.0),
        "{scrape}"
    );
    let took = value("netpilot_device_link_recovery_seconds_sum{name=\"cozmo\"}").expect("a sum");
    assert!(
        (2.0..60.0).contains(&took),
        "recovered in {took} s after 2 s off"
    );
    assert!(
        value("netpilot_device_link_probe_latency_seconds_count{name=\"cozmo\"}")
            .is_some_and(|n| n >= 1.0),
        "{scrape}"
    );
    if let Some(server) = &server {
        let back = wait_until_some(Duration::from_secs(30), || {
            server
                .query("netpilot_device_link_recovery_seconds_count{name=\"cozmo\"}")
                .filter(|v| *v == 1.0)
        });
        assert_eq!(back, Some(1.0), "{}", server.log());
        assert_eq!(server.query(losses), Some(1.0));
        assert_eq!(server.query(up), Some(1.0));
    }
    ui.ok("device.reset", json!({ "name": "cozmo" }));
    ui.assert_no_secret();
}

fn wait_until_some<T>(within: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn list(values: &[Duration]) -> String {
    values
        .iter()
        .map(|d| format!("{:.2}", d.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The home network goes and comes back while the device link is up: the default route
/// returns to the home link and never goes to the device link.
#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn the_default_route_returns_to_the_home_link_never_to_the_device_link() {
    if !in_lab("the_default_route_returns_to_the_home_link_never_to_the_device_link") {
        return;
    }
    home_on_wlan0();
    let daemon = start_daemon("device-home-drop");
    assert!(configure_robot(&[]).status.success());
    let up = device(&["up", "cozmo"], "");
    assert!(up.status.success(), "{}", text(&up));

    ap_off(HOME_AP);
    // NetworkManager notices in its own time (the supplicant keeps looking for the AP):
    // watch for 40 s that no default route goes to the device link meanwhile.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut home_went = false;
    while Instant::now() < deadline && !home_went {
        assert!(!default_routes().contains("wlan1"), "{}", default_routes());
        home_went = !default_routes().contains("dev wlan0");
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("home link dropped by NetworkManager within 40 s: {home_went}");
    ap_on(HOME_AP);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !default_routes().contains("dev wlan0") {
        assert!(!default_routes().contains("wlan1"), "{}", default_routes());
        assert!(
            Instant::now() < deadline,
            "the home link did not come back: {}",
            sh("nmcli -t device")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!default_routes().contains("wlan1"), "{}", default_routes());
    assert!(sh("getent hosts internet.lab").contains("192.168.50.1"));
    // The device link stayed up throughout.
    let status = json_of(&device(&["status", "cozmo", "--json"], ""));
    assert_eq!(status["devices"][0]["state"], json!("up"), "{status}");
    drop(daemon);
}

/// Scans on `interface` until it has seen the robot's AP on `channel`: `configure` plans
/// from what that radio last saw, and a scan asked for right after another (the robot
/// just moved, the interface just joined) can be refused or come back stale.
fn until_robot_seen(interface: &str, channel: u8) {
    let seen = format!("{}:{channel}", ROBOT.0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let aps = sh(&format!(
            "nmcli -t -f SSID,CHAN device wifi list ifname {interface} --rescan yes"
        ));
        if aps.lines().any(|line| line == seen) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{interface} did not see {} on channel {channel}: {aps}",
            ROBOT.0
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// NetworkManager's state of `device` (`disconnected`, `unmanaged`…; empty if unknown).
fn nm_state(device: &str) -> String {
    sh(&format!("nmcli -g GENERAL.STATE device show {device}"))
        .split_whitespace()
        .nth(1)
        .map(|state| state.trim_matches(['(', ')']).to_string())
        .unwrap_or_default()
}

/// Waits up to 20 s for NetworkManager to have taken the lab's stations back in hand
/// (the next test wants wlan1 free).
fn until_stations_are_back() {
    for _ in 0..100 {
        if nm_state("wlan1") == "disconnected"
            && !["", "unmanaged", "unavailable"].contains(&nm_state("wlan0").as_str())
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One radio for both: wlan1 is taken out of NetworkManager's hands and the robot's AP moves
/// to the home network's channel; on leaving, both are put back.
struct OneRadio;

impl OneRadio {
    fn set_up() -> OneRadio {
        sh("nmcli device set wlan1 managed no");
        robot_channel(1);
        OneRadio
    }
}

impl Drop for OneRadio {
    fn drop(&mut self) {
        robot_channel(6);
        sh("nmcli device set wlan1 managed yes");
        until_stations_are_back();
    }
}

fn robot_channel(channel: u8) {
    robot_off();
    sh(&format!(
        "sed -i 's/^channel=.*/channel={channel}/' {RUN}/hostapd-{ROBOT_AP}.conf"
    ));
    robot_on();
}

/// One radio: the device link runs on a virtual station interface beside the home
/// network's, created by `up` and removed again by `down`.
#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn device_link_on_one_radio_uses_a_virtual_interface_and_removes_it() {
    if !in_lab("device_link_on_one_radio_uses_a_virtual_interface_and_removes_it") {
        return;
    }
    home_on_wlan0();
    let _one_radio = OneRadio::set_up();
    let routes = default_routes();
    let dns = resolv_conf();
    let _daemon = start_daemon("device-one-radio");
    until_robot_seen("wlan0", 1);
    let configured = configure_robot(&[]);
    assert!(configured.status.success(), "{}", text(&configured));
    assert!(
        !text(&configured).contains("cannot come up"),
        "{}",
        text(&configured)
    );
    the_robot_link_runs_on_a_virtual_interface_of("wlan0", (&routes, &dns), || {
        assert!(sh("iw dev np-cozmo info").contains("type managed"));
    });
}

/// The configured robot link planned on a virtual interface of `parent`'s radio: `up`
/// brings it up (`while_up` checks the radio), the robot answers, the internet's route and
/// DNS are untouched, `device test` agrees; `down` removes the interface, `reset` the rest.
/// `routes` and `dns` are the internet's, read before netpilot was started.
fn the_robot_link_runs_on_a_virtual_interface_of(
    parent: &str,
    (routes, dns): (&str, &str),
    while_up: impl FnOnce(),
) {
    let spec = json_of(&device(&["list", "--json"], ""));
    assert_eq!(spec["devices"][0]["interface"], json!("np-cozmo"), "{spec}");
    assert_eq!(spec["devices"][0]["virtualOf"], json!(parent), "{spec}");

    let up = device(&["up", "cozmo"], "");
    assert!(up.status.success(), "{}", text(&up));
    assert!(String::from_utf8_lossy(&up.stdout).contains("cozmo is up: np-cozmo 172.31.1."));
    while_up();
    assert_eq!(default_routes(), routes);
    assert_eq!(resolv_conf(), dns);
    assert!(sh("busybox ping -c1 -W2 -I np-cozmo 172.31.1.1").contains("1 packets received"));
    assert!(sh("getent hosts internet.lab").contains("192.168.50.1"));
    let test = device(&["test", "cozmo"], "");
    assert!(test.status.success(), "{}", text(&test));

    let down = device(&["down", "cozmo"], "");
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        String::from_utf8_lossy(&down.stdout).contains("delete the virtual interface np-cozmo"),
        "{}",
        text(&down)
    );
    assert!(
        !sh("ip link").contains("np-cozmo"),
        "np-cozmo is still there"
    );
    assert_eq!(default_routes(), routes);
    let reset = device(&["reset", "cozmo"], "");
    assert!(reset.status.success(), "{}", text(&reset));
}

/// A radio added beside the lab's that can use two channels at once (hwsim's radios use
/// one by default), carrying the home network. wlan0 and wlan1 are out of NetworkManager's
/// hands, so a device link can only go on a virtual interface on this radio. On leaving,
/// the radio is removed and both are put back.
struct TwoChannelRadio {
    station: String,
}

const TWO_CHANNEL_RADIO: &str = "np-twochan";

fn hwsim_radio(args: &[&str]) -> std::process::Output {
    let tool = concat!(env!("CARGO_MANIFEST_DIR"), "/../../lab/guest/hwsim-radio");
    Command::new(tool)
        .args(args)
        .output()
        .expect("hwsim-radio runs")
}

impl TwoChannelRadio {
    fn set_up() -> TwoChannelRadio {
        let added = hwsim_radio(&["add", TWO_CHANNEL_RADIO, "2"]);
        assert!(added.status.success(), "{}", text(&added));
        let station = String::from_utf8_lossy(&added.stdout).trim().to_string();
        let radio = TwoChannelRadio { station };
        sh(
            "nmcli device disconnect wlan0; nmcli device set wlan0 managed no; \
            nmcli device set wlan1 managed no",
        );
        home_on(&radio.station);
        radio
    }
}

impl Drop for TwoChannelRadio {
    fn drop(&mut self) {
        sh(&format!("nmcli device disconnect {}", self.station));
        // Not asserted: this may run while a failed test unwinds.
        let _ = hwsim_radio(&["del", TWO_CHANNEL_RADIO]);
        sh("nmcli device set wlan0 managed yes; nmcli device set wlan1 managed yes");
        until_stations_are_back();
    }
}

/// One radio that can use two channels at once: the virtual interface joins the robot on
/// its channel (6) while the home network stays on its own (1), with no warning.
#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn device_link_on_a_two_channel_radio_joins_the_robot_on_its_own_channel() {
    if !in_lab("device_link_on_a_two_channel_radio_joins_the_robot_on_its_own_channel") {
        return;
    }
    let radio = TwoChannelRadio::set_up();
    let station = radio.station.as_str();
    let routes = default_routes();
    let dns = resolv_conf();
    let _daemon = start_daemon("device-two-channels");
    until_robot_seen(station, 6);
    let configured = configure_robot(&[]);
    let said = text(&configured);
    assert!(configured.status.success(), "{said}");
    assert!(!said.contains("one channel at a time"), "{said}");
    the_robot_link_runs_on_a_virtual_interface_of(station, (&routes, &dns), || {
        assert!(sh("iw dev np-cozmo info").contains("channel 6 (2437 MHz)"));
        assert!(sh(&format!("iw dev {station} info")).contains("channel 1 (2412 MHz)"));
    });
}

/// The Python client's tests (python/tests) against this daemon and the robot's AP.
#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn device_python_client_drives_a_device_link() {
    if !in_lab("device_python_client_drives_a_device_link") {
        return;
    }
    home_on_wlan0();
    let _daemon = start_daemon("device-python");
    let tests = concat!(env!("CARGO_MANIFEST_DIR"), "/../../python/tests");
    let out = Command::new("/usr/bin/python3")
        .args(["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", tests])
        .env("NETPILOT_SOCKET", SOCKET)
        .env("NETPILOT_LAB", "1")
        // PyCozmo, installed there by lab/setup (pip --target), for the lab's Python only.
        .env(
            "PYTHONPATH",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../lab/.cache/python"),
        )
        .output()
        .expect("python3 runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    // Every test ran but the host's own (PyCozmo's too: lab/setup installs it).
    let skipped: Vec<&str> = said.lines().filter(|l| l.starts_with("SKIPPED")).collect();
    assert!(
        skipped.iter().all(|line| {
            line.contains("checks the daemon without NetworkManager")
                || line.contains("starts a daemon of its own")
        }),
        "only the host's own tests may be skipped here: {said}"
    );
    assert!(said.lines().any(|line| line.contains(" passed")), "{said}");
}

/// What cannot work says so, and what would.
#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn device_bad_input_gets_clear_errors() {
    if !in_lab("device_bad_input_gets_clear_errors") {
        return;
    }
    home_on_wlan0();
    let _daemon = start_daemon("device-bad-input");
    // The internet's radio is never taken, even when asked for.
    let taken = configure_robot(&["--interface", "wlan0"]);
    assert_eq!(taken.status.code(), Some(5), "{}", text(&taken));
    assert!(text(&taken).contains("wlan0 carries the internet"));
    // wlan1 busy on another network: no free radio; hwsim's radios run many stations,
    // so a virtual interface on wlan0's radio is planned, with the channel warning (the
    // robot is on channel 6, home on 1, and hwsim's radios use one channel at a time).
    let open = Command::new("nmcli")
        .args([
            "device",
            "wifi",
            "connect",
            super::aps::OPEN,
            "ifname",
            "wlan1",
        ])
        .output()
        .expect("nmcli runs");
    assert!(
        open.status.success(),
        "{}",
        String::from_utf8_lossy(&open.stderr)
    );
    until_robot_seen("wlan0", 6);
    let virtual_plan = configure_robot(&[]);
    assert!(virtual_plan.status.success(), "{}", text(&virtual_plan));
    let said = text(&virtual_plan);
    assert!(said.contains("np-cozmo"), "{said}");
    assert!(
        said.contains("on channel 6") && said.contains("one channel at a time"),
        "{said}"
    );
    let up = device(&["up", "cozmo"], "");
    assert!(!up.status.success(), "{}", text(&up));
    assert!(default_routes().contains("dev wlan0"));
    let reset = device(&["reset", "cozmo"], "");
    assert!(reset.status.success(), "{}", text(&reset));
    assert!(
        !sh("ip link").contains("np-cozmo"),
        "the virtual interface was left behind"
    );
    let unknown = device(&["configure", "x", "--ssid", "x", "--preset", "roomba"], "");
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown));
    let long = device(
        &[
            "configure",
            "x",
            "--ssid",
            &"x".repeat(33),
            "--address",
            "10.0.0.1",
        ],
        "",
    );
    assert_eq!(long.status.code(), Some(2), "{}", text(&long));
    let missing = device(&["up", "nothing"], "");
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert!(text(&missing).contains("netpilot device configure"));
}

/// `device discover` finds the robot in range by its preset's SSID pattern, with its channel
/// and the home network's, and says it can be joined on the free radio; `configure
/// --from-scan` takes its SSID from there.
#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn device_discover_finds_the_robot_and_configure_takes_it_from_the_scan() {
    if !in_lab("device_discover_finds_the_robot_and_configure_takes_it_from_the_scan") {
        return;
    }
    home_on_wlan0();
    let _daemon = start_daemon("device-discover");
    let found = json_of(&device(&["discover", "--json"], ""));
    let devices = found["devices"].as_array().cloned().unwrap_or_default();
    // Only networks that match a preset: the robot, not np-home, np-open…
    assert_eq!(devices.len(), 1, "{found}");
    let robot = &devices[0];
    assert_eq!(robot["ssid"], json!(ROBOT.0), "{robot}");
    assert_eq!(robot["preset"], json!("cozmo"), "{robot}");
    assert_eq!(robot["channel"], json!(6), "{robot}");
    assert_eq!(robot["homeChannel"], json!(1), "{robot}");
    assert_eq!(robot["security"], json!("wpa-psk"), "{robot}");
    assert_eq!(robot["joinable"], json!(true), "{robot}");
    assert_eq!(robot["via"], json!("wlan1"), "{robot}");
    assert!(robot.get("configured").is_none(), "{robot}");
    // Nothing was changed by looking.
    assert_eq!(super::profiles(ROBOT.0), 0);

    let configured = device(
        &["configure", "cozmo", "--from-scan", "--password-stdin"],
        &format!("{}\n", ROBOT.1),
    );
    assert!(configured.status.success(), "{}", text(&configured));
    let said = String::from_utf8_lossy(&configured.stdout);
    assert!(said.contains(ROBOT.0) && said.contains("wlan1"), "{said}");
    let again = json_of(&device(&["discover", "--json"], ""));
    assert_eq!(again["devices"][0]["configured"], json!("cozmo"), "{again}");

    // A preset with nothing in range: what to do, exit 1 (not found).
    let none = device(
        &["configure", "drone", "--preset", "tello", "--from-scan"],
        "",
    );
    assert!(!none.status.success());
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("no tello device is in range"),
        "{}",
        text(&none)
    );
    assert!(device(&["reset", "cozmo"], "").status.success());
}

/// The internet is supervised beside the device link: the home AP switched off is an
/// `internet lost` event within 3 s while the robot's link stays up; back, `up`. A default
/// route added by hand on the device link is a `hijack` of that link, and the internet
/// stays the home network's.
#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn the_internet_is_supervised_and_a_default_route_on_the_device_link_is_a_hijack() {
    if !in_lab("the_internet_is_supervised_and_a_default_route_on_the_device_link_is_a_hijack") {
        return;
    }
    struct NoHijack;
    impl Drop for NoHijack {
        fn drop(&mut self) {
            sh("ip route del default dev wlan1 metric 5 2>/dev/null");
        }
    }
    struct HomeBack;
    impl Drop for HomeBack {
        fn drop(&mut self) {
            if !sh("ip -n aps link show wlan2").contains("UP") {
                ap_on(HOME_AP);
            }
        }
    }
    let (_no_hijack, _home_back) = (NoHijack, HomeBack);
    home_on_wlan0();
    let daemon = Daemon::start(
        "internet-supervision",
        &[
            "--internet-probe",
            "internet.lab:80",
            "--internet-probe-every",
            "1",
        ],
    );
    assert!(configure_robot(&[]).status.success());
    let mut ui = daemon.local_client();
    ui.ok("device.up", json!({ "name": "cozmo" }));
    ui.subscribe(&["device", "internet"]);
    ui.until("internet", Duration::from_secs(10), |e| {
        e["event"] == json!("up") && e["interface"] == json!("wlan0")
    });

    ap_off(HOME_AP);
    let off = Instant::now();
    let lost = ui.until("internet", Duration::from_secs(20), |e| {
        e["event"] == json!("lost")
    });
    let lost_after = off.elapsed();
    // The robot's link stays up and answering meanwhile.
    let status = ui.ok("device.status", json!({ "name": "cozmo" }));
    assert_eq!(
        status["result"]["devices"][0]["state"],
        json!("up"),
        "{status}"
    );
    assert_eq!(
        status["result"]["internetState"]["event"],
        json!("lost"),
        "{status}"
    );

    ap_on(HOME_AP);
    let on = Instant::now();
    ui.until("internet", Duration::from_secs(90), |e| {
        e["event"] == json!("up") && e["interface"] == json!("wlan0")
    });
    let back_after = on.elapsed();

    sh("ip route add default via 172.31.1.1 dev wlan1 metric 5");
    let added = Instant::now();
    let hijack = ui.until("device", Duration::from_secs(10), |e| {
        e["event"] == json!("hijack")
    });
    let said_after = added.elapsed();
    assert_eq!(hijack["name"], json!("cozmo"), "{hijack}");
    assert!(
        hijack["route"]
            .as_str()
            .unwrap_or_default()
            .contains("dev wlan1 metric 5"),
        "{hijack}"
    );
    // The internet is still the home network's, and `device test` fails with the fix.
    let status = ui.ok("device.status", json!({ "name": "cozmo" }));
    assert_eq!(
        status["result"]["internetState"]["interface"],
        json!("wlan0"),
        "{status}"
    );
    let tested = device(&["test", "cozmo"], "");
    assert!(!tested.status.success(), "{}", text(&tested));
    assert!(
        String::from_utf8_lossy(&tested.stdout).contains("sudo ip route del default dev wlan1"),
        "{}",
        text(&tested)
    );
    let figures = format!(
        "internet supervision: lost {lost_after:?} after the home AP went ({}); up again {back_after:?} after it came back; hijack said {said_after:?} after the route was added\n",
        lost["reason"].as_str().unwrap_or_default()
    );
    eprint!("{figures}");
    std::fs::write(format!("{}/internet-figures.txt", lab_out()), &figures)
        .expect("figures written");
    assert!(lost_after <= Duration::from_secs(3), "{figures}");
    ui.ok("device.reset", json!({ "name": "cozmo" }));
}
