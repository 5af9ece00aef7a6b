use super::{fresh_namespace, netpilot, netpilot_json};
use netpilot_api::monitor::PortsDocument;
use netpilot_core::{Family, Protocol};
use netpilot_testkit::Holder;
use std::net::IpAddr;

/// (protocol, port, service, bindings' addresses and families, their processes)
type Summary<'a> = (
    Protocol,
    u16,
    Option<&'a str>,
    Vec<(IpAddr, Family)>,
    Vec<(u32, &'a str)>,
);

#[test]
fn ports_groups_listeners_by_protocol_and_port_with_service_names() {
    if !fresh_namespace("ports_groups_listeners_by_protocol_and_port_with_service_names") {
        return;
    }
    let mut dns = Holder::spawn("np-dns").unwrap();
    dns.listen("tcp", "0.0.0.0", 53);
    dns.listen("tcp6only", "::", 53);
    dns.bind_udp("udp", "127.0.0.1", 53);
    let mut web = Holder::spawn("np-web").unwrap();
    web.listen("tcp6", "::", 8080);
    let mut client = Holder::spawn("np-client").unwrap();
    client.connect("tcp", "127.0.0.1", 8080); // established sockets are not ports

    let document: PortsDocument = netpilot_json(&["ports"]);
    let summary: Vec<Summary<'_>> = document
        .ports
        .iter()
        .map(|p| {
            (
                p.protocol,
                p.port,
                p.service.as_deref(),
                p.bindings.iter().map(|b| (b.address, b.family)).collect(),
                p.bindings
                    .iter()
                    .flat_map(|b| b.processes.iter().map(|p| (p.pid, &*p.name)))
                    .collect(),
            )
        })
        .collect();
    let any4: IpAddr = "0.0.0.0".parse().unwrap();
    let any6: IpAddr = "::".parse().unwrap();
    let lo4: IpAddr = "127.0.0.1".parse().unwrap();
    assert_eq!(
        summary,
        vec![
            (
                Protocol::Tcp,
                53,
                Some("domain"),
                vec![(any4, Family::Ipv4), (any6, Family::Ipv6)],
                vec![(dns.pid(), "np-dns"), (dns.pid(), "np-dns")]
            ),
            (
                Protocol::Tcp,
                8080,
                Some("http-alt"),
                vec![(any6, Family::Ipv6)],
                vec![(web.pid(), "np-web")]
            ),
            (
                Protocol::Udp,
                53,
                Some("domain"),
                vec![(lo4, Family::Ipv4)],
                vec![(dns.pid(), "np-dns")]
            ),
        ]
    );

    let output = netpilot(&["ports"]);
    let table = String::from_utf8(output.stdout).unwrap();
    let dns_row = table.lines().nth(1).unwrap();
    assert_eq!(
        dns_row.split_whitespace().collect::<Vec<_>>(),
        [
            "tcp",
            "53",
            "domain",
            "0.0.0.0,",
            "[::]",
            &format!("{}/np-dns", dns.pid()),
            "root"
        ],
        "{table}"
    );
}
