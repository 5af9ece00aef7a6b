//! The hotspot against the real NetworkManager (shared mode: its dnsmasq gives addresses):
//! started on a free radio while the internet stays on its own, joined by a plain station of
//! another machine (wpa_supplicant in the `client` namespace), which gets an address and
//! pings it; stopped, the radio is free again and nothing of it is left.

use super::aps::{HOME, HOTSPOT};
use super::daemon::{Daemon, SOCKET, connected_to};
use super::device::{json_of, sh, text};
use super::{in_lab, lab_out, netpilot_env, profiles};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const RUN: &str = "/run/np-lab";

/// The role of `interface` in a state.
fn role(state: &Value, interface: &str) -> Value {
    state["wifiDevices"]
        .as_array()
        .and_then(|all| all.iter().find(|d| d["interface"] == json!(interface)))
        .map(|d| d["role"].clone())
        .unwrap_or(Value::Null)
}

/// The other machine: wpa_supplicant on wlan8 in the `client` namespace, joining the
/// hotspot; stopped (and its address gone) when dropped.
struct Station;

impl Station {
    fn join() -> Station {
        let conf = format!("{RUN}/client.conf");
        std::fs::write(
            &conf,
            format!(
                "network={{\n  ssid=\"{}\"\n  psk=\"{}\"\n  key_mgmt=WPA-PSK\n}}\n",
                HOTSPOT.0, HOTSPOT.1
            ),
        )
        .expect("the station's configuration");
        let started = sh(&format!(
            "ip -n client link set wlan8 up && ip netns exec client wpa_supplicant -B -i wlan8 \
             -c {conf} -P {RUN}/client-supplicant.pid -f {}/client-supplicant.log && echo started",
            lab_out()
        ));
        assert!(started.contains("started"), "{started}");
        Station
    }

    /// An address from the hotspot's DHCP server, applied to wlan8.
    fn dhcp(&self) -> String {
        let script = format!("{RUN}/udhcpc.sh");
        std::fs::write(
            &script,
            "#!/bin/sh\n[ \"$1\" = bound ] && ip addr add \"$ip/$mask\" dev \"$interface\"\nexit 0\n",
        )
        .expect("the DHCP script");
        sh(&format!("chmod +x {script}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            sh(&format!(
                "ip netns exec client busybox udhcpc -i wlan8 -n -q -t 5 -T 2 -s {script}"
            ));
            let address = sh("ip -n client -4 -o addr show dev wlan8");
            if let Some(address) = address.split_whitespace().nth(3) {
                return address.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no address for the station: {}",
                sh(&format!(
                    "cat {}/client-supplicant.log | tail -20",
                    lab_out()
                ))
            );
        }
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        sh(&format!(
            "kill $(cat {RUN}/client-supplicant.pid) 2>/dev/null; ip -n client addr flush dev wlan8"
        ));
    }
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn a_hotspot_on_a_free_radio_is_joined_pinged_and_stopped_and_the_internet_stays() {
    if !in_lab("a_hotspot_on_a_free_radio_is_joined_pinged_and_stopped_and_the_internet_stays") {
        return;
    }
    let daemon = Daemon::start("hotspot", &[]);
    let mut ui = daemon.client();
    ui.subscribe(&["network"]);
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": HOME.0, "password": HOME.1, "interface": "wlan0" }),
    );
    connected_to(&ui.settled(), HOME.0, "192.168.50.");

    // Bad input first: nothing is started.
    let short = ui.refused(
        "network.hotspot.start",
        json!({ "ssid": HOTSPOT.0, "password": "short" }),
    );
    assert_eq!(short, "invalid-argument");

    // Without naming a radio: the free one, not the internet's.
    let asked = Instant::now();
    let started = ui.ok(
        "network.hotspot.start",
        json!({ "ssid": HOTSPOT.0, "password": HOTSPOT.1, "band": "bg" }),
    );
    let took = asked.elapsed();
    let hotspot = &started["result"];
    assert_eq!(hotspot["interface"], json!("wlan1"), "{started}");
    assert_eq!(hotspot["ssid"], json!(HOTSPOT.0));
    assert_eq!(hotspot["active"], json!(true));
    assert!(
        hotspot["ipv4"]
            .as_str()
            .is_some_and(|a| a.starts_with("10.42.0.")),
        "{started}"
    );
    eprintln!("hotspot up {took:?} after it was asked for");
    let state = ui.until("network", Duration::from_secs(20), |s| {
        role(s, "wlan1") == json!("hotspot")
    });
    assert_eq!(state["hotspot"]["ssid"], json!(HOTSPOT.0), "{state}");
    assert_eq!(role(&state, "wlan0"), json!("internet"), "{state}");
    connected_to(&state, HOME.0, "192.168.50.");
    // Its password is netpilot's: not in NetworkManager's profile.
    let keyfiles = sh(&format!(
        "grep -rl '{}' {RUN}/system-connections",
        HOTSPOT.1
    ));
    assert!(keyfiles.trim().is_empty(), "the password is in {keyfiles}");
    assert!(
        sh("nmcli -g 802-11-wireless-security.psk-flags connection show netpilot-hotspot")
            .contains('1')
    );

    // Another machine joins it, gets an address and reaches it.
    let station = Station::join();
    let address = station.dhcp();
    assert!(address.starts_with("10.42.0."), "{address}");
    let ping = sh("ip netns exec client ping -c 3 -W 2 10.42.0.1 && echo reached");
    assert!(ping.contains("reached"), "{ping}");

    // The command line, through the daemon.
    let through_daemon = [("NETPILOT_SOCKET", SOCKET)];
    let status = netpilot_env(
        &["wifi", "hotspot", "status", "--json"],
        "",
        &through_daemon,
    );
    assert_eq!(
        json_of(&status)["hotspot"]["interface"],
        json!("wlan1"),
        "{}",
        text(&status)
    );
    let again = netpilot_env(
        &["wifi", "hotspot", "start", "np-spot-2", "--password-stdin"],
        &format!("{}\n", HOTSPOT.1),
        &through_daemon,
    );
    assert_eq!(
        again.status.code(),
        Some(5),
        "one at a time: {}",
        text(&again)
    );

    let stop = netpilot_env(&["wifi", "hotspot", "stop", "--json"], "", &through_daemon);
    assert_eq!(
        json_of(&stop),
        json!({ "interfaces": ["wlan1"] }),
        "{}",
        text(&stop)
    );
    let state = ui.until("network", Duration::from_secs(20), |s| {
        role(s, "wlan1") == json!("free") && s["hotspot"].is_null()
    });
    connected_to(&state, HOME.0, "192.168.50.");
    assert_eq!(profiles("netpilot-hotspot"), 0, "its profile is gone");
    drop(station);
    ui.ok("network.wifi.forget", json!({ "ssid": HOME.0 }));
    ui.assert_no_secret();
}
