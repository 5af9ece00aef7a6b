//! wpa_supplicant's own D-Bus interface, for what NetworkManager does not offer: how a
//! lost link's supplicant is doing, cheaply, and asking it to look for its network now.
//! Left alone, the supplicant tries again at its next scheduled scan, which backs off to
//! about 10 s after failed attempts, and after four failed attempts in a row it disables
//! the SSID for 10 s (`CTRL-EVENT-SSID-TEMP-DISABLED … reason=CONN_FAILED`): too slow for
//! a robot switched off and on again.

use zbus::zvariant::{OwnedObjectPath, OwnedValue};

const SERVICE: &str = "fi.w1.wpa_supplicant1";
const PATH: &str = "/fi/w1/wpa_supplicant1";
const INTERFACE: &str = "fi.w1.wpa_supplicant1.Interface";
const BSS: &str = "fi.w1.wpa_supplicant1.BSS";

/// What the supplicant of a lost link is doing about it.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejoining {
    /// It was looking for the network at its own pace (or had put it off for a while);
    /// it was asked to look now.
    AskedNow,
    /// It is joining the network, or has joined it (the rest is NetworkManager's).
    Joining,
    /// It has no network to join: NetworkManager has let go of the link.
    LetGo,
}

/// Asks the supplicant of `interface` to look for `ssid` now, if it is looking for it.
/// Its bus policy admits root (and Debian's `netdev` group); other callers get an error.
pub async fn rejoin_now(
    bus: &zbus::Connection,
    interface: &str,
    ssid: &str,
) -> zbus::Result<Rejoining> {
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
    let state =
        String::try_from(property(bus, &path, INTERFACE, "State").await?).unwrap_or_default();
    match state.as_str() {
        "disconnected" | "scanning" => {
            // NetworkManager removes its network when it lets go: nothing to look for.
            let networks = Vec::<OwnedObjectPath>::try_from(
                property(bus, &path, INTERFACE, "Networks").await?,
            )
            .unwrap_or_default();
            match networks.as_slice() {
                [] => return Ok(Rejoining::LetGo),
                // NetworkManager's one network. Selecting it again, as NetworkManager did
                // when it added it, also lifts a temporary disabling, which `Reassociate`
                // leaves in place; the failed attempts behind it were made on the AP's
                // stale entry while the robot was off.
                [network] => {
                    bus.call_method(
                        Some(SERVICE),
                        &path,
                        Some(INTERFACE),
                        "SelectNetwork",
                        &(network,),
                    )
                    .await?;
                }
                // Not NetworkManager's alone: selecting one would disable the others.
                _ => {
                    bus.call_method(Some(SERVICE), &path, Some(INTERFACE), "Reassociate", &())
                        .await?;
                }
            }
            Ok(Rejoining::AskedNow)
        }
        "authenticating" | "associating" | "associated" | "4way_handshake" | "group_handshake"
        | "completed" => {
            let bss =
                OwnedObjectPath::try_from(property(bus, &path, INTERFACE, "CurrentBSS").await?)
                    .ok()
                    .filter(|bss| bss.as_str() != "/");
            let joined = match bss {
                Some(bss) => {
                    Vec::<u8>::try_from(property(bus, &bss, BSS, "SSID").await?).unwrap_or_default()
                }
                None => Vec::new(),
            };
            // Another network on the radio is not this link's rejoining.
            Ok(if joined == ssid.as_bytes() {
                Rejoining::Joining
            } else {
                Rejoining::LetGo
            })
        }
        _ => Ok(Rejoining::LetGo),
    }
}

async fn property(
    bus: &zbus::Connection,
    path: &OwnedObjectPath,
    interface: &str,
    name: &str,
) -> zbus::Result<OwnedValue> {
    bus.call_method(
        Some(SERVICE),
        path,
        Some("org.freedesktop.DBus.Properties"),
        "Get",
        &(interface, name),
    )
    .await?
    .body()
    .deserialize()
}
