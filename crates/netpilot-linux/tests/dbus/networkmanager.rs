//! Tier 2b: the secret agent against real NetworkManager, no VM. NetworkManager runs in
//! namespaces of its own (testkit) and manages one end of a veth pair; the other end is
//! an 802.1X authenticator (hostapd, `driver=wired`, EAP-MD5). Activating a profile whose
//! 802.1X password is agent-owned makes NetworkManager ask our agent for it.

use netpilot_core::Secret;
use netpilot_linux::nm::{AgentEvent, register_agent};
use netpilot_testkit::netns::{enter_fresh, ip};
use netpilot_testkit::networkmanager::NetworkManager;
use std::collections::HashMap;
use std::process::{Child, Command};
use std::time::Duration;
use tokio::sync::mpsc::Receiver;
use zbus::zvariant::{ObjectPath, OwnedObjectPath, OwnedValue, Value};

const PASSWORD: &str = "alice-secret-1";

struct Lab {
    nm: NetworkManager,
    authenticator: Child,
    dir: std::path::PathBuf,
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.authenticator.kill();
        let _ = self.authenticator.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// NetworkManager managing np-sup; hostapd authenticating on np-auth in this thread's
/// fresh namespace.
fn lab(test: &str) -> Option<Lab> {
    if !netpilot_testkit::require_root(test) {
        return None;
    }
    enter_fresh().unwrap();
    let nm = NetworkManager::start(test).unwrap();
    let dir = std::env::temp_dir().join(format!("np-8021x-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("eap_users"),
        format!("\"alice\" MD5 \"{PASSWORD}\"\n"),
    )
    .unwrap();
    let config = format!(
        "interface=np-auth\ndriver=wired\nieee8021x=1\neap_server=1\nuse_pae_group_addr=1\neap_user_file={}\n",
        dir.join("eap_users").display()
    );
    std::fs::write(dir.join("hostapd.conf"), config).unwrap();
    ip(&[
        "link", "add", "np-sup", "type", "veth", "peer", "name", "np-auth",
    ])
    .unwrap();
    ip(&["link", "set", "np-sup", "netns", &nm.pid().to_string()]).unwrap();
    ip(&["link", "set", "np-auth", "up"]).unwrap();
    let authenticator = Command::new("hostapd")
        .arg("-f")
        .arg(dir.join("hostapd.log"))
        .arg(dir.join("hostapd.conf"))
        .spawn()
        .expect("hostapd runs (package hostapd)");
    Some(Lab {
        nm,
        authenticator,
        dir,
    })
}

async fn bus(lab: &Lab) -> zbus::Connection {
    zbus::connection::Builder::address(lab.nm.bus_address.as_str())
        .unwrap()
        .build()
        .await
        .unwrap()
}

async fn call<R>(
    bus: &zbus::Connection,
    path: &str,
    interface: &str,
    method: &str,
    body: &(impl serde::Serialize + zbus::zvariant::DynamicType),
) -> R
where
    R: for<'d> serde::Deserialize<'d> + zbus::zvariant::Type,
{
    let reply = bus
        .call_method(
            Some("org.freedesktop.NetworkManager"),
            path,
            Some(interface),
            method,
            body,
        )
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"));
    reply.body().deserialize().unwrap()
}

/// The wired device NetworkManager made of np-sup.
async fn device(bus: &zbus::Connection) -> OwnedObjectPath {
    for _ in 0..100 {
        let found: Result<OwnedObjectPath, _> = bus
            .call_method(
                Some("org.freedesktop.NetworkManager"),
                "/org/freedesktop/NetworkManager",
                Some("org.freedesktop.NetworkManager"),
                "GetDeviceByIpIface",
                &("np-sup",),
            )
            .await
            .and_then(|reply| reply.body().deserialize());
        if let Ok(path) = found {
            return path;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("NetworkManager never saw np-sup");
}

/// Adds an Ethernet profile with 802.1X (EAP-MD5) whose password is agent-owned.
async fn add_profile(bus: &zbus::Connection) -> OwnedObjectPath {
    add_profile_as(bus, "np-8021x", false).await
}

/// The same, named `id`, and `marked` as a connect attempt marks the profiles it makes.
async fn add_profile_as(bus: &zbus::Connection, id: &str, marked: bool) -> OwnedObjectPath {
    let mut settings: HashMap<&str, HashMap<&str, Value<'_>>> = HashMap::new();
    settings.insert(
        "connection",
        HashMap::from([
            ("id", Value::from(id)),
            ("type", Value::from("802-3-ethernet")),
            ("interface-name", Value::from("np-sup")),
            ("autoconnect", Value::from(false)),
        ]),
    );
    if marked {
        let data = HashMap::from([("io.netpilot.attempt", "1")]);
        settings.insert("user", HashMap::from([("data", Value::from(data))]));
    }
    settings.insert("802-3-ethernet", HashMap::new());
    settings.insert(
        "802-1x",
        HashMap::from([
            ("eap", Value::from(vec!["md5"])),
            ("identity", Value::from("alice")),
            ("password-flags", Value::from(1u32)),
        ]),
    );
    settings.insert("ipv4", HashMap::from([("method", Value::from("disabled"))]));
    settings.insert("ipv6", HashMap::from([("method", Value::from("disabled"))]));
    call(
        bus,
        "/org/freedesktop/NetworkManager/Settings",
        "org.freedesktop.NetworkManager.Settings",
        "AddConnection",
        &(settings,),
    )
    .await
}

async fn activate(bus: &zbus::Connection, profile: &OwnedObjectPath, device: &OwnedObjectPath) {
    let root = ObjectPath::try_from("/").unwrap();
    let _: OwnedObjectPath = call(
        bus,
        "/org/freedesktop/NetworkManager",
        "org.freedesktop.NetworkManager",
        "ActivateConnection",
        &(profile, device, root),
    )
    .await;
}

async fn device_state(bus: &zbus::Connection, device: &OwnedObjectPath) -> u32 {
    let value: OwnedValue = call(
        bus,
        device.as_str(),
        "org.freedesktop.DBus.Properties",
        "Get",
        &("org.freedesktop.NetworkManager.Device", "State"),
    )
    .await;
    u32::try_from(value).unwrap()
}

/// Waits (30 s at most) until np-sup is activated; fails with NetworkManager's log.
async fn until_activated(lab: &Lab, bus: &zbus::Connection, device: &OwnedObjectPath) {
    for _ in 0..300 {
        if device_state(bus, device).await == 100 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("np-sup never activated\n{}", lab.nm.logs());
}

/// Takes the device down (`Device.Disconnect`), as a user would.
async fn disconnect(bus: &zbus::Connection, device: &OwnedObjectPath) {
    let _: () = call(
        bus,
        device.as_str(),
        "org.freedesktop.NetworkManager.Device",
        "Disconnect",
        &(),
    )
    .await;
}

async fn next_request(
    events: &mut Receiver<AgentEvent>,
    lab: &Lab,
) -> netpilot_linux::nm::PendingSecrets {
    loop {
        match tokio::time::timeout(Duration::from_secs(30), events.recv()).await {
            Ok(Some(AgentEvent::Request(pending))) => return pending,
            Ok(Some(_)) => continue,
            _ => panic!(
                "NetworkManager asked for no secrets within 30 s\n{}",
                lab.nm.logs()
            ),
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_wrong_secret_is_asked_for_again_and_the_right_one_activates() {
    let Some(lab) = lab("a_wrong_secret_is_asked_for_again_and_the_right_one_activates") else {
        return;
    };
    let bus = bus(&lab).await;
    let mut events = register_agent(&bus, "dev.netpilot.test").await.unwrap();
    let device = device(&bus).await;
    let profile = add_profile(&bus).await;
    activate(&bus, &profile, &device).await;

    let first = next_request(&mut events, &lab).await;
    assert_eq!(first.request.setting, "802-1x");
    assert_eq!(
        first.request.fields,
        ["password"],
        "the identity is in the profile"
    );
    assert!(!first.request.flags.request_new);
    first.answer(vec![("password".into(), Secret::new("not-the-password"))]);

    let second = next_request(&mut events, &lab).await;
    assert!(
        second.request.flags.request_new,
        "a rejected secret is asked for anew: {:?}",
        second.request.flags
    );
    second.answer(vec![("password".into(), Secret::new(PASSWORD))]);

    until_activated(&lab, &bus, &device).await;
    // Agent-owned: the password is in no profile NetworkManager wrote.
    for keyfile in lab.nm.files("/run/np-nm/connections").unwrap() {
        let text = String::from_utf8_lossy(&std::fs::read(&keyfile).unwrap()).into_owned();
        assert!(text.contains("password-flags=1"), "{text}");
        assert!(
            !text.contains(PASSWORD),
            "the password is in {}",
            keyfile.display()
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn cancel_get_secrets_ends_a_pending_request() {
    let Some(lab) = lab("cancel_get_secrets_ends_a_pending_request") else {
        return;
    };
    let bus = bus(&lab).await;
    let mut events = register_agent(&bus, "dev.netpilot.test").await.unwrap();
    let device = device(&bus).await;
    let profile = add_profile(&bus).await;
    activate(&bus, &profile, &device).await;
    let pending = next_request(&mut events, &lab).await;
    // While the agent waits (for a user, say), the device is taken down.
    disconnect(&bus, &device).await;
    let canceled = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Some(AgentEvent::Canceled { setting, .. }) = events.recv().await {
                return setting;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no CancelGetSecrets within 30 s\n{}", lab.nm.logs()));
    assert_eq!(canceled, "802-1x");
    drop(pending);
}

async fn profile_ids(bus: &zbus::Connection) -> Vec<String> {
    let paths: Vec<OwnedObjectPath> = call(
        bus,
        "/org/freedesktop/NetworkManager/Settings",
        "org.freedesktop.NetworkManager.Settings",
        "ListConnections",
        &(),
    )
    .await;
    let mut ids = Vec::new();
    for path in paths {
        let settings: HashMap<String, HashMap<String, OwnedValue>> = call(
            bus,
            path.as_str(),
            "org.freedesktop.NetworkManager.Settings.Connection",
            "GetSettings",
            &(),
        )
        .await;
        let id = settings["connection"]["id"].try_clone().unwrap();
        ids.push(String::try_from(id).unwrap());
    }
    ids.sort();
    ids
}

/// The profiles attempts leave (the daemon killed, NetworkManager restarted) are deleted,
/// and nothing else: not a profile that connected once (NetworkManager's timestamp), nor
/// one being activated (an attempt in progress), nor one netpilot did not make.
#[tokio::test(flavor = "current_thread")]
async fn only_the_profiles_attempts_left_are_deleted() {
    let Some(lab) = lab("only_the_profiles_attempts_left_are_deleted") else {
        return;
    };
    let bus = bus(&lab).await;
    let mut events = register_agent(&bus, "dev.netpilot.test").await.unwrap();
    let device = device(&bus).await;
    // Connected once, then let go.
    let connected = add_profile_as(&bus, "connected-once", true).await;
    activate(&bus, &connected, &device).await;
    next_request(&mut events, &lab)
        .await
        .answer(vec![("password".into(), Secret::new(PASSWORD))]);
    until_activated(&lab, &bus, &device).await;
    disconnect(&bus, &device).await;
    // Left by an attempt: never activated.
    add_profile_as(&bus, "left-by-an-attempt", true).await;
    // The user's own.
    add_profile_as(&bus, "the-users", false).await;
    // An attempt in progress: waiting for its password.
    let waiting = add_profile_as(&bus, "in-progress", true).await;
    activate(&bus, &waiting, &device).await;
    let pending = next_request(&mut events, &lab).await;

    let deleted = netpilot_linux::nm::delete_leftover_profiles(bus.clone())
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    // (NetworkManager has profiles of its own too, such as "lo".)
    let mine = [
        "connected-once",
        "in-progress",
        "left-by-an-attempt",
        "the-users",
    ];
    let mut left = profile_ids(&bus).await;
    left.retain(|id| mine.contains(&id.as_str()));
    assert_eq!(left, ["connected-once", "in-progress", "the-users"]);
    drop(pending);
}
