//! A daemon that is restarting (upgraded, killed, its machine resumed): a UI connects again
//! with a bounded exponential backoff instead of failing at once or hammering the socket.

use crate::client::Client;
use netpilot_core::{Error, ErrorCode};
use std::future::Future;
use std::time::Duration;

/// How long to wait between tries, and for how long to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failed try; each next wait doubles it…
    pub first: Duration,
    /// …up to this.
    pub longest: Duration,
    /// No try starts later than this after the first.
    pub within: Duration,
}

impl Default for Backoff {
    /// 0.1 s, doubling to 2 s, for 30 s: a daemon's restart takes well under a second, and
    /// a socket tried every 2 s costs nothing.
    fn default() -> Self {
        Backoff {
            first: Duration::from_millis(100),
            longest: Duration::from_secs(2),
            within: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The waits between tries, in order: they add up to `within` at most.
    pub fn waits(&self) -> impl Iterator<Item = Duration> {
        let (longest, within) = (self.longest, self.within);
        let mut next = self.first.min(longest);
        let mut waited = Duration::ZERO;
        std::iter::from_fn(move || {
            if waited >= within || next.is_zero() {
                return None;
            }
            let wait = next.min(within - waited);
            waited += wait;
            next = (next * 2).min(longest);
            Some(wait)
        })
    }
}

impl Client {
    /// Connects with `connect`, and while that fails because no daemon answers
    /// (`daemon-unavailable`), tries again after each of `backoff`'s waits. Any other
    /// error (a wrong token, a refused origin) is returned at once: trying again would not
    /// change it. After the last try, its error.
    pub async fn retrying<F, C>(backoff: Backoff, mut connect: F) -> Result<Client, Error>
    where
        F: FnMut() -> C,
        C: Future<Output = Result<Client, Error>>,
    {
        let mut waits = backoff.waits();
        loop {
            match connect().await {
                Ok(client) => return Ok(client),
                Err(error) if error.code != ErrorCode::DaemonUnavailable => return Err(error),
                Err(error) => match waits.next() {
                    Some(wait) => {
                        tracing::debug!(%error, ?wait, "no daemon yet; trying again");
                        tokio::time::sleep(wait).await;
                    }
                    None => return Err(error),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waits_double_to_the_longest_and_stop_within_the_bound() {
        let backoff = Backoff {
            first: Duration::from_millis(100),
            longest: Duration::from_millis(800),
            within: Duration::from_secs(3),
        };
        let waits: Vec<u64> = backoff.waits().map(|d| d.as_millis() as u64).collect();
        assert_eq!(waits, [100, 200, 400, 800, 800, 700]);
        assert_eq!(waits.iter().sum::<u64>(), 3000);
        let none = Backoff {
            within: Duration::ZERO,
            ..backoff
        };
        assert_eq!(none.waits().count(), 0);
    }

    fn unavailable() -> Error {
        Error::new(ErrorCode::DaemonUnavailable, "nothing answers")
    }

    #[tokio::test(start_paused = true)]
    async fn tries_again_until_the_daemon_answers_and_gives_up_at_the_bound() {
        let started = tokio::time::Instant::now();
        let mut tries = 0;
        let gave_up = Client::retrying(Backoff::default(), || {
            tries += 1;
            async { Err::<Client, _>(unavailable()) }
        })
        .await;
        assert_eq!(
            gave_up.err().map(|e| e.code),
            Some(ErrorCode::DaemonUnavailable)
        );
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        // 0.1 + 0.2 + 0.4 + 0.8 + 1.6 = 3.1 s, then every 2 s: 1 + 5 + 14 tries.
        assert_eq!(tries, 20);
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_that_trying_again_cannot_mend_is_returned_at_once() {
        let mut tries = 0;
        let refused = Client::retrying(Backoff::default(), || {
            tries += 1;
            async { Err::<Client, _>(Error::new(ErrorCode::PermissionDenied, "wrong token")) }
        })
        .await;
        assert_eq!(
            refused.err().map(|e| e.code),
            Some(ErrorCode::PermissionDenied)
        );
        assert_eq!(tries, 1);
    }
}
