//! Processes as owners of sockets.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A process that holds a socket open: its pid and its name (`/proc/PID/comm`). The name
/// is shared by every row of the same process: a busy server holds thousands of sockets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessRef {
    pub pid: u32,
    pub name: Arc<str>,
}
