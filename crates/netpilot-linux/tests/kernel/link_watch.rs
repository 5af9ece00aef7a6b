use netpilot_core::device::LinkSignal;
use netpilot_linux::link_watch::KernelWatch;
use netpilot_testkit::netns::{ip, run};
use std::net::Ipv4Addr;
use std::time::Duration;

/// The next signal, or a failure naming what was awaited.
async fn expect(watch: &mut KernelWatch, what: &str) -> LinkSignal {
    tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .unwrap_or_else(|_| panic!("no signal for {what}"))
        .unwrap_or_else(|| panic!("the watch ended before {what}"))
}

#[test]
fn carrier_addresses_and_a_silent_neighbour_are_signalled() {
    if !super::fresh_namespace("carrier_addresses_and_a_silent_neighbour_are_signalled") {
        return;
    }
    ip(&["link", "add", "np0", "type", "veth", "peer", "name", "np1"]).unwrap();
    ip(&["link", "set", "np0", "up"]).unwrap();
    ip(&["link", "set", "np1", "up"]).unwrap();
    // One ARP request, 100 ms for its answer: a silent neighbour fails fast.
    run("sysctl", &["-qw", "net.ipv4.neigh.np0.mcast_solicit=1"]).unwrap();
    run("sysctl", &["-qw", "net.ipv4.neigh.np0.retrans_time_ms=100"]).unwrap();
    let device = Ipv4Addr::new(10, 99, 0, 2);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut watch = KernelWatch::open("np0", device).unwrap();

        ip(&["link", "set", "np1", "down"]).unwrap();
        match expect(&mut watch, "the peer going down").await {
            LinkSignal::Lost(reason) => {
                assert!(reason.contains("np0 lost its carrier"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        ip(&["link", "set", "np1", "up"]).unwrap();
        assert_eq!(
            expect(&mut watch, "the carrier back").await,
            LinkSignal::Changed
        );

        ip(&["addr", "add", "10.99.0.1/24", "dev", "np0"]).unwrap();
        assert_eq!(expect(&mut watch, "an address").await, LinkSignal::Changed);

        // Nobody holds 10.99.0.2: the kernel's ARP for it fails.
        let socket = std::net::UdpSocket::bind("10.99.0.1:0").unwrap();
        socket.send_to(b"hello", (device, 9)).unwrap();
        assert_eq!(
            expect(&mut watch, "the failed neighbour").await,
            LinkSignal::Lost("10.99.0.2 does not answer ARP on np0".into())
        );

        // Deleting the interface takes its carrier first.
        ip(&["link", "del", "np0"]).unwrap();
        let removed = LinkSignal::Lost("np0 was removed".into());
        let mut signal = expect(&mut watch, "the interface deleted").await;
        if signal != removed {
            assert!(
                matches!(&signal, LinkSignal::Lost(r) if r.contains("carrier")),
                "{signal:?}"
            );
            signal = expect(&mut watch, "the interface deleted").await;
        }
        assert_eq!(signal, removed);
    });
}
