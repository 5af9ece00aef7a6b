//! The note that says what an unprivileged run could not see, and how to see it.

use netpilot_core::Visibility;

/// `None` when everything was visible.
pub fn hidden_note(visibility: &Visibility, command: &str) -> Option<String> {
    note_for(visibility, command, rustix::process::geteuid().is_root())
}

fn note_for(visibility: &Visibility, command: &str, root: bool) -> Option<String> {
    let Visibility {
        unattributed_sockets,
        unreadable_processes,
    } = *visibility;
    if unattributed_sockets == 0 {
        return None;
    }
    let mut note = format!(
        "note: {unattributed_sockets} socket{} could not be attributed to a process",
        plural(unattributed_sockets)
    );
    let processes = if unreadable_processes == 1 {
        "process"
    } else {
        "processes"
    };
    if unreadable_processes > 0 && root {
        // Root is refused by processes that are not dumpable or live in another user
        // namespace (a container's init): ptrace_may_access() says no.
        note.push_str(&format!(
            ": {unreadable_processes} {processes} refused inspection even to root \
             (another user namespace, or not dumpable)"
        ));
    } else if unreadable_processes > 0 {
        note.push_str(&format!(
            ": {unreadable_processes} {processes} of other users cannot be inspected without \
             privileges.\n  To see them, run as root (sudo netpilot {command}) or grant the \
             capabilities: sudo setcap cap_sys_ptrace,cap_dac_read_search+ep \"$(command -v netpilot)\""
        ));
    } else {
        note.push_str(" (they closed while netpilot looked, or are held only by the kernel)");
    }
    Some(note)
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_hidden_means_no_note() {
        assert_eq!(note_for(&Visibility::default(), "ports", false), None);
    }

    #[test]
    fn hidden_sockets_of_other_users_name_the_way_to_see_them() {
        let v = Visibility {
            unattributed_sockets: 3,
            unreadable_processes: 2,
        };
        let note = note_for(&v, "connections", false).unwrap();
        assert!(note.contains("3 sockets could not be attributed"), "{note}");
        assert!(note.contains("sudo netpilot connections"), "{note}");
        assert!(
            note.contains("cap_sys_ptrace,cap_dac_read_search"),
            "{note}"
        );
    }

    #[test]
    fn root_is_not_told_to_become_root() {
        let v = Visibility {
            unattributed_sockets: 1,
            unreadable_processes: 1,
        };
        let note = note_for(&v, "ports", true).unwrap();
        assert!(note.contains("refused inspection even to root"), "{note}");
        assert!(!note.contains("sudo"), "{note}");
    }
}
