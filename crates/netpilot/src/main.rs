//! `netpilot`, the binary: the command line and the composition root, the one place
//! where the Linux backends are handed to the engine.

mod cli;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let json = cli.json;
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => cli::exit::report(&error, json),
    }
}
