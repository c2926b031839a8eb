//! The bus's configuration group: `REDIS_URL`.

use clap::Args;
use secrecy::ExposeSecret;

use super::{Bus, BusError};
use crate::variables::{SecretUrl, Unechoed};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Bus")]
pub struct BusConfig {
    /// Redis URL (redis:// or rediss://). Unset: the in-process bus of the embedded default.
    #[arg(long, global = true, env = "REDIS_URL", value_name = "REDIS_URL", value_parser = Unechoed(parse_redis_url), hide_env_values = true)]
    pub redis_url: Option<SecretUrl>,
}

impl BusConfig {
    /// Redis at `REDIS_URL`, else the in-process bus.
    pub fn open(&self) -> Result<Bus, BusError> {
        Bus::new(self.redis_url.as_ref().map(ExposeSecret::expose_secret))
    }
}

fn parse_redis_url(value: &str) -> Result<SecretUrl, String> {
    SecretUrl::checked(value, |value| match redis::Client::open(value) {
        Ok(_) => Ok(()),
        Err(error) => Err(format!("not a Redis URL ({error})")),
    })
}
