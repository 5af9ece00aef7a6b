//! `netpilot device test`: proves from the kernel's own tables and with probes that a
//! device link left the internet alone — the default route and the DNS servers are not the
//! device's — and that both links answer.

use crate::routes::{DefaultRoute, default_routes};
use netpilot_core::Error;
use netpilot_core::device::{Check, DeviceSpec};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// The checks, in order; `device_probe` is a probe of the device already made.
pub fn run(spec: &DeviceSpec, internet: &str, device_probe: Result<Duration, Error>) -> Vec<Check> {
    let device_interface = spec.interface.as_deref().unwrap_or_default();
    let mut checks = Vec::new();
    let routes = default_routes();
    checks.extend(route_checks(routes.as_deref(), device_interface));
    checks.push(dns_check(&nameservers(), spec));
    checks.push(match device_probe {
        Ok(rtt) => Check {
            name: "device answers".into(),
            passed: true,
            detail: format!(
                "{} answered {} on {device_interface} in {:.1} ms",
                spec.address,
                spec.probe,
                rtt.as_secs_f64() * 1000.0
            ),
        },
        Err(error) => failed("device answers", error.message),
    });
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
            Ok((address, rtt)) => Check {
                name: "internet answers".into(),
                passed: true,
                detail: format!(
                    "{internet} ({}) answered on {} in {:.1} ms",
                    address.ip(),
                    internet_interface.as_deref().unwrap_or("the default route"),
                    rtt.as_secs_f64() * 1000.0
                ),
            },
            Err(error) => failed("internet answers", error.message),
        },
    );
    checks
}

fn failed(name: &str, detail: String) -> Check {
    Check {
        name: name.into(),
        passed: false,
        detail,
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
        Some(route) => Check {
            name: "default route".into(),
            passed: route.interface != device_interface,
            detail: format!(
                "via {}{}, metric {}",
                route.interface,
                route
                    .gateway
                    .as_deref()
                    .map(|g| format!(", gateway {g}"))
                    .unwrap_or_default(),
                route.metric
            ),
        },
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
    let none_on_device = Check {
        name: "no default route on the device link".into(),
        passed: on_device.is_empty(),
        detail: if on_device.is_empty() {
            format!("{device_interface} has none")
        } else {
            format!("{device_interface} has: {}", on_device.join(", "))
        },
    };
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
    Check {
        name: "DNS stays on the internet link".into(),
        passed: from_device.is_empty(),
        detail: if from_device.is_empty() {
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
    }
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
