//! NetworkManager over D-Bus, in three layers as nmstate does: `dbus` (zbus proxies),
//! `api` (typed calls, errors), `map` (NetworkManager's numbers → domain values), plus the
//! secret agent (`agent`), joining a network (`join`) and deleting the profiles joins left
//! (`leftovers`), device-link profiles (`device`,
//! `device_backend`, `device_watch`, `supervisor`) and finding devices in range (`discover`).
//!
//! What leaves this module: [`NetworkManagerBackend`], which implements the engine's
//! `WifiBackend` and `DeviceBackend` ports, and the secret agent's object and events and the
//! deletion of leftover profiles (for their own tests against a real peer and a real
//! NetworkManager). `Nm…` types,
//! object paths and setting names never do.
//!
//! Why not the `nmrs` crate: it opens its own system-bus connection (no custom bus for
//! tests), always waits for activation and reduces failure reasons to a lossy enum, its
//! events carry no state or reason, its scan does not wait for results, it hard-codes
//! `psk-flags` 0, and its agent drops ONLY_SYSTEM and the secrets of SaveSecrets. What
//! netpilot needs of NetworkManager is a small, exact subset, written here directly.

mod agent;
mod api;
mod backend;
mod dbus;
mod device;
mod device_backend;
mod device_watch;
mod discover;
mod ethernet;
mod hotspot;
mod internet_rejoin;
mod join;
mod leftovers;
mod map;
mod menu;
mod supplicant;

pub use agent::{AGENT_PATH, AgentEvent, PendingSecrets};
pub use agent::{register as register_agent, serve as serve_agent};
pub use backend::NetworkManagerBackend;
pub use leftovers::delete_on as delete_leftover_profiles;
