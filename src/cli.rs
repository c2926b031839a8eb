//! The `tickstock` command line (CONTRACT §7).

pub mod progress;

use crate::accounts::commands::{TokenCommand, UserCommand};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::conformance::{self, report::Format};
use crate::sim::{self, Fault, Plan, Scenario};

/// `--version`: the crate's version and the git revision it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("TICKSTOCK_GIT_REV"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "tickstock",
    version = VERSION,
    about = "TickStock: Live Streaming backend and dashboard"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Play TickStockPL against REDIS_URL: consume market ticks, publish
    /// sessions, health, patterns, indicators and alerts.
    Simulate(SimulateArgs),
    /// Publish recorded events (JSON lines `{"channel":...,"message":{...}}`) to REDIS_URL.
    Publish(PublishArgs),
    /// Listen to TickStockPL's 8 channels on REDIS_URL and print seed 004's
    /// "TickStockPL Streaming Status Report", filled in (tables checked at
    /// DATABASE_URL when set).
    #[command(after_long_help = conformance::rules_help())]
    Verify(VerifyArgs),
    /// Manage users (in the database at DATABASE_URL).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens for `Authorization: Bearer` (in the database at DATABASE_URL).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// What to play (seed 004's test scenarios).
    #[arg(long, value_enum, default_value = "normal")]
    pub scenario: Scenario,

    /// End the session after this many seconds with final_status "completed"
    /// (market-close: 300; the others run until interrupted).
    #[arg(long, value_name = "SECONDS", value_parser = sim::parse_seconds)]
    pub duration: Option<Duration>,

    /// error-recovery: seconds from the start to the simulated disconnect (default 60).
    #[arg(long, value_name = "SECONDS", value_parser = sim::parse_seconds)]
    pub fault_after: Option<Duration>,

    /// error-recovery: seconds the disconnect lasts before its recovery (default 120).
    #[arg(long, value_name = "SECONDS", value_parser = sim::parse_seconds)]
    pub fault_seconds: Option<Duration>,

    /// high-volume: synthetic symbols whose bars the simulator makes up (default 1500).
    #[arg(long, value_name = "COUNT", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub load_symbols: Option<u64>,
}

impl SimulateArgs {
    /// The scenario's plan with these timings; a timing the scenario does
    /// not use is an error rather than silently ignored.
    pub fn plan(&self) -> Result<Plan, String> {
        let mut plan = Plan::new(self.scenario);
        let only_for = |flag: &str, scenario: Scenario| {
            format!("--{flag} applies to --scenario {} only", scenario.name())
        };
        if self.fault_after.is_some() || self.fault_seconds.is_some() {
            let Some(fault) = &mut plan.fault else {
                let flag = if self.fault_after.is_some() {
                    "fault-after"
                } else {
                    "fault-seconds"
                };
                return Err(only_for(flag, Scenario::ErrorRecovery));
            };
            *fault = Fault {
                after: self.fault_after.unwrap_or(fault.after),
                lasts: self.fault_seconds.unwrap_or(fault.lasts),
            };
        }
        if let Some(symbols) = self.load_symbols {
            if plan.load_symbols == 0 {
                return Err(only_for("load-symbols", Scenario::HighVolume));
            }
            plan.load_symbols = usize::try_from(symbols).map_err(|e| e.to_string())?;
        }
        if self.duration.is_some() {
            plan.duration = self.duration;
        }
        Ok(plan)
    }
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Files of recorded events, published in order (e.g. tests/mock_data/*.jsonl).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// How long to listen, in minutes (fractions allowed: 0.5).
    #[arg(long, value_name = "N", default_value = "5", value_parser = parse_minutes)]
    pub minutes: Duration,

    /// How to print the report.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: Format,
}

/// Minutes, fractions allowed, from 0.01 to a day.
fn parse_minutes(value: &str) -> Result<Duration, String> {
    match value.trim().parse::<f64>() {
        Ok(minutes) if (0.01..=1440.0).contains(&minutes) => {
            Ok(Duration::from_secs_f64(minutes * 60.0))
        }
        _ => Err("expected a number of minutes from 0.01 to 1440".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("tickstock").chain(args.iter().copied()))
    }

    fn plan(args: &[&str]) -> Result<Plan, String> {
        match parse(args).map(|cli| cli.command) {
            Ok(Some(Command::Simulate(args))) => args.plan(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn simulate_takes_a_scenario_and_its_timings() {
        let error_recovery = plan(&[
            "simulate",
            "--scenario",
            "error-recovery",
            "--fault-after",
            "0.5",
            "--fault-seconds",
            "2",
        ])
        .unwrap();
        assert_eq!(
            error_recovery.fault,
            Some(Fault {
                after: Duration::from_millis(500),
                lasts: Duration::from_secs(2)
            })
        );
        let close = plan(&["simulate", "--scenario", "market-close", "--duration", "3"]).unwrap();
        assert_eq!(close.duration, Some(Duration::from_secs(3)));
        let volume = plan(&[
            "simulate",
            "--scenario",
            "high-volume",
            "--load-symbols",
            "2000",
        ])
        .unwrap();
        assert_eq!(volume.load_symbols, 2000);
        assert_eq!(plan(&["simulate"]).unwrap(), Plan::new(Scenario::Normal));
    }

    #[test]
    fn timings_of_another_scenario_are_refused() {
        let error = plan(&["simulate", "--fault-after", "5"]).unwrap_err();
        assert_eq!(
            error,
            "--fault-after applies to --scenario error-recovery only"
        );
        let error = plan(&[
            "simulate",
            "--scenario",
            "market-close",
            "--load-symbols",
            "5",
        ])
        .unwrap_err();
        assert_eq!(
            error,
            "--load-symbols applies to --scenario high-volume only"
        );
        assert!(parse(&["simulate", "--scenario", "sideways"]).is_err());
        assert!(parse(&["simulate", "--duration", "0"]).is_err());
    }

    #[test]
    fn verify_takes_minutes_and_a_format() {
        match parse(&["verify", "--minutes", "0.5", "--format", "json"]).map(|cli| cli.command) {
            Ok(Some(Command::Verify(args))) => {
                assert_eq!(args.minutes, Duration::from_secs(30));
                assert_eq!(args.format, Format::Json);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["verify"]).map(|cli| cli.command) {
            Ok(Some(Command::Verify(args))) => {
                assert_eq!(args.minutes, Duration::from_secs(300));
                assert_eq!(args.format, Format::Markdown);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["verify", "--minutes", "0"]).is_err());
        assert!(parse(&["verify", "--format", "html"]).is_err());
    }

    #[test]
    fn help_shows_each_group_under_its_heading() {
        use clap::CommandFactory;
        let help = Cli::command().render_long_help().to_string();
        let groups = [
            ("HTTP server:", "BIND_ADDR"),
            ("Logins:", "SESSION_SECRET"),
            ("Bus:", "REDIS_URL"),
            ("Database:", "DATABASE_URL"),
            ("TickStockPL events:", "HEALTH_STALE_SECONDS"),
            ("Market feed:", "DATA_SOURCE"),
            ("Built-in TickStockPL simulator:", "SIM_BAR_SECONDS"),
            ("Logs:", "LOG_FORMAT"),
        ];
        let at = |text: &str| help.find(text).unwrap_or_else(|| panic!("{text}: {help}"));
        // In this order, each variable after its heading and before the next.
        let mut previous = 0;
        for (heading, variable) in groups {
            let (heading_at, variable_at) = (at(heading), at(&format!("[env: {variable}")));
            assert!(
                previous < heading_at && heading_at < variable_at,
                "{heading} {variable}"
            );
            previous = variable_at;
        }
    }

    #[test]
    fn the_version_names_the_git_revision() {
        use clap::CommandFactory;
        let version = Cli::command().render_version();
        let revision = env!("TICKSTOCK_GIT_REV");
        assert!(!revision.is_empty());
        assert_eq!(
            version.trim(),
            format!("tickstock {} ({revision})", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn a_bad_log_format_is_refused_naming_the_variable() {
        let error = parse(&["--log-format", "yaml"]).unwrap_err().to_string();
        assert!(error.contains("LOG_FORMAT"), "{error}");
        let json = parse(&["--log-format", "json"]).unwrap();
        assert_eq!(
            json.config.telemetry.log_format,
            crate::telemetry::LogFormat::Json
        );
    }

    #[test]
    fn publish_needs_at_least_one_file() {
        assert!(parse(&["publish"]).is_err());
        match parse(&["publish", "a.jsonl", "b.jsonl"]).map(|cli| cli.command) {
            Ok(Some(Command::Publish(args))) => assert_eq!(args.files.len(), 2),
            other => panic!("{other:?}"),
        }
    }
}
