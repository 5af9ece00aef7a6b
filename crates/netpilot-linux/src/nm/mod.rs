//! NetworkManager over D-Bus, in three layers as nmstate does: `dbus` (zbus proxies),
//! `api` (typed calls, errors), `map` (NetworkManager's numbers → domain values), plus the
//! secret agent. `Nm…` types and raw D-Bus values never leave this module.
//!
//! Why not the `nmrs` crate: it opens its own system-bus connection (no custom bus for
//! tests), always waits for activation and reduces failure reasons to a lossy enum, its
//! events carry no state or reason, its scan does not wait for results, it hard-codes
//! `psk-flags` 0, and its agent drops ONLY_SYSTEM and the secrets of SaveSecrets. What
//! netpilot needs of NetworkManager is a small, exact subset, written here directly.

pub mod agent;
pub mod api;
pub mod backend;
mod dbus;
pub mod device;
mod device_backend;
mod device_watch;
pub mod join;
mod map;
mod supplicant;

pub use agent::{AgentEvent, PendingSecrets};
pub use api::{DeviceChange, NewProfile, NmAccessPoint, NmClient, NmWifiDevice, SavedWifi};
pub use backend::{NetworkManagerBackend, NmBackend};
