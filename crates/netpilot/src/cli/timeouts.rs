//! The time limits of a connect attempt, one set of flags (and defaults) for `netpilot
//! daemon` and `netpilot wifi connect`.

use super::parse_seconds;
use clap::Args;
use netpilot_engine::connect::Timeouts;
use std::time::Duration;

#[derive(Debug, Clone, Default, Args)]
pub struct TimeoutArgs {
    /// Give up when not connected within this many seconds; time spent answering a
    /// password prompt does not count [default: 30].
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub connect_timeout: Option<Duration>,
    /// Give up when no address came from DHCP this many seconds after associating
    /// [default: 15].
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub dhcp_timeout: Option<Duration>,
    /// Give up when a password prompt is not answered within this many seconds
    /// [default: 120].
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub prompt_timeout: Option<Duration>,
}

impl TimeoutArgs {
    /// The limits given, the engine's defaults for the rest.
    pub fn timeouts(&self) -> Timeouts {
        let defaults = Timeouts::default();
        Timeouts {
            connect: self.connect_timeout.unwrap_or(defaults.connect),
            dhcp: self.dhcp_timeout.unwrap_or(defaults.dhcp),
            prompt: self.prompt_timeout.unwrap_or(defaults.prompt),
        }
    }

    /// Whether any limit was given on the command line.
    pub fn given(&self) -> bool {
        self.connect_timeout.is_some()
            || self.dhcp_timeout.is_some()
            || self.prompt_timeout.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_limits_are_the_engines_defaults() {
        assert_eq!(TimeoutArgs::default().timeouts(), Timeouts::default());
        assert!(!TimeoutArgs::default().given());
        let one = TimeoutArgs {
            dhcp_timeout: Some(Duration::from_secs(3)),
            ..TimeoutArgs::default()
        };
        assert_eq!(one.timeouts().dhcp, Duration::from_secs(3));
        assert_eq!(one.timeouts().connect, Timeouts::default().connect);
        assert!(one.given());
    }
}
