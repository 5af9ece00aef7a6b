//! What a shell's network menu shows and changes, against the real NetworkManager: the
//! state's menu fields as the lab's access points really are, scans answered at once with
//! their results as events, the WiFi switch, saved networks' autoconnect and priority as
//! NetworkManager keeps them, and a network's access points (a hidden one once joined).

use super::aps::{HIDDEN, HOME, OPEN};
use super::daemon::{Daemon, SOCKET, connected_to};
use super::device::{ap_off, ap_on, json_of, sh, text};
use super::{in_lab, netpilot, netpilot_env};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const OPEN_AP: &str = "wlan4";

/// The entry of `ssid` in a state's `key` list (`wifiNetworks`, `savedWifiNetworks`).
fn entry<'a>(state: &'a Value, key: &str, ssid: &str) -> Option<&'a Value> {
    state[key]
        .as_array()?
        .iter()
        .find(|n| n["ssid"] == json!(ssid))
}

/// Deletes the profiles a test made with nmcli, whatever happens.
struct Profiles(&'static [&'static str]);

impl Drop for Profiles {
    fn drop(&mut self) {
        for name in self.0 {
            sh(&format!("nmcli connection delete id {name} 2>/dev/null"));
        }
    }
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn the_menu_says_what_the_labs_access_points_are_and_scans_come_as_events() {
    if !in_lab("the_menu_says_what_the_labs_access_points_are_and_scans_come_as_events") {
        return;
    }
    struct OpenBack;
    impl Drop for OpenBack {
        fn drop(&mut self) {
            if !sh("ip -n aps link show wlan4").contains("UP") {
                ap_on(OPEN_AP);
            }
        }
    }
    let _profiles = Profiles(&["np-away", "np-open-saved"]);
    let daemon = Daemon::start("menu", &[]);
    let mut ui = daemon.client();
    ui.subscribe(&["network"]);
    let asked = Instant::now();
    let scan = ui.ok("network.wifi.scan", json!({}));
    assert_eq!(scan["message"], json!("scanning"), "{scan}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );

    // Every broadcast network, with its security and channel as lab-up made it.
    let state = ui.until("network", Duration::from_secs(30), |s| {
        ["np-home", "np-open", "np-wpa3", "np-nodhcp", "Cozmo_A1B2C3"]
            .iter()
            .all(|ssid| entry(s, "wifiNetworks", ssid).is_some())
    });
    assert_eq!(state["wifiEnabled"], json!(true), "{state}");
    assert_eq!(state["wifiHardwareBlocked"], json!(false), "{state}");
    for (ssid, security, channel, radio) in [
        ("np-home", "wpa-psk", 1, 2),
        ("Cozmo_A1B2C3", "wpa-psk", 6, 3),
        ("np-open", "open", 11, 4),
        ("np-wpa3", "sae", 1, 5),
        ("np-nodhcp", "wpa-psk", 11, 7),
    ] {
        let network = entry(&state, "wifiNetworks", ssid).expect("listed");
        assert_eq!(network["security"], json!(security), "{network}");
        assert_eq!(network["channel"], json!(channel), "{network}");
        // mac80211_hwsim gives radio N the address 02:00:00:00:0N:00.
        assert_eq!(
            network["bssid"],
            json!(format!("02:00:00:00:{radio:02x}:00")),
            "{network}"
        );
        assert!(network["signal"].as_u64().unwrap_or(0) > 0, "{network}");
    }
    // A hidden network is listed only once NetworkManager learnt its name (a join).
    assert!(
        state["wifiNetworks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["ssid"] != json!("")),
        "{state}"
    );

    // Saved networks, in range or not.
    sh("nmcli connection add type wifi ssid np-away con-name np-away autoconnect no");
    sh("nmcli connection add type wifi ssid np-open con-name np-open-saved autoconnect no");
    let state = ui.until("network", Duration::from_secs(15), |s| {
        entry(s, "savedWifiNetworks", "np-away").is_some()
            && entry(s, "savedWifiNetworks", OPEN).is_some()
    });
    assert_eq!(
        entry(&state, "savedWifiNetworks", "np-away").unwrap()["outOfRange"],
        json!(true),
        "{state}"
    );
    assert_eq!(
        entry(&state, "savedWifiNetworks", OPEN).unwrap()["outOfRange"],
        json!(false)
    );
    assert_eq!(
        entry(&state, "wifiNetworks", OPEN).unwrap()["saved"],
        json!(true)
    );

    // The internet's link: its access point's figures.
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": HOME.0, "password": HOME.1, "interface": "wlan0" }),
    );
    let state = ui.until("network", Duration::from_secs(90), |s| {
        s["wifiConnected"] == json!(true) && s["wifiBSSID"] != json!("")
    });
    connected_to(&state, HOME.0, "192.168.50.");
    assert_eq!(state["wifiBSSID"], json!("02:00:00:00:02:00"), "{state}");
    assert_eq!(state["wifiFrequency"], json!(2412), "{state}");
    assert!(state["wifiSignal"].as_u64().unwrap_or(0) > 0, "{state}");
    let home = entry(&state, "wifiNetworks", HOME.0).unwrap();
    assert_eq!(
        (&home["connected"], &home["saved"], &home["autoconnect"]),
        (&json!(true), &json!(true), &json!(true)),
        "{home}"
    );

    // The open network's AP stops: once the radios' scans miss it, it is out of range. Each
    // scan costs at most two `network` events.
    let _open_back = OpenBack;
    ap_off(OPEN_AP);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut events_per_scan = Vec::new();
    let gone = loop {
        ui.ok("network.wifi.scan", json!({}));
        let mut events = 0;
        let mut last = None;
        let window = Instant::now() + Duration::from_secs(6);
        while let Some(state) = ui.next_within("network", window) {
            events += 1;
            last = Some(state);
        }
        events_per_scan.push(events);
        if let Some(state) = last
            && entry(&state, "savedWifiNetworks", OPEN)
                .is_some_and(|n| n["outOfRange"] == json!(true))
        {
            break state;
        }
        assert!(
            Instant::now() < deadline,
            "np-open still in range 120 s after its AP stopped; events per scan: {events_per_scan:?}"
        );
    };
    eprintln!("network events per scan while np-open went out of range: {events_per_scan:?}");
    assert!(entry(&gone, "wifiNetworks", OPEN).is_none(), "{gone}");
    assert!(
        events_per_scan.iter().all(|n| *n <= 2),
        "a scan cost more than two events: {events_per_scan:?}"
    );
    ui.ok("network.wifi.forget", json!({ "ssid": HOME.0 }));
    ui.assert_no_secret();
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn the_wifi_switch_turns_every_radio_off_and_on_again_and_home_comes_back() {
    if !in_lab("the_wifi_switch_turns_every_radio_off_and_on_again_and_home_comes_back") {
        return;
    }
    // rfkill is one switch for the whole VM: NetworkManager's switch blocks the access
    // points' radios too (real ones are other machines), and hostapd does not bring its
    // access point back by itself. They are started again after, whatever happens.
    fn restart_every_ap() {
        for ap in ["wlan2", "wlan3", "wlan4", "wlan5", "wlan6", "wlan7"] {
            ap_off(ap);
            ap_on(ap);
        }
    }
    struct RadioBack;
    impl Drop for RadioBack {
        fn drop(&mut self) {
            if sh("nmcli radio wifi").contains("disabled") {
                sh("nmcli radio wifi on");
                restart_every_ap();
            }
        }
    }
    let _radio_back = RadioBack;
    let daemon = Daemon::start("radio", &[]);
    let mut ui = daemon.client();
    ui.subscribe(&["network"]);
    ui.ok(
        "network.wifi.connect",
        json!({ "ssid": HOME.0, "password": HOME.1, "interface": "wlan0" }),
    );
    connected_to(&ui.settled(), HOME.0, "192.168.50.");

    let off = ui.ok("network.wifi.disable", json!({}));
    assert_eq!(off["result"]["enabled"], json!(false), "{off}");
    let state = ui.until("network", Duration::from_secs(20), |s| {
        s["wifiEnabled"] == json!(false)
            && s["wifiDevices"]
                .as_array()
                .is_some_and(|all| all.iter().all(|d| d["state"] == json!("unavailable")))
    });
    assert_eq!(state["wifiConnected"], json!(false), "{state}");
    assert!(sh("nmcli radio wifi").contains("disabled"));
    // The command line, through the daemon.
    let through_daemon = [("NETPILOT_SOCKET", SOCKET)];
    let said = netpilot_env(&["wifi", "radio", "--json"], "", &through_daemon);
    assert_eq!(json_of(&said)["enabled"], json!(false), "{}", text(&said));

    let on = netpilot_env(&["wifi", "radio", "on"], "", &through_daemon);
    assert!(on.status.success(), "{}", text(&on));
    assert!(String::from_utf8_lossy(&on.stdout).contains("WiFi is on"));
    ui.until("network", Duration::from_secs(20), |s| {
        s["wifiEnabled"] == json!(true)
            && s["wifiDevices"]
                .as_array()
                .is_some_and(|all| all.iter().all(|d| d["state"] != json!("unavailable")))
    });
    restart_every_ap();
    // The saved network joins by itself again once a scan sees it.
    let deadline = Instant::now() + Duration::from_secs(120);
    let back = loop {
        ui.ok("network.wifi.scan", json!({}));
        if let Some(state) =
            ui.next_within_matching("network", Instant::now() + Duration::from_secs(15), |s| {
                s["wifiConnected"] == json!(true)
            })
        {
            break state;
        }
        assert!(
            Instant::now() < deadline,
            "np-home did not come back: {}",
            sh("nmcli -t device")
        );
    };
    connected_to(&back, HOME.0, "192.168.50.");
    ui.ok("network.wifi.forget", json!({ "ssid": HOME.0 }));
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn autoconnect_and_priority_are_written_to_networkmanager_and_secrets_kept() {
    if !in_lab("autoconnect_and_priority_are_written_to_networkmanager_and_secrets_kept") {
        return;
    }
    let _profiles = Profiles(&["np-home-nm"]);
    // A profile made by nmcli, its password in NetworkManager's keyfile (system-owned).
    let added = sh(&format!(
        "nmcli connection add type wifi ssid {} con-name np-home-nm autoconnect yes \
         wifi-sec.key-mgmt wpa-psk wifi-sec.psk {} && echo added",
        HOME.0, HOME.1
    ));
    assert!(added.contains("added"), "{added}");
    let keyfile = "/run/np-lab/system-connections/np-home-nm.nmconnection";
    let has_psk = || sh(&format!("grep -c '^psk=' {keyfile}")).trim() == "1";
    assert!(has_psk(), "nmcli keeps the password in {keyfile}");

    // Without a daemon: the command's own engine.
    let set = netpilot(
        &[
            "wifi",
            "set",
            HOME.0,
            "--autoconnect",
            "no",
            "--priority",
            "7",
            "--json",
        ],
        "",
    );
    assert!(set.status.success(), "{}", text(&set));
    assert_eq!(json_of(&set), json!({ "ssid": HOME.0, "profiles": 1 }));
    assert_eq!(
        sh("nmcli -g connection.autoconnect,connection.autoconnect-priority connection show np-home-nm")
            .trim(),
        "no\n7"
    );
    assert!(has_psk(), "the system-owned password survived the change");

    // Through the daemon, as a UI would.
    let daemon = Daemon::start("saved", &[]);
    let mut ui = daemon.client();
    let saved = ui.ok("network.wifi.saved", json!({}));
    let home = saved["result"]["networks"]
        .as_array()
        .and_then(|all| all.iter().find(|n| n["ssid"] == json!(HOME.0)))
        .cloned()
        .unwrap_or_else(|| panic!("np-home is not saved: {saved}"));
    assert_eq!(
        (&home["autoconnect"], &home["priority"]),
        (&json!(false), &json!(7)),
        "{home}"
    );
    ui.ok(
        "network.wifi.setAutoconnect",
        json!({ "ssid": HOME.0, "autoconnect": true }),
    );
    ui.ok(
        "network.wifi.setPriority",
        json!({ "ssid": HOME.0, "priority": -3 }),
    );
    assert_eq!(
        sh("nmcli -g connection.autoconnect,connection.autoconnect-priority connection show np-home-nm")
            .trim(),
        "yes\n-3"
    );
    assert!(has_psk());
    let missing = ui.refused(
        "network.wifi.setPriority",
        json!({ "ssid": "np-nowhere", "priority": 1 }),
    );
    assert_eq!(missing, "not-found");
    let listed = netpilot(&["wifi", "saved"], "");
    assert!(listed.status.success(), "{}", text(&listed));
    let table = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        table.contains("SSID")
            && table
                .lines()
                .any(|l| l.starts_with(HOME.0) && l.contains("-3")),
        "{table}"
    );
}

#[test]
#[ignore = "needs the WiFi lab: lab/run"]
fn network_info_lists_the_hidden_access_point_once_joined() {
    if !in_lab("network_info_lists_the_hidden_access_point_once_joined") {
        return;
    }
    let joined = netpilot(
        &[
            "wifi",
            "connect",
            HIDDEN.0,
            "--hidden",
            "--password-stdin",
            "--interface",
            "wlan1",
            "--json",
        ],
        &format!("{}\n", HIDDEN.1),
    );
    assert!(joined.status.success(), "{}", text(&joined));
    // NetworkManager names the hidden access point once it has joined it; the look that
    // follows its signals says so.
    let deadline = Instant::now() + Duration::from_secs(20);
    let info = loop {
        let shown = netpilot(&["wifi", "show", HIDDEN.0, "--json"], "");
        if shown.status.success() {
            let info = json_of(&shown);
            if info["accessPoints"]
                .as_array()
                .is_some_and(|aps| !aps.is_empty())
            {
                break info;
            }
        }
        assert!(Instant::now() < deadline, "{}", text(&shown));
        std::thread::sleep(Duration::from_millis(500));
    };
    // Both radios may see it; wlan1 is on it.
    let access_point = info["accessPoints"]
        .as_array()
        .and_then(|aps| aps.iter().find(|ap| ap["interface"] == json!("wlan1")))
        .unwrap_or_else(|| panic!("wlan1 does not see it: {info}"));
    assert_eq!(access_point["bssid"], json!("02:00:00:00:06:00"), "{info}");
    assert_eq!(access_point["connected"], json!(true), "{info}");
    assert_eq!(access_point["channel"], json!(6), "{info}");
    assert!(access_point["rate"].as_u64().unwrap_or(0) > 0, "{info}");
    assert_eq!(info["saved"]["hidden"], json!(true), "{info}");
    let shown = netpilot(&["wifi", "show", HIDDEN.0], "");
    let table = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(
        table.contains("02:00:00:00:06:00") && table.contains("saved as"),
        "{table}"
    );
    assert!(!table.contains(HIDDEN.1), "no password is shown");
    let unknown = netpilot(&["wifi", "show", "np-nowhere"], "");
    assert_eq!(unknown.status.code(), Some(1), "{}", text(&unknown));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("neither in range nor saved"));
}
