//! One line of progress on stderr while something slow happens (only on a terminal).

use std::io::{IsTerminal, Write};

const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

pub struct Progress {
    enabled: bool,
    frame: usize,
    text: String,
}

impl Progress {
    /// Shown only when stderr is a terminal and the output is not JSON.
    pub fn new(json: bool, quiet: bool) -> Self {
        Progress {
            enabled: !json && !quiet && std::io::stderr().is_terminal(),
            frame: 0,
            text: String::new(),
        }
    }

    pub fn set(&mut self, text: impl Into<String>) {
        self.text = text.into();
        self.tick();
    }

    pub fn tick(&mut self) {
        if self.enabled {
            self.frame = (self.frame + 1) % FRAMES.len();
            let _ = write!(
                std::io::stderr(),
                "\r\x1b[2K{} {}",
                FRAMES[self.frame],
                self.text
            );
        }
    }

    /// Removes the line (before a prompt, a result or an error).
    pub fn clear(&mut self) {
        if self.enabled {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}
