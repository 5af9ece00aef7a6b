//! A protocol v1 client on the daemon's Unix socket, for the commands that go through
//! the daemon (`wifi connect`, `device …`).

use netpilot_core::{Error, ErrorCode};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::path::Path;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

/// A protocol v1 client on the daemon's Unix socket.
pub struct Daemon {
    pub(crate) lines: Lines<BufReader<OwnedReadHalf>>,
    pub(crate) write: OwnedWriteHalf,
    pub(crate) next_id: u64,
    /// Events that came while waiting for a response.
    pub(crate) events: VecDeque<Value>,
}

impl Daemon {
    /// The daemon listening on `socket`, if one answers.
    pub async fn find(socket: &Path) -> Option<Daemon> {
        let stream = tokio::net::UnixStream::connect(socket).await.ok()?;
        let (read, write) = stream.into_split();
        Some(Daemon {
            lines: BufReader::new(read).lines(),
            write,
            next_id: 0,
            events: VecDeque::new(),
        })
    }

    pub(crate) async fn receive(&mut self) -> Result<Value, Error> {
        let gone = || {
            Error::new(ErrorCode::Io, "the netpilot daemon closed the connection")
                .with_hint("see the daemon's log (journalctl -u netpilot, or its terminal)")
        };
        let line = self.lines.next_line().await.map_err(|_| gone())?;
        let line = line.ok_or_else(gone)?;
        serde_json::from_str(&line).map_err(|e| {
            Error::new(
                ErrorCode::Protocol,
                format!("the daemon sent something that is not JSON: {e}"),
            )
        })
    }

    /// Sends a request and waits for its response; a failure becomes the daemon's error.
    pub(crate) async fn call(&mut self, method: &str, params: Value) -> Result<Value, Error> {
        self.next_id += 1;
        let id = self.next_id;
        let mut line = json!({ "id": id, "method": method, "params": params }).to_string();
        line.push('\n');
        self.write.write_all(line.as_bytes()).await.map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("cannot write to the netpilot daemon: {e}"),
            )
        })?;
        loop {
            let message = self.receive().await?;
            if message["id"] != json!(id) {
                self.events.push_back(message);
                continue;
            }
            if message["success"] == json!(true) {
                return Ok(message);
            }
            return Err(
                serde_json::from_value(message["error"].clone()).unwrap_or_else(|_| {
                    Error::new(
                        ErrorCode::Protocol,
                        format!("the daemon refused: {message}"),
                    )
                }),
            );
        }
    }

    pub(crate) async fn next_event(&mut self) -> Result<Value, Error> {
        match self.events.pop_front() {
            Some(event) => Ok(event),
            None => self.receive().await,
        }
    }
}
