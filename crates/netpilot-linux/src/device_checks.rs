//! `netpilot device test`: proves from the kernel's own tables and with probes that a
//! device link left the internet alone — the default route and the DNS servers are not the
//! device's — and that both links answer.

use crate::routes::{DefaultRoute, default_routes};
use netpilot_core::Error;
use netpilot_core::device::{Check, DeviceSpec, Probe, ProbeOutcome};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// The checks, in order.
pub fn run(spec: &DeviceSpec, internet: &str) -> Vec<Check> {
    let device_interface = spec.interface.as_deref().unwrap_or_default();
    let mut checks = Vec::new();
    let routes = default_routes();
    checks.extend(route_checks(routes.as_deref(), device_interface));
    checks.push(dns_check(&nameservers(), spec));
    checks.push(device_check(spec, device_interface));
    let internet_interface = routes
        .ok()
        .and_then(|r| r.first().map(|r| r.interface.clone()))
        .filter(|i| i != device_interface);
    checks.push(
        match crate::probe::tcp_by_name(
            internet,
            internet_interface.as_deref(),
            Duration::from_secs(3),
        ) {
            Ok((address, rtt)) => Check::new(
                "internet answers",
                true,
                format!(
                    "{internet} ({}) answered on {} in {:.1} ms",
                    address.ip(),
                    internet_interface.as_deref().unwrap_or("the default route"),
                    rtt.as_secs_f64() * 1000.0
                ),
            ),
            Err(error) => failed("internet answers", error.message),
        },
    );
    checks
}

fn failed(name: &str, detail: String) -> Check {
    Check::new(name, false, detail)
}

/// The device probed with the link's own probe, which decides, then with each other kind
/// (ARP, ICMP) to say what else it answers: a robot that ignores pings is no failure
/// of a link that probes with ARP, but worth knowing before choosing `--probe icmp`.
fn device_check(spec: &DeviceSpec, interface: &str) -> Check {
    let timeout = Duration::from_secs(2);
    let mut kinds = vec![spec.probe];
    kinds.extend(
        [Probe::Arp, Probe::Icmp]
            .into_iter()
            .filter(|k| *k != spec.probe),
    );
    let probes: Vec<ProbeOutcome> = kinds
        .into_iter()
        .map(
            |probe| match crate::probe::device(probe, spec.address, interface, timeout) {
                Ok(rtt) => ProbeOutcome {
                    probe,
                    answered: true,
                    ms: Some((rtt.as_secs_f64() * 10_000.0).round() / 10.0),
                    error: None,
                },
                Err(error) => ProbeOutcome {
                    probe,
                    answered: false,
                    ms: None,
                    error: Some(error.message),
                },
            },
        )
        .collect();
    let others: Vec<String> = probes[1..]
        .iter()
        .map(|p| match (p.ms, &p.error) {
            (Some(ms), _) => format!("{} answered in {ms:.1} ms", p.probe),
            (None, error) => format!("{}: {}", p.probe, error.as_deref().unwrap_or("no answer")),
        })
        .collect();
    let own = &probes[0];
    let detail = match own.ms {
        Some(ms) => format!(
            "{} answered {} on {interface} in {ms:.1} ms (the link's probe); {}",
            spec.address,
            own.probe,
            others.join("; ")
        ),
        None => format!(
            "{} (the link's probe is {}); {}",
            own.error.as_deref().unwrap_or("no answer"),
            own.probe,
            others.join("; ")
        ),
    };
    let answered = own.answered;
    Check {
        probes,
        ..Check::new("device answers", answered, detail)
    }
}

/// The default route is another link's, and the device link holds none.
fn route_checks(routes: Result<&[DefaultRoute], &Error>, device_interface: &str) -> Vec<Check> {
    let routes = match routes {
        Ok(routes) => routes,
        Err(error) => return vec![failed("default route", error.message.clone())],
    };
    let primary = match routes.first() {
        None => failed(
            "default route",
            "there is no default route: no internet link".into(),
        ),
        Some(route) => Check::new(
            "default route",
            route.interface != device_interface,
            format!(
                "via {}{}, metric {}",
                route.interface,
                route
                    .gateway
                    .as_deref()
                    .map(|g| format!(", gateway {g}"))
                    .unwrap_or_default(),
                route.metric
            ),
        ),
    };
    let on_device: Vec<String> = routes
        .iter()
        .filter(|r| r.interface == device_interface)
        .map(|r| {
            format!(
                "{} metric {}",
                if r.ipv6 { "IPv6" } else { "IPv4" },
                r.metric
            )
        })
        .collect();
    let none_on_device = Check::new(
        "no default route on the device link",
        on_device.is_empty(),
        if on_device.is_empty() {
            format!("{device_interface} has none")
        } else {
            format!(
                "{device_interface} has: {}; the internet would go to the device: remove it \
                 (sudo ip route del default dev {device_interface}) and find what added it",
                on_device.join(", ")
            )
        },
    );
    vec![primary, none_on_device]
}

/// No DNS server of the system is the device's (its DHCP may push one; it must be ignored).
fn dns_check(servers: &[IpAddr], spec: &DeviceSpec) -> Check {
    let from_device: Vec<String> = servers
        .iter()
        .filter(|s| matches!(s, IpAddr::V4(v4) if spec.subnet.contains(*v4)))
        .map(IpAddr::to_string)
        .collect();
    let listed: Vec<String> = servers.iter().map(IpAddr::to_string).collect();
    Check::new(
        "DNS stays on the internet link",
        from_device.is_empty(),
        if from_device.is_empty() {
            format!(
                "servers: {}",
                if listed.is_empty() {
                    "none".into()
                } else {
                    listed.join(", ")
                }
            )
        } else {
            format!("the device's {} is a DNS server", from_device.join(", "))
        },
    )
}

/// The system's DNS servers: resolv.conf's, or systemd-resolved's real ones behind its stub.
fn nameservers() -> Vec<IpAddr> {
    let read = |path: &str| -> Vec<IpAddr> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().strip_prefix("nameserver"))
            .filter_map(|rest| rest.trim().parse().ok())
            .collect()
    };
    let servers = read("/etc/resolv.conf");
    let stub = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 53));
    if servers.contains(&stub) {
        return read("/run/systemd/resolve/resolv.conf");
    }
    servers
}

#[cfg(test)]
mod tests {
    use super::*;
    use netpilot_core::device::DeviceRequest;

    fn cozmo() -> DeviceSpec {
        DeviceRequest {
            name: "cozmo".into(),
            ssid: "Cozmo_A1B2C3".into(),
            preset: Some("cozmo".into()),
            interface: Some("wlan1".into()),
            ..Default::default()
        }
        .spec()
        .unwrap()
        .0
    }

    fn route(interface: &str, metric: u32) -> DefaultRoute {
        DefaultRoute {
            interface: interface.into(),
            gateway: Some("192.168.50.1".into()),
            metric,
            ipv6: false,
        }
    }

    #[test]
    fn a_default_route_on_the_device_link_fails() {
        let good = [route("wlan0", 600)];
        assert!(route_checks(Ok(&good), "wlan1").iter().all(|c| c.passed));
        let stolen = [route("wlan1", 100), route("wlan0", 600)];
        let checks = route_checks(Ok(&stolen), "wlan1");
        assert!(checks.iter().all(|c| !c.passed), "{checks:?}");
        assert!(checks[1].detail.contains("IPv4 metric 100"));
        assert!(!route_checks(Ok(&[]), "wlan1")[0].passed);
    }

    #[test]
    fn the_devices_dns_server_fails_the_dns_check() {
        let home: Vec<IpAddr> = vec!["192.168.50.1".parse().unwrap()];
        assert!(dns_check(&home, &cozmo()).passed);
        let robot: Vec<IpAddr> = vec![
            "172.31.1.1".parse().unwrap(),
            "192.168.50.1".parse().unwrap(),
        ];
        let check = dns_check(&robot, &cozmo());
        assert!(!check.passed);
        assert!(check.detail.contains("172.31.1.1"));
    }
}
