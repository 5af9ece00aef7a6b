//! One machine, one network: a device link and the internet on the same machine's radios,
//! through the CLI and the API as a user would. The robot's link is on the *first* radio
//! (wlan0), where a "first usable device" choice would have put the home network.

use super::aps::{HOME, ROBOT};
use super::daemon::SOCKET;
use super::device::{configure_robot, device, json_of, sh, start_daemon, text};
use super::{in_lab, netpilot};
use netpilot_api::wifi::{WifiConnectDocument, WifiStatusDocument};
use netpilot_core::network::NetworkState;
use netpilot_core::wifi::Role;
use serde_json::{Value, json};

/// The robot switched off until dropped (even when the test fails: the next one needs it).
struct RobotAway;

impl RobotAway {
    fn now() -> RobotAway {
        super::device::robot_off();
        RobotAway
    }
}

impl Drop for RobotAway {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // No assertion while unwinding: just start its access point again.
            let _ = sh(&format!(
                "ip -n aps link set {ap} up; ip netns exec aps hostapd -B -P /run/np-lab/hostapd-{ap}.pid /run/np-lab/hostapd-{ap}.conf",
                ap = super::device::ROBOT_AP
            ));
        } else {
            super::device::robot_on();
        }
    }
}

/// `netpilot wifi …` through the lab daemon.
fn wifi(args: &[&str], stdin: &str) -> std::process::Output {
    let mut all = vec!["wifi", "--socket", SOCKET];
    all.extend_from_slice(args);
    netpilot(&all, stdin)
}

/// The robot answers on its own radio, and `device status` says it is up.
fn robot_answers() {
    assert!(
        sh("busybox ping -c1 -W2 -I wlan0 172.31.1.1").contains("1 packets received"),
        "the robot does not answer on wlan0"
    );
    let status = json_of(&device(&["status", "cozmo", "--json"], ""));
    assert_eq!(status["devices"][0]["state"], json!("up"), "{status}");
    assert_eq!(
        sh("nmcli -g GENERAL.CONNECTION device show wlan0").trim(),
        "netpilot-cozmo",
        "the robot's profile still holds wlan0"
    );
}

fn role_of(radios: &[netpilot_core::wifi::WifiRadio], interface: &str) -> Role {
    radios
        .iter()
        .find(|r| r.interface == interface)
        .map(|r| r.role.clone())
        .unwrap_or_else(|| panic!("no {interface} in {radios:?}"))
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn wifi_actions_never_take_or_drop_the_device_links_radio() {
    if !in_lab("wifi_actions_never_take_or_drop_the_device_links_radio") {
        return;
    }
    let daemon = start_daemon("roles");
    let configured = configure_robot(&["--interface", "wlan0"]);
    assert!(configured.status.success(), "{}", text(&configured));
    let up = device(&["up", "cozmo"], "");
    assert!(up.status.success(), "{}\n{}", text(&up), daemon.log());
    robot_answers();

    // Home without --interface: the free radio, not the robot's (the first one).
    let joined = wifi(
        &["connect", HOME.0, "--password-stdin", "--json"],
        &format!("{}\n", HOME.1),
    );
    assert!(
        joined.status.success(),
        "{}\n{}",
        text(&joined),
        daemon.log()
    );
    let joined: WifiConnectDocument = serde_json::from_slice(&joined.stdout).expect("a document");
    assert_eq!(joined.interface, "wlan1", "{joined:?}");
    assert!(joined.ipv4.starts_with("192.168.50."), "{joined:?}");
    robot_answers();

    // The state describes the internet link, never the robot's.
    let mut ui = daemon.local_client();
    let status = ui.ok("network.status", json!({}));
    let state: NetworkState = serde_json::from_value(status["result"].clone()).expect("a state");
    assert_eq!(state.wifi_ssid, HOME.0, "{state:?}");
    assert!(state.wifi_ip.starts_with("192.168.50."), "{state:?}");
    assert!(state.wifi_connected, "{state:?}");
    assert_eq!(
        serde_json::to_value(state.network_status).unwrap(),
        json!("wifi")
    );
    assert_eq!(
        role_of(&state.wifi_devices, "wlan0"),
        Role::DeviceLink("cozmo".into())
    );
    assert_eq!(role_of(&state.wifi_devices, "wlan1"), Role::Internet);
    let roles = wifi(&["status", "--json"], "");
    let roles: WifiStatusDocument = serde_json::from_slice(&roles.stdout).expect("a document");
    assert_eq!(
        role_of(&roles.devices, "wlan0"),
        Role::DeviceLink("cozmo".into())
    );
    let shown = String::from_utf8_lossy(&wifi(&["status"], "").stdout).into_owned();
    assert!(shown.contains("device-link cozmo"), "{shown}");
    let radios = json_of(&device(&["status", "--json"], ""));
    assert_eq!(
        radios["wifiDevices"][0]["role"],
        json!("device-link"),
        "{radios}"
    );

    // Naming the robot's radio is refused, with who holds it and how to free it.
    let refused = wifi(
        &[
            "connect",
            HOME.0,
            "--interface",
            "wlan0",
            "--password-stdin",
        ],
        &format!("{}\n", HOME.1),
    );
    assert_eq!(refused.status.code(), Some(5), "{}", text(&refused));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("carries the device link cozmo"), "{said}");
    assert!(said.contains("netpilot device down cozmo"), "{said}");
    let refused_json = wifi(
        &[
            "connect",
            HOME.0,
            "--interface",
            "wlan0",
            "--password-stdin",
            "--json",
        ],
        &format!("{}\n", HOME.1),
    );
    assert_eq!(
        json_of(&refused_json)["error"]["code"],
        json!("radio-in-use")
    );
    robot_answers();
    assert_eq!(
        sh("nmcli -g GENERAL.CONNECTION device show wlan1").trim(),
        HOME.0,
        "home was not touched either"
    );

    // Disconnect leaves the internet's link only.
    let left = wifi(&["disconnect", "--json"], "");
    assert!(left.status.success(), "{}", text(&left));
    assert_eq!(json_of(&left)["interfaces"], json!(["wlan1"]));
    robot_answers();
    let refused = wifi(&["disconnect", "--interface", "wlan0"], "");
    assert_eq!(refused.status.code(), Some(5), "{}", text(&refused));
    robot_answers();

    // The same through the API.
    let again = wifi(&["connect", HOME.0, "--json"], "");
    assert!(
        again.status.success(),
        "the saved profile: {}",
        text(&again)
    );
    let left: Value = ui.ok("network.wifi.disconnect", json!({}));
    assert_eq!(left["result"]["interfaces"], json!(["wlan1"]), "{left}");
    assert_eq!(
        ui.refused("network.wifi.disconnect", json!({ "interface": "wlan0" })),
        "radio-in-use"
    );
    robot_answers();

    let down = device(&["down", "cozmo"], "");
    assert!(down.status.success(), "{}", text(&down));
    for output in [&configured, &up] {
        assert!(!text(output).contains(ROBOT.1), "the password was shown");
    }
    ui.assert_no_secret();
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn a_radio_taken_for_the_internet_while_the_robot_is_away_is_reported_and_left_alone() {
    if !in_lab("a_radio_taken_for_the_internet_while_the_robot_is_away_is_reported_and_left_alone")
    {
        return;
    }
    let daemon = start_daemon("roles-overtaken");
    assert!(configure_robot(&["--interface", "wlan0"]).status.success());
    let mut ui = daemon.local_client();
    ui.subscribe(&["device"]);
    ui.ok("device.up", json!({ "name": "cozmo" }));
    let away = RobotAway::now();
    ui.until("device", std::time::Duration::from_secs(10), |e| {
        e["state"] == json!("lost")
    });
    // Someone joins home on the robot's radio meanwhile (nmcli, another tool).
    super::device::home_on("wlan0");
    let said = ui.until("device", std::time::Duration::from_secs(20), |e| {
        e["reason"]
            .as_str()
            .is_some_and(|r| r.contains("wlan0 now carries the internet"))
    });
    assert_eq!(said["state"], json!("lost"), "{said}");
    // The robot comes back: its link does not take the radio back from home.
    drop(away);
    std::thread::sleep(std::time::Duration::from_secs(15));
    assert_eq!(
        sh("nmcli -g GENERAL.CONNECTION device show wlan0").trim(),
        HOME.0,
        "the device link took the internet's radio back"
    );
    // Once home lets go of the radio, the link comes back by itself.
    sh("nmcli device disconnect wlan0");
    ui.until("device", std::time::Duration::from_secs(40), |e| {
        e["state"] == json!("up")
    });
    ui.ok("device.down", json!({ "name": "cozmo" }));
    drop(daemon);
}
