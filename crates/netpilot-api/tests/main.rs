//! Protocol v1 end to end with a fake WiFi backend: fixture conversations (request lines
//! in, response and event lines out), and the servers over a real Unix socket and a real
//! WebSocket.
#![allow(clippy::unwrap_used)]

mod docs;
mod fixtures;
mod fuzz;
mod harness;
mod servers;
