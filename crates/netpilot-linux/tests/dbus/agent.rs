//! The secret agent object over a real D-Bus connection (peer to peer), called as
//! NetworkManager calls it.

use netpilot_core::Secret;
use netpilot_linux::nm::{AGENT_PATH, AgentEvent, serve_agent as serve};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;
use zbus::zvariant::{ObjectPath, OwnedValue, Value};

const INTERFACE: &str = "org.freedesktop.NetworkManager.SecretAgent";
type Settings = HashMap<String, HashMap<String, OwnedValue>>;

/// Two ends of one D-Bus connection: the agent is served on one, NetworkManager's role
/// is played on the other.
async fn agent() -> (zbus::Connection, Receiver<AgentEvent>, zbus::Connection) {
    let (ours, theirs) = tokio::net::UnixStream::pair().unwrap();
    let guid = zbus::Guid::generate();
    let server = zbus::connection::Builder::unix_stream(ours)
        .server(guid)
        .unwrap()
        .p2p()
        .build();
    let client = zbus::connection::Builder::unix_stream(theirs).p2p().build();
    let (server, client) = tokio::try_join!(server, client).unwrap();
    let events = serve(&server).await.unwrap();
    (server, events, client)
}

fn wifi_connection(key_mgmt: &str) -> Settings {
    let value = |v: Value<'static>| OwnedValue::try_from(v).unwrap();
    HashMap::from([
        (
            "connection".to_string(),
            HashMap::from([
                (
                    "uuid".to_string(),
                    value(Value::from("0b0e5d42-3c0a-4d0e-9a52-6d1d1c1b7f00")),
                ),
                ("id".to_string(), value(Value::from("np-home"))),
            ]),
        ),
        (
            "802-11-wireless".to_string(),
            HashMap::from([("ssid".to_string(), value(Value::from(b"np-home".to_vec())))]),
        ),
        (
            "802-11-wireless-security".to_string(),
            HashMap::from([(
                "key-mgmt".to_string(),
                value(Value::from(key_mgmt.to_string())),
            )]),
        ),
    ])
}

async fn get_secrets(nm: &zbus::Connection, key_mgmt: &str, flags: u32) -> zbus::Result<Settings> {
    let path = ObjectPath::try_from("/org/freedesktop/NetworkManager/Settings/7").unwrap();
    let reply = nm
        .call_method(
            None::<&str>,
            AGENT_PATH,
            Some(INTERFACE),
            "GetSecrets",
            &(
                wifi_connection(key_mgmt),
                path,
                "802-11-wireless-security",
                Vec::<String>::new(),
                flags,
            ),
        )
        .await?;
    reply.body().deserialize()
}

fn error_name(result: zbus::Result<Settings>) -> String {
    match result {
        Err(zbus::Error::MethodError(name, _, _)) => name.to_string(),
        other => panic!("expected a D-Bus error, got {other:?}"),
    }
}

#[tokio::test]
async fn get_secrets_reaches_the_owner_and_returns_its_answer() {
    let (_agent, mut events, nm) = agent().await;
    let call = tokio::spawn(async move { get_secrets(&nm, "sae", 0x7).await });
    let Some(AgentEvent::Request(pending)) = events.recv().await else {
        panic!("a request")
    };
    let request = &pending.request;
    assert_eq!(request.ssid.as_deref(), Some("np-home"));
    assert_eq!(
        request.connection_uuid,
        "0b0e5d42-3c0a-4d0e-9a52-6d1d1c1b7f00"
    );
    assert_eq!(request.fields, ["psk"]);
    assert!(
        request.flags.request_new
            && request.flags.allow_interaction
            && request.flags.user_requested
    );
    assert!(
        request.hints.contains(&"wpa3".to_string()),
        "SAE is hinted as WPA3: {:?}",
        request.hints
    );
    pending.answer(vec![("psk".into(), Secret::new("home-secret-1"))]);
    let secrets = call.await.unwrap().unwrap();
    let psk = &secrets["802-11-wireless-security"]["psk"];
    assert_eq!(<&str>::try_from(&**psk).unwrap(), "home-secret-1");
}

#[tokio::test]
async fn no_secrets_and_user_canceled_are_the_errors_networkmanager_expects() {
    let (_agent, mut events, nm) = agent().await;
    let nm2 = nm.clone();
    let call = tokio::spawn(async move { get_secrets(&nm2, "wpa-psk", 1).await });
    let Some(AgentEvent::Request(pending)) = events.recv().await else {
        panic!("a request")
    };
    pending.no_secrets();
    assert_eq!(
        error_name(call.await.unwrap()),
        "org.freedesktop.NetworkManager.SecretAgent.NoSecrets"
    );

    let call = tokio::spawn(async move { get_secrets(&nm, "wpa-psk", 1).await });
    let Some(AgentEvent::Request(pending)) = events.recv().await else {
        panic!("a request")
    };
    pending.user_canceled();
    assert_eq!(
        error_name(call.await.unwrap()),
        "org.freedesktop.NetworkManager.SecretAgent.UserCanceled"
    );
}

#[tokio::test]
async fn a_request_nobody_answers_is_no_secrets_not_a_hang() {
    let (_agent, mut events, nm) = agent().await;
    let call = tokio::spawn(async move { get_secrets(&nm, "wpa-psk", 1).await });
    let Some(AgentEvent::Request(pending)) = events.recv().await else {
        panic!("a request")
    };
    drop(pending);
    let result = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .expect("answered at once");
    assert_eq!(
        error_name(result.unwrap()),
        "org.freedesktop.NetworkManager.SecretAgent.NoSecrets"
    );
}

#[tokio::test]
async fn cancel_get_secrets_ends_the_pending_request() {
    let (_agent, mut events, nm) = agent().await;
    let nm2 = nm.clone();
    let call = tokio::spawn(async move { get_secrets(&nm2, "wpa-psk", 1).await });
    let Some(AgentEvent::Request(_pending)) = events.recv().await else {
        panic!("a request")
    };
    let path = ObjectPath::try_from("/org/freedesktop/NetworkManager/Settings/7").unwrap();
    nm.call_method(
        None::<&str>,
        AGENT_PATH,
        Some(INTERFACE),
        "CancelGetSecrets",
        &(path, "802-11-wireless-security"),
    )
    .await
    .unwrap();
    assert_eq!(
        error_name(call.await.unwrap()),
        "org.freedesktop.NetworkManager.SecretAgent.AgentCanceled"
    );
    match events.recv().await {
        Some(AgentEvent::Canceled {
            connection_uuid,
            setting,
        }) => {
            assert_eq!(connection_uuid, "0b0e5d42-3c0a-4d0e-9a52-6d1d1c1b7f00");
            assert_eq!(setting, "802-11-wireless-security");
        }
        other => panic!("expected Canceled, got {other:?}"),
    }
}

#[tokio::test]
async fn save_and_delete_secrets_reach_the_owner_with_the_secret() {
    let (_agent, mut events, nm) = agent().await;
    let mut connection = wifi_connection("wpa-psk");
    connection
        .get_mut("802-11-wireless-security")
        .unwrap()
        .insert(
            "psk".into(),
            OwnedValue::try_from(Value::from("home-secret-1")).unwrap(),
        );
    let path = ObjectPath::try_from("/org/freedesktop/NetworkManager/Settings/7").unwrap();
    nm.call_method(
        None::<&str>,
        AGENT_PATH,
        Some(INTERFACE),
        "SaveSecrets",
        &(&connection, &path),
    )
    .await
    .unwrap();
    match events.recv().await {
        Some(AgentEvent::Save {
            connection_uuid,
            ssid,
            setting,
            secrets,
        }) => {
            assert_eq!(connection_uuid, "0b0e5d42-3c0a-4d0e-9a52-6d1d1c1b7f00");
            assert_eq!(
                (ssid.as_deref(), setting.as_str()),
                (Some("np-home"), "802-11-wireless-security")
            );
            assert_eq!(
                secrets,
                vec![("psk".to_string(), Secret::new("home-secret-1"))]
            );
            // Even the event's Debug keeps the secret out.
            assert!(!format!("{secrets:?}").contains("home-secret-1"));
        }
        other => panic!("expected Save, got {other:?}"),
    }
    nm.call_method(
        None::<&str>,
        AGENT_PATH,
        Some(INTERFACE),
        "DeleteSecrets",
        &(&connection, &path),
    )
    .await
    .unwrap();
    assert!(matches!(
        events.recv().await,
        Some(AgentEvent::Delete { .. })
    ));
}
