//! The seed's "Connection Test Checklist", each item through `netpilot wifi`, plus WPA3,
//! hidden networks, a second agent and secrets in logs.

use super::aps::{HIDDEN, HOME, NO_DHCP, OPEN, PASSWORDS, WPA3};
use super::{OnTerminal, in_lab, netpilot, netpilot_env, profiles};
use netpilot_api::monitor::{ErrorDocument, InterfacesDocument};
use netpilot_api::wifi::{WifiConnectDocument, WifiStatusDocument};
use netpilot_core::wifi::DeviceState;
use netpilot_core::{ErrorCode, InterfaceKind};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn connected(output: &Output) -> WifiConnectDocument {
    assert!(
        output.status.success(),
        "netpilot failed ({:?}): {}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a WifiConnectDocument")
}

fn failed(output: &Output) -> ErrorCode {
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let document: ErrorDocument = serde_json::from_slice(&output.stdout).expect("an ErrorDocument");
    document.error.code
}

fn connect_with(ssid: &str, password: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "wifi",
        "connect",
        ssid,
        "--password-stdin",
        "--interface",
        "wlan0",
        "--json",
    ];
    args.extend_from_slice(extra);
    netpilot(&args, &format!("{password}\n"))
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn checklist_1_open_network_connects_and_the_monitor_sees_wifi() {
    if !in_lab("checklist_1_open_network_connects_and_the_monitor_sees_wifi") {
        return;
    }
    let joined = connected(&netpilot(
        &["wifi", "connect", OPEN, "--interface", "wlan0", "--json"],
        "",
    ));
    assert!(joined.ipv4.starts_with("192.168.51."), "{joined:?}");
    assert!(!joined.saved, "an open network has no password to keep");
    let status: WifiStatusDocument =
        serde_json::from_slice(&netpilot(&["wifi", "status", "--json"], "").stdout).unwrap();
    let wlan0 = status
        .devices
        .iter()
        .find(|d| d.interface == "wlan0")
        .unwrap();
    assert_eq!(
        (wlan0.state, wlan0.ssid.as_deref()),
        (DeviceState::Connected, Some(OPEN))
    );
    let interfaces: InterfacesDocument =
        serde_json::from_slice(&netpilot(&["interfaces", "--no-rate", "--json"], "").stdout)
            .unwrap();
    let kind = interfaces
        .interfaces
        .iter()
        .find(|i| i.interface.name == "wlan0")
        .unwrap()
        .interface
        .kind;
    assert_eq!(kind, InterfaceKind::Wifi);
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn checklist_2_wpa2_with_a_password_connects_and_keeps_it_agent_owned() {
    if !in_lab("checklist_2_wpa2_with_a_password_connects_and_keeps_it_agent_owned") {
        return;
    }
    let joined = connected(&connect_with(HOME.0, HOME.1, &[]));
    assert!(
        joined.ipv4.starts_with("192.168.50.") && joined.saved,
        "{joined:?}"
    );
    let flags = Command::new("nmcli")
        .args([
            "-g",
            "802-11-wireless-security.psk-flags",
            "connection",
            "show",
            HOME.0,
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&flags.stdout).trim(),
        "1",
        "psk-flags: agent-owned"
    );
    // NetworkManager's keyfile holds no password; netpilot's 0600 store does.
    for entry in std::fs::read_dir("/run/np-lab/system-connections").unwrap() {
        let keyfile = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(
            !keyfile.contains(HOME.1),
            "the password is in a NetworkManager keyfile"
        );
    }
    let store = std::env::var("NETPILOT_SECRETS_FILE").unwrap();
    assert!(std::fs::read_to_string(&store).unwrap().contains(HOME.1));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&store).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The internet stand-in answers by name over the new link.
    let page = Command::new("busybox")
        .args(["wget", "-qO-", "http://internet.lab/"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&page.stdout).trim(), "internet ok");
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn checklist_3_wpa2_without_a_password_prompts_for_it() {
    if !in_lab("checklist_3_wpa2_without_a_password_prompts_for_it") {
        return;
    }
    let mut terminal = OnTerminal::start(&["wifi", "connect", HOME.0, "--interface", "wlan0"]);
    terminal.expect("Password for \"np-home\":", 1);
    terminal.type_keys(&format!("{}\r", HOME.1));
    let (code, shown) = terminal.finish();
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("connected to \"np-home\" on wlan0"),
        "{shown}"
    );
    assert!(!shown.contains(HOME.1), "the password was echoed: {shown}");
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn checklist_4_a_wrong_password_fails_and_is_asked_for_again() {
    if !in_lab("checklist_4_a_wrong_password_fails_and_is_asked_for_again") {
        return;
    }
    let mut terminal =
        OnTerminal::start(&["wifi", "connect", HOME.0, "--interface", "wlan0", "--ask"]);
    terminal.expect("Password for \"np-home\":", 1);
    terminal.type_keys("not-the-password\r");
    terminal.expect("Previous password was incorrect", 1);
    terminal.type_keys(&format!("{}\r", HOME.1));
    let (code, shown) = terminal.finish();
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("connected to \"np-home\""), "{shown}");

    // Without a terminal to ask on, a wrong password is an error, and leaves nothing behind.
    super::clean_slate();
    let output = connect_with(HOME.0, "not-the-password", &[]);
    assert_eq!(failed(&output), ErrorCode::AuthenticationFailed);
    assert_eq!(
        profiles(HOME.0),
        0,
        "a failed first attempt leaves no profile"
    );
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn checklist_5_cancelling_the_prompt_stops_cleanly() {
    if !in_lab("checklist_5_cancelling_the_prompt_stops_cleanly") {
        return;
    }
    let mut terminal =
        OnTerminal::start(&["wifi", "connect", HOME.0, "--interface", "wlan0", "--ask"]);
    terminal.expect("Password for \"np-home\":", 1);
    terminal.type_keys("\u{3}"); // Ctrl-C
    let (code, shown) = terminal.finish();
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("was cancelled"), "{shown}");
    assert_eq!(profiles(HOME.0), 0);
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn checklist_6_a_connection_that_takes_too_long_times_out() {
    if !in_lab("checklist_6_a_connection_that_takes_too_long_times_out") {
        return;
    }
    // Joining takes seconds here; a 1 s budget cannot be met.
    let output = connect_with(HOME.0, HOME.1, &["--connect-timeout", "1"]);
    assert_eq!(failed(&output), ErrorCode::Timeout);
    assert_eq!(profiles(HOME.0), 0);
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn checklist_7_no_dhcp_answer_is_a_dhcp_timeout_after_15_seconds() {
    if !in_lab("checklist_7_no_dhcp_answer_is_a_dhcp_timeout_after_15_seconds") {
        return;
    }
    let start = Instant::now();
    let output = connect_with(NO_DHCP.0, NO_DHCP.1, &[]);
    assert_eq!(failed(&output), ErrorCode::DhcpTimeout);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(15) && took < Duration::from_secs(60),
        "{took:?}"
    );
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn checklist_8_a_network_out_of_range_is_not_found() {
    if !in_lab("checklist_8_a_network_out_of_range_is_not_found") {
        return;
    }
    let output = connect_with("np-nowhere", "whatever-secret", &[]);
    assert_eq!(failed(&output), ErrorCode::NetworkNotFound);
    let output = connect_with("np-nowhere", "whatever-secret", &["--hidden"]);
    assert_eq!(failed(&output), ErrorCode::NetworkNotFound);
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn checklist_9_a_configured_network_reconnects_with_its_saved_password() {
    if !in_lab("checklist_9_a_configured_network_reconnects_with_its_saved_password") {
        return;
    }
    connected(&connect_with(HOME.0, HOME.1, &[]));
    assert!(
        netpilot(&["wifi", "disconnect", "--interface", "wlan0"], "")
            .status
            .success()
    );
    // No password given and no terminal: the agent answers from its store.
    let again = connected(&netpilot(
        &["wifi", "connect", HOME.0, "--interface", "wlan0", "--json"],
        "",
    ));
    assert!(again.ipv4.starts_with("192.168.50."));
    assert_eq!(
        profiles(HOME.0),
        1,
        "the saved profile is reused, not duplicated"
    );
    // Forgetting removes the profile and the stored password.
    assert!(netpilot(&["wifi", "forget", HOME.0], "").status.success());
    assert_eq!(profiles(HOME.0), 0);
    let store = std::fs::read_to_string(std::env::var("NETPILOT_SECRETS_FILE").unwrap())
        .unwrap_or_default();
    assert!(!store.contains(HOME.1));
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn wpa3_wrong_password_is_authentication_failed_not_network_not_found() {
    if !in_lab("wpa3_wrong_password_is_authentication_failed_not_network_not_found") {
        return;
    }
    assert_eq!(
        failed(&connect_with(WPA3.0, "not-the-password", &[])),
        ErrorCode::AuthenticationFailed
    );
    let joined = connected(&connect_with(WPA3.0, WPA3.1, &[]));
    assert!(joined.ipv4.starts_with("192.168.52."));
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn a_hidden_network_is_joined_with_hidden() {
    if !in_lab("a_hidden_network_is_joined_with_hidden") {
        return;
    }
    assert_eq!(
        failed(&connect_with(HIDDEN.0, HIDDEN.1, &[])),
        ErrorCode::NetworkNotFound
    );
    let joined = connected(&connect_with(HIDDEN.0, HIDDEN.1, &["--hidden"]));
    assert!(joined.ipv4.starts_with("192.168.53."));
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn nmcli_as_a_second_agent_does_not_take_netpilots_prompt() {
    if !in_lab("nmcli_as_a_second_agent_does_not_take_netpilots_prompt") {
        return;
    }
    let mut nmcli = Command::new("nmcli")
        .args(["agent", "secret"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2)); // registered before netpilot starts
    let mut terminal =
        OnTerminal::start(&["wifi", "connect", HOME.0, "--interface", "wlan0", "--ask"]);
    terminal.expect("Password for \"np-home\":", 1);
    terminal.type_keys(&format!("{}\r", HOME.1));
    let (code, shown) = terminal.finish();
    let _ = nmcli.kill();
    let nmcli = nmcli.wait_with_output().unwrap();
    assert_eq!(code, 0, "{shown}");
    assert_eq!(
        shown.matches("Password for").count(),
        1,
        "asked once: {shown}"
    );
    let theirs = String::from_utf8_lossy(&nmcli.stdout);
    assert!(!theirs.contains("np-home"), "nmcli was asked too: {theirs}");
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn no_password_reaches_trace_logs_json_or_the_labs_logs() {
    if !in_lab("no_password_reaches_trace_logs_json_or_the_labs_logs") {
        return;
    }
    let trace = [("RUST_LOG", "trace")];
    let args = [
        "wifi",
        "connect",
        HOME.0,
        "--password-stdin",
        "--interface",
        "wlan0",
        "--json",
    ];
    let good = netpilot_env(&args, &format!("{}\n", HOME.1), &trace);
    let bad = netpilot_env(&args, "not-the-password\n", &trace);
    let logs = format!(
        "{}{}{}{}",
        String::from_utf8_lossy(&good.stdout),
        String::from_utf8_lossy(&good.stderr),
        String::from_utf8_lossy(&bad.stdout),
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(
        logs.contains("NetworkManager asks for secrets"),
        "trace logging is on: {logs}"
    );
    for secret in [HOME.1, "not-the-password"] {
        assert!(
            !logs.contains(secret),
            "{secret:?} appears in netpilot's output or logs"
        );
    }
    // And nothing the lab's daemons wrote names one of its passwords in clear text,
    // except hostapd's own configuration (which is not a log).
    let out = super::lab_out();
    for entry in std::fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        // tests/ holds the test binary's own output (run-tests), not a daemon's log.
        if path.is_dir() {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for secret in PASSWORDS {
            assert!(
                !text.contains(secret),
                "{secret:?} appears in {}",
                path.display()
            );
        }
    }
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn without_a_usable_wifi_device_connect_exits_5() {
    if !in_lab("without_a_usable_wifi_device_connect_exits_5") {
        return;
    }
    let managed = |yes: &str| {
        for device in ["wlan0", "wlan1"] {
            Command::new("nmcli")
                .args(["device", "set", device, "managed", yes])
                .status()
                .unwrap();
        }
    };
    managed("no");
    let output = netpilot(
        &["wifi", "connect", HOME.0, "--password-stdin"],
        &format!("{}\n", HOME.1),
    );
    managed("yes");
    assert_eq!(
        output.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("wlan0 is unmanaged"), "{stderr}");
    // Back to normal before the next test: both stations usable again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while String::from_utf8_lossy(
        &Command::new("nmcli")
            .args(["-g", "STATE", "device", "status"])
            .output()
            .unwrap()
            .stdout,
    )
    .lines()
    .filter(|l| *l == "disconnected")
    .count()
        < 2
    {
        assert!(Instant::now() < deadline, "the stations did not come back");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn networkmanager_cancelling_its_request_ends_the_prompt() {
    if !in_lab("networkmanager_cancelling_its_request_ends_the_prompt") {
        return;
    }
    let terminal = OnTerminal::start(&["wifi", "connect", HOME.0, "--interface", "wlan0", "--ask"]);
    terminal.expect("Password for \"np-home\":", 1);
    // Someone else takes the device away while netpilot waits for the user.
    assert!(
        Command::new("nmcli")
            .args(["device", "disconnect", "wlan0"])
            .status()
            .unwrap()
            .success()
    );
    let (code, shown) = terminal.finish();
    assert_eq!(code, 1, "{shown}");
    assert!(
        shown.contains("could not connect") || shown.contains("cancelled"),
        "{shown}"
    );
}
