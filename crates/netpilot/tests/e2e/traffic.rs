use super::{NETPILOT, fresh_namespace};
use netpilot_api::monitor::TrafficDocument;
use netpilot_core::ProcessTraffic;
use netpilot_testkit::netns::Veth;
use netpilot_testkit::{Holder, wait};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A running `netpilot traffic --json`, its documents arriving on a channel.
pub struct Watch {
    pub child: Child,
    documents: Receiver<TrafficDocument>,
    pub last: Option<TrafficDocument>,
}

impl Watch {
    /// Starts netpilot in the calling thread's namespace, or in `pid`'s.
    pub fn start(in_namespace_of: Option<u32>) -> Watch {
        let mut command = match in_namespace_of {
            Some(pid) => {
                let mut c = Command::new("nsenter");
                c.args(["-t", &pid.to_string(), "-n", NETPILOT]);
                c
            }
            None => Command::new(NETPILOT),
        };
        command.args(["traffic", "--json", "--interval", "0.25"]);
        Watch::spawn(command)
    }

    /// Starts `command` (a `netpilot traffic --json …`) and waits for its first report.
    pub fn spawn(mut command: Command) -> Watch {
        let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, documents) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let document: TrafficDocument = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("schema rejects {line}: {e}"));
                if sender.send(document).is_err() {
                    return;
                }
            }
        });
        let mut watch = Watch {
            child,
            documents,
            last: None,
        };
        watch.next(); // the meter has its baseline
        watch
    }

    pub fn next(&mut self) -> &TrafficDocument {
        match self.documents.recv_timeout(Duration::from_secs(10)) {
            Ok(document) => self.last.insert(document),
            Err(RecvTimeoutError::Timeout) => panic!("no traffic report within 10 s"),
            Err(RecvTimeoutError::Disconnected) => panic!("netpilot traffic exited"),
        }
    }

    /// Reads reports until `name`'s totals satisfy `done`, or fails after 15 s.
    pub fn until(
        &mut self,
        what: &str,
        name: &str,
        done: impl Fn(&ProcessTraffic) -> bool,
    ) -> ProcessTraffic {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let document = self.next();
            if let Some(p) = document
                .processes
                .iter()
                .find(|p| p.name == name && done(p))
            {
                return p.clone();
            }
        }
        panic!(
            "timed out waiting for {what}; last report: {:#?}",
            self.last
        );
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn within_one_percent(measured: u64, sent: u64) -> bool {
    (measured as f64 - sent as f64).abs() <= sent as f64 * 0.01
}

#[test]
fn traffic_attributes_bytes_sent_across_a_veth_to_each_process() {
    if !fresh_namespace("traffic_attributes_bytes_sent_across_a_veth_to_each_process") {
        return;
    }
    let mut source = Holder::spawn_isolated("np-source").unwrap();
    Veth::DEFAULT.connect_to(source.pid()).unwrap();
    let mut sink = Holder::spawn("np-sink").unwrap();
    sink.listen("tcp", "10.77.0.1", 7100);
    // Bystanders: a process with an idle connection of its own must be charged nothing.
    let mut idle = Holder::spawn("np-idle").unwrap();
    idle.connect("tcp", "10.77.0.1", 7100);

    let mut at_sink = Watch::start(None);
    let mut at_source = Watch::start(Some(source.pid()));
    let (id, _) = source.connect("tcp", "10.77.0.1", 7100);
    // Both meters see the connection before any byte moves.
    at_sink.until("the sink's connection", "np-sink", |p| {
        p.connections.established == 2
    });
    at_source.until("the source's connection", "np-source", |p| {
        p.connections.established == 1
    });

    const N: u64 = 3_000_000;
    source.send(id, N);
    wait::until(
        "the sink to read everything",
        Duration::from_secs(10),
        || (sink.received() == N).then_some(()),
    );
    let got = at_sink.until("the sink's rx to reach N", "np-sink", |p| {
        p.rx_bytes >= N * 99 / 100
    });
    assert!(
        within_one_percent(got.rx_bytes, N),
        "sink rx {} of {N}",
        got.rx_bytes
    );
    assert_eq!(got.rx_bytes, N, "tcp_info counts payload exactly");
    assert_eq!(got.tx_bytes, 0);
    let sent = at_source.until("the source's tx to reach N", "np-source", |p| {
        p.tx_bytes >= N * 99 / 100
    });
    assert_eq!((sent.tx_bytes, sent.rx_bytes), (N, 0));

    // Then M more bytes and an immediate close, in the middle of an interval: the bytes
    // after the last sample arrive only through the kernel's destroy notices.
    const M: u64 = 1_000_000;
    source.send(id, M);
    source.close(id);
    let got = at_sink.until("the sink's rx to reach N + M", "np-sink", |p| {
        p.rx_bytes >= N + M
    });
    assert_eq!(got.rx_bytes, N + M);
    let sent = at_source.until("the source's tx to reach N + M", "np-source", |p| {
        p.tx_bytes >= N + M
    });
    assert_eq!(sent.tx_bytes, N + M);

    let last = at_sink.next().clone();
    assert!(last.closed_sockets_tracked);
    assert!(
        last.udp_bytes_measured,
        "root counts UDP: {:?}",
        last.udp_not_measured
    );
    assert_eq!(
        last.unattributed.rx_bytes + last.unattributed.tx_bytes,
        0,
        "{last:#?}"
    );
    let idle_row = last
        .processes
        .iter()
        .find(|p| p.name == "np-idle")
        .expect("np-idle is listed");
    assert_eq!((idle_row.rx_bytes, idle_row.tx_bytes), (0, 0));
    let everyone_rx: u64 = last.processes.iter().map(|p| p.rx_bytes).sum();
    assert_eq!(everyone_rx, N + M, "no byte is counted twice");
}

#[test]
fn traffic_counts_connections_and_udp_sockets_per_process() {
    if !fresh_namespace("traffic_counts_connections_and_udp_sockets_per_process") {
        return;
    }
    let mut server = Holder::spawn("np-server").unwrap();
    server.listen("tcp", "127.0.0.1", 7200);
    server.bind_udp("udp", "127.0.0.1", 7201);
    let mut client = Holder::spawn("np-client").unwrap();
    client.connect("tcp", "127.0.0.1", 7200);
    client.connect("tcp", "127.0.0.1", 7200);
    wait::until("two accepted connections", Duration::from_secs(5), || {
        (server.accepted() == 2).then_some(())
    });

    let output = Command::new(NETPILOT)
        .args(["traffic", "--json", "--interval", "0.2", "--count", "2"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let documents: Vec<TrafficDocument> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(documents.len(), 2, "--count 2 prints two reports");
    let row = |name: &str| {
        documents[1]
            .processes
            .iter()
            .find(|p| p.name == name)
            .unwrap()
            .clone()
    };
    let server = row("np-server");
    assert_eq!(
        (
            server.connections.total,
            server.connections.established,
            server.connections.listening,
            server.udp_sockets
        ),
        (4, 2, 2, 1)
    );
    let client = row("np-client");
    assert_eq!(
        (client.connections.total, client.connections.established),
        (2, 2)
    );
    assert!(
        (150..400).contains(&documents[1].interval_ms),
        "{}",
        documents[1].interval_ms
    );
}
