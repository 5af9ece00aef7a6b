//! `netpilot daemon --metrics ADDR`: the daemon's figures for Prometheus, at
//! `http://ADDR/metrics`, through the official `prometheus-client` crate.
//!
//! Three sources: the kernel's (interfaces, sockets, per-process bytes; [`host`], sampled
//! on a thread of its own), the services' events (connect attempts, prompts, device links;
//! [`events`]), and the daemon itself (clients, build). A scrape only encodes what is
//! already known: it never waits for the kernel or NetworkManager. Names follow
//! Prometheus's conventions (base units, `_total` counters) and node_exporter's where it
//! has the same metric; docs/metrics.md lists them all.

mod events;
mod host;
mod http;
mod processes;
mod text;

pub use events::follow;
pub use http::serve;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One label set: (name, value) pairs.
type Labels = Vec<(&'static str, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;

/// What is kept between scrapes.
pub struct Metrics {
    registry: Registry,
    attempts: Family<Labels, Counter>,
    prompts: Family<Labels, Counter>,
    link_up: Family<Labels, Gauge>,
    link_losses: Family<Labels, Counter>,
    probe_latency: Histograms,
    recovery: Histograms,
    wifi_connected: Gauge,
    wifi_signal: Family<Labels, Gauge<f64, AtomicU64>>,
    wifi_info: Family<Labels, Gauge>,
    clients: Gauge,
    tasks: Gauge,
}

/// What `--metrics` sets.
pub struct MetricsSettings {
    pub address: std::net::SocketAddr,
    /// Process names with a series of their own (the rest are `other`).
    pub top: usize,
    /// Time between two samples of the kernel's figures.
    pub every: Duration,
}

/// Binds the metrics' address and starts sampling; a port in use is an error that says so.
pub async fn bind(
    settings: &MetricsSettings,
) -> Result<(tokio::net::TcpListener, Arc<Metrics>), netpilot_core::Error> {
    use netpilot_core::{Error, ErrorCode};
    let address = settings.address;
    let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
        Error::new(
            ErrorCode::Io,
            format!("cannot serve metrics on {address}: {e}"),
        )
        .with_hint("choose another address with --metrics ADDR:PORT")
    })?;
    if !address.ip().is_loopback() {
        tracing::warn!(%address, "metrics served beyond loopback: whoever reaches it can read them");
    }
    let metrics = Metrics::start(settings).map_err(|e| {
        Error::new(
            ErrorCode::Io,
            format!("cannot start the metrics sampler: {e}"),
        )
    })?;
    Ok((listener, metrics))
}

fn probe_buckets() -> Histogram {
    // 0.25 ms to 1 s: a device on its own WiFi answers in a few ms; past 1 s it is lost.
    Histogram::new([
        0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
    ])
}

fn recovery_buckets() -> Histogram {
    // From lost to up again: seconds for a robot that rebooted, minutes for one carried away.
    Histogram::new([
        0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0,
    ])
}

impl Metrics {
    /// Registers every metric, and starts the thread that samples the kernel's figures.
    pub fn start(settings: &MetricsSettings) -> std::io::Result<Arc<Metrics>> {
        let figures = Arc::new(Mutex::new(host::HostFigures::default()));
        host::spawn(Arc::clone(&figures), settings.top, settings.every)?;
        Ok(Arc::new(Metrics::new(host::HostCollector(figures))))
    }

    fn new(host: host::HostCollector) -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("netpilot"),
            attempts: Family::default(),
            prompts: Family::default(),
            link_up: Family::default(),
            link_losses: Family::default(),
            probe_latency: Family::new_with_constructor(probe_buckets),
            recovery: Family::new_with_constructor(recovery_buckets),
            wifi_connected: Gauge::default(),
            wifi_signal: Family::default(),
            wifi_info: Family::default(),
            clients: Gauge::default(),
            tasks: Gauge::default(),
        };
        let registry = &mut metrics.registry;
        let build = Family::<Labels, Gauge>::default();
        build
            .get_or_create(&vec![("version", env!("CARGO_PKG_VERSION").to_string())])
            .set(1);
        registry.register("build_info", "netpilot's version (the value is 1)", build);
        registry.register(
            "daemon_clients",
            "Clients connected to the daemon (every transport)",
            metrics.clients.clone(),
        );
        registry.register(
            "daemon_tasks",
            "The daemon's live async tasks (a number that only grows is a leak)",
            metrics.tasks.clone(),
        );
        registry.register(
            "wifi_connect_attempts",
            "WiFi connect attempts that ended, by outcome: connected, or the error code",
            metrics.attempts.clone(),
        );
        registry.register(
            "wifi_prompts",
            "Password prompts that ended, by outcome (answered, cancelled, expired, withdrawn)",
            metrics.prompts.clone(),
        );
        registry.register(
            "wifi_connected",
            "Whether the internet's WiFi link is connected (1) or not (0)",
            metrics.wifi_connected.clone(),
        );
        registry.register(
            "wifi_signal_ratio",
            "Signal of the internet's WiFi link, 0 to 1 (NetworkManager's strength / 100)",
            metrics.wifi_signal.clone(),
        );
        registry.register(
            "wifi_info",
            "The internet's WiFi link: its interface and SSID (the value is 1)",
            metrics.wifi_info.clone(),
        );
        registry.register(
            "device_link_up",
            "Whether the device link is up, its device answering (1), or not (0)",
            metrics.link_up.clone(),
        );
        registry.register(
            "device_link_losses",
            "Times the device link was lost (the device stopped answering, or the link dropped)",
            metrics.link_losses.clone(),
        );
        registry.register(
            "device_link_probe_latency_seconds",
            "Round trip of the device link's answered probes",
            metrics.probe_latency.clone(),
        );
        registry.register(
            "device_link_recovery_seconds",
            "Time from a device link's loss to it being up again",
            metrics.recovery.clone(),
        );
        registry.register_collector(Box::new(host));
        for outcome in ["answered", "cancelled", "expired", "withdrawn"] {
            metrics
                .prompts
                .get_or_create(&outcome_labels(outcome))
                .inc_by(0);
        }
        metrics
            .attempts
            .get_or_create(&outcome_labels("connected"))
            .inc_by(0);
        metrics
    }

    /// The metrics as text: OpenMetrics, or the classic format 0.0.4.
    pub fn encode(&self, openmetrics: bool, clients: usize) -> String {
        self.clients.set(clients as i64);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            self.tasks.set(runtime.metrics().num_alive_tasks() as i64);
        }
        let mut out = String::with_capacity(16 * 1024);
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            // Writing to a String cannot fail; an encoder error would be a bug in a label.
            tracing::error!("metrics: encoding failed");
        }
        match openmetrics {
            true => out,
            false => text::classic(&out),
        }
    }
}

fn outcome_labels(outcome: &str) -> Labels {
    vec![("outcome", outcome.to_string())]
}

fn name_labels(name: &str) -> Labels {
    vec![("name", name.to_string())]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        Metrics::new(host::HostCollector(Arc::default()))
    }

    #[tokio::test]
    async fn the_tasks_gauge_follows_the_runtimes_live_tasks() {
        let metrics = metrics();
        let tasks = |text: &str| -> i64 {
            let line = text
                .lines()
                .find(|l| l.starts_with("netpilot_daemon_tasks "))
                .unwrap_or_else(|| panic!("{text}"));
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        let before = tasks(&metrics.encode(false, 0));
        let waiting: Vec<_> = (0..3)
            .map(|_| tokio::spawn(std::future::pending::<()>()))
            .collect();
        assert_eq!(tasks(&metrics.encode(false, 0)), before + 3);
        for task in waiting {
            task.abort();
            let _ = task.await;
        }
        assert_eq!(tasks(&metrics.encode(false, 0)), before);
    }

    #[test]
    fn the_prompt_outcomes_are_there_before_any_prompt() {
        let text = metrics().encode(false, 2);
        for outcome in ["answered", "cancelled", "expired", "withdrawn"] {
            assert!(
                text.contains(&format!(
                    "netpilot_wifi_prompts_total{{outcome=\"{outcome}\"}} 0\n"
                )),
                "{text}"
            );
        }
        assert!(text.contains("netpilot_daemon_clients 2\n"), "{text}");
        assert!(text.contains("netpilot_build_info{version=\""), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
        assert!(metrics().encode(true, 0).ends_with("# EOF\n"));
    }

    #[test]
    fn a_label_value_cannot_add_a_sample() {
        let metrics = metrics();
        metrics
            .wifi_info
            .get_or_create(&vec![
                ("interface", "wlan0".to_string()),
                ("ssid", "x\"} 1\nnetpilot_fake 1\n\\".to_string()),
            ])
            .set(1);
        let text = metrics.encode(false, 0);
        assert!(
            !text.lines().any(|l| l.starts_with("netpilot_fake")),
            "{text}"
        );
        assert!(
            text.contains(
                r#"netpilot_wifi_info{interface="wlan0",ssid="x\"} 1\nnetpilot_fake 1\n\\"} 1"#
            ),
            "{text}"
        );
    }

    /// Every sample name of a scrape in which every family has a sample.
    fn every_sample_name() -> std::collections::BTreeSet<String> {
        use netpilot_core::device::{DeviceEvent, LinkState};
        let figures = host::HostFigures {
            interfaces: vec![("eth0".into(), netpilot_core::LinkCounters::default(), true)],
            sockets: [(("tcp", "listen"), 2)].into_iter().collect(),
            processes: vec![("firefox".into(), processes::Bytes { rx: 1, tx: 2 })],
            udp_measured: true,
            took: Duration::from_millis(3),
        };
        let metrics = Metrics::new(host::HostCollector(Arc::new(Mutex::new(figures))));
        let mut lost_at = std::collections::HashMap::new();
        for (state, at_ms) in [
            (LinkState::Up, 0),
            (LinkState::Lost, 1000),
            (LinkState::Up, 3500),
        ] {
            let event = DeviceEvent {
                name: "cozmo".into(),
                state,
                reason: None,
                event: None,
                route: None,
                at_ms,
            };
            events::link_event(&metrics, &mut lost_at, &event);
        }
        metrics
            .probe_latency
            .get_or_create(&name_labels("cozmo"))
            .observe(0.003);
        metrics
            .wifi_signal
            .get_or_create(&vec![("interface", "wlan0".to_string())])
            .set(0.7);
        metrics
            .wifi_info
            .get_or_create(&vec![
                ("interface", "wlan0".to_string()),
                ("ssid", "home".to_string()),
            ])
            .set(1);
        metrics
            .encode(false, 1)
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| {
                line.split(['{', ' '])
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn a_loss_and_its_recovery_are_measured() {
        let text = {
            use netpilot_core::device::{DeviceEvent, LinkState};
            let metrics = metrics();
            let mut lost_at = std::collections::HashMap::new();
            for (state, at_ms) in [
                (LinkState::Up, 0),
                (LinkState::Lost, 1000),
                (LinkState::Lost, 1500),
                (LinkState::Up, 3500),
            ] {
                let event = DeviceEvent {
                    name: "cozmo".into(),
                    state,
                    reason: None,
                    event: None,
                    route: None,
                    at_ms,
                };
                events::link_event(&metrics, &mut lost_at, &event);
            }
            metrics.encode(false, 0)
        };
        assert!(
            text.contains("netpilot_device_link_up{name=\"cozmo\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("netpilot_device_link_losses_total{name=\"cozmo\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("netpilot_device_link_recovery_seconds_sum{name=\"cozmo\"} 2.5\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "netpilot_device_link_recovery_seconds_bucket{le=\"3.0\",name=\"cozmo\"} 1\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn every_query_of_the_grafana_dashboard_names_a_metric_the_daemon_exports() {
        let exported = every_sample_name();
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../../../../../contrib/grafana/netpilot.json"))
                .expect("the dashboard is JSON");
        let panels = dashboard["panels"].as_array().expect("panels");
        assert!(panels.len() >= 10);
        let mut named = std::collections::BTreeSet::new();
        for panel in panels {
            for target in panel["targets"].as_array().expect("targets") {
                let expr = target["expr"].as_str().expect("an expr");
                let names: Vec<&str> = expr
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|word| word.starts_with("netpilot_"))
                    .collect();
                assert!(!names.is_empty(), "{expr} names no netpilot metric");
                for name in names {
                    assert!(
                        exported.contains(name),
                        "{name} (in {expr}) is not exported: {exported:?}"
                    );
                    named.insert(name.to_string());
                }
            }
        }
        // And the dashboard shows each family at least once.
        for family in [
            "netpilot_network_receive_bytes_total",
            "netpilot_sockets",
            "netpilot_process_receive_bytes_total",
            "netpilot_wifi_connect_attempts_total",
            "netpilot_wifi_prompts_total",
            "netpilot_device_link_up",
            "netpilot_device_link_losses_total",
            "netpilot_device_link_probe_latency_seconds_bucket",
            "netpilot_device_link_recovery_seconds_bucket",
            "netpilot_daemon_clients",
            "netpilot_build_info",
            "netpilot_wifi_info",
            "netpilot_wifi_signal_ratio",
        ] {
            assert!(
                named.contains(family),
                "the dashboard does not show {family}"
            );
        }
    }
}
