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

    /// Charges the packet counter's growth: UDP payload to the process holding the
    /// socket (or to nobody), every flow's IP bytes to its interface's share. Then the
    /// flows of sockets missing from this dump are settled, and the drop counters read.
    fn charge_flows(
        &mut self,
        grown: &[Growth],
        waiting: &[Socket],
        usage: &mut FastMap<u32, Usage>,
        unattributed: &mut Bytes,
        baseline: bool,
    ) {
        if let Udp::Measured(ledger) = &self.udp {
            let wanted: FastMap<u64, ()> = grown
                .iter()
                .map(|g| g.key.cookie)
                .chain(ledger.cookies())
                .chain(self.flow_sockets.keys().copied())
                .map(|c| (c, ()))
                .collect();
            self.connected_index = locate(&self.connected, &wanted);
        }
        let (connected, connected_index, waiting_index) =
            (&self.connected, &self.connected_index, &self.waiting_index);
        let socket_of = |cookie: u64| {
            connected_index
                .get(&cookie)
                .and_then(|&i| connected.get(i))
                .or_else(|| waiting_index.get(&cookie).and_then(|&i| waiting.get(i)))
        };
        let alive = |cookie: u64| socket_of(cookie).is_some();
        let this_namespace_only = self.flows().is_some_and(|c| c.this_namespace_only());
        for g in grown {
            let endpoint = match socket_of(g.key.cookie) {
                Some(socket) => {
                    let owner =
                        self.owners.of(socket.inode).first().copied().or_else(|| {
                            self.flow_sockets.get(&socket.cookie).and_then(|e| e.owner)
                        });
                    let remote = socket.remote.unwrap_or(g.key.remote);
                    let endpoint = endpoint_of(socket, remote, owner);
                    self.flow_sockets.insert(socket.cookie, endpoint.clone());
                    Some(endpoint)
                }
                // Gone since the dump: as it was then. A TCP socket's owner is tracked
                // for its destroy notice; its addresses matter not here.
                None => self.flow_sockets.get(&g.key.cookie).cloned().or_else(|| {
                    self.tracked.get(&g.key.cookie).map(|t| Endpoint {
                        protocol: Protocol::Tcp,
                        local: g.key.remote,
                        remote: g.key.remote,
                        owner: t.owner,
                        uid: 0,
                    })
                }),
            };
            let udp = UDP_PROTOCOLS.contains(&g.key.ip_protocol);
            let moved = Bytes {
                rx: g.grown.rx_payload,
                tx: g.grown.tx_payload,
            };
            match endpoint {
                Some(mut endpoint) => {
                    let share = self.shares.entry(g.key.ifindex).or_default();
                    let wire = g.grown.rx_wire + g.grown.tx_wire;
                    match endpoint.owner {
                        Some(_) => share.0 += wire,
                        None => share.1 += wire,
                    }
                    if udp && endpoint.protocol == Protocol::Udp {
                        charge(usage, unattributed, endpoint.owner, moved);
                        if let Some(pid) = endpoint.owner {
                            let u = usage.entry(pid).or_default();
                            u.udp.rx += moved.rx;
                            u.udp.tx += moved.tx;
                        }
                        // An unconnected socket's row is per remote end.
                        endpoint.remote = g.key.remote;
                        self.views.charge(g.key.cookie, &endpoint, moved.into());
                    }
                }
                // A UDP socket of this namespace that opened and closed between two
                // samples: its bytes are real, its process unknown. (Counting every
                // namespace, an unknown cookie may be another's: left out.)
                None if udp && this_namespace_only => charge(usage, unattributed, None, moved),
                None => {}
            }
        }
        for socket in waiting.iter().filter(|s| s.protocol == Protocol::Udp) {
            // Known before it moves: a socket that closes before the next dump keeps its
            // process for the flows read after.
            let owner = self
                .owner(socket)
                .or_else(|| self.flow_sockets.get(&socket.cookie).and_then(|e| e.owner));
            let remote = socket.remote.unwrap_or(socket.local);
            self.flow_sockets
                .insert(socket.cookie, endpoint_of(socket, remote, owner));
            let Some(drops) = socket.drops else { continue };
            let before = self.udp_drops.insert(socket.cookie, drops);
            let dropped = match before {
                Some(before) => drops.saturating_sub(before),
                None if baseline => 0,
                None => drops,
            };
            if dropped > 0
                && let Some(pid) = self.owner(socket)
            {
                usage.entry(pid).or_default().udp_dropped += u64::from(dropped);
            }
        }
        self.udp_drops.retain(|&cookie, _| alive(cookie));
        if let Udp::Measured(ledger) = &mut self.udp {
            ledger.settle(alive);
            let closing = ledger.closing_cookies();
            self.flow_sockets
                .retain(|&cookie, _| alive(cookie) || closing.contains(&cookie));
        }
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

    fn report(
        &mut self,
        usage: FastMap<u32, Usage>,
        unattributed: Bytes,
        interval: Option<Duration>,
        lost_notices: u64,
        visibility: Visibility,
    ) -> TrafficSample {
        let seconds = interval.map_or(0.0, |i| i.as_secs_f64());
        let per_second = |bytes: u64| {
            if seconds > 0.0 {
                bytes as f64 / seconds
            } else {
                0.0
            }
        };
        self.unattributed_total.rx += unattributed.rx;
        self.unattributed_total.tx += unattributed.tx;

        let mut processes = Vec::with_capacity(usage.len());
        for (&pid, usage) in &usage {
            let total = self.totals.entry(pid).or_default();
            total.all.rx += usage.interval.rx;
            total.all.tx += usage.interval.tx;
            total.udp.rx += usage.udp.rx;
            total.udp.tx += usage.udp.tx;
            total.udp_dropped += usage.udp_dropped;
            let total = *total;
            // Names are read once per process; one that exited during the interval keeps
            // the name we saw. Exited pids leave `names` below, so a reused pid is read anew.
            let name = match self.names.get(&pid) {
                Some(name) => name.clone(),
                None => match self.procs.process_name(pid) {
                    Some(name) => self.names.entry(pid).or_insert(name).clone(),
                    None => continue,
                },
            };
            let user = usage.uid.and_then(|uid| self.user(uid));
            processes.push(ProcessTraffic {
                pid,
                name,
                user,
                rx_bytes_per_sec: per_second(usage.interval.rx),
                tx_bytes_per_sec: per_second(usage.interval.tx),
                rx_bytes: total.all.rx,
                tx_bytes: total.all.tx,
                udp_rx_bytes: total.udp.rx,
                udp_tx_bytes: total.udp.tx,
                udp_rx_dropped: total.udp_dropped,
                connections: usage.connections,
                udp_sockets: usage.udp_sockets,
            });
        }
        // Forget processes that hold nothing and are gone, so a reused pid starts afresh.
        let owners = &self.owners;
        self.totals
            .retain(|pid, _| usage.contains_key(pid) || owners.knows(*pid));
        self.names
            .retain(|pid, _| usage.contains_key(pid) || owners.knows(*pid));
        processes.sort_by(|a, b| {
            let rate = |p: &ProcessTraffic| p.rx_bytes_per_sec + p.tx_bytes_per_sec;
            rate(b)
                .total_cmp(&rate(a))
                .then((b.rx_bytes + b.tx_bytes).cmp(&(a.rx_bytes + a.tx_bytes)))
                .then(b.connections.total.cmp(&a.connections.total))
                .then(a.pid.cmp(&b.pid))
        });
        let (connections, remotes) = self.view_rows(seconds);
        let udp = match &mut self.udp {
            Udp::Measured(ledger) => UdpStatus::Measured {
                missed_packets: ledger.source_mut().missed(),
            },
            Udp::NotMeasured(why) => UdpStatus::NotMeasured(why.clone()),
        };
        let mut interface_shares: Vec<InterfaceShare> = self
            .shares
            .iter()
            .map(
                |(&ifindex, &(to_processes, to_sockets_without_process))| InterfaceShare {
                    ifindex,
                    to_processes,
                    to_sockets_without_process,
                },
            )
            .collect();
        interface_shares.sort_by_key(|s| s.ifindex);
        TrafficSample {
            interval,
            processes,
            unattributed: UnattributedTraffic {
                rx_bytes_per_sec: per_second(unattributed.rx),
                tx_bytes_per_sec: per_second(unattributed.tx),
                rx_bytes: self.unattributed_total.rx,
                tx_bytes: self.unattributed_total.tx,
            },
            closed_sockets_tracked: self.closed.is_some(),
            lost_notices,
            visibility,
            udp,
            connections,
            remotes,
            interface_shares,
        }
    }

    /// The per-connection and per-remote rows of this interval.
    fn view_rows(&mut self, seconds: f64) -> (Vec<ConnectionTraffic>, Vec<RemoteTraffic>) {
        let wanted: FastMap<u64, ()> = self.views.cookies().map(|c| (c, ())).collect();
        let connected = locate(&self.connected, &wanted);
        let waiting = &self.waiting_index;
        let names = &mut self.names;
        let procs = &self.procs;
        let users = &mut self.users;
        let mut process_name = |pid: u32| match names.get(&pid) {
            Some(name) => Some(name.clone()),
            None => procs.process_name(pid),
        };
        let mut user_name = |uid: u32| {
            users
                .entry(uid)
                .or_insert_with(|| procs.user_name(uid).map(Arc::from))
                .clone()
        };
        self.views.report(
            seconds,
            |cookie| connected.contains_key(&cookie) || waiting.contains_key(&cookie),
            &mut process_name,
            &mut user_name,
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{FakeClosedFeed, FakeFlows, FakeProcesses, FakeSockets, tcp_socket};
    use netpilot_core::{FlowCounters, TcpCounters};

    /// A socket whose counters say it sent `tx` and received `rx` payload bytes
    /// (acked includes the SYN, as on the connecting side).
    fn moving(inode: u64, rx: u64, tx: u64) -> Socket {
        let mut socket = tcp_socket(inode);
        socket.tcp = Some(TcpCounters {
            bytes_acked: tx + 1,
            bytes_received: rx,
            bytes_sent: tx,
            bytes_retrans: 0,
        });
        socket
    }

    fn closed(cookie: u64, rx_raw: u64, tx: u64) -> ClosedSocket {
        ClosedSocket {
            cookie,
            counters: TcpCounters {
                bytes_acked: tx + 2,
                bytes_received: rx_raw,
                bytes_sent: tx,
                bytes_retrans: 0,
            },
        }
    }

    type Meter = TrafficMeter<FakeSockets, FakeProcesses, FakeClosedFeed>;

    fn meter(sockets: Vec<Socket>, procs: FakeProcesses) -> (Meter, Instant) {
        let meter = TrafficMeter::new(
            FakeSockets::new(sockets),
            procs,
            Some(FakeClosedFeed::default()),
        );
        (meter, Instant::now())
    }

    /// Queues a destroy notice for the meter's next sample.
    fn notify(meter: &mut Meter, notice: ClosedSocket) {
        meter
            .closed
            .as_mut()
            .expect("the meter has a feed")
            .closed
            .push(notice);
    }

    fn secs(start: Instant, s: u64) -> Instant {
        start + Duration::from_secs(s)
    }

    fn row(sample: &TrafficSample, pid: u32) -> &ProcessTraffic {
        sample
            .processes
            .iter()
            .find(|p| p.pid == pid)
            .expect("process is reported")
    }

    #[test]
    fn connection_rows_come_from_the_sample_and_a_quiet_refresh_reads_no_fd_table() {
        let mut listener = tcp_socket(2);
        listener.state = SocketState::Listen;
        listener.remote = None;
        listener.local = ([0, 0, 0, 0], 80).into();
        let mut udp = tcp_socket(3);
        udp.protocol = Protocol::Udp;
        udp.state = SocketState::Unconnected;
        udp.remote = None;
        let procs = FakeProcesses::new()
            .with(10, "curl", &[1])
            .with(20, "nginx", &[2, 3]);
        let (mut meter, t0) = meter(vec![tcp_socket(1), listener, udp], procs);
        *meter.sockets.activity.lock().unwrap() = Some(7);
        meter.sample(t0).unwrap();
        let rows = |meter: &Meter| -> Vec<(u64, Protocol, SocketState, Vec<String>)> {
            meter
                .connections()
                .into_iter()
                .map(|c| {
                    let names = c.processes.iter().map(|p| p.name.to_string()).collect();
                    (c.inode, c.protocol, c.state, names)
                })
                .collect()
        };
        let expected = vec![
            (
                2,
                Protocol::Tcp,
                SocketState::Listen,
                vec!["nginx".to_string()],
            ),
            (
                1,
                Protocol::Tcp,
                SocketState::Established,
                vec!["curl".to_string()],
            ),
            (
                3,
                Protocol::Udp,
                SocketState::Unconnected,
                vec!["nginx".to_string()],
            ),
        ];
        assert_eq!(rows(&meter), expected);

        // TCP stood still: the rows stay, and no process's fd table is read again.
        meter.procs.clear_reads();
        meter.sample(secs(t0, 1)).unwrap();
        assert_eq!(rows(&meter), expected);
        assert_eq!(meter.procs.reads(), Vec::<u32>::new());
    }

    #[test]
    fn thousands_of_rows_are_all_there_in_order_with_their_processes() {
        let n = 5000;
        let sockets: Vec<Socket> = (1..=n).rev().map(tcp_socket).collect();
        let inodes: Vec<u64> = (1..=n).collect();
        let (even, odd): (Vec<u64>, Vec<u64>) = inodes.iter().partition(|&&i| i % 2 == 0);
        let procs = FakeProcesses::new()
            .with(10, "even", &even)
            .with(11, "odd", &odd);
        let (mut meter, t0) = meter(sockets, procs);
        meter.sample(t0).unwrap();
        let rows = meter.connections();
        assert_eq!(rows.len() as u64, n);
        // tcp_socket(i) has local port 40000 + i (below 20000 sockets): ordered by port.
        let order: Vec<u64> = rows.iter().map(|c| c.inode).collect();
        assert_eq!(order, inodes);
        for c in &rows {
            let expected = if c.inode % 2 == 0 { "even" } else { "odd" };
            assert_eq!(&*c.processes[0].name, expected, "inode {}", c.inode);
        }
    }

    #[test]
    fn the_first_sample_is_a_baseline_and_later_growth_is_charged() {
        let (mut meter, t0) = meter(
            vec![moving(1, 5_000, 7_000)],
            FakeProcesses::new().with(10, "curl", &[1]),
        );
        let first = meter.sample(t0).unwrap();
        assert_eq!(first.interval, None);
        assert_eq!(row(&first, 10).rx_bytes, 0);

        meter.sockets.replace(vec![moving(1, 9_000, 8_000)]);
        let second = meter.sample(secs(t0, 2)).unwrap();
        let curl = row(&second, 10);
        assert_eq!((curl.rx_bytes, curl.tx_bytes), (4_000, 1_000));
        assert_eq!(
            (curl.rx_bytes_per_sec, curl.tx_bytes_per_sec),
            (2_000.0, 500.0)
        );
        assert_eq!(
            curl.connections,
            ConnectionCounts {
                total: 1,
                established: 1,
                listening: 0
            }
        );
    }

    #[test]
    fn a_socket_opened_between_samples_is_charged_in_full_without_its_syn() {
        let (mut meter, t0) = meter(vec![], FakeProcesses::new().with(10, "wget", &[2]));
        meter.sample(t0).unwrap();
        meter.sockets.replace(vec![moving(2, 300, 100)]);
        let sample = meter.sample(secs(t0, 1)).unwrap();
        assert_eq!(
            (row(&sample, 10).rx_bytes, row(&sample, 10).tx_bytes),
            (300, 100)
        );
    }

    #[test]
    fn a_socket_its_process_closed_stays_charged_to_that_process() {
        let procs = FakeProcesses::new().with(10, "app", &[3]);
        let (mut meter, t0) = meter(vec![moving(3, 0, 1_000)], procs);
        meter.sample(t0).unwrap();
        // close(): the fd is gone, the socket lingers in FIN-WAIT with inode 0 while the
        // last data is acked.
        meter.procs.set(10, &[]);
        let mut orphan = moving(3, 0, 1_500);
        orphan.inode = 0;
        orphan.state = SocketState::FinWait1;
        meter.sockets.replace(vec![orphan]);
        let sample = meter.sample(secs(t0, 1)).unwrap();
        assert_eq!(row(&sample, 10).tx_bytes, 500);
    }

    #[test]
    fn a_destroy_notice_charges_the_bytes_after_the_last_sample_once() {
        let procs = FakeProcesses::new().with(10, "scp", &[4]);
        let (mut meter, t0) = meter(vec![moving(4, 100, 1_000)], procs);
        meter.sample(t0).unwrap();
        meter.sockets.replace(vec![]);
        // Received 50 more bytes and the peer's FIN; sent 200 more, all acked.
        notify(&mut meter, closed(4, 151, 1_200));
        let sample = meter.sample(secs(t0, 1)).unwrap();
        assert_eq!(
            (row(&sample, 10).rx_bytes, row(&sample, 10).tx_bytes),
            (50, 200)
        );
        // A second notice for a settled socket charges nothing anywhere.
        notify(&mut meter, closed(4, 151, 1_200));
        let sample = meter.sample(secs(t0, 2)).unwrap();
        assert_eq!(
            sample.unattributed.rx_bytes + sample.unattributed.tx_bytes,
            0
        );
        assert!(sample.processes.iter().all(|p| p.pid != 10));
    }

    #[test]
    fn a_late_destroy_notice_is_still_charged_to_the_owner() {
        let procs = FakeProcesses::new().with(10, "rsync", &[5]);
        let (mut meter, t0) = meter(vec![moving(5, 0, 10)], procs);
        meter.sample(t0).unwrap();
        meter.sockets.replace(vec![]);
        meter.sample(secs(t0, 1)).unwrap();
        notify(&mut meter, closed(5, 0, 60));
        let sample = meter.sample(secs(t0, 2)).unwrap();
        assert_eq!(row(&sample, 10).tx_bytes, 50);
    }

    #[test]
    fn a_socket_both_dumped_and_destroyed_in_one_interval_is_not_double_counted() {
        let procs = FakeProcesses::new().with(10, "git", &[6]);
        let (mut meter, t0) = meter(vec![], procs);
        meter.sample(t0).unwrap();
        meter.sockets.replace(vec![moving(6, 0, 400)]);
        notify(&mut meter, closed(6, 0, 500));
        let sample = meter.sample(secs(t0, 1)).unwrap();
        assert_eq!(row(&sample, 10).tx_bytes, 500);
    }

    #[test]
    fn short_lived_sockets_no_process_was_seen_with_are_unattributed() {
        let (mut meter, t0) = meter(vec![], FakeProcesses::new());
        meter.sample(t0).unwrap();
        notify(&mut meter, closed(7, 1_001, 300));
        let sample = meter.sample(secs(t0, 1)).unwrap();
        assert_eq!(
            (sample.unattributed.rx_bytes, sample.unattributed.tx_bytes),
            (1_000, 300)
        );
        assert!(sample.processes.is_empty());
    }

    #[test]
    fn udp_sockets_are_counted_and_their_bytes_are_not_claimed() {
        let mut udp = tcp_socket(8);
        udp.protocol = Protocol::Udp;
        udp.state = SocketState::Unconnected;
        udp.tcp = None;
        let (mut meter, t0) = meter(vec![udp], FakeProcesses::new().with(10, "dnsmasq", &[8]));
        meter.sample(t0).unwrap();
        let sample = meter.sample(secs(t0, 1)).unwrap();
        let dnsmasq = row(&sample, 10);
        assert_eq!(dnsmasq.udp_sockets, 1);
        assert_eq!(dnsmasq.connections.listening, 1);
        assert_eq!(dnsmasq.rx_bytes + dnsmasq.tx_bytes, 0);
    }

    fn udp_socket(inode: u64, port: u16) -> Socket {
        let mut udp = tcp_socket(inode);
        udp.protocol = Protocol::Udp;
        udp.state = SocketState::Unconnected;
        udp.remote = None;
        udp.local = ([10, 0, 0, 1], port).into();
        udp.tcp = None;
        udp.drops = Some(0);
        udp
    }

    fn flow(cookie: u64, remote: &str, ip_protocol: u8) -> FlowKey {
        FlowKey {
            cookie,
            ifindex: 2,
            ip_protocol,
            remote: remote.parse().unwrap(),
        }
    }

    fn moved(rx: u64, tx: u64) -> FlowCounters {
        FlowCounters {
            rx_payload: rx,
            rx_packets: rx.div_ceil(1000),
            rx_wire: rx + 28 * rx.div_ceil(1000),
            tx_payload: tx,
            tx_packets: tx.div_ceil(1000),
            tx_wire: tx + 28 * tx.div_ceil(1000),
        }
    }

    type UdpMeter = TrafficMeter<FakeSockets, FakeProcesses, FakeClosedFeed, FakeFlows>;

    fn udp_meter(sockets: Vec<Socket>, procs: FakeProcesses) -> (UdpMeter, FakeFlows, Instant) {
        let flows = FakeFlows::default();
        let (meter, t0) = meter(sockets, procs);
        (meter.with_flows(Ok(flows.clone())), flows, t0)
    }

    #[test]
    fn udp_payload_is_charged_to_the_socket_owner_per_remote_end() {
        let procs = FakeProcesses::new()
            .with(10, "quic", &[8])
            .with(11, "idle", &[9]);
        let (mut meter, flows, t0) =
            udp_meter(vec![udp_socket(8, 4433), udp_socket(9, 5000)], procs);
        meter.sample(t0).unwrap();
        flows.set(flow(8, "10.0.0.2:50000", 17), moved(30_000, 2_000));
        flows.set(flow(8, "10.0.0.3:50001", 17), moved(10_000, 1_000));
        let sample = meter.sample(secs(t0, 2)).unwrap();
        assert_eq!(sample.udp, UdpStatus::Measured { missed_packets: 0 });
        let quic = row(&sample, 10);
        assert_eq!((quic.rx_bytes, quic.tx_bytes), (40_000, 3_000));
        assert_eq!((quic.udp_rx_bytes, quic.udp_tx_bytes), (40_000, 3_000));
        assert_eq!(quic.rx_bytes_per_sec, 20_000.0);
        let idle = row(&sample, 11);
        assert_eq!(idle.rx_bytes + idle.tx_bytes, 0);
        let remotes: Vec<(String, u64)> = sample
            .connections
            .iter()
            .map(|c| (c.remote.to_string(), c.rx_bytes))
            .collect();
        assert_eq!(
            remotes,
            vec![
                ("10.0.0.2:50000".to_string(), 30_000),
                ("10.0.0.3:50001".to_string(), 10_000)
            ]
        );
        assert_eq!(sample.connections[0].process.as_deref(), Some("quic"));
        assert_eq!(sample.remotes.len(), 2);
        assert_eq!(
            sample.interface_shares,
            vec![InterfaceShare {
                ifindex: 2,
                to_processes: 43_000 + 28 * 43,
                to_sockets_without_process: 0
            }]
        );
    }

    #[test]
    fn a_udp_socket_closed_between_samples_keeps_its_bytes_and_its_process() {
        let procs = FakeProcesses::new().with(10, "dig", &[8]);
        let (mut meter, flows, t0) = udp_meter(vec![udp_socket(8, 5353)], procs);
        meter.sample(t0).unwrap();
        flows.set(flow(8, "10.0.0.2:53", 17), moved(0, 100));
        meter.sample(secs(t0, 1)).unwrap();
        // It sends again and closes; the next dump has no socket, no fd holds it.
        flows.set(flow(8, "10.0.0.2:53", 17), moved(900, 300));
        meter.sockets.replace(vec![]);
        meter.procs.set(10, &[]);
        let sample = meter.sample(secs(t0, 2)).unwrap();
        let dig = row(&sample, 10);
        assert_eq!((dig.rx_bytes, dig.tx_bytes), (900, 300));
        assert_eq!(
            flows.forgotten(),
            vec![],
            "read once more before it is forgotten"
        );
        // A last datagram in flight when it closed arrives before the next read.
        flows.set(flow(8, "10.0.0.2:53", 17), moved(1_900, 300));
        let sample = meter.sample(secs(t0, 3)).unwrap();
        assert_eq!(row(&sample, 10).rx_bytes, 1_900);
        assert_eq!(flows.forgotten(), vec![flow(8, "10.0.0.2:53", 17)]);
        assert_eq!(sample.unattributed.rx_bytes, 0);
    }

    #[test]
    fn a_udp_socket_that_first_moves_and_closes_within_one_interval_keeps_its_process() {
        let procs = FakeProcesses::new().with(10, "ntpdate", &[8]);
        let (mut meter, flows, t0) = udp_meter(vec![udp_socket(8, 123)], procs);
        meter.sample(t0).unwrap();
        flows.set(flow(8, "10.0.0.2:123", 17), moved(48, 48));
        meter.sockets.replace(vec![]);
        meter.procs.set(10, &[]);
        let sample = meter.sample(secs(t0, 1)).unwrap();
        assert_eq!(row(&sample, 10).rx_bytes, 48);
        assert_eq!(sample.unattributed.rx_bytes, 0);
    }

    #[test]
    fn udp_of_a_socket_never_dumped_is_unattributed_only_when_the_counter_sees_this_namespace() {
        let (mut meter, flows, t0) = udp_meter(vec![], FakeProcesses::new());
        meter.sample(t0).unwrap();
        flows.set(flow(77, "10.0.0.2:53", 17), moved(500, 50));
        // ICMP (protocol 1) of a ping socket is no UDP payload of anyone's.
        flows.set(flow(78, "10.0.0.2:0", 1), moved(64, 64));
        let sample = meter.sample(secs(t0, 1)).unwrap();
        assert_eq!(
            (sample.unattributed.rx_bytes, sample.unattributed.tx_bytes),
            (500, 50)
        );
        assert!(
            sample.interface_shares.is_empty(),
            "unknown sockets are nobody's share"
        );

        let (mut meter, flows, t0) = udp_meter(vec![], FakeProcesses::new());
        flows.count_every_namespace();
        meter.sample(t0).unwrap();
        flows.set(flow(77, "10.0.0.2:53", 17), moved(500, 50));
        let sample = meter.sample(secs(t0, 1)).unwrap();
        assert_eq!(
            sample.unattributed.rx_bytes, 0,
            "may be another namespace's"
        );
    }

    #[test]
    fn datagrams_a_full_queue_dropped_are_counted_per_process() {
        let procs = FakeProcesses::new().with(10, "sink", &[8]);
        let (mut meter, _flows, t0) = udp_meter(vec![udp_socket(8, 9)], procs);
        meter.sample(t0).unwrap();
        let mut flooded = udp_socket(8, 9);
        flooded.drops = Some(908);
        meter.sockets.replace(vec![flooded]);
        let sample = meter.sample(secs(t0, 1)).unwrap();
        assert_eq!(row(&sample, 10).udp_rx_dropped, 908);
    }

    #[test]
    fn tcp_flows_are_shares_of_their_interface_but_their_bytes_come_from_tcp_info() {
        let procs = FakeProcesses::new().with(10, "curl", &[1]);
        let (mut meter, flows, t0) = udp_meter(vec![moving(1, 0, 0)], procs);
        meter.sample(t0).unwrap();
        meter.sockets.replace(vec![moving(1, 5_000, 0)]);
        flows.set(flow(1, "10.0.0.2:443", 6), moved(5_000, 0));
        let sample = meter.sample(secs(t0, 1)).unwrap();
        let curl = row(&sample, 10);
        assert_eq!(
            (curl.rx_bytes, curl.udp_rx_bytes),
            (5_000, 0),
            "counted once"
        );
        assert_eq!(sample.interface_shares[0].to_processes, 5_000 + 28 * 5);
        assert_eq!(sample.connections[0].rx_bytes, 5_000);
    }

    #[test]
    fn without_a_counter_udp_says_why() {
        let (meter, t0) = meter(vec![], FakeProcesses::new());
        let why = Error::new(
            ErrorCode::PermissionDenied,
            "UDP bytes are not measured: root",
        );
        let mut meter = meter.with_flows::<FakeFlows>(Err(why.clone()));
        meter.sample(t0).unwrap();
        let sample = meter.sample(secs(t0, 1)).unwrap();
        assert_eq!(sample.udp, UdpStatus::NotMeasured(why));
    }

    #[test]
    fn busiest_processes_come_first() {
        let procs = FakeProcesses::new()
            .with(10, "idle", &[1])
            .with(20, "busy", &[2]);
        let (mut meter, t0) = meter(vec![moving(1, 0, 0), moving(2, 0, 0)], procs);
        meter.sample(t0).unwrap();
        meter
            .sockets
            .replace(vec![moving(1, 10, 0), moving(2, 10_000, 0)]);
        let sample = meter.sample(secs(t0, 1)).unwrap();
        let order: Vec<u32> = sample.processes.iter().map(|p| p.pid).collect();
        assert_eq!(order, vec![20, 10]);
    }

    #[test]
    fn while_tcp_is_quiet_connections_are_not_dumped_again_and_counts_hold() {
        let (mut meter, t0) = meter(
            vec![moving(1, 0, 0), moving(2, 0, 0)],
            FakeProcesses::new().with(10, "idle", &[1, 2]),
        );
        *meter.sockets.activity.lock().unwrap() = Some(7);
        meter.sample(t0).unwrap();
        meter.sockets.queries.lock().unwrap().clear();
        let sample = meter.sample(secs(t0, 1)).unwrap();
        let queries = meter.sockets.queries.lock().unwrap().clone();
        assert!(
            queries.iter().all(|q| !q.tcp_counters),
            "no dump with counters: {queries:?}"
        );
        assert_eq!(row(&sample, 10).connections.established, 2);

        // A segment moves: the connected sockets are dumped and charged again.
        *meter.sockets.activity.lock().unwrap() = Some(8);
        meter
            .sockets
            .replace(vec![moving(1, 500, 0), moving(2, 0, 0)]);
        let sample = meter.sample(secs(t0, 2)).unwrap();
        assert_eq!(row(&sample, 10).rx_bytes, 500);
    }

    #[test]
    fn a_listener_opened_while_tcp_is_quiet_is_counted() {
        let (mut meter, t0) = meter(
            vec![moving(1, 0, 0)],
            FakeProcesses::new().with(10, "srv", &[1, 3]),
        );
        *meter.sockets.activity.lock().unwrap() = Some(7);
        meter.sample(t0).unwrap();
        let mut listener = tcp_socket(3);
        listener.state = SocketState::Listen;
        listener.remote = None;
        meter.sockets.replace(vec![moving(1, 0, 0), listener]);
        let sample = meter.sample(secs(t0, 1)).unwrap();
        assert_eq!(
            row(&sample, 10).connections,
            ConnectionCounts {
                total: 2,
                established: 1,
                listening: 1
            }
        );
    }
}
