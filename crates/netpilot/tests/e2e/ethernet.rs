//! Tier 2b: `netpilot ethernet` and the `ethernet` state against a real NetworkManager
//! (testkit: its own namespaces and bus), managing one end of a veth pair whose other end is
//! a LAN: 192.168.60.1 with dnsmasq giving addresses, a router and DNS. The daemon runs in
//! NetworkManager's network namespace (it reads the routes there).

use super::NETPILOT;
use netpilot_api::client::Client;
use netpilot_core::network::{NetworkState, NetworkStatus};
use netpilot_testkit::netns::{enter_fresh, ip};
use netpilot_testkit::networkmanager::NetworkManager;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Ends a process when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn netpilot_on(socket: &Path, args: &[&str]) -> Output {
    Command::new(NETPILOT)
        .args(args)
        .arg("--socket")
        .arg(socket)
        .arg("--json")
        .stdin(Stdio::null())
        .output()
        .expect("netpilot runs")
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "not JSON ({:?}): {}{}",
            output.status.code(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn status(socket: &Path) -> NetworkState {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut client = Client::unix(socket).await.unwrap();
        client.call("network.status", json!({})).await.unwrap()
    })
}

#[test]
fn ethernet_connects_shows_its_address_gateway_and_dns_and_disconnects() {
    let test = "ethernet_connects_shows_its_address_gateway_and_dns_and_disconnects";
    if !netpilot_testkit::require_root(test) {
        return;
    }
    let nm =
        NetworkManager::start("ethernet").expect("NetworkManager runs (package network-manager)");
    let dir = PathBuf::from(format!("/tmp/np-ethernet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // The LAN, in this thread's fresh namespace; its cable's other end in NetworkManager's.
    enter_fresh().unwrap();
    ip(&[
        "link", "add", "np-eth0", "type", "veth", "peer", "name", "np-lan",
    ])
    .unwrap();
    ip(&["link", "set", "np-eth0", "netns", &nm.pid().to_string()]).unwrap();
    ip(&["addr", "add", "192.168.60.1/24", "dev", "np-lan"]).unwrap();
    ip(&["link", "set", "np-lan", "up"]).unwrap();
    let _dhcp = Running(
        Command::new("dnsmasq")
            .args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--user=root",
                "--pid-file=",
                "--interface=np-lan",
                "--bind-interfaces",
                "--except-interface=lo",
                "--no-resolv",
                "--no-hosts",
                "--dhcp-range=192.168.60.100,192.168.60.150,255.255.255.0,1h",
                "--dhcp-option=option:router,192.168.60.1",
                "--dhcp-option=option:dns-server,192.168.60.1",
            ])
            .arg(format!("--dhcp-leasefile={}/leases", dir.display()))
            .arg(format!("--log-facility={}/dnsmasq.log", dir.display()))
            .spawn()
            .expect("dnsmasq runs (package dnsmasq-base)"),
    );
    let socket = dir.join("np.sock");
    let log = std::fs::File::create(dir.join("daemon.log")).unwrap();
    let _daemon = Running(
        Command::new("nsenter")
            .arg(format!("--net=/proc/{}/ns/net", nm.pid()))
            .arg("--")
            .arg(NETPILOT)
            .args(["daemon", "--socket"])
            .arg(&socket)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &nm.bus_address)
            .env("NETPILOT_SECRETS_FILE", dir.join("secrets.json"))
            .env("RUST_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let said = || std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !said().contains("listening on") {
        assert!(Instant::now() < deadline, "no daemon: {}", said());
        std::thread::sleep(Duration::from_millis(50));
    }

    // NetworkManager sees the cable once its device is up: a moment after it appears.
    let deadline = Instant::now() + Duration::from_secs(30);
    let shown = loop {
        let shown = json_of(&netpilot_on(&socket, &["ethernet", "show"]));
        if shown["devices"][0]["carrier"] == json!(true) {
            break shown;
        }
        assert!(Instant::now() < deadline, "{shown}\n{}", nm.logs());
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(
        shown["devices"][0]["interface"],
        json!("np-eth0"),
        "{shown}"
    );
    assert_eq!(status(&socket).network_status, NetworkStatus::Disconnected);

    let up = netpilot_on(&socket, &["ethernet", "up"]);
    let device = json_of(&up);
    assert!(up.status.success(), "{device}\n{}", said());
    assert_eq!(device["interface"], json!("np-eth0"), "{device}");
    assert!(
        device["ipv4"]
            .as_str()
            .is_some_and(|a| a.starts_with("192.168.60.")),
        "{device}"
    );
    assert_eq!(device["gateway"], json!("192.168.60.1"), "{device}");
    assert_eq!(device["dns"], json!(["192.168.60.1"]), "{device}");

    // The internet is on Ethernet only while Ethernet holds the default route.
    let deadline = Instant::now() + Duration::from_secs(10);
    let state = loop {
        let state = status(&socket);
        if state.ethernet.connected {
            break state;
        }
        assert!(Instant::now() < deadline, "{state:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(state.network_status, NetworkStatus::Ethernet, "{state:?}");
    assert_eq!(state.ethernet.interface, "np-eth0");
    assert!(state.ethernet.ipv4.starts_with("192.168.60."), "{state:?}");
    assert_eq!(state.ethernet.gateway, "192.168.60.1");
    assert_eq!(state.ethernet.dns, ["192.168.60.1"]);

    let unknown = netpilot_on(&socket, &["ethernet", "up", "--interface", "np-nothing"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert_eq!(json_of(&unknown)["error"]["code"], json!("not-found"));

    let down = netpilot_on(&socket, &["ethernet", "down"]);
    assert_eq!(json_of(&down), json!({ "interfaces": ["np-eth0"] }));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = status(&socket);
        if !state.ethernet.connected && state.network_status == NetworkStatus::Disconnected {
            break;
        }
        assert!(Instant::now() < deadline, "{state:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(nm);
    let _ = std::fs::remove_dir_all(&dir);
}
