//! Process and user names, looked up once per pid and uid within one sample.

use netpilot_core::ProcessRef;
use netpilot_core::ports::ProcessSource;
use std::collections::HashMap;

pub struct Names<'a, P> {
    procs: &'a P,
    processes: HashMap<u32, Option<String>>,
    users: HashMap<u32, Option<String>>,
}

impl<'a, P: ProcessSource> Names<'a, P> {
    pub fn new(procs: &'a P) -> Self {
        Names { procs, processes: HashMap::new(), users: HashMap::new() }
    }

    pub fn process(&mut self, pid: u32) -> Option<&str> {
        let procs = self.procs;
        self.processes.entry(pid).or_insert_with(|| procs.process_name(pid)).as_deref()
    }

    pub fn user(&mut self, uid: u32) -> Option<String> {
        let procs = self.procs;
        self.users.entry(uid).or_insert_with(|| procs.user_name(uid)).clone()
    }

    /// The processes among `pids` that still exist, with their names.
    pub fn processes(&mut self, pids: &[u32]) -> Vec<ProcessRef> {
        pids.iter()
            .filter_map(|&pid| Some(ProcessRef { pid, name: self.process(pid)?.to_owned() }))
            .collect()
    }
}
