//! Per-process bytes as Prometheus counters with bounded cardinality.
//!
//! Every label value is a time series Prometheus stores for weeks, and a desktop starts
//! thousands of short-lived processes: one series per process name would grow without
//! bound. So the busiest `top` names (by bytes since the daemon started) get a series
//! each, and everything else is counted in `other`.
//!
//! Each byte is counted once, in the series its process had when the byte was seen: a
//! name that enters the top starts from zero, and `other` keeps what it counted before.
//! Every series is then a true counter (it never goes down, so `rate()` sees no reset),
//! and the series add up to every byte seen.

use std::collections::HashMap;

/// The label of the series that counts every process outside the top.
pub const OTHER: &str = "other";

/// Bytes received and sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bytes {
    pub rx: u64,
    pub tx: u64,
}

impl Bytes {
    fn add(&mut self, other: Bytes) {
        self.rx += other.rx;
        self.tx += other.tx;
    }

    fn total(self) -> u64 {
        self.rx + self.tx
    }
}

/// How many process names are remembered for the ranking at most: beyond it, the names
/// with the fewest bytes are forgotten (they were never near the top).
const REMEMBERED: usize = 4096;

#[derive(Debug)]
pub struct ProcessLedger {
    top: usize,
    /// Bytes since the daemon started, by process name: the ranking.
    lifetime: HashMap<String, u64>,
    /// The series: the names in the top, and what each has counted since it entered.
    series: HashMap<String, Bytes>,
    other: Bytes,
    /// The meter's per-process totals when each process was last seen, by pid and name
    /// (a pid may be reused by another program), and that sample's number.
    last: HashMap<(u32, String), (Bytes, u64)>,
    samples: u64,
}

/// A process missing from this many samples in a row is forgotten (a process that holds
/// no socket for a while is still the meter's, with its totals, when it comes back).
const FORGOTTEN_AFTER: u64 = 720;

/// One process in one sample: its payload since sampling began.
pub struct Seen<'a> {
    pub pid: u32,
    pub name: &'a str,
    pub total: Bytes,
}

impl ProcessLedger {
    pub fn new(top: usize) -> Self {
        ProcessLedger {
            top,
            lifetime: HashMap::new(),
            series: HashMap::new(),
            other: Bytes::default(),
            last: HashMap::new(),
            samples: 0,
        }
    }

    /// Counts a sample: what each process moved since the last one.
    pub fn record<'a>(&mut self, processes: impl IntoIterator<Item = Seen<'a>>) {
        self.samples += 1;
        let mut moved: Vec<(&str, Bytes)> = Vec::new();
        for seen in processes {
            let key = (seen.pid, seen.name.to_string());
            let (before, _) = self.last.get(&key).copied().unwrap_or_default();
            let delta = Bytes {
                rx: seen.total.rx.saturating_sub(before.rx),
                tx: seen.total.tx.saturating_sub(before.tx),
            };
            self.last.insert(key, (seen.total, self.samples));
            if delta.total() > 0 {
                moved.push((seen.name, delta));
            }
        }
        let samples = self.samples;
        self.last
            .retain(|_, (_, seen)| samples - *seen < FORGOTTEN_AFTER);
        for (name, delta) in &moved {
            *self.lifetime.entry(name.to_string()).or_default() += delta.total();
        }
        self.rank();
        for (name, delta) in moved {
            match self.series.get_mut(name) {
                Some(series) => series.add(delta),
                None => self.other.add(delta),
            }
        }
        self.forget_the_least();
    }

    /// Admits the busiest names into the top; names that fall out lose their series.
    fn rank(&mut self) {
        let mut ranked: Vec<(&String, &u64)> = self.lifetime.iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
        let top: Vec<String> = ranked
            .into_iter()
            .take(self.top)
            .map(|(name, _)| name.clone())
            .collect();
        self.series.retain(|name, _| top.contains(name));
        for name in top {
            self.series.entry(name).or_default();
        }
    }

    fn forget_the_least(&mut self) {
        if self.lifetime.len() <= REMEMBERED {
            return;
        }
        let mut totals: Vec<u64> = self.lifetime.values().copied().collect();
        totals.sort_unstable_by(|a, b| b.cmp(a));
        let floor = totals[REMEMBERED / 2];
        let series = &self.series;
        self.lifetime
            .retain(|name, total| *total > floor || series.contains_key(name));
    }

    /// Every series: the top names, then `other`.
    pub fn series(&self) -> impl Iterator<Item = (&str, Bytes)> {
        let mut names: Vec<(&str, Bytes)> =
            self.series.iter().map(|(n, b)| (n.as_str(), *b)).collect();
        names.sort_by(|a, b| a.0.cmp(b.0));
        names
            .into_iter()
            .chain(std::iter::once((OTHER, self.other)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(pid: u32, name: &str, rx: u64, tx: u64) -> Seen<'_> {
        Seen {
            pid,
            name,
            total: Bytes { rx, tx },
        }
    }

    fn series(ledger: &ProcessLedger) -> Vec<(String, u64, u64)> {
        ledger
            .series()
            .map(|(n, b)| (n.to_string(), b.rx, b.tx))
            .collect()
    }

    #[test]
    fn the_busiest_get_a_series_and_the_rest_is_other() {
        let mut ledger = ProcessLedger::new(2);
        ledger.record([
            seen(1, "firefox", 1000, 100),
            seen(2, "curl", 500, 10),
            seen(3, "ntpd", 5, 5),
        ]);
        assert_eq!(
            series(&ledger),
            [
                ("curl".into(), 500, 10),
                ("firefox".into(), 1000, 100),
                ("other".into(), 5, 5)
            ]
        );
    }

    #[test]
    fn only_what_moved_since_the_last_sample_is_added() {
        let mut ledger = ProcessLedger::new(5);
        ledger.record([seen(1, "firefox", 1000, 100)]);
        ledger.record([seen(1, "firefox", 1500, 100), seen(2, "firefox", 10, 0)]);
        assert_eq!(series(&ledger)[0], ("firefox".into(), 1510, 100));
    }

    #[test]
    fn a_newcomer_to_the_top_starts_at_zero_and_no_series_ever_goes_down() {
        let mut ledger = ProcessLedger::new(1);
        ledger.record([seen(1, "a", 100, 0), seen(2, "b", 50, 0)]);
        assert_eq!(
            series(&ledger),
            [("a".into(), 100, 0), ("other".into(), 50, 0)]
        );
        // b overtakes a: a's series ends, b's begins with what b moved from now on.
        ledger.record([seen(1, "a", 100, 0), seen(2, "b", 250, 0)]);
        assert_eq!(
            series(&ledger),
            [("b".into(), 200, 0), ("other".into(), 50, 0)]
        );
        ledger.record([seen(1, "a", 130, 0), seen(2, "b", 250, 0)]);
        assert_eq!(
            series(&ledger),
            [("b".into(), 200, 0), ("other".into(), 80, 0)]
        );
    }

    #[test]
    fn every_byte_lands_in_one_series_and_no_series_goes_down() {
        let mut ledger = ProcessLedger::new(3);
        let mut last: HashMap<(u32, String), u64> = HashMap::new();
        let mut before: HashMap<String, u64> = HashMap::new();
        for round in 1..=50u64 {
            // Names move between pids, so the ranking changes often.
            let processes: Vec<(u32, String, u64)> = (0..10u32)
                .map(|p| {
                    (
                        p,
                        format!("p{}", (u64::from(p) * round) % 7),
                        round * u64::from(p + 1),
                    )
                })
                .collect();
            ledger.record(
                processes
                    .iter()
                    .map(|(pid, name, rx)| seen(*pid, name, *rx, 0)),
            );
            let mut moved = 0;
            for (pid, name, rx) in processes {
                moved += rx - last.get(&(pid, name.clone())).copied().unwrap_or(0);
                last.insert((pid, name), rx);
            }
            let now: HashMap<String, u64> = ledger
                .series()
                .map(|(n, b)| (n.to_string(), b.rx))
                .collect();
            let mut grown = 0;
            for (name, value) in &now {
                let was = before.get(name).copied().unwrap_or(0);
                assert!(*value >= was, "round {round}: {name} went down");
                grown += value - was;
            }
            assert_eq!(grown, moved, "round {round}");
            assert_eq!(now.len(), 4);
            before = now;
        }
    }

    #[test]
    fn a_process_absent_from_a_sample_is_not_counted_twice() {
        let mut ledger = ProcessLedger::new(5);
        ledger.record([seen(1, "ssh", 100, 0)]);
        ledger.record([]);
        ledger.record([seen(1, "ssh", 150, 0)]);
        assert_eq!(series(&ledger)[0], ("ssh".into(), 150, 0));
    }

    #[test]
    fn the_names_remembered_are_bounded() {
        let mut ledger = ProcessLedger::new(2);
        for i in 0..(REMEMBERED as u32 * 3) {
            let name = format!("short-lived-{i}");
            ledger.record([seen(i, &name, u64::from(i % 97) + 1, 0)]);
        }
        assert!(ledger.lifetime.len() <= REMEMBERED + 1);
        assert_eq!(ledger.series().count(), 3);
    }
}
