//! Tracing, set up once. `RUST_LOG` picks the levels (default `info`),
//! `LOG_FORMAT` the shape of a line: text for people, JSON for log shippers.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Logs")]
pub struct TelemetryConfig {
    /// How log lines are written: `text`, or `json` (one object per line,
    /// the message and each value a field of its own).
    #[arg(
        long,
        global = true,
        env = "LOG_FORMAT",
        value_name = "LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(config: &TelemetryConfig) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .map_err(|e| format!("invalid value for RUST_LOG ({directives:?}): {e}"))?,
        _ => EnvFilter::new("info"),
    };
    // Standard error, so that a command's own output (a token, a report)
    // stays clean on standard output.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        // Colour only on a terminal, since operators grep the logs.
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        // The event's fields (the message among them) at the top level; the
        // spans it happened in in `spans`, outermost first: a request's
        // (its id and user) and whatever libraries open inside it.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .init(),
    }
    Ok(())
}
