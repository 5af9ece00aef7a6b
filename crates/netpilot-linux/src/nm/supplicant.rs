//! wpa_supplicant's own D-Bus interface, for the one thing NetworkManager does not offer:
//! asking a disconnected interface to look for its network now. Left alone, the
//! supplicant tries again at its next scheduled scan, which backs off to about 10 s
//! after failed attempts: too slow for a robot that was switched off and on again.

use zbus::zvariant::OwnedObjectPath;

const SERVICE: &str = "fi.w1.wpa_supplicant1";
const PATH: &str = "/fi/w1/wpa_supplicant1";
const INTERFACE: &str = "fi.w1.wpa_supplicant1.Interface";

/// Asks the supplicant to scan for `interface`'s network and join it now, if the
/// interface is disconnected or scanning with a network to join (an associated one is
/// left alone, and one NetworkManager has let go of is `inactive`). Whether it was
/// asked. The supplicant's bus policy admits root (and Debian's `netdev` group).
pub async fn reconnect_now(bus: &zbus::Connection, interface: &str) -> zbus::Result<bool> {
    let path: OwnedObjectPath = bus
        .call_method(
            Some(SERVICE),
            PATH,
            Some(SERVICE),
            "GetInterface",
            &(interface,),
        )
        .await?
        .body()
        .deserialize()?;
    let state = String::try_from(property(bus, &path, "State").await?).unwrap_or_default();
    if !matches!(state.as_str(), "disconnected" | "scanning") {
        return Ok(false);
    }
    // NetworkManager removes its network when it lets go: nothing to join then.
    let networks = Vec::<OwnedObjectPath>::try_from(property(bus, &path, "Networks").await?)
        .unwrap_or_default();
    if networks.is_empty() {
        return Ok(false);
    }
    bus.call_method(Some(SERVICE), &path, Some(INTERFACE), "Reassociate", &())
        .await?;
    Ok(true)
}

async fn property(
    bus: &zbus::Connection,
    path: &OwnedObjectPath,
    name: &str,
) -> zbus::Result<zbus::zvariant::OwnedValue> {
    bus.call_method(
        Some(SERVICE),
        path,
        Some("org.freedesktop.DBus.Properties"),
        "Get",
        &(INTERFACE, name),
    )
    .await?
    .body()
    .deserialize()
}
