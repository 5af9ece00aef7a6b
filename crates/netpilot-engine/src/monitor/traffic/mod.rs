//! `netpilot traffic`: exact per-process TCP throughput from the kernel's own per-socket
//! counters (`tcp_info` `bytes_acked` / `bytes_received`), without packet capture.
//!
//! Each sample dumps the sockets with their counters and charges the growth of each
//! socket's counters since the previous sample to the process holding it. Sockets are
//! tracked by cookie, so a socket whose process closed it (inode 0, FIN-WAIT) is still
//! charged to that process, and the final counters the kernel broadcasts when it frees a
//! socket ([`ClosedSocketFeed`]) account for the bytes it moved after the last sample.
//! While the namespace's TCP counters stand still, nothing can have moved, and the
//! connected sockets of the last dump are reused instead of dumped again.
//!
//! UDP (and every other protocol) is counted by the kernel per socket cookie, interface
//! and remote end ([`FlowSource`], the eBPF packet counter): the growth of each flow is
//! charged to the process holding the socket with that cookie. The same counts, as IP
//! bytes on each interface, say how much of an interface's traffic was attributed
//! (see `reconcile`).
//!
//! Files: this one (the meter, TCP and destroy notices, the socket bookkeeping), `udp` (the
//! packet counter's share), `report` (the sample as reported), `tests`.

use super::connections::{connection, sort_key};
use super::fastmap::FastMap;
use super::flows::{FlowLedger, Growth};
use super::names::Names;
use super::owners::SocketOwners;
use super::views::{Endpoint, Moved, TrafficViews};
use netpilot_core::ports::{
    ClosedSocket, ClosedSocketFeed, FlowSource, ProcessSource, SocketQuery, SocketSource,
};
use netpilot_core::{
    Connection, ConnectionCounts, ConnectionTraffic, Error, ErrorCode, Flow, FlowKey,
    ProcessTraffic, Protocol, RemoteTraffic, Socket, SocketState, UnattributedTraffic, Visibility,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `IPPROTO_UDP` and `IPPROTO_UDPLITE`: flows whose payload is UDP's.
const UDP_PROTOCOLS: [u8; 2] = [17, 136];

/// A socket missing from the dump is kept this many samples for a late destroy notice.
const KEEP_VANISHED: u64 = 3;

/// One report of [`TrafficMeter::sample`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrafficSample {
    /// Time since the previous sample; `None` for the first, which only sets the baseline.
    pub interval: Option<Duration>,
    /// Processes holding sockets, busiest first.
    pub processes: Vec<ProcessTraffic>,
    pub unattributed: UnattributedTraffic,
    /// Whether destroy notices are received, so closing sockets lose no bytes.
    pub closed_sockets_tracked: bool,
    /// Destroy notices the kernel dropped since the last sample (buffer overrun).
    pub lost_notices: u64,
    pub visibility: Visibility,
    /// Whether UDP bytes are counted, and if not, why.
    pub udp: UdpStatus,
    /// Traffic per connection (TCP connections; UDP sockets per remote end), busiest first.
    pub connections: Vec<ConnectionTraffic>,
    /// Traffic per remote host, busiest first (names are for the caller to add).
    pub remotes: Vec<RemoteTraffic>,
    /// IP bytes of this namespace's sockets on each interface since sampling began, for
    /// the reconciliation with the interfaces' own counters.
    pub interface_shares: Vec<InterfaceShare>,
}

/// Whether the packet counter runs.
#[derive(Debug, Clone, PartialEq)]
pub enum UdpStatus {
    Measured {
        /// Packets the kernel could not count since it started (its flow table was full).
        missed_packets: u64,
    },
    /// Why not, and what would fix it (`Error::hint`).
    NotMeasured(Error),
}

/// IP bytes (both directions) that crossed interface `ifindex` since sampling began, of
/// sockets whose process is known and of sockets with no process netpilot could see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterfaceShare {
    pub ifindex: u32,
    pub to_processes: u64,
    pub to_sockets_without_process: u64,
}

/// Stands in for a packet counter where there is none.
#[derive(Debug, Default)]
pub struct NoFlows;

impl FlowSource for NoFlows {
    fn flows(&mut self) -> Result<Vec<Flow>, Error> {
        Ok(Vec::new())
    }
    fn forget(&mut self, _: &[FlowKey]) {}
    fn missed(&mut self) -> u64 {
        0
    }
    fn this_namespace_only(&self) -> bool {
        false
    }
}

/// The packet counter, or why there is none.
enum Udp<C> {
    Measured(FlowLedger<C>),
    NotMeasured(Error),
}

/// Payload counters of a socket as last charged.
#[derive(Debug, Clone, Copy)]
struct Tracked {
    sent: u64,
    received: u64,
    /// Raw `bytes_received` (payload plus the peer's FIN once it arrived).
    received_raw: u64,
    peer_fin_counted: bool,
    owner: Option<u32>,
    seen_in: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bytes {
    rx: u64,
    tx: u64,
}

#[derive(Debug, Default)]
struct Usage {
    interval: Bytes,
    udp: Bytes,
    udp_dropped: u64,
    connections: ConnectionCounts,
    udp_sockets: u32,
    uid: Option<u32>,
}

/// A process's totals since sampling began.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    all: Bytes,
    udp: Bytes,
    udp_dropped: u64,
}

pub struct TrafficMeter<S, P, F, C = NoFlows> {
    sockets: S,
    procs: P,
    closed: Option<F>,
    udp: Udp<C>,
    views: TrafficViews,
    /// What was known of each socket with flows when last dumped, for flows read after
    /// it closed.
    flow_sockets: FastMap<u64, Endpoint>,
    /// Each UDP socket's drop counter at the last sample.
    udp_drops: FastMap<u64, u32>,
    /// IP bytes per interface since sampling began: (to processes, to sockets without).
    shares: FastMap<u32, (u64, u64)>,
    users: FastMap<u32, Option<Arc<str>>>,
    owners: SocketOwners,
    tracked: FastMap<u64, Tracked>,
    /// Cookies of sockets already settled (destroyed, or vanished), with the sample that
    /// settled them: a notice for one of them must not be charged again as a new socket.
    settled: FastMap<u64, u64>,
    totals: FastMap<u32, Totals>,
    /// Names of processes holding sockets, read once per pid (and kept for one that exits
    /// mid-interval).
    names: FastMap<u32, String>,
    unattributed_total: Bytes,
    last_sample: Option<Instant>,
    /// Dumps of the connected TCP sockets so far.
    round: u64,
    /// `tcp_activity` at the last sample.
    activity: Option<u64>,
    /// The connected (non-listening) TCP sockets of the last dump, with their per-process
    /// counts, reused while TCP is quiet.
    connected: Vec<Socket>,
    /// Cookie → index in `connected`, of the cookies the flows name (a map of every one
    /// of 40,000 sockets each second would cost more than the rest of a sample).
    connected_index: FastMap<u64, usize>,
    /// Cookie → index in `waiting`, rebuilt each sample.
    waiting_index: FastMap<u64, usize>,
    connected_counts: FastMap<u32, ConnectionCounts>,
    connected_unattributed: u32,
    /// The listening TCP and the UDP sockets of the last sample.
    waiting: Vec<Socket>,
}

/// TCP sockets that can carry data, with their byte counters.
fn connected_tcp() -> SocketQuery {
    let states = SocketState::ALL
        .into_iter()
        .filter(|&s| s != SocketState::Listen)
        .collect();
    SocketQuery {
        protocols: vec![Protocol::Tcp],
        states: Some(states),
        tcp_counters: true,
    }
}

fn listening_tcp() -> SocketQuery {
    SocketQuery {
        protocols: vec![Protocol::Tcp],
        states: Some(vec![SocketState::Listen]),
        tcp_counters: false,
    }
}

fn all_udp() -> SocketQuery {
    SocketQuery {
        protocols: vec![Protocol::Udp],
        states: None,
        tcp_counters: false,
    }
}

impl<S, P, F> TrafficMeter<S, P, F, NoFlows>
where
    S: SocketSource,
    P: ProcessSource,
    F: ClosedSocketFeed,
{
    /// `closed` is `None` where destroy notices are unavailable; bytes a socket moves
    /// between the last sample and its close are then lost. UDP bytes are not measured
    /// until a packet counter is given ([`TrafficMeter::with_flows`]).
    pub fn new(sockets: S, procs: P, closed: Option<F>) -> Self {
        TrafficMeter {
            sockets,
            procs,
            closed,
            udp: Udp::NotMeasured(Error::new(
                ErrorCode::Unsupported,
                "UDP bytes are not measured: no packet counter was started",
            )),
            views: TrafficViews::default(),
            flow_sockets: FastMap::default(),
            udp_drops: FastMap::default(),
            shares: FastMap::default(),
            users: FastMap::default(),
            owners: SocketOwners::default(),
            tracked: FastMap::default(),
            settled: FastMap::default(),
            totals: FastMap::default(),
            names: FastMap::default(),
            unattributed_total: Bytes::default(),
            last_sample: None,
            round: 0,
            activity: None,
            connected: Vec::new(),
            connected_index: FastMap::default(),
            waiting_index: FastMap::default(),
            connected_counts: FastMap::default(),
            connected_unattributed: 0,
            waiting: Vec::new(),
        }
    }

    /// Counts UDP (and every protocol's bytes per interface) with `counter`, or says why
    /// not: the error of starting it (no privileges, no kernel support, not built in).
    pub fn with_flows<C: FlowSource>(self, counter: Result<C, Error>) -> TrafficMeter<S, P, F, C> {
        TrafficMeter {
            udp: match counter {
                Ok(counter) => Udp::Measured(FlowLedger::new(counter)),
                Err(why) => Udp::NotMeasured(why),
            },
            sockets: self.sockets,
            procs: self.procs,
            closed: self.closed,
            views: self.views,
            flow_sockets: self.flow_sockets,
            udp_drops: self.udp_drops,
            shares: self.shares,
            users: self.users,
            owners: self.owners,
            tracked: self.tracked,
            settled: self.settled,
            totals: self.totals,
            names: self.names,
            unattributed_total: self.unattributed_total,
            last_sample: self.last_sample,
            round: self.round,
            activity: self.activity,
            connected: self.connected,
            connected_index: self.connected_index,
            waiting_index: self.waiting_index,
            connected_counts: self.connected_counts,
            connected_unattributed: self.connected_unattributed,
            waiting: self.waiting,
        }
    }
}

impl<S, P, F, C> TrafficMeter<S, P, F, C>
where
    S: SocketSource,
    P: ProcessSource,
    F: ClosedSocketFeed,
    C: FlowSource,
{
    /// Whether destroy notices are received.
    pub fn closed_sockets_tracked(&self) -> bool {
        self.closed.is_some()
    }

    /// The packet counter, when it runs.
    pub fn flows(&self) -> Option<&C> {
        match &self.udp {
            Udp::Measured(ledger) => Some(ledger.source()),
            Udp::NotMeasured(_) => None,
        }
    }

    /// Takes a sample at `now` and reports the traffic since the previous one.
    pub fn sample(&mut self, now: Instant) -> Result<TrafficSample, Error> {
        let baseline = self.last_sample.is_none();
        // The packet counter is read before the sockets are dumped: a flow whose socket
        // is missing from the dump then had all its packets in this read or the next.
        let grown = match &mut self.udp {
            Udp::Measured(ledger) => match ledger.read(baseline) {
                Ok(grown) => grown,
                Err(why) => {
                    self.udp = Udp::NotMeasured(why);
                    Vec::new()
                }
            },
            Udp::NotMeasured(_) => Vec::new(),
        };
        // Every TCP byte, open and close moves the namespace's TCP segment counters. While
        // they stand still the connections dumped last time are exactly as they were, and
        // dumping 40,000 idle sockets every second would be nearly all of our cost.
        let activity = self.sockets.tcp_activity();
        let quiet = !baseline && activity.is_some() && activity == self.activity;
        self.activity = activity;
        if !quiet {
            self.connected = self.sockets.sockets(&connected_tcp())?;
        }
        // Listeners and UDP sockets come and go without a TCP segment: always dumped.
        let mut waiting = self.sockets.sockets(&listening_tcp())?;
        waiting.extend(self.sockets.sockets(&all_udp())?);
        let fresh = if quiet { &[][..] } else { &self.connected[..] };
        self.owners
            .refresh(&self.procs, fresh.iter().chain(&waiting));

        let mut usage: FastMap<u32, Usage> = FastMap::default();
        let mut unattributed = Bytes::default();
        if quiet {
            for (&pid, &connections) in &self.connected_counts {
                usage.entry(pid).or_default().connections = connections;
            }
        } else {
            self.round += 1;
            let connected = std::mem::take(&mut self.connected);
            self.connected_unattributed = 0;
            for socket in &connected {
                let owner = self.owner(socket);
                match owner {
                    Some(pid) => count_socket(usage.entry(pid).or_default(), socket),
                    None if socket.inode != 0 => self.connected_unattributed += 1,
                    None => {}
                }
                let moved = self.charge_live(socket, owner, baseline);
                charge(&mut usage, &mut unattributed, owner, moved);
                if let Some(remote) = socket.remote {
                    let endpoint = endpoint_of(socket, remote, owner);
                    self.views.charge(socket.cookie, &endpoint, moved.into());
                }
            }
            self.connected = connected;
            self.connected_counts = usage.iter().map(|(&pid, u)| (pid, u.connections)).collect();
        }
        let mut visibility = Visibility {
            unattributed_sockets: self.connected_unattributed,
            unreadable_processes: self.owners.unreadable_processes(),
        };
        for socket in &waiting {
            match self.owner(socket) {
                Some(pid) => count_socket(usage.entry(pid).or_default(), socket),
                None if socket.inode != 0 => visibility.unattributed_sockets += 1,
                None => {}
            }
        }
        self.waiting_index = index(&waiting);
        if matches!(self.udp, Udp::Measured(_)) {
            self.charge_flows(&grown, &waiting, &mut usage, &mut unattributed, baseline);
        }

        let (closed, lost_notices) = match &mut self.closed {
            Some(feed) => (feed.take_closed(), feed.lost()),
            None => (Vec::new(), 0),
        };
        for notice in closed {
            let cookie = notice.cookie;
            let endpoint = self.flow_sockets.get(&cookie).cloned();
            let (owner, moved) = self.charge_closed(&notice, baseline);
            charge(&mut usage, &mut unattributed, owner, moved);
            if let Some(endpoint) = endpoint {
                self.views.charge(cookie, &endpoint, moved.into());
            }
        }
        if !quiet {
            self.forget_vanished();
        }
        self.waiting = waiting;

        let interval = self
            .last_sample
            .map(|last| now.saturating_duration_since(last));
        self.last_sample = Some(now);
        Ok(self.report(usage, unattributed, interval, lost_notices, visibility))
    }

    /// Every socket of the last sample (connected and listening TCP, UDP) as connection
    /// rows with the processes holding them, in `netpilot connections`' order: the live
    /// monitor's table without a second dump or /proc scan.
    pub fn connections(&self) -> Vec<Connection> {
        let mut names = Names::new(&self.procs);
        // Keys computed once per socket, not once per comparison.
        let mut keyed: Vec<_> = self
            .connected
            .iter()
            .chain(&self.waiting)
            .map(|s| (sort_key(s), s))
            .collect();
        keyed.sort_unstable_by_key(|&(key, _)| key);
        keyed
            .into_iter()
            .map(|(_, s)| connection(s, self.owners.of(s.inode), &mut names))
            .collect()
    }

    /// Drops sockets missing from the last few dumps: no destroy notice will come now.
    fn forget_vanished(&mut self) {
        let round = self.round;
        let settled = &mut self.settled;
        self.tracked.retain(|&cookie, t| {
            let keep = round - t.seen_in <= KEEP_VANISHED;
            if !keep {
                settled.insert(cookie, round);
            }
            keep
        });
        self.settled.retain(|_, at| round - *at <= KEEP_VANISHED);
    }

    /// The process to charge: whoever holds the inode now, else whoever held the socket
    /// when we last saw it (a socket its process closed keeps its cookie, not its inode).
    fn owner(&self, socket: &Socket) -> Option<u32> {
        self.owners
            .of(socket.inode)
            .first()
            .copied()
            .or_else(|| self.tracked.get(&socket.cookie).and_then(|t| t.owner))
    }

    fn charge_live(&mut self, socket: &Socket, owner: Option<u32>, baseline: bool) -> Bytes {
        let Some(counters) = socket.tcp else {
            return Bytes::default();
        };
        let peer_fin = socket.state.peer_fin_received();
        let now = Tracked {
            sent: counters.payload_sent(),
            received: counters.payload_received(peer_fin),
            received_raw: counters.bytes_received,
            peer_fin_counted: peer_fin,
            owner,
            seen_in: self.round,
        };
        match self.tracked.insert(socket.cookie, now) {
            Some(before) => Bytes {
                rx: now.received.saturating_sub(before.received),
                tx: now.sent.saturating_sub(before.sent),
            },
            // Opened since the last sample: everything it moved, moved in this interval.
            None if !baseline => Bytes {
                rx: now.received,
                tx: now.sent,
            },
            None => Bytes::default(),
        }
    }

    fn charge_closed(&mut self, notice: &ClosedSocket, baseline: bool) -> (Option<u32>, Bytes) {
        let counters = notice.counters;
        let sent = counters.payload_sent();
        if self.settled.contains_key(&notice.cookie) {
            return (None, Bytes::default());
        }
        match self.tracked.remove(&notice.cookie) {
            Some(before) => {
                self.settled.insert(notice.cookie, self.round);
                // A freed socket reports state CLOSE, which does not tell whether the
                // peer's FIN arrived. Bytes beyond the last sample are taken to end with
                // it, as they do in an orderly close; a reset after fresh data would
                // undercount by one byte.
                let peer_fin =
                    before.peer_fin_counted || counters.bytes_received > before.received_raw;
                let received = counters.payload_received(peer_fin);
                let moved = Bytes {
                    rx: received.saturating_sub(before.received),
                    tx: sent.saturating_sub(before.sent),
                };
                (before.owner, moved)
            }
            // Opened and closed between two samples: no process was ever seen holding it.
            None if !baseline => {
                let peer_fin = counters.bytes_received > 0;
                (
                    None,
                    Bytes {
                        rx: counters.payload_received(peer_fin),
                        tx: sent,
                    },
                )
            }
            None => (None, Bytes::default()),
        }
    }

    fn user(&mut self, uid: u32) -> Option<Arc<str>> {
        let procs = &self.procs;
        self.users
            .entry(uid)
            .or_insert_with(|| procs.user_name(uid).map(Arc::from))
            .clone()
    }
}

/// Cookie → position, for finding a socket of a dump by the cookie a flow carries.
fn index(sockets: &[Socket]) -> FastMap<u64, usize> {
    sockets
        .iter()
        .enumerate()
        .map(|(i, s)| (s.cookie, i))
        .collect()
}

/// Cookie → position of the sockets whose cookie is `wanted`: one pass over the dump, and
/// none while nothing is wanted (an idle machine's TCP).
fn locate(sockets: &[Socket], wanted: &FastMap<u64, ()>) -> FastMap<u64, usize> {
    if wanted.is_empty() {
        return FastMap::default();
    }
    sockets
        .iter()
        .enumerate()
        .filter(|(_, s)| wanted.contains_key(&s.cookie))
        .map(|(i, s)| (s.cookie, i))
        .collect()
}

impl From<Bytes> for Moved {
    fn from(b: Bytes) -> Moved {
        Moved { rx: b.rx, tx: b.tx }
    }
}

fn endpoint_of(socket: &Socket, remote: std::net::SocketAddr, owner: Option<u32>) -> Endpoint {
    Endpoint {
        protocol: socket.protocol,
        local: socket.local,
        remote,
        owner,
        uid: socket.uid,
    }
}

fn count_socket(usage: &mut Usage, socket: &Socket) {
    usage.uid.get_or_insert(socket.uid);
    usage.connections.total += 1;
    if socket.state == SocketState::Established {
        usage.connections.established += 1;
    }
    if socket.state.is_listening() {
        usage.connections.listening += 1;
    }
    if socket.protocol == Protocol::Udp {
        usage.udp_sockets += 1;
    }
}

fn charge(
    usage: &mut FastMap<u32, Usage>,
    unattributed: &mut Bytes,
    owner: Option<u32>,
    moved: Bytes,
) {
    if moved.rx == 0 && moved.tx == 0 {
        return;
    }
    let bytes = match owner {
        Some(pid) => &mut usage.entry(pid).or_default().interval,
        None => unattributed,
    };
    bytes.rx += moved.rx;
    bytes.tx += moved.tx;
}

mod report;
#[cfg(test)]
mod tests;
mod udp;
