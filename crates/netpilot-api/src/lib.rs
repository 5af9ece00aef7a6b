//! The JSON documents netpilot speaks and protocol v1: what `--json` prints, and what the
//! daemon serves over a Unix socket and a WebSocket. `docs/json.md` and
//! `docs/protocol.md` show each with examples the tests check.
//!
//! Layer: API. Depends on `netpilot-core` and `netpilot-engine` (the network service);
//! never on the Linux backends. Field names are camelCase, as in the protocol's seed.
//!
//! Modules: [`monitor`] and [`wifi`] (the documents), [`protocol`] (messages, typed
//! events), [`dispatch`] (methods, one client's session), [`menu`] (the network menu's
//! methods: the WiFi switch, saved networks, `network.info`), [`device`] (`device.*`),
//! [`server`] (the Unix socket and the WebSocket), [`client`] (the typed client).
// Only the binary writes to stdout and stderr, so `--json` output stays clean.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod client;
pub mod device;
pub mod dispatch;
pub mod menu;
pub mod monitor;
pub mod outbox;
pub mod protocol;
pub mod reconnect;
pub mod server;
pub mod wifi;
