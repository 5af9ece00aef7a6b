//! The internet link, supervised beside the device links: which link holds the default
//! route (followed through the kernel's route events, not polled), whether its gateway
//! still answers ARP on it while a device link is up (an access point switched off
//! leaves the routes in place for many seconds), NetworkManager's connectivity verdict and, when asked, a probe through
//! that link; each change is an `internet` event. A default route on a device link is a hijack: the internet would go
//! to the device, and that link is told (a `device` event `hijack`).

use super::DeviceService;
use netpilot_core::device::{DeviceEvent, InternetLink, LinkState};
use netpilot_core::internet::{Connectivity, InternetChange, InternetEvent, InternetNow};
use netpilot_core::ports::{DeviceBackend, RouteWatch};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How often the internet is looked at when no device link is up and no probe is asked
/// for (a route's change is still seen at once).
const IDLE_EVERY: Duration = Duration::from_secs(10);

/// After a missed answer the next look comes this soon, not a whole period later: a lost
/// gateway is then said within a period and two timeouts (2.25 s by default).
const CONFIRM_AFTER: Duration = Duration::from_millis(250);

/// How the internet is watched.
#[derive(Debug, Clone)]
pub struct InternetWatch {
    /// Looked at again this often when no route changed (the gateway, NetworkManager's
    /// verdict, the probe); a route's change is looked at at once.
    pub every: Duration,
    /// Gateway or probe answers missed in a row before the internet is lost.
    pub gateway_misses: u32,
    /// `HOST:PORT`, probed through the internet's link at each look, when set.
    pub probe: Option<String>,
    /// Probes unanswered in a row before the internet is lost.
    pub probe_misses: u32,
    /// Lost with no route for this long (NetworkManager had its chance), its WiFi
    /// network is joined again; then again after twice as long, up to `rejoin_at_most`.
    pub rejoin_after: Duration,
    pub rejoin_at_most: Duration,
}

impl Default for InternetWatch {
    fn default() -> Self {
        InternetWatch {
            every: Duration::from_secs(1),
            gateway_misses: 2,
            probe: None,
            probe_misses: 2,
            rejoin_after: Duration::from_secs(10),
            rejoin_at_most: Duration::from_secs(60),
        }
    }
}

/// The internet as one look found it.
#[derive(Debug, Clone, PartialEq)]
struct Judged {
    state: InternetChange,
    route: Option<InternetLink>,
    connectivity: Connectivity,
    portal_url: Option<String>,
    probe_ms: Option<f64>,
    reason: Option<String>,
}

/// The change from `last` to `now`, if any: `moved` when the internet stays up on
/// another link; a reason or latency that changed alone is no change.
fn change(last: Option<&InternetEvent>, now: &Judged) -> Option<InternetChange> {
    let Some(last) = last else {
        return Some(now.state);
    };
    let was_up = matches!(last.event, InternetChange::Up | InternetChange::Moved);
    let interface = now.route.as_ref().map(|r| r.interface.as_str());
    match now.state {
        InternetChange::Up if was_up && last.interface.as_deref() == interface => None,
        InternetChange::Up if was_up => Some(InternetChange::Moved),
        state if state == last.event => None,
        state => Some(state),
    }
}

impl<B: DeviceBackend> DeviceService<B> {
    /// The internet's changes from now on.
    pub fn internet_events(&self) -> broadcast::Receiver<InternetEvent> {
        self.internet_events.subscribe()
    }

    /// The last change: what the internet is now (`None` before the first look).
    pub fn internet_state(&self) -> Option<InternetEvent> {
        self.internet
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Follows the internet for as long as the service lasts.
    pub fn supervise_internet(self: &Arc<Self>, watch: InternetWatch) {
        let service = Arc::clone(self);
        tokio::spawn(async move { service.follow_internet(watch).await });
    }

    async fn follow_internet(self: Arc<Self>, watch: InternetWatch) {
        let mut routes = match self.backend.watch_routes() {
            Ok(routes) => Some(routes),
            Err(error) => {
                tracing::warn!(%error, "cannot follow the default routes; the internet is looked at every {:?}", watch.every);
                None
            }
        };
        let mut misses = Misses::default();
        let mut hijacks = HashSet::new();
        let mut rejoin = Rejoin::new(&watch);
        loop {
            match self.backend.internet_now().await {
                Ok(now) => {
                    self.report_hijacks(&now.routes, &mut hijacks);
                    let judged = self.judge(now, &watch, &mut misses).await;
                    if let Some(judged) = judged {
                        self.record(judged);
                    }
                    self.rejoin_if_given_up(&mut rejoin).await;
                }
                Err(error) => tracing::debug!(%error, "the internet is not looked at"),
            }
            // Soon after a miss (to confirm it); beside a device link, every second; else
            // NetworkManager's verdict (and the probe, when asked) is looked at less often:
            // routes are followed either way.
            let every = if misses.gateway > 0 || misses.probe > 0 {
                watch.every.min(CONFIRM_AFTER)
            } else if self.claims.borrow().is_empty() && watch.probe.is_none() {
                watch.every.max(IDLE_EVERY)
            } else {
                watch.every
            };
            let wait = tokio::time::sleep(every);
            match routes.as_mut() {
                Some(watch_routes) => tokio::select! {
                    changed = watch_routes.changed() => if changed.is_none() {
                        routes = None;
                    },
                    () = wait => {}
                },
                None => wait.await,
            }
        }
    }

    /// The internet as `now` shows it; `None` while the misses of the gateway or the
    /// probe are not yet enough to say it is lost (nothing changes).
    async fn judge(
        &self,
        now: InternetNow,
        watch: &InternetWatch,
        misses: &mut Misses,
    ) -> Option<Judged> {
        let links: Vec<String> = self
            .claims
            .borrow()
            .iter()
            .map(|c| c.interface.clone())
            .collect();
        // A device link's default route is a hijack, not the internet.
        let route = now
            .routes
            .into_iter()
            .find(|r| !links.contains(&r.interface));
        let mut judged = Judged {
            state: InternetChange::Up,
            route,
            connectivity: now.connectivity,
            portal_url: now.portal_url,
            probe_ms: None,
            reason: None,
        };
        let Some(route) = judged.route.clone() else {
            *misses = Misses::default();
            judged.state = InternetChange::Lost;
            judged.reason = Some("no default route: no link carries the internet".into());
            return Some(judged);
        };
        // Asked only beside a device link, where a lost internet must be known at once; a
        // machine without one is not made to send a frame a second for it.
        let gateway = route
            .gateway
            .as_deref()
            .and_then(|g| g.parse::<std::net::Ipv4Addr>().ok())
            .filter(|_| !links.is_empty());
        if let Some(gateway) = gateway {
            let timeout = Duration::from_millis(500);
            match self
                .backend
                .probe_gateway(&route.interface, gateway, timeout)
                .await
            {
                Ok(_) => misses.gateway = 0,
                // A link ARP cannot ask on (a tunnel, PPP): its gateway is not checked.
                Err(error) if error.code != netpilot_core::ErrorCode::Timeout => {
                    misses.gateway = 0;
                    tracing::trace!(%error, "the internet's gateway is not checked");
                }
                Err(_) => {
                    misses.gateway += 1;
                    if misses.gateway < watch.gateway_misses {
                        return None;
                    }
                    judged.state = InternetChange::Lost;
                    judged.reason = Some(format!(
                        "the gateway {gateway} stopped answering on {}",
                        route.interface
                    ));
                    return Some(judged);
                }
            }
        }
        match now.connectivity {
            Connectivity::None => {
                judged.state = InternetChange::Lost;
                judged.reason = Some(format!(
                    "NetworkManager finds no network behind {}",
                    route.interface
                ));
                return Some(judged);
            }
            Connectivity::Portal => {
                judged.state = InternetChange::Portal;
                return Some(judged);
            }
            _ => {}
        }
        let Some(target) = &watch.probe else {
            return Some(judged);
        };
        // Bounded here too: a name that does not resolve can take the resolver's own
        // timeouts (seconds) whatever the probe's.
        let timeout = Duration::from_secs(2);
        let probed = tokio::time::timeout(
            timeout + Duration::from_millis(500),
            self.backend
                .probe_internet(target, &route.interface, timeout),
        )
        .await
        .unwrap_or_else(|_| {
            Err(netpilot_core::Error::new(
                netpilot_core::ErrorCode::Timeout,
                format!(
                    "{target} did not answer on {} within {timeout:?}",
                    route.interface
                ),
            ))
        });
        match probed {
            Ok(rtt) => {
                misses.probe = 0;
                judged.probe_ms = Some((rtt.as_secs_f64() * 10_000.0).round() / 10.0);
                Some(judged)
            }
            Err(error) => {
                misses.probe += 1;
                if misses.probe < watch.probe_misses {
                    return None;
                }
                judged.state = InternetChange::Lost;
                judged.reason = Some(error.message);
                Some(judged)
            }
        }
    }

    /// Lost by its route for long enough: NetworkManager may have given up on the link
    /// (an interrupted handshake looks like a wrong password to it), so its network is
    /// joined again, less and less often.
    async fn rejoin_if_given_up(&self, rejoin: &mut Rejoin) {
        let state = self.internet_state();
        match state.as_ref().map(|s| (s.event, s.interface.as_deref())) {
            Some((InternetChange::Up | InternetChange::Moved, Some(interface))) => {
                rejoin.up_on(interface);
                return;
            }
            Some((InternetChange::Lost, None)) => {}
            _ => return,
        }
        let Some(interface) = rejoin.due() else {
            return;
        };
        match self.backend.rejoin_internet(&interface).await {
            Ok(Some(ssid)) => {
                tracing::info!(%interface, %ssid, "the internet stayed lost: joining its network again")
            }
            Ok(None) => {
                tracing::debug!(%interface, "the internet stayed lost; nothing to join again")
            }
            Err(error) => {
                tracing::debug!(%interface, %error, "the internet's network is not joined again")
            }
        }
    }

    /// Keeps `judged` as the internet's state, and says so when it changed.
    fn record(&self, judged: Judged) {
        let mut last = self.internet.lock().unwrap_or_else(|p| p.into_inner());
        let Some(event) = change(last.as_ref(), &judged) else {
            // The same state: keep its latency fresh for `status`, and, still lost, where
            // it is lost: a link whose gateway went silent loses its route later, and the
            // rejoin waits for that.
            if let Some(last) = last.as_mut() {
                last.probe_ms = judged.probe_ms.or(last.probe_ms);
                if last.event == InternetChange::Lost {
                    last.interface = judged.route.as_ref().map(|r| r.interface.clone());
                    last.gateway = judged.route.as_ref().and_then(|r| r.gateway.clone());
                }
            }
            return;
        };
        let from = match event {
            InternetChange::Moved => last.as_ref().and_then(|l| l.interface.clone()),
            _ => None,
        };
        let happened = InternetEvent {
            event,
            interface: judged.route.as_ref().map(|r| r.interface.clone()),
            gateway: judged.route.and_then(|r| r.gateway),
            from,
            connectivity: judged.connectivity,
            portal_url: judged.portal_url,
            probe_ms: judged.probe_ms,
            reason: judged.reason,
            at_ms: (self.clock)(),
        };
        tracing::info!(event = ?happened.event, interface = happened.interface.as_deref().unwrap_or(""), reason = happened.reason.as_deref().unwrap_or(""), "internet");
        *last = Some(happened.clone());
        drop(last);
        let _ = self.internet_events.send(happened);
    }

    /// A default route on a device link's interface: said once per route, to that link.
    fn report_hijacks(&self, routes: &[InternetLink], reported: &mut HashSet<String>) {
        let claims = self.claims.borrow().clone();
        let mut seen = HashSet::new();
        for route in routes {
            let Some(claim) = claims.iter().find(|c| c.interface == route.interface) else {
                continue;
            };
            let text = format!(
                "default{} dev {} metric {}",
                route
                    .gateway
                    .as_deref()
                    .map(|g| format!(" via {g}"))
                    .unwrap_or_default(),
                route.interface,
                route.metric
            );
            seen.insert(text.clone());
            if !reported.insert(text.clone()) {
                continue;
            }
            let reason = format!(
                "a default route on the device link ({text}): the internet would go to the \
                 device; remove it: sudo ip route del default dev {}",
                route.interface
            );
            tracing::warn!(name = %claim.link, route = %text, "a device link holds a default route");
            let state = self
                .with_live(&claim.link, |live| live.state)
                .unwrap_or(LinkState::Up);
            let _ = self.events.send(DeviceEvent {
                name: claim.link.clone(),
                state,
                reason: Some(reason),
                event: Some("hijack".into()),
                route: Some(text),
                at_ms: (self.clock)(),
            });
        }
        reported.retain(|r| seen.contains(r));
    }
}

/// Answers missed in a row, of the gateway and of the probe.
#[derive(Default)]
struct Misses {
    gateway: u32,
    probe: u32,
}

/// When to join the internet's network again while it stays lost.
struct Rejoin {
    first: Duration,
    longest: Duration,
    /// The link the internet was last up on.
    interface: Option<String>,
    next: Option<tokio::time::Instant>,
    wait: Duration,
}

impl Rejoin {
    fn new(watch: &InternetWatch) -> Rejoin {
        Rejoin {
            first: watch.rejoin_after,
            longest: watch.rejoin_at_most,
            interface: None,
            next: None,
            wait: watch.rejoin_after,
        }
    }

    fn up_on(&mut self, interface: &str) {
        self.interface = Some(interface.to_string());
        self.next = None;
        self.wait = self.first;
    }

    /// The link to join again, when it is time (the first time `first` after the loss).
    fn due(&mut self) -> Option<String> {
        let interface = self.interface.clone()?;
        let now = tokio::time::Instant::now();
        let next = *self.next.get_or_insert(now + self.first);
        if now < next {
            return None;
        }
        self.wait = (self.wait * 2).min(self.longest);
        self.next = Some(now + self.wait);
        Some(interface)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(state: InternetChange, interface: &str) -> Judged {
        Judged {
            state,
            route: (!interface.is_empty()).then(|| InternetLink {
                interface: interface.into(),
                gateway: None,
                metric: 600,
            }),
            connectivity: Connectivity::Full,
            portal_url: None,
            probe_ms: None,
            reason: None,
        }
    }

    fn event(change: InternetChange, interface: &str) -> InternetEvent {
        InternetEvent {
            event: change,
            interface: (!interface.is_empty()).then(|| interface.into()),
            gateway: None,
            from: None,
            connectivity: Connectivity::Full,
            portal_url: None,
            probe_ms: None,
            reason: None,
            at_ms: 0,
        }
    }

    #[test]
    fn changes_are_up_lost_moved_and_portal_and_nothing_else() {
        use InternetChange::*;
        // The first look is said, whatever it found.
        assert_eq!(change(None, &judged(Up, "wlan0")), Some(Up));
        assert_eq!(change(None, &judged(Lost, "")), Some(Lost));
        // Still up on the same link: nothing (a new latency is no change).
        assert_eq!(
            change(Some(&event(Up, "wlan0")), &judged(Up, "wlan0")),
            None
        );
        assert_eq!(
            change(Some(&event(Moved, "eth0")), &judged(Up, "eth0")),
            None
        );
        // Up on another link: moved.
        assert_eq!(
            change(Some(&event(Up, "wlan0")), &judged(Up, "eth0")),
            Some(Moved)
        );
        // Lost, back, a portal.
        assert_eq!(
            change(Some(&event(Up, "wlan0")), &judged(Lost, "")),
            Some(Lost)
        );
        assert_eq!(change(Some(&event(Lost, "")), &judged(Lost, "")), None);
        assert_eq!(
            change(Some(&event(Lost, "")), &judged(Up, "wlan0")),
            Some(Up)
        );
        assert_eq!(
            change(Some(&event(Up, "wlan0")), &judged(Portal, "wlan0")),
            Some(Portal)
        );
        assert_eq!(
            change(Some(&event(Portal, "wlan0")), &judged(Up, "wlan0")),
            Some(Up)
        );
    }
}
