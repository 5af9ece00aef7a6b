//! `netpilot`, the binary: the command line, and the composition roots (the commands and
//! `daemon.rs`), the only places where the Linux backends are handed to the engine.

mod cli;
mod daemon;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // Logs only when asked for (RUST_LOG=debug…), and only to stderr: stdout is for
    // tables and JSON.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let json = cli.json;
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => cli::exit::report(&error, json),
    }
}
