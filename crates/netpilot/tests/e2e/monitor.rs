//! `netpilot monitor` in a real terminal (tmux), inside a namespace with known sockets.

use super::{NETPILOT, fresh_namespace};
use netpilot_testkit::{Holder, wait};
use std::process::Command;
use std::time::Duration;

/// A tmux server of our own (a socket name per test), whose one window runs `command`.
/// The server starts from the test's thread, so the window is in the test's namespace.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(test: &str, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("np-{test}-{}", std::process::id()),
        };
        tmux.run(&[
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "30",
            "-s",
            "t",
            command,
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    /// Waits until the screen satisfies `check`; fails showing the screen.
    fn wait_for(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "waited 10 s for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Tmux {
    /// Waits for the window's command line to report the monitor's exit and print `stty -a`;
    /// asserts it exited 0 and left the terminal in cooked mode (echo and line editing on).
    fn exited_cleanly(&self) -> String {
        let screen = self.wait_for("the monitor to exit, then stty", |s| {
            s.contains("monitor exited") && s.contains("icanon")
        });
        assert!(screen.contains("monitor exited 0"), "{screen}");
        let modes: Vec<&str> = screen.split_whitespace().collect();
        assert!(
            modes.contains(&"icanon") && modes.contains(&"echo"),
            "{screen}"
        );
        screen
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn have_tmux(test: &str) -> bool {
    if Command::new("tmux").arg("-V").output().is_ok() {
        return true;
    }
    assert!(
        std::env::var_os("NETPILOT_REQUIRE_KERNEL").is_none(),
        "{test} needs tmux (apt install tmux); NETPILOT_REQUIRE_KERNEL=1 forbids skipping"
    );
    eprintln!("skipped: {test} needs tmux");
    false
}

#[test]
fn the_monitor_shows_known_sockets_in_every_view_searches_and_q_restores_the_terminal() {
    let test = "the_monitor_shows_known_sockets";
    if !fresh_namespace(test) || !have_tmux(test) {
        return;
    }
    let mut server = Holder::spawn("np-mon-server").unwrap();
    let mut client = Holder::spawn("np-mon-client").unwrap();
    server.listen("tcp", "127.0.0.1", 7101);
    client.connect("tcp", "127.0.0.1", 7101);
    server.bind_udp("udp", "127.0.0.1", 7102);
    wait::until("the connection", Duration::from_secs(5), || {
        (server.accepted() == 1).then_some(())
    });

    // After the monitor: its exit status and the terminal's mode, on the normal screen.
    let tmux = Tmux::start(
        "views",
        &format!(
            "{NETPILOT} monitor --interval 0.2; echo \"monitor exited $?\"; stty -a; sleep 60"
        ),
    );
    let screen = tmux.wait_for("the connections view", |s| {
        s.contains("127.0.0.1:7101") && s.contains("/np-mon-client")
    });
    assert!(screen.contains(" 2 Connections "), "{screen}");
    assert!(screen.contains("/np-mon-server"), "{screen}");

    tmux.keys(&["/", "np-mon-server", "Enter"]);
    let screen = tmux.wait_for("the search", |s| s.contains("3 of 4 sockets"));
    assert!(
        !screen.contains("/np-mon-client"),
        "the search hides the client:\n{screen}"
    );

    tmux.keys(&["3"]);
    let screen = tmux.wait_for("the ports view", |s| s.contains("SERVICE"));
    for row in ["tcp    7101", "udp    7102"] {
        assert!(
            screen
                .lines()
                .any(|l| l.starts_with(row) && l.contains("/np-mon-server")),
            "{row}:\n{screen}"
        );
    }

    tmux.keys(&["4"]);
    let screen = tmux.wait_for("the traffic view", |s| s.contains("TX TOTAL"));
    assert!(screen.contains("np-mon-server"), "{screen}");
    assert!(
        screen.contains("TCP and UDP payload"),
        "root measures UDP too:\n{screen}"
    );
    assert!(screen.contains("np-mon-client"), "{screen}");

    tmux.keys(&["1"]);
    tmux.wait_for("the interfaces view", |s| {
        s.lines()
            .any(|l| l.starts_with("lo ") && l.contains("127.0.0.1/8"))
    });

    tmux.keys(&["q"]);
    let screen = tmux.exited_cleanly();
    assert!(
        !screen.contains("TX TOTAL"),
        "the alternate screen is gone:\n{screen}"
    );
}

#[test]
fn the_monitor_refuses_to_run_without_a_terminal() {
    let output = Command::new(NETPILOT)
        .args(["monitor"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("needs a terminal") && stderr.contains("--json"),
        "{stderr}"
    );
}

#[test]
fn sigterm_leaves_the_monitor_and_restores_the_terminal() {
    let test = "sigterm_leaves_the_monitor_and_restores_the_terminal";
    if !fresh_namespace(test) || !have_tmux(test) {
        return;
    }
    // In the background so its pid is known; a background job of `sh -c` reads
    // /dev/null unless told otherwise.
    let pid_file = std::env::temp_dir().join(format!("np-monitor-{}.pid", std::process::id()));
    let tmux = Tmux::start(
        "sigterm",
        &format!(
            "{NETPILOT} monitor --interval 0.2 < /dev/tty & echo $! > {}; wait $!; \
         echo \"monitor exited $?\"; stty -a; sleep 60",
            pid_file.display()
        ),
    );
    tmux.wait_for("the monitor", |s| s.contains(" 2 Connections "));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _ = std::fs::remove_file(&pid_file);
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    tmux.exited_cleanly();
}
