//! What a run could not see, and how to see it. One rule for the note the commands print
//! on stderr and the line the live monitor shows; only the wording's length differs.

use netpilot_core::Visibility;

/// Sockets that could not be attributed to a process, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hidden {
    sockets: u32,
    cause: Cause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// Other users' processes, and no privileges to look into them.
    OtherUsers { processes: u32 },
    /// Root is refused by processes that are not dumpable or live in another user
    /// namespace (a container's init): ptrace_may_access() says no.
    RefusedToRoot { processes: u32 },
    /// Every process could be read: the sockets closed while netpilot looked, or only the
    /// kernel holds them.
    Ownerless,
}

/// `None` when every socket was attributed.
pub fn hidden(visibility: &Visibility, root: bool) -> Option<Hidden> {
    let Visibility {
        unattributed_sockets: sockets,
        unreadable_processes: processes,
    } = *visibility;
    if sockets == 0 {
        return None;
    }
    let cause = match (processes, root) {
        (0, _) => Cause::Ownerless,
        (processes, true) => Cause::RefusedToRoot { processes },
        (processes, false) => Cause::OtherUsers { processes },
    };
    Some(Hidden { sockets, cause })
}

/// The note for `netpilot COMMAND` on stderr, with the way to see more.
pub fn hidden_note(visibility: &Visibility, command: &str) -> Option<String> {
    hidden(visibility, rustix::process::geteuid().is_root()).map(|h| h.note(command))
}

impl Hidden {
    /// The commands' note: what, why, and the fix (`command` is the subcommand to rerun).
    pub fn note(&self, command: &str) -> String {
        let sockets = self.sockets;
        let mut note = format!(
            "note: {sockets} socket{} could not be attributed to a process",
            plural(sockets)
        );
        match self.cause {
            Cause::RefusedToRoot { processes } => note.push_str(&format!(
                ": {} refused inspection even to root (another user namespace, or not dumpable)",
                count(processes, "process", "processes")
            )),
            Cause::OtherUsers { processes } => note.push_str(&format!(
                ": {} of other users cannot be inspected without privileges.\n  To see them, \
                 run as root (sudo netpilot {command}) or grant the capabilities: sudo setcap \
                 cap_sys_ptrace,cap_dac_read_search+ep \"$(command -v netpilot)\"",
                count(processes, "process", "processes")
            )),
            Cause::Ownerless => note
                .push_str(" (they closed while netpilot looked, or are held only by the kernel)"),
        }
        note
    }

    /// The monitor's one line.
    pub fn line(&self) -> String {
        let sockets = count(self.sockets, "socket", "sockets");
        match self.cause {
            Cause::RefusedToRoot { processes } => format!(
                "{sockets} without a process: {} inspection even to root (another user namespace)",
                count(processes, "process refuses", "processes refuse")
            ),
            Cause::OtherUsers { .. } => format!(
                "{sockets} without a process: other users' processes are hidden without root: sudo netpilot monitor"
            ),
            Cause::Ownerless => format!(
                "{sockets} without a process (closed while netpilot looked, or held by the kernel)"
            ),
        }
    }
}

/// "1 process", "3 processes".
fn count(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(sockets: u32, processes: u32) -> Visibility {
        Visibility {
            unattributed_sockets: sockets,
            unreadable_processes: processes,
        }
    }

    #[test]
    fn nothing_hidden_means_no_note() {
        assert_eq!(hidden(&Visibility::default(), false), None);
        assert_eq!(hidden(&seen(0, 4), false), None);
    }

    #[test]
    fn hidden_sockets_of_other_users_name_the_way_to_see_them() {
        let note = hidden(&seen(3, 2), false).unwrap().note("connections");
        assert!(note.contains("3 sockets could not be attributed"), "{note}");
        assert!(note.contains("sudo netpilot connections"), "{note}");
        assert!(
            note.contains("cap_sys_ptrace,cap_dac_read_search"),
            "{note}"
        );
    }

    #[test]
    fn root_is_not_told_to_become_root() {
        let hidden = hidden(&seen(1, 1), true).unwrap();
        let note = hidden.note("ports");
        assert!(note.contains("refused inspection even to root"), "{note}");
        assert!(!note.contains("sudo"), "{note}");
        assert_eq!(
            hidden.line(),
            "1 socket without a process: 1 process refuses inspection even to root (another user namespace)"
        );
    }

    #[test]
    fn the_commands_and_the_monitor_follow_the_same_rule() {
        for (sockets, processes) in [(0, 0), (0, 3), (2, 0), (5, 1), (7, 2)] {
            for root in [false, true] {
                let hidden = hidden(&seen(sockets, processes), root);
                assert_eq!(
                    hidden.is_some(),
                    sockets > 0,
                    "{sockets} {processes} {root}"
                );
                if let Some(hidden) = hidden {
                    let count = sockets.to_string();
                    assert!(hidden.note("monitor").contains(&count));
                    assert!(hidden.line().starts_with(&count));
                }
            }
        }
    }
}
