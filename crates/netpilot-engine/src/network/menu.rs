//! The menu's fields of the `network` state (the WiFi switch, networks in range, saved
//! networks, the wired link, connectivity, the hotspot): from the backend's [`Menu`], a look
//! of its own taken a moment after NetworkManager says something in it changed, so a burst
//! of changes (a scan's results arrive access point by access point) costs one look.

use super::handle::Reply;
use super::service::{Internal, Service};
use crate::radios;
use netpilot_core::menu::{Menu, NetworkInfo, RadioSwitch, networks_differ, signal_moved};
use netpilot_core::network::NetworkState;
use netpilot_core::ports::{ProfileChange, WifiBackend};
use netpilot_core::wifi::DeviceState;
use netpilot_core::{Error, ErrorCode};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long after a change the menu is looked at: the changes of one scan arrive within it.
pub const MENU_SETTLE: Duration = Duration::from_millis(250);

/// A signal moving by fewer points than this is no news: the state holds it, no event
/// is sent for it alone.
pub const SIGNAL_NEWS: u8 = 5;

/// A look that takes longer has failed (NetworkManager stuck): state events never wait on
/// it for ever.
const LOOK_WITHIN: Duration = Duration::from_secs(10);

/// The backend's menu, or a timeout's error.
async fn look<B: WifiBackend>(backend: &B) -> Result<Menu, Error> {
    tokio::time::timeout(LOOK_WITHIN, backend.menu())
        .await
        .unwrap_or_else(|_| {
            Err(Error::new(
                ErrorCode::Timeout,
                format!(
                    "NetworkManager did not answer within {} s",
                    LOOK_WITHIN.as_secs()
                ),
            ))
        })
}

impl<B: WifiBackend> Service<B> {
    /// Something in the menu changed: a look in a moment (one for a whole burst).
    pub(super) fn menu_changed(&mut self) {
        if self.menu.due.is_none() {
            self.menu.due = Some(Instant::now() + MENU_SETTLE);
        }
    }

    /// Looks at the menu now; single-flight, like the radios' refresh.
    pub(super) fn look_at_menu(&mut self) {
        self.menu.due = None;
        if self.menu.looking {
            self.menu.again = true;
            return;
        }
        self.menu.looking = true;
        self.menu.started += 1;
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let _ = internal.send(Internal::Menu(look(&*backend).await)).await;
        });
    }

    /// The radios and the menu at once, in one look (a radio connected or left: which
    /// access point it is on changed too), so that one state event says both.
    pub(super) fn refresh_with_menu(&mut self) {
        // State events wait for the look that starts now, or next (a connected radio's
        // state, then its access point a moment later, would be two events for one change).
        self.menu.hold_until = Some(self.menu.started + 1);
        if self.refreshing || self.menu.looking {
            self.refresh();
            self.look_at_menu();
            return;
        }
        self.refreshing = true;
        self.menu.looking = true;
        self.menu.started += 1;
        self.menu.due = None;
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let (snapshot, menu) = tokio::join!(backend.snapshot(), look(&*backend));
            let _ = internal.send(Internal::Both { snapshot, menu }).await;
        });
    }

    pub(super) fn apply_menu(&mut self, menu: Result<Menu, Error>) {
        let first = self.store_menu(menu);
        self.roles_changed();
        self.menu_settled(first);
    }

    /// Keeps a look's answer; whether it is the first. (The state is worked out by the
    /// caller, then `menu_settled`.)
    pub(super) fn store_menu(&mut self, menu: Result<Menu, Error>) -> bool {
        self.menu.looking = false;
        match menu {
            Ok(menu) => self.menu.last = menu,
            // NetworkManager left between two looks: what was known stays.
            Err(error) => tracing::debug!(%error, "no menu"),
        }
        let first = !self.menu.seen;
        self.menu.seen = true;
        // The look that came back is the last one started (one is out at a time).
        if self
            .menu
            .hold_until
            .is_some_and(|look| self.menu.started >= look)
        {
            self.menu.hold_until = None;
        }
        if std::mem::take(&mut self.menu.again) {
            self.look_at_menu();
        }
        first
    }

    /// Whether state events wait: a look asked for with the radios is still out.
    pub(super) fn events_held(&self) -> bool {
        self.menu.hold_until.is_some()
    }

    /// Both first looks (the radios' and the menu's) are back: the state means something.
    pub(super) fn looked_once(&self) -> bool {
        self.snapshot.is_some() && self.menu.seen
    }

    /// Answers who waited for the first looks, once both are back.
    pub(super) fn answer_waiting(&mut self) {
        if !self.looked_once() {
            return;
        }
        for waiting in std::mem::take(&mut self.menu.waiting) {
            let _ = waiting.send(self.state.clone());
        }
        for (ssid, reply) in std::mem::take(&mut self.menu.waiting_info) {
            let _ = reply.send(self.info(&ssid));
        }
        for command in std::mem::take(&mut self.menu.deferred) {
            self.on_command(command);
        }
    }

    /// After the first look: who waited for it is answered, and state events may go.
    pub(super) fn menu_settled(&mut self, first: bool) {
        self.answer_waiting();
        if first {
            // State events wait for the first look (a menu of nothing is no state).
            self.changed();
        }
    }

    /// `network.info`: from the last look.
    pub(super) fn info(&self, ssid: &str) -> Result<NetworkInfo, Error> {
        self.menu.last.info(ssid).ok_or_else(|| {
            Error::new(
                ErrorCode::NotFound,
                format!("{ssid:?} is neither in range nor saved"),
            )
            .with_hint(
                "netpilot wifi list shows the networks in range (a hidden one only once joined)",
            )
        })
    }

    /// Turns WiFi on, off, or the other way round; the menu is looked at again after.
    pub(super) fn set_wifi(&mut self, enabled: Option<bool>, reply: Reply<RadioSwitch>) {
        let enabled = enabled.unwrap_or(!self.menu.last.radio.enabled);
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let _ = reply.send(backend.set_wifi_enabled(enabled).await);
            let _ = internal.send(Internal::MenuStale).await;
        });
    }

    /// Changes a saved network's profiles; the menu is looked at again after.
    pub(super) fn change_saved(&mut self, ssid: String, change: ProfileChange, reply: Reply<u32>) {
        let backend = Arc::clone(&self.backend);
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let _ = reply.send(backend.change_saved(&ssid, change).await);
            let _ = internal.send(Internal::MenuStale).await;
        });
    }

    /// The menu's fields of the state, with the radios' roles as they are now.
    pub(super) fn fill_menu_fields(&mut self, default_routes: &[String]) {
        let menu = &self.menu.last;
        let state = &mut self.state;
        state.wifi_enabled = menu.radio.enabled;
        state.wifi_hardware_blocked = menu.radio.hardware_blocked;
        let internet = radios::internet(&state.wifi_devices)
            .filter(|r| r.state == DeviceState::Connected)
            .map(|r| r.interface.clone());
        let access_point = internet.and_then(|interface| {
            menu.access_points
                .iter()
                .find(|ap| ap.interface == interface && ap.in_use)
        });
        state.wifi_signal = access_point.map_or(0, |ap| ap.signal);
        state.wifi_bssid = access_point.map(|ap| ap.bssid.clone()).unwrap_or_default();
        state.wifi_frequency = access_point.map_or(0, |ap| ap.frequency_mhz);
        state.wifi_networks = menu.networks();
        state.saved_wifi_networks = menu.saved_networks();
        state.ethernet = menu.ethernet(default_routes);
        state.connectivity = menu.connectivity;
        state.portal_url = menu.portal_url.clone().unwrap_or_default();
        state.hotspot = menu.hotspots.first().cloned();
    }
}

/// The menu's look and who waits for it.
#[derive(Default)]
pub(super) struct MenuLook {
    pub(super) last: Menu,
    /// The first look has answered (or failed): state events and `status` wait for it.
    pub(super) seen: bool,
    /// `status` and `info` callers waiting for the first look.
    pub(super) waiting: Vec<tokio::sync::oneshot::Sender<NetworkState>>,
    pub(super) waiting_info: Vec<(String, Reply<NetworkInfo>)>,
    /// Other commands that act on what the first looks find.
    pub(super) deferred: Vec<super::handle::Command>,
    /// When to look next (a change was reported).
    pub(super) due: Option<Instant>,
    pub(super) looking: bool,
    pub(super) again: bool,
    /// Looks started so far; state events wait until this one is back (see
    /// `refresh_with_menu`).
    pub(super) started: u64,
    pub(super) hold_until: Option<u64>,
    /// Scans asked for without waiting, not finished yet: signal-driven looks wait for
    /// them (their results come radio by radio).
    pub(super) scanning: usize,
}

/// Whether `now` is news to a UI that was last sent `sent`: anything but signals moving
/// by fewer than [`SIGNAL_NEWS`] points.
pub(super) fn is_news(sent: &NetworkState, now: &NetworkState) -> bool {
    let quiet = |s: &NetworkState| NetworkState {
        wifi_signal: 0,
        wifi_networks: Vec::new(),
        ..s.clone()
    };
    quiet(sent) != quiet(now)
        || signal_moved(sent.wifi_signal, now.wifi_signal, SIGNAL_NEWS)
        || networks_differ(&sent.wifi_networks, &now.wifi_networks, SIGNAL_NEWS)
}
