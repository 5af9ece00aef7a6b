//! Asking for a password on the terminal, without echo.

use netpilot_core::secret::validate_psk;
use netpilot_core::{Error, ErrorCode, Secret};
use rustix::termios::{self, LocalModes, OptionalActions, SpecialCodeIndex};
use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::task::JoinHandle;

/// A WiFi password being typed on the terminal, on a blocking thread, while the caller
/// goes on following the attempt.
pub struct PasswordEntry {
    abandon: Arc<AtomicBool>,
    reading: JoinHandle<io::Result<Option<Secret>>>,
}

impl PasswordEntry {
    /// Asks for the password of `ssid` (after `reason`, if any) until a valid one is typed
    /// or the user cancels.
    pub fn start(ssid: &str, reason: Option<&str>) -> PasswordEntry {
        let abandon = Arc::new(AtomicBool::new(false));
        let text = match reason {
            Some(reason) => format!("{reason}.\nPassword for {ssid:?}: "),
            None => format!("Password for {ssid:?}: "),
        };
        let flag = Arc::clone(&abandon);
        let reading = tokio::task::spawn_blocking(move || {
            loop {
                match read_password(&text, &flag)? {
                    Some(password) if validate_psk(&password).is_err() => {
                        let _ = writeln!(
                            io::stderr(),
                            "A WiFi password is 8 to 63 characters (or 64 hex digits)."
                        );
                    }
                    other => return Ok(other),
                }
            }
        });
        PasswordEntry { abandon, reading }
    }

    /// What was typed; `None` when the user cancelled (or the terminal failed). Cancel-safe.
    pub async fn typed(&mut self) -> Option<Secret> {
        match (&mut self.reading).await {
            Ok(Ok(password)) => password,
            _ => None,
        }
    }

    /// Stops asking and gives the terminal back.
    pub async fn abandon(self) {
        self.abandon.store(true, Ordering::Relaxed);
        let _ = self.reading.await;
    }
}

/// Reads a password from the controlling terminal (`/dev/tty`, so it works with stdin
/// redirected). `Ok(None)` when the user cancels with Ctrl-C, Ctrl-D or Escape, or when
/// `abandon` is set (the attempt ended meanwhile).
///
/// The terminal is put in non-canonical mode without echo or signals, so Ctrl-C arrives
/// as a byte, and it is restored before this returns, whatever happened.
pub fn read_password(prompt: &str, abandon: &AtomicBool) -> io::Result<Option<Secret>> {
    let mut tty = File::options().read(true).write(true).open("/dev/tty")?;
    let original = termios::tcgetattr(&tty)?;
    let mut quiet = original.clone();
    quiet
        .local_modes
        .remove(LocalModes::ECHO | LocalModes::ICANON | LocalModes::ISIG);
    quiet.special_codes[SpecialCodeIndex::VMIN] = 1;
    quiet.special_codes[SpecialCodeIndex::VTIME] = 0;
    termios::tcsetattr(&tty, OptionalActions::Flush, &quiet)?;
    let result = read_line(&mut tty, prompt, abandon);
    termios::tcsetattr(&tty, OptionalActions::Flush, &original)?;
    let _ = tty.write_all(b"\n");
    result
}

fn read_line(tty: &mut File, prompt: &str, abandon: &AtomicBool) -> io::Result<Option<Secret>> {
    tty.write_all(prompt.as_bytes())?;
    tty.flush()?;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        // Wait for a key a tenth of a second at a time, to notice `abandon`.
        let mut ready = [rustix::event::PollFd::new(
            &*tty,
            rustix::event::PollFlags::IN,
        )];
        let timeout = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        if rustix::event::poll(&mut ready, Some(&timeout))? == 0 {
            if abandon.load(Ordering::Relaxed) {
                return Ok(None);
            }
            continue;
        }
        if tty.read(&mut byte)? == 0 {
            return Ok(None);
        }
        match byte[0] {
            b'\r' | b'\n' => break,
            0x03 | 0x1b => return Ok(None), // Ctrl-C, Escape
            0x04 if line.is_empty() => return Ok(None), // Ctrl-D
            0x7f | 0x08 => {
                // Backspace removes a whole UTF-8 character.
                while let Some(b) = line.pop() {
                    if b & 0xc0 != 0x80 {
                        break;
                    }
                }
            }
            0x15 => line.clear(), // Ctrl-U
            b if b >= 0x20 || b & 0x80 != 0 => line.push(b),
            _ => {}
        }
    }
    Ok(Some(Secret::new(
        String::from_utf8_lossy(&line).into_owned(),
    )))
}

/// The password on the first line of standard input (`--password-stdin`), checked.
pub fn read_stdin_password() -> Result<Secret, Error> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| {
        Error::new(
            ErrorCode::Io,
            format!("cannot read the password from standard input: {e}"),
        )
    })?;
    let password = Secret::new(line.trim_end_matches(['\n', '\r']).to_string());
    validate_psk(&password)?;
    Ok(password)
}
