//! The supervisor's timing and the service's bookkeeping, over a fake backend whose
//! device can be switched off and on (paused time: the figures are exact).

use super::*;
use crate::radios::Claim;
use crate::testing::FakeDevices;
use netpilot_core::device::{DeviceRequest, LinkSignal};
use netpilot_core::wifi::{Role, WifiRadio};
use std::sync::atomic::Ordering;

fn spec() -> DeviceSpec {
    let request = DeviceRequest {
        name: "cozmo".into(),
        ssid: "Cozmo_A1B2C3".into(),
        preset: Some("cozmo".into()),
        interface: Some("wlan1".into()),
        auto_connect: true,
        ..Default::default()
    };
    request.spec().unwrap().0
}

fn service() -> (Arc<FakeDevices>, Arc<DeviceService<FakeDevices>>) {
    let backend = Arc::new(FakeDevices::default());
    backend.on.store(true, Ordering::SeqCst);
    backend.specs.lock().unwrap().push(spec());
    let service = DeviceService::with_clock(Arc::clone(&backend), Supervision::default(), || 0);
    (backend, service)
}

/// The internet supervised with the default watch, its first look (`up`) read; its
/// changes from then on.
async fn internet_up() -> (
    Arc<FakeDevices>,
    Arc<DeviceService<FakeDevices>>,
    broadcast::Receiver<netpilot_core::internet::InternetEvent>,
) {
    let (backend, service) = service();
    let mut changes = service.internet_events();
    service.supervise_internet(InternetWatch::default());
    assert_eq!(
        changes.recv().await.unwrap().event,
        netpilot_core::internet::InternetChange::Up
    );
    (backend, service, changes)
}

/// Brings the link up; the events from then on (`connecting` and `up` already read).
async fn brought_up(service: &Arc<DeviceService<FakeDevices>>) -> broadcast::Receiver<DeviceEvent> {
    let mut events = service.subscribe();
    service.up("cozmo").await.unwrap();
    assert_eq!(next_state(&mut events).await, LinkState::Connecting);
    assert_eq!(next_state(&mut events).await, LinkState::Up);
    events
}

async fn next_state(events: &mut broadcast::Receiver<DeviceEvent>) -> LinkState {
    events.recv().await.unwrap().state
}

#[tokio::test(start_paused = true)]
async fn loss_is_reported_within_two_seconds_and_the_link_rejoins() {
    let (device, service) = service();
    let mut events = service.subscribe();
    let status = service.up("cozmo").await.unwrap();
    assert_eq!(status.state, LinkState::Up);
    assert_eq!(status.local_address.as_deref(), Some("172.31.1.100/24"));
    assert_eq!(next_state(&mut events).await, LinkState::Connecting);
    assert_eq!(next_state(&mut events).await, LinkState::Up);

    tokio::time::sleep(Duration::from_secs(5)).await;
    let lost_at = Instant::now();
    device.on.store(false, Ordering::SeqCst);
    let lost = events.recv().await.unwrap();
    assert_eq!(lost.state, LinkState::Lost);
    assert!(
        lost.reason
            .unwrap()
            .contains("172.31.1.1 stopped answering")
    );
    let detection = lost_at.elapsed();
    assert!(detection <= Duration::from_secs(2), "{detection:?}");

    // Off for a minute: nudges back off, to one every 2 s (0, 0.5, 1.5, 3.5, … 59.5).
    tokio::time::sleep(Duration::from_secs(60)).await;
    let nudges = device.rejoins.load(Ordering::SeqCst);
    assert!((28..=33).contains(&nudges), "{nudges} rejoins in a minute");
    // Off for longer: on to one every 8 s.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let later = device.rejoins.load(Ordering::SeqCst) - nudges;
    assert!(
        (6..=10).contains(&later),
        "{later} rejoins in the second minute"
    );

    let back_at = Instant::now();
    device.on.store(true, Ordering::SeqCst);
    assert_eq!(next_state(&mut events).await, LinkState::Up);
    let recovery = back_at.elapsed();
    assert!(recovery <= Duration::from_secs(10), "{recovery:?}");
    let status = service.status("cozmo").await.unwrap();
    assert_eq!(status.state, LinkState::Up);
    assert!(status.last_failure.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_lost_signal_checked_by_one_probe_reports_the_loss_at_once() {
    let (device, service) = service();
    let mut events = brought_up(&service).await;
    tokio::time::sleep(Duration::from_millis(3_200)).await;

    // A stale signal (the device still answers) is not a loss.
    device.signal(LinkSignal::Lost(
        "172.31.1.1 does not answer ARP on wlan1".into(),
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(events.try_recv().is_err(), "no event for a stale signal");

    let lost_at = Instant::now();
    device.on.store(false, Ordering::SeqCst);
    device.signal(LinkSignal::Lost("wlan1 lost its carrier".into()));
    let lost = events.recv().await.unwrap();
    assert_eq!(lost.state, LinkState::Lost);
    assert_eq!(lost.reason.as_deref(), Some("wlan1 lost its carrier"));
    // One probe's time, not the two that make a loss without a signal.
    let detection = lost_at.elapsed();
    assert!(detection <= Duration::from_millis(550), "{detection:?}");

    // Signals while rejoining only hasten the next probe; the probe decides.
    device.signal(LinkSignal::Changed);
    device.signal(LinkSignal::Lost("NetworkManager left the link".into()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(events.try_recv().is_err(), "still lost, no new event");
    device.on.store(true, Ordering::SeqCst);
    let back_at = Instant::now();
    device.signal(LinkSignal::Changed);
    assert_eq!(next_state(&mut events).await, LinkState::Up);
    // Reported as soon as the device answers, not after NetworkManager's bookkeeping.
    let recovery = back_at.elapsed();
    assert!(recovery <= Duration::from_millis(100), "{recovery:?}");
}

#[tokio::test(start_paused = true)]
async fn a_lost_signal_after_a_missed_probe_is_a_loss_at_once() {
    let (device, service) = service();
    let mut events = brought_up(&service).await;
    tokio::time::sleep(Duration::from_millis(3_010)).await;

    // The device goes quiet; one probe goes unanswered (0.5 s), then the carrier goes.
    device.on.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let signalled_at = Instant::now();
    device.signal(LinkSignal::Lost("wlan1 lost its carrier".into()));
    let lost = events.recv().await.unwrap();
    assert_eq!(lost.reason.as_deref(), Some("wlan1 lost its carrier"));
    let detection = signalled_at.elapsed();
    assert!(detection < Duration::from_millis(50), "{detection:?}");
}

#[tokio::test(start_paused = true)]
async fn a_changed_signal_while_up_is_not_a_loss() {
    let (device, service) = service();
    let mut events = brought_up(&service).await;
    for _ in 0..5 {
        device.signal(LinkSignal::Changed);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(events.try_recv().is_err(), "no event for a mere change");
    assert_eq!(device.rejoins.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn down_stops_supervision_and_reports_every_failed_step() {
    let (device, service) = service();
    service.up("cozmo").await.unwrap();
    device.broken_down.store(true, Ordering::SeqCst);
    let teardown = service.down("cozmo").await.unwrap();
    assert_eq!(teardown.failed.len(), 1);
    assert_eq!(teardown.failed[0].step, "disconnect wlan1");
    assert!(teardown.done.is_empty());
    let probes = device.probes.load(Ordering::SeqCst);
    device.on.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        device.probes.load(Ordering::SeqCst),
        probes,
        "no probe after down"
    );
    assert_eq!(
        device.rejoins.load(Ordering::SeqCst),
        0,
        "no rejoin after down"
    );
    assert_eq!(
        service.status("cozmo").await.unwrap().state,
        LinkState::Down
    );
}

#[tokio::test(start_paused = true)]
async fn a_device_that_never_answers_fails_up_and_is_taken_down() {
    let (device, service) = service();
    device.on.store(false, Ordering::SeqCst);
    let error = service.up("cozmo").await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Timeout);
    assert_eq!(
        device.downs.load(Ordering::SeqCst),
        1,
        "what the attempt made is undone"
    );
    let status = service.status("cozmo").await.unwrap();
    assert_eq!(status.state, LinkState::Down);
    assert_eq!(
        status.last_failure.unwrap().reason,
        "\"Cozmo_A1B2C3\" was not joined"
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_names_say_how_to_create_one() {
    let (_, service) = service();
    let error = service.up("tello").await.unwrap_err();
    assert_eq!(error.code, ErrorCode::NotFound);
    assert!(error.hint.unwrap().contains("netpilot device configure"));
}

#[tokio::test(start_paused = true)]
async fn a_link_in_use_is_not_reconfigured() {
    let (_, service) = service();
    service.up("cozmo").await.unwrap();
    let error = service.configure(spec(), None).await.unwrap_err();
    assert!(error.hint.unwrap().contains("netpilot device down cozmo"));
}

/// What the network service says of the radios: wlan1 with `role`.
fn radios(role: Role) -> Vec<WifiRadio> {
    vec![WifiRadio {
        interface: "wlan1".into(),
        role,
        state: netpilot_core::wifi::DeviceState::Connected,
        ssid: Some("Cozmo_A1B2C3".into()),
        ipv4: None,
        mac: None,
    }]
}

#[tokio::test(start_paused = true)]
async fn a_link_already_up_is_adopted_and_supervised() {
    let (device, service) = service();
    let mut events = service.subscribe();
    // NetworkManager holds the link's profile up on wlan1 (a restart, autoconnect).
    let (network, seen) = watch::channel(radios(Role::DeviceLink("cozmo".into())));
    service.follow(seen);
    assert_eq!(next_state(&mut events).await, LinkState::Up);
    // Asked for the address only: adopting never joins (it could bring back a link that
    // is being taken down).
    assert_eq!(
        device.ups.load(Ordering::SeqCst),
        0,
        "asked for the address only"
    );
    device.on.store(false, Ordering::SeqCst);
    assert_eq!(next_state(&mut events).await, LinkState::Lost);
    // Told again, the service leaves the supervised link alone.
    network.send_modify(|_| {});
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(device.ups.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_link_taken_down_is_not_adopted_until_networkmanager_lets_go() {
    let (device, service) = service();
    let (network, seen) = watch::channel(Vec::new());
    service.follow(seen);
    service.up("cozmo").await.unwrap();
    service.down("cozmo").await.unwrap();
    // NetworkManager still shows the profile active for a moment after `down`.
    network.send_replace(radios(Role::DeviceLink("cozmo".into())));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        service.status("cozmo").await.unwrap().state,
        LinkState::Down
    );
    // Once it has let go, a later activation (autoconnect, nmcli) is adopted again.
    network.send_replace(radios(Role::Free));
    tokio::time::sleep(Duration::from_millis(100)).await;
    network.send_replace(radios(Role::DeviceLink("cozmo".into())));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(service.status("cozmo").await.unwrap().state, LinkState::Up);
    assert_eq!(
        device.ups.load(Ordering::SeqCst),
        1,
        "only the `up` asked for"
    );
}

#[tokio::test(start_paused = true)]
async fn a_link_whose_device_is_away_is_not_adopted() {
    let (device, service) = service();
    device.on.store(false, Ordering::SeqCst);
    let (_network, seen) = watch::channel(radios(Role::DeviceLink("cozmo".into())));
    service.follow(seen);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        service.status("cozmo").await.unwrap().state,
        LinkState::Down
    );
    assert_eq!(device.ups.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_link_claims_its_radio_while_it_is_up_or_coming_back() {
    let (device, service) = service();
    let claims = service.claims();
    service.up("cozmo").await.unwrap();
    let cozmo = Claim {
        interface: "wlan1".into(),
        link: "cozmo".into(),
    };
    assert_eq!(*claims.borrow(), std::slice::from_ref(&cozmo));
    device.on.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        service.status("cozmo").await.unwrap().state,
        LinkState::Lost
    );
    assert_eq!(
        *claims.borrow(),
        [cozmo],
        "a lost link still waits for its radio"
    );
    service.down("cozmo").await.unwrap();
    assert!(claims.borrow().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_radio_taken_for_the_internet_is_reported_and_not_taken_back() {
    let (device, service) = service();
    let (network, seen) = watch::channel(radios(Role::DeviceLink("cozmo".into())));
    service.follow(seen);
    let mut events = brought_up(&service).await;
    device.on.store(false, Ordering::SeqCst);
    assert_eq!(next_state(&mut events).await, LinkState::Lost);
    // Someone joins the home network on wlan1 while cozmo is away.
    network.send_replace(radios(Role::Internet));
    let said = events.recv().await.unwrap();
    assert_eq!(said.state, LinkState::Lost);
    let reason = said.reason.unwrap();
    assert!(
        reason.contains("wlan1 now carries the internet"),
        "{reason}"
    );
    assert!(
        reason.contains("netpilot wifi disconnect --interface wlan1"),
        "{reason}"
    );
    let nudged = device.rejoins.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        device.rejoins.load(Ordering::SeqCst),
        nudged,
        "the link does not take the internet's radio back"
    );
    // Said once, not at every change.
    network.send_modify(|_| {});
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(events.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn a_link_whose_radio_is_taken_for_the_internet_is_lost_whatever_answers() {
    let (device, service) = service();
    let (network, seen) = watch::channel(radios(Role::DeviceLink("cozmo".into())));
    service.follow(seen);
    let mut events = brought_up(&service).await;
    // Home joined on wlan1: the device's address still answers (through home's routes).
    network.send_replace(radios(Role::Internet));
    let said = events.recv().await.unwrap();
    assert_eq!(said.state, LinkState::Lost);
    assert!(said.reason.unwrap().contains("now carries the internet"));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(
        service.status("cozmo").await.unwrap().state,
        LinkState::Lost
    );
    // Home leaves the radio: the device answers on its link again, and it is up.
    network.send_replace(radios(Role::DeviceLink("cozmo".into())));
    loop {
        if events.recv().await.unwrap().state == LinkState::Up {
            break;
        }
    }
    assert!(device.probes.load(Ordering::SeqCst) > 0);
}

fn route(interface: &str, metric: u32) -> netpilot_core::device::InternetLink {
    netpilot_core::device::InternetLink {
        interface: interface.into(),
        gateway: Some("192.168.50.1".into()),
        metric,
    }
}

fn internet(
    routes: Vec<netpilot_core::device::InternetLink>,
    connectivity: netpilot_core::internet::Connectivity,
) -> netpilot_core::internet::InternetNow {
    netpilot_core::internet::InternetNow {
        routes,
        connectivity,
        portal_url: None,
    }
}

/// The internet followed by its routes (at once, not at the next look), NetworkManager's
/// verdict and the probe; a device link's default route is a hijack, not the internet.
#[tokio::test(start_paused = true)]
async fn the_internet_is_followed_and_a_device_links_default_route_is_a_hijack() {
    use netpilot_core::internet::{Connectivity, InternetChange};
    let (backend, service) = service();
    let mut changes = service.internet_events();
    let mut links = brought_up(&service).await;
    service.supervise_internet(InternetWatch {
        every: Duration::from_secs(10),
        ..InternetWatch::default()
    });
    let first = changes.recv().await.unwrap();
    assert_eq!(first.event, InternetChange::Up);
    assert_eq!(first.interface.as_deref(), Some("wlan0"));
    assert_eq!(service.internet_state(), Some(first));

    // The home network goes: its route with it, said at once (no look due for 10 s).
    let gone = Instant::now();
    backend.set_internet(internet(vec![], Connectivity::None));
    let lost = changes.recv().await.unwrap();
    assert_eq!(lost.event, InternetChange::Lost);
    assert!(gone.elapsed() < Duration::from_millis(100));
    assert!(lost.reason.unwrap().contains("no default route"));

    // A cable: up on eth0; the home network back at a lower metric: moved.
    backend.set_internet(internet(vec![route("eth0", 100)], Connectivity::Full));
    let up = changes.recv().await.unwrap();
    assert_eq!(
        (up.event, up.interface.as_deref()),
        (InternetChange::Up, Some("eth0"))
    );
    backend.set_internet(internet(
        vec![route("wlan0", 50), route("eth0", 100)],
        Connectivity::Full,
    ));
    let moved = changes.recv().await.unwrap();
    assert_eq!(moved.event, InternetChange::Moved);
    assert_eq!(moved.from.as_deref(), Some("eth0"));
    assert_eq!(moved.interface.as_deref(), Some("wlan0"));

    // Someone routes everything through the robot's link: a hijack, said to the link
    // once; the internet is still wlan0's.
    backend.set_internet(internet(
        vec![route("wlan1", 10), route("wlan0", 50)],
        Connectivity::Full,
    ));
    let hijack = links.recv().await.unwrap();
    assert_eq!(hijack.event.as_deref(), Some("hijack"));
    assert_eq!(hijack.name, "cozmo");
    assert_eq!(hijack.state, LinkState::Up);
    assert!(hijack.route.unwrap().contains("dev wlan1 metric 10"));
    assert!(
        hijack
            .reason
            .unwrap()
            .contains("sudo ip route del default dev wlan1")
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(links.try_recv().is_err(), "said once");
    assert!(changes.try_recv().is_err(), "the internet did not move");

    // A captive portal.
    backend.set_internet(internet(vec![route("wlan0", 50)], Connectivity::Portal));
    assert_eq!(changes.recv().await.unwrap().event, InternetChange::Portal);
}

/// With a probe: an internet that stops answering behind a link that stays up is lost
/// after two unanswered probes, and up again at the first answer.
#[tokio::test(start_paused = true)]
async fn an_internet_that_stops_answering_is_lost_after_two_probes() {
    use netpilot_core::internet::InternetChange;
    let (backend, service) = service();
    let mut changes = service.internet_events();
    service.supervise_internet(InternetWatch {
        every: Duration::from_secs(1),
        probe: Some("internet.lab:80".into()),
        probe_misses: 2,
        ..InternetWatch::default()
    });
    let up = changes.recv().await.unwrap();
    assert_eq!(up.event, InternetChange::Up);
    assert_eq!(up.probe_ms, Some(20.0));

    let silent = Instant::now();
    backend.internet_unreachable.store(true, Ordering::SeqCst);
    let lost = changes.recv().await.unwrap();
    assert_eq!(lost.event, InternetChange::Lost);
    assert!(lost.reason.unwrap().contains("internet.lab:80"));
    let after = silent.elapsed();
    assert!(
        after >= Duration::from_secs(1) && after <= Duration::from_secs(3),
        "{after:?}"
    );
    backend.internet_unreachable.store(false, Ordering::SeqCst);
    assert_eq!(changes.recv().await.unwrap().event, InternetChange::Up);
}

/// The internet lost by its route and not back by itself: its network is joined again
/// 10 s after the loss, then less and less often, and no more once it is up.
#[tokio::test(start_paused = true)]
async fn an_internet_lost_for_long_is_joined_again_less_and_less_often() {
    use netpilot_core::internet::{Connectivity, InternetChange};
    let (backend, _service, mut changes) = internet_up().await;
    let lost_at = Instant::now();
    backend.set_internet(internet(vec![], Connectivity::None));
    assert_eq!(changes.recv().await.unwrap().event, InternetChange::Lost);
    let rejoins = || backend.internet_rejoins.lock().unwrap().clone();
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert!(rejoins().is_empty(), "NetworkManager has its chance first");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(rejoins(), ["wlan0"]);
    // Then 20 s, 40 s, 60 s, 60 s… apart: at 10, 30, 70 and 130 s in the first three
    // minutes.
    tokio::time::sleep(lost_at + Duration::from_secs(180) - Instant::now()).await;
    assert_eq!(rejoins().len(), 4, "{:?}", rejoins());
    backend.set_internet(internet(vec![route("wlan0", 600)], Connectivity::Full));
    assert_eq!(changes.recv().await.unwrap().event, InternetChange::Up);
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(rejoins().len(), 4, "none once it is up");
}

/// The soak's case: the gateway goes silent first (lost, its route still there), then
/// NetworkManager gives the link up (the route goes): the rejoin follows, 10 s after the
/// route went.
#[tokio::test(start_paused = true)]
async fn a_link_lost_by_its_gateway_then_by_its_route_is_joined_again() {
    use netpilot_core::internet::Connectivity;
    let (backend, service, mut changes) = internet_up().await;
    let _links = brought_up(&service).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    backend.gateway_silent.store(true, Ordering::SeqCst);
    let lost = changes.recv().await.unwrap();
    assert_eq!(lost.interface.as_deref(), Some("wlan0"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    backend.set_internet(internet(vec![], Connectivity::None));
    let route_gone = Instant::now();
    let rejoins = || backend.internet_rejoins.lock().unwrap().clone();
    while rejoins().is_empty() {
        assert!(
            route_gone.elapsed() < Duration::from_secs(30),
            "never joined again: {:?}",
            service.internet_state()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rejoins(), ["wlan0"]);
    assert!(
        route_gone.elapsed() <= Duration::from_secs(11),
        "{:?}",
        route_gone.elapsed()
    );
    assert_eq!(service.internet_state().unwrap().interface, None);
}

/// An access point switched off leaves the routes in place for many seconds: beside a
/// device link, the gateway that stops answering ARP makes the internet lost within 3 s
/// (a period and two timeouts: 2.25 s), and back when it answers.
#[tokio::test(start_paused = true)]
async fn a_gateway_that_stops_answering_makes_the_internet_lost_within_3_s() {
    use netpilot_core::internet::InternetChange;
    let (backend, service, mut changes) = internet_up().await;
    // Without a device link the gateway is not asked.
    backend.gateway_silent.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(changes.try_recv().is_err(), "not asked, not lost");
    backend.gateway_silent.store(false, Ordering::SeqCst);
    let _links = brought_up(&service).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let off = Instant::now();
    backend.gateway_silent.store(true, Ordering::SeqCst);
    let lost = changes.recv().await.unwrap();
    assert_eq!(lost.event, InternetChange::Lost);
    assert_eq!(lost.interface.as_deref(), Some("wlan0"));
    assert!(
        lost.reason
            .unwrap()
            .contains("gateway 192.168.50.1 stopped answering on wlan0")
    );
    assert!(
        off.elapsed() <= Duration::from_millis(2300),
        "{:?}",
        off.elapsed()
    );
    backend.gateway_silent.store(false, Ordering::SeqCst);
    assert_eq!(changes.recv().await.unwrap().event, InternetChange::Up);
    assert!(
        backend.internet_rejoins.lock().unwrap().is_empty(),
        "its route is still there"
    );
}
