//! Tier 2b: agent-owned secrets in a real Secret Service (GNOME Keyring, on a private bus).

use netpilot_core::Secret;
use netpilot_linux::secrets::{SecretService, SecretStore};
use netpilot_testkit::keyring::Keyring;

#[tokio::test(flavor = "current_thread")]
async fn secrets_round_trip_through_the_keyring() {
    let keyring =
        Keyring::start("round-trip").expect("gnome-keyring-daemon runs (package gnome-keyring)");
    let bus = zbus::connection::Builder::address(keyring.bus_address.as_str())
        .unwrap()
        .build()
        .await
        .unwrap();
    let store = SecretStore::Keyring(SecretService::on(bus).await.unwrap());
    let psk = vec![("psk".to_string(), Secret::new("home-secret-1"))];
    let setting = "802-11-wireless-security";

    store
        .save("uuid-1", Some("np-home"), setting, &psk)
        .await
        .unwrap();
    assert_eq!(store.load("uuid-1", setting).await.unwrap(), psk);
    assert!(store.load("uuid-1", "802-1x").await.unwrap().is_empty());
    assert!(store.load("uuid-2", setting).await.unwrap().is_empty());

    // Saving again replaces, it does not add a second item.
    let newer = vec![("psk".to_string(), Secret::new("home-secret-2"))];
    store
        .save("uuid-1", Some("np-home"), setting, &newer)
        .await
        .unwrap();
    assert_eq!(store.load("uuid-1", setting).await.unwrap(), newer);

    assert!(store.delete("uuid-1").await.unwrap());
    assert!(store.load("uuid-1", setting).await.unwrap().is_empty());
    assert!(!store.delete("uuid-1").await.unwrap());
}
