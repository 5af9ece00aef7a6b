//! Rendering: aligned tables for people, JSON for scripts; the cells of each row and the
//! notes on what could not be seen, shared by the commands and the live monitor.

pub mod notes;
pub mod rows;
pub mod table;
pub mod units;

use serde::Serialize;
use std::io::{BufWriter, StdoutLock, Write};

/// Stdout with a large buffer. Rust's stdout is line-buffered: a 100,000-row table would
/// be 100,000 syscalls, and a JSON document one syscall per kilobyte. Flush when done.
pub fn stdout() -> BufWriter<StdoutLock<'static>> {
    BufWriter::with_capacity(1 << 16, std::io::stdout().lock())
}

/// Writes `document` as one line of JSON on stdout.
pub fn print_json<T: Serialize>(document: &T) -> anyhow::Result<()> {
    let mut out = stdout();
    serde_json::to_writer(&mut out, document)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
