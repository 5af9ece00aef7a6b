//! WiFi radios over nl80211: how many station interfaces a radio can run at once and on
//! how many channels (its interface combinations), and virtual station interfaces on it
//! for a device link when no second radio is free.

use netpilot_core::{Error, ErrorCode};
use std::path::Path;
use wl_nl80211::{
    Nl80211Attr, Nl80211IfaceCombAttribute, Nl80211IfaceCombLimitAttribute, Nl80211InterfaceType,
    Nl80211NewInterface,
};

/// What a radio can do at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    /// Station (managed) interfaces it can run together.
    pub stations: u32,
    /// Different channels those can be on (1: all on the same channel).
    pub channels: u32,
}

/// The radio (wiphy index) of a WiFi interface.
pub fn phy_of(interface: &str) -> Option<u32> {
    let index = Path::new("/sys/class/net")
        .join(interface)
        .join("phy80211/index");
    std::fs::read_to_string(index).ok()?.trim().parse().ok()
}

pub fn exists(interface: &str) -> bool {
    Path::new("/sys/class/net").join(interface).exists()
}

/// The name of the virtual station interface of a device link (names are at most 12
/// bytes, so this fits the kernel's 15).
pub fn virtual_name(device: &str) -> String {
    format!("np-{device}")
}

/// A MAC for the virtual interface: the parent's, locally administered and changed in its
/// last byte, so the two never collide on the air.
pub fn derived_mac(parent: &str) -> Option<[u8; 6]> {
    let text =
        std::fs::read_to_string(Path::new("/sys/class/net").join(parent).join("address")).ok()?;
    let mut mac = [0u8; 6];
    let mut parts = text.trim().split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    mac[0] |= 0x02;
    mac[5] ^= 0x4e;
    Some(mac)
}

/// The radio's interface combinations, reduced to stations and channels.
pub async fn concurrency(wiphy: u32) -> Result<Concurrency, Error> {
    use futures_util::TryStreamExt;
    let nl80211 = Nl80211::open()?;
    let mut dump = nl80211
        .handle
        .wireless_physic()
        .get()
        .wiphy_index(wiphy)
        .execute()
        .await;
    let mut combinations = Vec::new();
    while let Some(message) = dump.try_next().await.map_err(|e| {
        Error::new(
            ErrorCode::Io,
            format!("nl80211 could not describe radio {wiphy}: {e}"),
        )
    })? {
        for attribute in message.payload.attributes {
            if let Nl80211Attr::InterfaceCombination(found) = attribute {
                combinations.extend(found);
            }
        }
    }
    Ok(reduce(
        &combinations
            .into_iter()
            .map(Combination::of)
            .collect::<Vec<_>>(),
    ))
}

/// One interface combination: its limits (how many, whether stations count), the total
/// and the channels.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Combination {
    limits: Vec<(u32, bool)>,
    maxnum: u32,
    channels: u32,
}

impl Combination {
    fn of(combination: wl_nl80211::Nl80211IfaceComb) -> Combination {
        let mut of = Combination {
            limits: Vec::new(),
            maxnum: u32::MAX,
            channels: 1,
        };
        for attribute in combination.attributes {
            match attribute {
                Nl80211IfaceCombAttribute::Maxnum(n) => of.maxnum = n,
                Nl80211IfaceCombAttribute::NumChannels(n) => of.channels = n,
                Nl80211IfaceCombAttribute::Limits(limits) => {
                    for limit in limits {
                        let (mut max, mut station) = (0, false);
                        for attribute in limit.attributes {
                            match attribute {
                                Nl80211IfaceCombLimitAttribute::Max(n) => max = n,
                                Nl80211IfaceCombLimitAttribute::Iftypes(types) => {
                                    station = types.contains(&Nl80211InterfaceType::Station)
                                }
                                _ => {}
                            }
                        }
                        of.limits.push((max, station));
                    }
                }
                _ => {}
            }
        }
        of
    }
}

/// The most stations any combination allows (a limit counts when it admits stations,
/// within the combination's total), with that combination's channels. No combinations:
/// one interface at a time.
fn reduce(combinations: &[Combination]) -> Concurrency {
    let mut best = Concurrency {
        stations: 1,
        channels: 1,
    };
    for combination in combinations {
        let stations: u32 = combination
            .limits
            .iter()
            .filter(|(_, station)| *station)
            .map(|(max, _)| max)
            .sum();
        let found = Concurrency {
            stations: stations.min(combination.maxnum),
            channels: combination.channels,
        };
        if (found.stations, found.channels) > (best.stations, best.channels) {
            best = found;
        }
    }
    best
}

/// Creates a station interface `name` on radio `wiphy`.
pub async fn add_station(wiphy: u32, name: &str, mac: [u8; 6]) -> Result<(), Error> {
    use futures_util::TryStreamExt;
    let nl80211 = Nl80211::open()?;
    let attributes = Nl80211NewInterface::new(wiphy, Nl80211InterfaceType::Station, name.into())
        .replace(Nl80211Attr::Mac(mac))
        .build();
    let mut replies = nl80211.handle.interface().add(attributes).execute().await;
    replies.try_next().await.map(|_| ()).map_err(|e| {
        Error::new(
            ErrorCode::Io,
            format!("could not create the virtual interface {name}: {e}"),
        )
    })
}

/// Deletes a (virtual) WiFi interface.
pub async fn delete(name: &str) -> Result<(), Error> {
    use futures_util::TryStreamExt;
    let index: u32 =
        std::fs::read_to_string(Path::new("/sys/class/net").join(name).join("ifindex"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .ok_or_else(|| Error::new(ErrorCode::NotFound, format!("no interface {name}")))?;
    let nl80211 = Nl80211::open()?;
    let attributes = wl_nl80211::Nl80211Interface::new(index).build();
    let mut replies = nl80211
        .handle
        .interface()
        .delete(attributes)
        .execute()
        .await;
    replies
        .try_next()
        .await
        .map(|_| ())
        .map_err(|e| Error::new(ErrorCode::Io, format!("could not delete {name}: {e}")))
}

/// A generic-netlink connection to nl80211 whose task ends when it is dropped, on every
/// return path.
struct Nl80211 {
    handle: wl_nl80211::Nl80211Handle,
    task: tokio::task::AbortHandle,
}

impl Nl80211 {
    fn open() -> Result<Nl80211, Error> {
        let (connection, handle, _) = wl_nl80211::new_connection()
            .map_err(|e| Error::new(ErrorCode::Io, format!("cannot open nl80211: {e}")))?;
        let task = tokio::spawn(connection).abort_handle();
        Ok(Nl80211 { handle, task })
    }
}

impl Drop for Nl80211 {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn combination(limits: &[(u32, bool)], maxnum: u32, channels: u32) -> Combination {
        Combination {
            limits: limits.to_vec(),
            maxnum,
            channels,
        }
    }

    #[test]
    fn combinations_reduce_to_stations_and_channels() {
        // A typical Intel radio: one station, plus AP or P2P, on one channel.
        let intel = combination(&[(1, true), (1, false)], 2, 1);
        assert_eq!(
            reduce(&[intel]),
            Concurrency {
                stations: 1,
                channels: 1
            }
        );
        // Two stations on two channels.
        let dual = combination(&[(2, true)], 2, 2);
        assert_eq!(
            reduce(&[dual]),
            Concurrency {
                stations: 2,
                channels: 2
            }
        );
        // The total bounds the limits; no combinations at all: one interface at a time.
        assert_eq!(reduce(&[combination(&[(8, true)], 3, 1)]).stations, 3);
        assert_eq!(
            reduce(&[]),
            Concurrency {
                stations: 1,
                channels: 1
            }
        );
    }

    #[test]
    fn virtual_names_fit_an_interface_name() {
        assert_eq!(virtual_name("cozmo"), "np-cozmo");
        assert_eq!(virtual_name("twelve-chars").len(), 15);
    }
}
