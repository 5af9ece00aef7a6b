//! netpilot's logic, written against the port traits of `netpilot-core` and unit-tested
//! with the fakes in [`testing`]: [`monitor`] (connections, ports, rates, traffic),
//! [`connect`] (judging one WiFi attempt), [`radios`] (what each WiFi radio is for),
//! [`network`] (the WiFi service: connect, credential broker, state), [`device`]
//! (device links and their supervision).
//!
//! Layer: engine. Depends on `netpilot-core` only: nothing here can reach netlink, D-Bus
//! or `/proc` except through a port.
// Only the binary writes to stdout and stderr, so `--json` output stays clean.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod connect;
pub mod device;
pub mod monitor;
pub mod network;
pub mod radios;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
