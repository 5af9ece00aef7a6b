//! The profiles connect attempts leave behind when nobody is there to delete them: the
//! daemon was killed while NetworkManager waited for a password, or NetworkManager stopped
//! in the middle of an attempt (a profile's D-Bus path is NetworkManager's for one run, so
//! the attempt that made it cannot delete it after a restart).
//!
//! A profile an attempt makes carries a mark (`user.data`). One that has the mark, has
//! never connected (NetworkManager's `connection.timestamp` is set at the first successful
//! activation) and is not being activated is such a leftover: it is deleted whenever a
//! backend connects to NetworkManager. A profile that ever connected is the user's, mark
//! or not, and is never touched here.

use super::api::{NmClient, string};
use super::dbus::NmSettings;
use std::collections::HashMap;
use zbus::zvariant::Value;

/// The key of the mark in the profile's `user` setting.
const MARK: &str = "io.netpilot.attempt";

/// The `user` setting of a profile an attempt makes.
pub(super) fn marker() -> HashMap<&'static str, Value<'static>> {
    let data = HashMap::from([(MARK, "1")]);
    HashMap::from([("data", Value::from(data))])
}

/// Whether `profile` was made by an attempt and never connected.
fn is_leftover(profile: &NmSettings) -> bool {
    let marked = profile
        .get("user")
        .and_then(|user| user.get("data"))
        .and_then(|data| HashMap::<String, String>::try_from(data.try_clone().ok()?).ok())
        .is_some_and(|data| data.contains_key(MARK));
    // NetworkManager leaves out a timestamp of 0 (never activated).
    let connected_once = profile
        .get("connection")
        .and_then(|c| c.get("timestamp"))
        .and_then(|t| u64::try_from(&**t).ok())
        .is_some_and(|t| t > 0);
    marked && !connected_once
}

/// [`delete_once_started`] on a bus of its own (tier 2b runs NetworkManager on one).
pub async fn delete_on(bus: zbus::Connection) -> Result<usize, netpilot_core::Error> {
    delete_once_started(&NmClient::on(bus).await?).await
}

/// Once NetworkManager has finished starting (it may not have read every profile before),
/// deletes every leftover profile; returns how many were deleted.
pub(super) async fn delete_once_started(client: &NmClient) -> Result<usize, netpilot_core::Error> {
    for _ in 0..120 {
        if client.started().await? {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    // Profiles before activations: an attempt makes its profile and its activation in one
    // call, so every attempt's profile in the first list is in the second.
    let profiles = client.profiles().await?;
    let active = client.active_profiles().await?;
    let mut deleted = 0;
    for (path, profile) in profiles {
        if !is_leftover(&profile) || active.contains(&path) {
            continue;
        }
        let id = string(&profile, "connection", "id").unwrap_or_default();
        match client.delete_profile(&path).await {
            Ok(()) => {
                tracing::info!(profile = %id, "deleted a profile an attempt left (it never connected)");
                deleted += 1;
            }
            // Its attempt may have just deleted it.
            Err(error) => {
                tracing::debug!(profile = %id, %error, "a profile an attempt left is not deleted")
            }
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zbus::zvariant::OwnedValue;

    fn profile(marked: bool, timestamp: Option<u64>) -> NmSettings {
        let mut connection: HashMap<String, OwnedValue> = HashMap::from([(
            "id".into(),
            OwnedValue::from(zbus::zvariant::Str::from("Home")),
        )]);
        if let Some(t) = timestamp {
            connection.insert("timestamp".into(), OwnedValue::from(t));
        }
        let mut settings = HashMap::from([("connection".to_string(), connection)]);
        if marked {
            let data = Value::from(HashMap::from([(MARK, "1")]));
            settings.insert(
                "user".into(),
                HashMap::from([("data".into(), data.try_into().unwrap())]),
            );
        }
        settings
    }

    #[test]
    fn only_a_marked_profile_that_never_connected_is_a_leftover() {
        assert!(is_leftover(&profile(true, None)));
        assert!(is_leftover(&profile(true, Some(0))));
        assert!(!is_leftover(&profile(true, Some(1_764_000_000))));
        assert!(!is_leftover(&profile(false, None)));
    }

    #[test]
    fn the_marker_is_the_user_settings_data() {
        let user = marker();
        let data = HashMap::<String, String>::try_from(user["data"].try_clone().unwrap()).unwrap();
        assert_eq!(data.get(MARK).map(String::as_str), Some("1"));
    }
}
