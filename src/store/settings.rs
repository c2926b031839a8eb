//! The store's configuration group: `DATABASE_URL`, `HISTORY_RETENTION_DAYS`.

use clap::Args;

use crate::variables::{SecretUrl, Unechoed};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Database")]
pub struct DatabaseConfig {
    /// PostgreSQL URL. Unset: accounts and history live in memory (embedded default).
    #[arg(long, global = true, env = "DATABASE_URL", value_name = "DATABASE_URL", value_parser = Unechoed(parse_database_url), hide_env_values = true)]
    pub database_url: Option<SecretUrl>,

    /// Days of history kept (PostgreSQL or memory); older rows are deleted hourly. 0 keeps everything.
    #[arg(long, global = true, env = "HISTORY_RETENTION_DAYS", value_name = "HISTORY_RETENTION_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(0..=36_500))]
    pub history_retention_days: u32,
}

fn parse_database_url(value: &str) -> Result<SecretUrl, String> {
    SecretUrl::checked(value, |value| {
        match value.parse::<sqlx::postgres::PgConnectOptions>() {
            Ok(_) if value.starts_with("postgres://") || value.starts_with("postgresql://") => {
                Ok(())
            }
            Ok(_) => Err("expected a postgres:// or postgresql:// URL".into()),
            Err(error) => Err(format!("not a PostgreSQL URL ({error})")),
        }
    })
}
