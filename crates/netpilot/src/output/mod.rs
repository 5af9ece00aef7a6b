//! Rendering: aligned tables for people, JSON for scripts.

pub mod table;
pub mod units;

use serde::Serialize;
use std::io::Write;

/// Writes `document` as one line of JSON on stdout.
pub fn print_json<T: Serialize>(document: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, document)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
