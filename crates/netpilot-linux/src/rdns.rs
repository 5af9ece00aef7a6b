//! Reverse DNS for remote hosts: asked on worker threads, cached, and never waited for.
//! A refresh asks [`ReverseDns::name`] and gets what is known now (a name, or nothing
//! yet); the lookup runs meanwhile through the system's resolver (`getnameinfo`, so
//! `/etc/hosts`, nsswitch and `/etc/resolv.conf` apply), and the name shows from the
//! next refresh on. A resolver that never answers costs a worker, never a refresh.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};

/// Lookups running at once; more wait in the queue.
const WORKERS: usize = 4;
/// Names remembered at most; past that the cache starts over.
const CACHE: usize = 16_384;

#[derive(Debug, Clone)]
enum Entry {
    Pending,
    /// The answer: a name, or none (no PTR record, or the lookup failed).
    Done(Option<String>),
}

pub struct ReverseDns {
    cache: Arc<Mutex<HashMap<IpAddr, Entry>>>,
    queue: Sender<IpAddr>,
}

impl Default for ReverseDns {
    fn default() -> Self {
        Self::new()
    }
}

impl ReverseDns {
    pub fn new() -> Self {
        let cache: Arc<Mutex<HashMap<IpAddr, Entry>>> = Arc::default();
        let (queue, requests) = channel::<IpAddr>();
        let requests = Arc::new(Mutex::new(requests));
        for _ in 0..WORKERS {
            let (cache, requests) = (Arc::clone(&cache), Arc::clone(&requests));
            // Workers end when the ReverseDns (the only sender) is dropped.
            std::thread::spawn(move || work(&requests, &cache));
        }
        ReverseDns { cache, queue }
    }

    /// The name of `address` if known; otherwise `None` now, and a lookup is started
    /// (once per address).
    pub fn name(&self, address: IpAddr) -> Option<String> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        match cache.get(&address) {
            Some(Entry::Done(name)) => return name.clone(),
            Some(Entry::Pending) => return None,
            None => {}
        }
        if cache.len() >= CACHE {
            cache.retain(|_, e| matches!(e, Entry::Pending));
        }
        cache.insert(address, Entry::Pending);
        drop(cache);
        let _ = self.queue.send(address);
        None
    }
}

fn work(requests: &Mutex<Receiver<IpAddr>>, cache: &Mutex<HashMap<IpAddr, Entry>>) {
    loop {
        let next = requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(address) = next else { return };
        let name = lookup(address);
        cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(address, Entry::Done(name));
    }
}

/// `getnameinfo` with `NI_NAMEREQD`: a name, or nothing (never the address as text).
fn lookup(address: IpAddr) -> Option<String> {
    use aya_libc as libc;
    let socket = socket2::SockAddr::from(SocketAddr::new(address, 0));
    let mut host = [0u8; 1025]; // NI_MAXHOST
    // SAFETY: `socket` is a valid sockaddr of `socket.len()` bytes; getnameinfo writes a
    // NUL-terminated name of at most `host.len()` bytes into `host`, and no service.
    #[allow(unsafe_code)]
    let status = unsafe {
        libc::getnameinfo(
            socket.as_ptr().cast(),
            socket.len(),
            host.as_mut_ptr().cast(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if status != 0 {
        return None;
    }
    let end = host.iter().position(|&b| b == 0)?;
    let name = String::from_utf8_lossy(&host[..end]).into_owned();
    // A name is shown in tables: nothing that could move the cursor or fake a column.
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_graphic())).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_name_is_not_waited_for_and_is_there_once_looked_up() {
        let dns = ReverseDns::new();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(dns.name(loopback), None, "the first ask never waits");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut answered = false;
        while Instant::now() < deadline {
            let cache = dns.cache.lock().unwrap();
            if matches!(cache.get(&loopback), Some(Entry::Done(_))) {
                answered = true;
                break;
            }
            drop(cache);
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(answered, "the lookup finished");
        // Whatever it found (/etc/hosts names 127.0.0.1 on Debian), asking again is
        // answered from the cache, with no second lookup queued.
        let cached = dns.name(loopback);
        assert!(
            matches!(dns.cache.lock().unwrap().get(&loopback), Some(Entry::Done(n)) if *n == cached)
        );
    }
}
