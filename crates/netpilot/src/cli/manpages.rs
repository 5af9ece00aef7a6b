//! `netpilot manpages DIR`: writes the manual pages, one per command, from the same clap
//! definitions as --help, so a page cannot drift from the flags. For scripts/package, so
//! hidden: it is added to the command line at parse time (`with_manpages`) rather than
//! derived into `Cli`, which keeps it out of `--help` and out of the completion scripts.

use clap::{Arg, ArgMatches, Command, value_parser};
use std::path::{Path, PathBuf};

const NAME: &str = "manpages";

/// `cli` with the hidden `manpages DIR` subcommand.
pub fn with_manpages(cli: Command) -> Command {
    cli.subcommand(
        Command::new(NAME)
            .hide(true)
            .about("Write netpilot.1 and a page per subcommand (netpilot-wifi-connect.1…) into DIR")
            .arg(
                Arg::new("dir")
                    .value_name("DIR")
                    .required(true)
                    .value_parser(value_parser!(PathBuf)),
            ),
    )
}

/// The directory `manpages DIR` asked for, if that is what was run.
pub fn requested(matches: &ArgMatches) -> Option<&Path> {
    match matches.subcommand() {
        Some((NAME, args)) => args.get_one::<PathBuf>("dir").map(PathBuf::as_path),
        _ => None,
    }
}

/// Writes `netpilot.1` and one page per visible subcommand, named by its path
/// (`netpilot-wifi.1`, `netpilot-wifi-connect.1`…), each listing its subcommands' pages.
/// Returns the files written.
pub fn write_all(cli: Command, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let version = cli.get_version().unwrap_or_default().to_owned();
    // `help` is a page of its own in no manual: the pages are the help.
    let mut cli = cli.disable_help_subcommand(true);
    cli.build();
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    write_page(&cli, &format!("netpilot {version}"), dir, &mut written)?;
    Ok(written)
}

fn write_page(
    command: &Command,
    source: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    let page = clap_mangen::Man::new(command.clone())
        .source(source)
        .manual("netpilot manual");
    written.push(page.generate_to(dir)?);
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_page(sub, source, dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::CommandFactory;

    #[test]
    fn a_page_per_command_named_by_its_path() {
        let dir = std::env::temp_dir().join(format!("netpilot-manpages-{}", std::process::id()));
        let written = write_all(Cli::command(), &dir).expect("pages written");
        let names: Vec<String> = written
            .iter()
            .map(|path| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for page in [
            "netpilot.1",
            "netpilot-wifi.1",
            "netpilot-wifi-connect.1",
            "netpilot-device-configure.1",
            "netpilot-daemon.1",
            "netpilot-completions.1",
        ] {
            assert!(names.iter().any(|n| n == page), "no {page} in {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("help") || n.contains(NAME)));
        let connect = std::fs::read_to_string(dir.join("netpilot-wifi-connect.1")).unwrap();
        assert!(connect.contains("password\\-stdin"), "{connect}");
        let top = std::fs::read_to_string(dir.join("netpilot.1")).unwrap();
        assert!(top.contains("netpilot\\-wifi(1)"), "{top}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_hidden_command_is_parsed_but_not_shown() {
        let matches = with_manpages(Cli::command())
            .try_get_matches_from(["netpilot", NAME, "/tmp/pages"])
            .expect("parsed");
        assert_eq!(requested(&matches), Some(Path::new("/tmp/pages")));
        let help = with_manpages(Cli::command()).render_help().to_string();
        assert!(!help.contains(NAME), "{help}");
    }
}
