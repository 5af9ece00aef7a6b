//! `netpilot daemon --metrics` against the real kernel and a real Prometheus server: the
//! bytes a veth moved and each process's payload, as the scrape and as Prometheus's own
//! queries return them; `promtool check metrics` on the output; a port in use refused.

use super::fresh_namespace;
use crate::daemon::Daemon;
use netpilot_testkit::netns::Veth;
use netpilot_testkit::{Holder, wait};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// In a fresh namespace nothing else listens: the default address is free.
pub(crate) const METRICS: &str = "127.0.0.1:9782";
const PROMETHEUS: &str = "127.0.0.1:9090";

/// One HTTP GET; the body, or `None` when nothing answers (yet).
pub(crate) fn get(address: &str, target: &str, accept: &str) -> Option<String> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {address}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_string())
}

/// The value of the sample `series` (name and labels, exactly as written) in a scrape.
pub(crate) fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.split(' ').next()?.parse().ok()
    })
}

/// A tool the test needs: found, or (CI) a failure, or a printed skip.
pub(crate) fn tool(name: &str) -> Option<String> {
    for dir in ["/usr/bin", "/usr/local/bin"] {
        let path = format!("{dir}/{name}");
        if std::path::Path::new(&path).exists() {
            return Some(path);
        }
    }
    if std::env::var_os("NETPILOT_REQUIRE_KERNEL").is_some_and(|v| v == "1") {
        panic!("no {name}: scripts/test installs Debian's prometheus package");
    }
    eprintln!("skipped: no {name} (Debian's prometheus package)");
    None
}

pub(crate) struct Prometheus {
    child: Child,
    dir: std::path::PathBuf,
}

impl Prometheus {
    /// A Prometheus server scraping the daemon every second, with its own empty storage.
    pub(crate) fn start(binary: &str) -> Prometheus {
        let dir = std::env::temp_dir().join(format!("np-prometheus-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: netpilot\n    static_configs:\n      - targets: ['{METRICS}']\n"
            ),
        )
        .unwrap();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={PROMETHEUS}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("log")).unwrap())
            .spawn()
            .unwrap();
        Prometheus { child, dir }
    }

    /// The one value an instant query returns, once it returns one.
    pub(crate) fn query(&self, query: &str) -> Option<f64> {
        let encoded: String = query
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let body = get(PROMETHEUS, &format!("/api/v1/query?query={encoded}"), "*/*")?;
        let answer: serde_json::Value = serde_json::from_str(&body).ok()?;
        let result = answer["data"]["result"].as_array()?;
        match result.as_slice() {
            [one] => one["value"][1].as_str()?.parse().ok(),
            _ => None,
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn issue_17_prometheus_scrapes_the_bytes_a_veth_moved_and_what_each_process_received() {
    if !fresh_namespace(
        "issue_17_prometheus_scrapes_the_bytes_a_veth_moved_and_what_each_process_received",
    ) {
        return;
    }
    let (Some(prometheus), Some(promtool)) = (tool("prometheus"), tool("promtool")) else {
        return;
    };
    let mut source = Holder::spawn_isolated("np-source").unwrap();
    Veth::DEFAULT.connect_to(source.pid()).unwrap();
    let mut sink = Holder::spawn("np-sink").unwrap();
    sink.listen("tcp", "10.77.0.1", 7100);
    let daemon = Daemon::start("metrics", &["--metrics", "--metrics-interval", "0.5"]);
    assert!(
        daemon
            .said()
            .contains(&format!("metrics at http://{METRICS}/metrics")),
        "{}",
        daemon.said()
    );
    let server = Prometheus::start(&prometheus);

    // The first sample is the meter's baseline: the connection exists before any byte.
    let (id, _) = source.connect("tcp", "10.77.0.1", 7100);
    wait::until(
        "the connection in a scrape",
        Duration::from_secs(10),
        || {
            get(METRICS, "/metrics", "*/*").filter(|s| {
                sample(
                    s,
                    "netpilot_sockets{protocol=\"tcp\",state=\"established\"}",
                )
                .is_some_and(|n| n >= 1.0)
            })
        },
    );
    let before = get(METRICS, "/metrics", "*/*").unwrap();
    let veth_before = sample(
        &before,
        "netpilot_network_receive_bytes_total{device=\"np0\"}",
    )
    .expect("the veth's counter");
    const N: u64 = 2_000_000;
    source.send(id, N);
    wait::until(
        "the sink to read everything",
        Duration::from_secs(10),
        || (sink.received() == N).then_some(()),
    );

    // The scrape: the process's payload exactly (tcp_info), the link's bytes with headers.
    let scrape = wait::until(
        "the sink's bytes in a scrape",
        Duration::from_secs(10),
        || {
            get(METRICS, "/metrics", "*/*").filter(|s| {
                sample(
                    s,
                    "netpilot_process_receive_bytes_total{process=\"np-sink\"}",
                ) == Some(N as f64)
            })
        },
    );
    let veth_after = sample(
        &scrape,
        "netpilot_network_receive_bytes_total{device=\"np0\"}",
    )
    .expect("the veth's counter");
    let moved = veth_after - veth_before;
    assert!(
        moved >= N as f64 && moved < N as f64 * 1.1,
        "np0 received {moved} bytes for {N} of payload"
    );
    // The classic format is what promtool reads: it must pass its checks and lint.
    let mut check = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let checked = check.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{scrape}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    // What Prometheus reads (it asks for OpenMetrics) ends as OpenMetrics must.
    let openmetrics = get(
        METRICS,
        "/metrics",
        "application/openmetrics-text;version=1.0.0",
    )
    .expect("an OpenMetrics scrape");
    assert!(openmetrics.ends_with("# EOF\n"));

    // Prometheus itself, for a few intervals: its queries return what the test caused.
    let received = wait::until(
        "Prometheus to have the sink's bytes",
        Duration::from_secs(30),
        || server.query("netpilot_process_receive_bytes_total{process=\"np-sink\"}"),
    );
    assert_eq!(received, N as f64, "{}", server.log());
    let link = server
        .query("netpilot_network_receive_bytes_total{device=\"np0\"}")
        .expect("the veth's bytes in Prometheus");
    assert!(link >= veth_after, "{link} < {veth_after}");
    let scrapes = wait::until("three good scrapes", Duration::from_secs(30), || {
        server
            .query("sum_over_time(up{job=\"netpilot\"}[1m])")
            .filter(|n| *n >= 3.0)
    });
    assert!(scrapes >= 3.0);
    // A client of the API is counted while it stays, and no longer once it has gone.
    let clients = |n: f64| {
        move || {
            get(METRICS, "/metrics", "*/*")
                .filter(|s| sample(s, "netpilot_daemon_clients") == Some(n))
        }
    };
    let client = std::os::unix::net::UnixStream::connect(daemon.socket()).unwrap();
    wait::until("one client counted", Duration::from_secs(10), clients(1.0));
    drop(client);
    wait::until("no client counted", Duration::from_secs(10), clients(0.0));
    // The sink's, the daemon's metrics and Prometheus's own: scrapes come and go, these stay.
    assert_eq!(
        server.query("netpilot_sockets{protocol=\"tcp\",state=\"listen\"}"),
        Some(3.0)
    );
}

#[test]
fn issue_17_a_metrics_port_in_use_is_refused_with_what_to_do() {
    if !fresh_namespace("issue_17_a_metrics_port_in_use_is_refused_with_what_to_do") {
        return;
    }
    let _taken = std::net::TcpListener::bind(METRICS).unwrap();
    let dir = std::env::temp_dir().join(format!("np-metrics-taken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(super::NETPILOT)
        .args(["daemon", "--metrics", "--socket"])
        .arg(dir.join("np.sock"))
        .env("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        said.contains("cannot serve metrics on 127.0.0.1:9782") && said.contains("--metrics"),
        "{said}"
    );
    assert!(!dir.join("np.sock").exists(), "nothing was started");
}
