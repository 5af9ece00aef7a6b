//! What the daemon does before it holds any secret: it makes itself non-dumpable and
//! refuses a secret store that others could read.
//!
//! Non-dumpable (`PR_SET_DUMPABLE 0`): the kernel writes no core dump of the daemon
//! (whatever `fs.suid_dumpable` says: that applies to processes made non-dumpable by a
//! change of credentials, not by this call), and processes of the same user can no longer
//! ptrace it or open its `/proc/PID/mem` or `environ`; its `/proc/PID` files belong to
//! root. The passwords it relays and stores are then out of reach of another program the
//! user runs.

use netpilot_core::{Error, ErrorCode};
use netpilot_linux::secrets::SecretFile;

pub fn before_any_secret() -> Result<(), Error> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("cannot make the daemon non-dumpable (prctl PR_SET_DUMPABLE): {e}"),
            )
        })?;
    // The file the store would use without a keyring. Checked whether or not a keyring
    // answers later: a file of passwords others can read is a leak to fix either way.
    SecretFile::default_location().check()
}
