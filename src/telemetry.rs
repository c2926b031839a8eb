//! Tracing, set up once. `RUST_LOG` picks the levels (default `info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .map_err(|e| format!("invalid value for RUST_LOG ({directives:?}): {e}"))?,
        _ => EnvFilter::new("info"),
    };
    // Colour only on a terminal: operators grep the logs.
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    Ok(())
}
