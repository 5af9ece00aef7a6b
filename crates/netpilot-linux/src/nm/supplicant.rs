//! wpa_supplicant's own D-Bus interface, for the one thing NetworkManager does not offer:
//! asking a disconnected interface to look for its network now. Left alone, the
//! supplicant tries again at its next scheduled scan, which backs off to about 10 s
//! after failed attempts: too slow for a robot that was switched off and on again.

use zbus::zvariant::OwnedObjectPath;

const SERVICE: &str = "fi.w1.wpa_supplicant1";
const PATH: &str = "/fi/w1/wpa_supplicant1";
const INTERFACE: &str = "fi.w1.wpa_supplicant1.Interface";

/// Asks the supplicant to scan for `interface`'s network and join it now, if the
/// interface is disconnected or scanning (an associated one is left alone). Whether it
/// was asked. The supplicant's bus policy admits root (and Debian's `netdev` group).
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
    let state: zbus::zvariant::OwnedValue = bus
        .call_method(
            Some(SERVICE),
            &path,
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(INTERFACE, "State"),
        )
        .await?
        .body()
        .deserialize()?;
    let state = String::try_from(state).unwrap_or_default();
    if !matches!(state.as_str(), "disconnected" | "scanning") {
        return Ok(false);
    }
    bus.call_method(Some(SERVICE), &path, Some(INTERFACE), "Reassociate", &())
        .await?;
    Ok(true)
}
