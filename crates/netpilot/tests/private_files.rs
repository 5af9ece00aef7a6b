//! The daemon's private files and memory (issue 16, "Secrets and files"; the table in
//! docs/reliability.md): a WebSocket token file or a secret store that others could read,
//! or that another user owns, stops the daemon before it binds anything (exit code 4,
//! with the command that fixes it); a missing one is created 0600; and the daemon cannot
//! be dumped, nor its memory or environment opened, by processes of its own user.
//! Tier 1 (no NetworkManager, no system bus), except what needs root to change owners.

use crate::e2e::NETPILOT;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const NOBODY: u32 = 65534;

/// A fresh directory for one test (0755, root's when run as root).
fn fresh(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("np-files-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn write_with_mode(path: &Path, content: &str, mode: u32) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `netpilot daemon` on a socket in `dir`, its secret store in `dir/store/`, no buses.
fn daemon(dir: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(NETPILOT);
    command
        .arg("daemon")
        .arg("--socket")
        .arg(dir.join("np.sock"))
        .args(extra)
        .env("NETPILOT_SECRETS_FILE", dir.join("store/secrets.json"))
        .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    command
}

/// Runs a daemon that must refuse to start: its exit code and what it said.
fn refused(mut command: Command, dir: &Path) -> (Option<i32>, String) {
    let said = dir.join("refused.stderr");
    let mut child = command
        .stderr(std::fs::File::create(&said).unwrap())
        .spawn()
        .unwrap();
    let status = wait_for_exit(&mut child, Duration::from_secs(10));
    let said = std::fs::read_to_string(said).unwrap();
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the daemon started instead of refusing: {said}");
    };
    assert!(
        !dir.join("np.sock").exists(),
        "a refused daemon binds nothing"
    );
    (status.code(), said)
}

fn wait_for_exit(child: &mut Child, within: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts a daemon that must start; waits until it listens.
fn started(mut command: Command, said: &Path) -> Child {
    let mut child = command
        .stderr(std::fs::File::create(said).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let so_far = std::fs::read_to_string(said).unwrap_or_default();
        if so_far.contains("listening on") {
            return child;
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("the daemon did not start: {so_far}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_token_file_others_can_read_stops_the_daemon_with_the_chmod_that_fixes_it() {
    let dir = fresh("token-mode");
    let token = dir.join("ws-token");
    let ws = ["--websocket", "127.0.0.1:0", "--token-file"];
    for mode in [0o644, 0o640, 0o604, 0o660] {
        write_with_mode(&token, TOKEN, mode);
        let mut command = daemon(&dir, &ws);
        command.arg(&token);
        let (code, said) = refused(command, &dir);
        assert_eq!(code, Some(4), "{said}");
        assert_eq!(
            said,
            format!(
                "netpilot: the WebSocket token file {} is open to other users (mode {mode:04o}); it must be readable by its owner only\n  hint: chmod 600 {}\n",
                token.display(),
                token.display()
            )
        );
    }
    // At 0600 the same file is accepted, and its token kept.
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut command = daemon(&dir, &ws);
    command.arg(&token);
    let child = started(command, &dir.join("stderr"));
    assert_eq!(std::fs::read_to_string(&token).unwrap(), TOKEN);
    stop(child);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_token_file_is_created_0600_in_a_0700_directory() {
    let dir = fresh("token-new");
    let token = dir.join("private/ws-token");
    let mut command = daemon(&dir, &["--websocket", "127.0.0.1:0", "--token-file"]);
    command.arg(&token);
    let child = started(command, &dir.join("stderr"));
    let file = std::fs::metadata(&token).unwrap();
    assert_eq!(file.permissions().mode() & 0o777, 0o600);
    let made = std::fs::metadata(token.parent().unwrap()).unwrap();
    assert_eq!(made.permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::read_to_string(&token).unwrap().len(), 32);
    stop(child);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_token_file_another_user_owns_stops_the_daemon_with_the_chown_that_fixes_it() {
    if !netpilot_testkit::require_root("a_token_file_another_user_owns_stops_the_daemon") {
        return;
    }
    let dir = fresh("token-owner");
    let token = dir.join("ws-token");
    write_with_mode(&token, TOKEN, 0o600);
    rustix::fs::chown(&token, Some(rustix::fs::Uid::from_raw(NOBODY)), None).unwrap();
    let mut command = daemon(&dir, &["--websocket", "127.0.0.1:0", "--token-file"]);
    command.arg(&token);
    let (code, said) = refused(command, &dir);
    assert_eq!(code, Some(4), "{said}");
    assert_eq!(
        said,
        format!(
            "netpilot: the WebSocket token file {} is owned by uid 65534, not by netpilot's user (uid 0)\n  hint: chown root {} (or remove it if you did not make it)\n",
            token.display(),
            token.display()
        )
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_secret_store_others_can_read_or_replace_stops_the_daemon() {
    let dir = fresh("store");
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o700)).unwrap();
    let secrets = store.join("secrets.json");
    write_with_mode(&secrets, "{}", 0o644);
    let (code, said) = refused(daemon(&dir, &[]), &dir);
    assert_eq!(code, Some(4), "{said}");
    assert_eq!(
        said,
        format!(
            "netpilot: the secret store {} is open to other users (mode 0644); it must be readable by its owner only\n  hint: chmod 600 {}\n",
            secrets.display(),
            secrets.display()
        )
    );
    // A directory others may write in: they could swap the file.
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, said) = refused(daemon(&dir, &[]), &dir);
    assert_eq!(code, Some(4), "{said}");
    assert!(
        said.contains(&format!(
            "the secret store's directory {} can be written by other users (mode 0777)",
            store.display()
        )) && said.contains(&format!("hint: chmod go-w {}", store.display())),
        "{said}"
    );
    // Both private: the daemon starts.
    std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o700)).unwrap();
    let child = started(daemon(&dir, &[]), &dir.join("stderr"));
    stop(child);
    std::fs::remove_dir_all(dir).unwrap();
}

/// `command` as uid/gid 65534 with no groups, with core dumps allowed (RLIMIT_CORE), in
/// `cwd`, where the kernel's `core_pattern` of `core` would write them.
fn as_nobody(program: &str, args: &[&str], cwd: &Path) -> Command {
    let mut command = Command::new("prlimit");
    command
        .args(["--core=unlimited", "--", "setpriv"])
        .arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={NOBODY}"))
        .args(["--clear-groups", "--", program])
        .args(args)
        .current_dir(cwd);
    command
}

/// Whether a process of uid 65534 can open `/proc/PID/NAME` (open only: no read).
fn nobody_can_open(pid: u32, name: &str, cwd: &Path) -> bool {
    as_nobody("sh", &["-c", &format!("exec 3< /proc/{pid}/{name}")], cwd)
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Sends SIGABRT (whose default action is a core dump); whether the kernel dumped it.
fn abort_dumps_core(mut child: Child) -> bool {
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::ABORT).unwrap();
    let status = wait_for_exit(&mut child, Duration::from_secs(10)).expect("it died");
    assert_eq!(
        status.signal(),
        Some(rustix::process::Signal::ABORT.as_raw()),
        "{status:?}"
    );
    status.core_dumped()
}

#[test]
fn the_daemon_cannot_be_dumped_or_read_by_its_own_user_while_a_dumpable_process_can() {
    let test = "the_daemon_cannot_be_dumped_or_read_by_its_own_user";
    if !netpilot_testkit::require_root(test)
        || !netpilot_testkit::require_tool(test, "prlimit", "util-linux")
        || !netpilot_testkit::require_tool(test, "setpriv", "util-linux")
    {
        return;
    }
    // Two directories of nobody's: the daemon's, and a dumpable process's (`sleep`).
    let dir = fresh("dumpable");
    let control_dir = fresh("dumpable-control");
    for d in [&dir, &control_dir] {
        rustix::fs::chown(
            d,
            Some(rustix::fs::Uid::from_raw(NOBODY)),
            Some(rustix::fs::Gid::from_raw(NOBODY)),
        )
        .unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let socket = dir.join("np.sock");
    let mut command = as_nobody(
        NETPILOT,
        &["daemon", "--socket", socket.to_str().unwrap()],
        &dir,
    );
    command
        .env("HOME", &dir)
        .env_remove("XDG_RUNTIME_DIR")
        .env("NETPILOT_SECRETS_FILE", dir.join("secrets.json"))
        .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let daemon = started(command, &control_dir.join("daemon.stderr"));
    let control = as_nobody("sleep", &["60"], &control_dir)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let (daemon_pid, control_pid) = (daemon.id(), control.id());
    // Both run as nobody (the control's exec has happened once its uid is nobody's).
    let deadline = Instant::now() + Duration::from_secs(5);
    let uid_of = |pid: u32| {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_owned))
    };
    let exe_is_sleep = |pid: u32| {
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|exe| exe.to_string_lossy().contains("sleep"))
    };
    while !(uid_of(control_pid).as_deref() == Some("65534") && exe_is_sleep(control_pid)) {
        assert!(Instant::now() < deadline, "the control never ran as nobody");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(uid_of(daemon_pid).as_deref(), Some("65534"));

    // The control: another process of the same uid opens its memory and environment, and
    // its /proc files are its user's.
    for name in ["mem", "environ"] {
        assert!(
            nobody_can_open(control_pid, name, &control_dir),
            "nobody cannot open a dumpable process's {name}: the check proves nothing here"
        );
    }
    let owner = |pid: u32, name: &str| {
        std::fs::metadata(format!("/proc/{pid}/{name}"))
            .unwrap()
            .uid()
    };
    assert_eq!(owner(control_pid, "environ"), NOBODY);
    assert_eq!(owner(control_pid, "status"), NOBODY);
    // The daemon: refused, and its /proc files are root's (the kernel's sign of
    // PR_SET_DUMPABLE 0).
    for name in ["mem", "environ"] {
        assert!(
            !nobody_can_open(daemon_pid, name, &control_dir),
            "a process of the daemon's own user opened its {name}"
        );
    }
    assert_eq!(owner(daemon_pid, "environ"), 0);
    assert_eq!(owner(daemon_pid, "status"), 0);

    // A core dump: the control's is written (where this machine writes cores at all), the
    // daemon's is refused.
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    let control_dumped = abort_dumps_core(control);
    let daemon_dumped = abort_dumps_core(daemon);
    assert!(!daemon_dumped, "the kernel dumped the daemon's core");
    if control_dumped {
        let cores: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("core"))
            .collect();
        assert!(cores.is_empty(), "a core file in the daemon's directory");
    } else {
        eprintln!(
            "note: this machine wrote no core of a dumpable process either (core_pattern {:?}): only the /proc checks above proved something",
            pattern.trim()
        );
    }
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(control_dir);
}
