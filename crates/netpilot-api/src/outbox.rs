//! The lines on their way to one client, bounded in count and in bytes. A client that stops
//! reading (a frozen UI, a script that subscribed and went to sleep) would otherwise hold
//! its session up, and with it whatever the session had queued; past either bound the
//! session ends and the client is disconnected, with a log line. Other clients never wait
//! for it: each has its own outbox, and the services' broadcasts skip a lagging receiver.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;

/// Lines queued for one client at most: a burst of events is tens.
pub const MAX_LINES: usize = 1024;
/// Bytes queued for one client at most: a few hundred traffic samples of a busy machine.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// A new outbox: the session's end and the writer's.
pub fn outbox() -> (Outbox, Outgoing) {
    let (lines, receiver) = mpsc::channel(MAX_LINES);
    let queued = Arc::new(AtomicUsize::new(0));
    (
        Outbox {
            lines,
            queued: Arc::clone(&queued),
        },
        Outgoing {
            lines: receiver,
            queued,
        },
    )
}

/// Why a line was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The client's writer has ended (it went away).
    Gone,
    /// The client reads nothing: this much waits for it already.
    Full { lines: usize, bytes: usize },
}

/// The session's end.
pub struct Outbox {
    lines: mpsc::Sender<String>,
    queued: Arc<AtomicUsize>,
}

impl Outbox {
    /// Queues `line`, or says why not; never waits.
    pub fn push(&self, line: String) -> Result<(), Refused> {
        let bytes = self.queued.load(Ordering::Relaxed);
        let lines = MAX_LINES - self.lines.capacity();
        if bytes + line.len() > MAX_BYTES {
            return Err(Refused::Full { lines, bytes });
        }
        let size = line.len();
        match self.lines.try_send(line) {
            Ok(()) => {
                self.queued.fetch_add(size, Ordering::Relaxed);
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err(Refused::Full { lines, bytes }),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Refused::Gone),
        }
    }
}

/// The writer's end.
pub struct Outgoing {
    lines: mpsc::Receiver<String>,
    queued: Arc<AtomicUsize>,
}

impl Outgoing {
    pub async fn recv(&mut self) -> Option<String> {
        let line = self.lines.recv().await?;
        self.queued.fetch_sub(line.len(), Ordering::Relaxed);
        Some(line)
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_that_reads_nothing_is_refused_past_either_bound() {
        let (outbox, mut outgoing) = outbox();
        for _ in 0..MAX_LINES {
            outbox.push("x".into()).expect("room");
        }
        assert_eq!(
            outbox.push("x".into()),
            Err(Refused::Full {
                lines: MAX_LINES,
                bytes: MAX_LINES
            })
        );
        // Read one: room for one more.
        assert_eq!(outgoing.recv().await.as_deref(), Some("x"));
        outbox.push("x".into()).expect("room again");

        let (outbox, mut outgoing) = super::outbox();
        let big = "y".repeat(MAX_BYTES / 4);
        for _ in 0..4 {
            outbox.push(big.clone()).expect("room");
        }
        assert!(matches!(
            outbox.push("z".into()),
            Err(Refused::Full { lines: 4, .. })
        ));
        outgoing.recv().await.expect("a line");
        outbox.push("z".into()).expect("room after a read");
        drop(outgoing);
        assert_eq!(outbox.push("z".into()), Err(Refused::Gone));
    }
}
