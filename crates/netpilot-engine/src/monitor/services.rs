//! Names of well-known ports, as IANA (and `/etc/services`) spell them. A fixed table
//! keeps the answer the same on every machine.

use netpilot_core::Protocol;

/// (port, name, only this protocol or both)
const SERVICES: &[(u16, &str, Option<Protocol>)] = &[
    (20, "ftp-data", Some(Protocol::Tcp)),
    (21, "ftp", Some(Protocol::Tcp)),
    (22, "ssh", None),
    (23, "telnet", Some(Protocol::Tcp)),
    (25, "smtp", Some(Protocol::Tcp)),
    (53, "domain", None),
    (67, "bootps", Some(Protocol::Udp)),
    (68, "bootpc", Some(Protocol::Udp)),
    (69, "tftp", Some(Protocol::Udp)),
    (80, "http", None),
    (110, "pop3", Some(Protocol::Tcp)),
    (111, "sunrpc", None),
    (123, "ntp", Some(Protocol::Udp)),
    (137, "netbios-ns", Some(Protocol::Udp)),
    (138, "netbios-dgm", Some(Protocol::Udp)),
    (139, "netbios-ssn", Some(Protocol::Tcp)),
    (143, "imap", Some(Protocol::Tcp)),
    (161, "snmp", Some(Protocol::Udp)),
    (389, "ldap", None),
    (443, "https", None),
    (445, "microsoft-ds", Some(Protocol::Tcp)),
    (465, "submissions", Some(Protocol::Tcp)),
    (500, "isakmp", Some(Protocol::Udp)),
    (514, "syslog", Some(Protocol::Udp)),
    (546, "dhcpv6-client", Some(Protocol::Udp)),
    (547, "dhcpv6-server", Some(Protocol::Udp)),
    (587, "submission", Some(Protocol::Tcp)),
    (631, "ipp", None),
    (636, "ldaps", Some(Protocol::Tcp)),
    (853, "domain-s", None),
    (873, "rsync", Some(Protocol::Tcp)),
    (993, "imaps", Some(Protocol::Tcp)),
    (995, "pop3s", Some(Protocol::Tcp)),
    (1194, "openvpn", None),
    (1883, "mqtt", Some(Protocol::Tcp)),
    (1900, "ssdp", Some(Protocol::Udp)),
    (3306, "mysql", Some(Protocol::Tcp)),
    (3389, "ms-wbt-server", None),
    (4500, "ipsec-nat-t", Some(Protocol::Udp)),
    (5353, "mdns", Some(Protocol::Udp)),
    (5355, "llmnr", None),
    (5432, "postgresql", Some(Protocol::Tcp)),
    (5672, "amqp", Some(Protocol::Tcp)),
    (5900, "rfb", Some(Protocol::Tcp)),
    (6379, "redis", Some(Protocol::Tcp)),
    (8080, "http-alt", Some(Protocol::Tcp)),
    (8443, "https-alt", Some(Protocol::Tcp)),
    (9100, "jetdirect", Some(Protocol::Tcp)),
    (11211, "memcache", None),
    (27017, "mongodb", Some(Protocol::Tcp)),
    (51820, "wireguard", Some(Protocol::Udp)),
];

pub fn service_name(protocol: Protocol, port: u16) -> Option<&'static str> {
    SERVICES
        .iter()
        .find(|(p, _, only)| *p == port && only.is_none_or(|only| only == protocol))
        .map(|(_, name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ports_have_names_for_their_protocol_only() {
        assert_eq!(service_name(Protocol::Tcp, 443), Some("https"));
        assert_eq!(service_name(Protocol::Udp, 53), Some("domain"));
        assert_eq!(service_name(Protocol::Udp, 5353), Some("mdns"));
        assert_eq!(service_name(Protocol::Tcp, 5353), None);
        assert_eq!(service_name(Protocol::Tcp, 4), None);
    }

    #[test]
    fn the_table_is_sorted_without_duplicates() {
        assert!(SERVICES.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
