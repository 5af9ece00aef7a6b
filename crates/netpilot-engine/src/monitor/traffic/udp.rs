//! The packet counter's share of a sample: UDP payload charged to the socket's owner, every
//! flow's IP bytes to its interface, sockets gone since the last dump settled.

use super::*;

impl<S, P, F, C> TrafficMeter<S, P, F, C>
where
    S: SocketSource,
    P: ProcessSource,
    F: ClosedSocketFeed,
    C: FlowSource,
{
    /// Charges the packet counter's growth: UDP payload to the process holding the
    /// socket (or to nobody), every flow's IP bytes to its interface's share. Then the
    /// flows of sockets missing from this dump are settled, and the drop counters read.
    pub(super) fn charge_flows(
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
}
