//! Process and user names, looked up once per pid and uid within one sample.

use super::fastmap::FastMap;
use netpilot_core::ProcessRef;
use netpilot_core::ports::ProcessSource;
use std::sync::Arc;

pub struct Names<'a, P> {
    procs: &'a P,
    processes: FastMap<u32, Option<Arc<str>>>,
    users: FastMap<u32, Option<Arc<str>>>,
}

impl<'a, P: ProcessSource> Names<'a, P> {
    pub fn new(procs: &'a P) -> Self {
        Names {
            procs,
            processes: FastMap::default(),
            users: FastMap::default(),
        }
    }

    pub fn process(&mut self, pid: u32) -> Option<&Arc<str>> {
        let procs = self.procs;
        self.processes
            .entry(pid)
            .or_insert_with(|| procs.process_name(pid).map(Arc::from))
            .as_ref()
    }

    pub fn user(&mut self, uid: u32) -> Option<Arc<str>> {
        let procs = self.procs;
        self.users
            .entry(uid)
            .or_insert_with(|| procs.user_name(uid).map(Arc::from))
            .clone()
    }

    /// The processes among `pids` that still exist, with their names.
    pub fn processes(&mut self, pids: &[u32]) -> Vec<ProcessRef> {
        pids.iter()
            .filter_map(|&pid| {
                Some(ProcessRef {
                    pid,
                    name: Arc::clone(self.process(pid)?),
                })
            })
            .collect()
    }
}
