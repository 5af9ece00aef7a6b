//! `netpilot completions SHELL`: the shell's completion script, from the same clap
//! definitions as --help (the .deb installs the bash, zsh and fish ones).

use super::{Cli, Ctx};
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use netpilot_core::{Error, ErrorCode};
use std::io::Write;

#[derive(Debug, Args)]
#[command(after_help = "\
Load it for this shell:
  bash:  source <(netpilot completions bash)
  zsh:   source <(netpilot completions zsh)
  fish:  netpilot completions fish | source

Or install it where the shell finds it (the .deb does this for bash, zsh and fish):
  bash:  /usr/share/bash-completion/completions/netpilot
         (for you alone: ~/.local/share/bash-completion/completions/netpilot)
  zsh:   /usr/share/zsh/vendor-completions/_netpilot (any directory on $fpath)
  fish:  /usr/share/fish/vendor_completions.d/netpilot.fish
         (for you alone: ~/.config/fish/completions/netpilot.fish)")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    shell: Shell,
}

impl CompletionsArgs {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        if ctx.json {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                "a completion script is no JSON document: drop --json",
            )
            .into());
        }
        // Into memory first: clap_complete panics on a failed write, and `| head` is no
        // reason to panic (a closed pipe then ends quietly, as for every command).
        let mut text = Vec::new();
        script(self.shell, &mut text);
        let mut out = crate::output::stdout();
        out.write_all(&text)?;
        out.flush()?;
        Ok(())
    }
}

/// Writes the completion script of `shell` for the `netpilot` command.
pub fn script(shell: Shell, out: &mut dyn std::io::Write) {
    clap_complete::generate(shell, &mut Cli::command(), "netpilot", out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script_of(shell: Shell) -> String {
        let mut out = Vec::new();
        script(shell, &mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn each_script_names_the_commands() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = script_of(shell);
            for word in ["wifi", "connections", "device", "completions", "json"] {
                assert!(text.contains(word), "{shell} lacks {word}");
            }
            // The hidden man page writer is for scripts/package, not for completing.
            assert!(!text.contains("manpages"), "{shell} offers manpages");
        }
    }

    #[test]
    fn the_bash_script_registers_its_function() {
        assert!(script_of(Shell::Bash).contains("complete -F _netpilot"));
    }
}
