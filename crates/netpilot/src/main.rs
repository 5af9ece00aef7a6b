//! `netpilot`, the binary: the command line, and the composition roots (the commands and
//! `daemon.rs`), the only places where the Linux backends are handed to the engine.

mod cli;
mod daemon;
mod output;
mod traffic_sampler;
mod tui;

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::parse();
    if let Err(error) = start_logging(cli.log_target()) {
        return cli::exit::report(&error, cli.json);
    }
    let json = cli.json;
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => cli::exit::report(&error, json),
    }
}

fn start_logging(target: cli::LogTarget) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    match target {
        cli::LogTarget::Stderr if std::env::var_os("RUST_LOG").is_some() => {
            tracing_subscriber::fmt()
                .with_env_filter(EnvFilter::from_default_env())
                .with_writer(std::io::stderr)
                .init();
        }
        cli::LogTarget::File(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| anyhow::anyhow!("cannot open the log file {}: {e}", path.display()))?;
            let filter =
                EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        cli::LogTarget::Stderr | cli::LogTarget::Nowhere => {}
    }
    Ok(())
}
