//! Tier 1: the command line's shape, usage errors and pipes. No privileges needed.

use crate::e2e::{NETPILOT, netpilot};
use std::process::{Command, Stdio};

#[test]
fn help_teaches_the_commands_and_the_exit_codes() {
    let output = netpilot(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in [
        "interfaces",
        "connections",
        "ports",
        "traffic",
        "--json",
        "Exit codes:",
        "permission denied",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
    let help = String::from_utf8(netpilot(&["connections", "--help"]).stdout).unwrap();
    for needle in [
        "--kind",
        "established",
        "listen",
        "--pid",
        "--process",
        "--port",
        "--netns",
    ] {
        assert!(
            help.contains(needle),
            "connections --help lacks {needle:?}:\n{help}"
        );
    }
    let help = String::from_utf8(netpilot(&["traffic", "--help"]).stdout).unwrap();
    assert!(
        help.contains("UDP bytes") || help.contains("UDP sockets are counted"),
        "{help}"
    );
}

#[test]
fn bad_usage_exits_2_with_a_message() {
    for args in [
        &["connections", "--kind", "sideways"][..],
        &["traffic", "--interval", "0"],
        &["traffic", "--interval", "soon"],
        &["traffic", "--count", "0"],
        &["connections", "--port", "70000"],
        &["frobnicate"],
        // Checked before any daemon or NetworkManager is asked.
        &["wifi", "set", "home"],
        &["wifi", "set", "home", "--priority", "1000"],
        &["wifi", "set", "home", "--autoconnect", "maybe"],
        &["wifi", "radio", "sideways"],
        &["wifi", "show"],
    ] {
        let output = netpilot(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?} says why");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_closed_pipe_ends_quietly_with_success() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader); // every write now fails with EPIPE
    let output = Command::new(NETPILOT)
        .args(["interfaces", "--no-rate"])
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn completions_are_printed_for_each_shell_and_documented() {
    for (shell, needle) in [
        ("bash", "complete -F _netpilot"),
        ("zsh", "#compdef netpilot"),
        ("fish", "complete -c netpilot"),
    ] {
        let output = netpilot(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(script.contains(needle), "{shell}: {script:.200}");
        assert!(
            !script.contains("manpages"),
            "{shell} offers the hidden command"
        );
    }
    let help = String::from_utf8(netpilot(&["completions", "--help"]).stdout).unwrap();
    for needle in [
        "bash",
        "zsh",
        "fish",
        "/usr/share/bash-completion/completions/netpilot",
    ] {
        assert!(
            help.contains(needle),
            "completions --help lacks {needle:?}:\n{help}"
        );
    }
    let help = String::from_utf8(netpilot(&["--help"]).stdout).unwrap();
    assert!(
        help.contains("completions") && !help.contains("manpages"),
        "{help}"
    );
    for args in [
        &["completions", "tcsh"][..],
        &["completions"],
        &["completions", "bash", "--json"],
    ] {
        assert_eq!(netpilot(args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn version_is_printed() {
    let output = netpilot(&["--version"]);
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .starts_with("netpilot ")
    );
}

#[test]
fn without_a_system_bus_wifi_commands_exit_3_and_say_why() {
    let output = Command::new(NETPILOT)
        .args(["wifi", "status"])
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            "unix:path=/nonexistent/np-no-bus",
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("cannot reach the system D-Bus"), "{stderr}");
}

#[test]
fn without_networkmanager_on_the_bus_wifi_commands_exit_3_with_a_hint() {
    // A bus of our own, with no NetworkManager on it.
    let dir = std::env::temp_dir().join(format!("np-bus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bus =
        netpilot_testkit::bus::PrivateBus::start(&dir).expect("dbus-daemon runs (package dbus)");
    let address = bus.address.clone();
    for args in [
        &["wifi", "list", "--json"][..],
        &["wifi", "connect", "np-home", "--password-stdin"],
    ] {
        let mut child = Command::new(NETPILOT)
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"a-valid-password\n").unwrap();
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(3), "{args:?}");
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(shown.contains("NetworkManager is not running"), "{shown}");
        if args.contains(&"--json") {
            assert!(shown.contains("\"code\":\"nm-unavailable\""), "{shown}");
        } else {
            assert!(shown.contains("hint: start it"), "{shown}");
        }
    }
    drop(bus);
    let _ = std::fs::remove_dir_all(dir);
}

/// Tier 2b: with NetworkManager there (in namespaces of its own, on a private bus, with no
/// WiFi device) and no daemon, each `wifi` command runs its own engine and gets its answer
/// through a session of it.
#[test]
fn without_a_daemon_the_wifi_commands_run_their_own_engine() {
    let test = "without_a_daemon_the_wifi_commands_run_their_own_engine";
    if !netpilot_testkit::require_root(test) {
        return;
    }
    let nm = netpilot_testkit::networkmanager::NetworkManager::start("cli-engine")
        .expect("NetworkManager runs (package network-manager)");
    let run = |args: &[&str]| {
        let mut child = Command::new(NETPILOT)
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &nm.bus_address)
            .env("NETPILOT_SOCKET", "/nonexistent/np.sock")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"a-valid-password\n").unwrap();
        child.wait_with_output().unwrap()
    };
    let status = run(&["wifi", "status", "--json"]);
    assert!(status.status.success(), "{status:?}");
    let document: netpilot_api::wifi::WifiStatusDocument =
        serde_json::from_slice(&status.stdout).unwrap();
    assert!(document.devices.is_empty(), "{document:?}");
    let list = run(&["wifi", "list", "--no-daemon", "--json"]);
    assert!(list.status.success(), "{list:?}");
    for args in [
        &[
            "wifi",
            "connect",
            "np-home",
            "--password-stdin",
            "--no-daemon",
            "--json",
        ][..],
        &["wifi", "disconnect", "--no-daemon", "--json"],
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(5), "{args:?}: {output:?}");
        let shown = String::from_utf8_lossy(&output.stdout);
        assert!(shown.contains("\"code\":\"no-wifi-device\""), "{shown}");
    }
}
