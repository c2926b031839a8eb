//! Configuration, from the environment (and `.env`), validated once at
//! start-up: a bad value stops start-up with a message naming the variable.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[arg(
        long,
        global = true,
        env = "BIND_ADDR",
        value_name = "BIND_ADDR",
        default_value = "127.0.0.1:5000"
    )]
    pub bind_addr: SocketAddr,

    /// Redis URL (redis:// or rediss://). Unset: the in-process bus of the embedded default.
    #[arg(long, global = true, env = "REDIS_URL", value_name = "REDIS_URL", value_parser = parse_redis_url)]
    pub redis_url: Option<String>,

    /// Seconds without a health event after which an active session is `stale`.
    #[arg(
        long,
        global = true,
        env = "HEALTH_STALE_SECONDS",
        value_name = "HEALTH_STALE_SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub health_stale_seconds: u64,
}

impl Config {
    pub fn health_stale_after(&self) -> Duration {
        Duration::from_secs(self.health_stale_seconds)
    }

    /// The embedded default's configuration on an ephemeral port, for tests.
    pub fn embedded_for_tests() -> Self {
        Self {
            bind_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            redis_url: None,
            health_stale_seconds: 30,
        }
    }
}

fn parse_redis_url(value: &str) -> Result<String, String> {
    match redis::Client::open(value) {
        Ok(_) => Ok(value.to_owned()),
        Err(error) => Err(format!("not a Redis URL ({error})")),
    }
}
