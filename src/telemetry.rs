//! Tracing, set up once. `RUST_LOG` picks the levels (default `info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .map_err(|e| format!("invalid value for RUST_LOG ({directives:?}): {e}"))?,
        _ => EnvFilter::new("info"),
    };
    // Standard error, so that a command's own output (a token, a report)
    // stays clean on standard output; colour only on a terminal, since
    // operators grep the logs.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    Ok(())
}
