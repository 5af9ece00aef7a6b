//! The JSON documents netpilot speaks: what `--json` prints today, and what the daemon's
//! protocol v1 (`monitor.*` methods) will carry. One type per document, so the CLI and the
//! daemon cannot drift apart; `docs/json.md` shows each with an example that a test checks.
//!
//! Layer: API. Depends on `netpilot-core` (and, with the daemon, the engine). Field names
//! are camelCase, as in the protocol's seed (`wifiConnected`, `lastError`).
// Only the binary writes to stdout and stderr, so `--json` output stays clean.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod monitor;
pub mod wifi;
