//! Processes as owners of sockets.

use serde::{Deserialize, Serialize};

/// A process that holds a socket open: its pid and its name (`/proc/PID/comm`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessRef {
    pub pid: u32,
    pub name: String,
}
