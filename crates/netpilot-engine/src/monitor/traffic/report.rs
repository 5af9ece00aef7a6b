//! A sample as it is reported: processes busiest first, the unattributed bytes, the
//! per-connection and per-remote rows, each interface's attributed share.

use super::*;

impl<S, P, F, C> TrafficMeter<S, P, F, C>
where
    S: SocketSource,
    P: ProcessSource,
    F: ClosedSocketFeed,
    C: FlowSource,
{
    pub(super) fn report(
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
    pub(super) fn view_rows(
        &mut self,
        seconds: f64,
    ) -> (Vec<ConnectionTraffic>, Vec<RemoteTraffic>) {
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
}
