//! Configuration, from the environment (and `.env`), validated once at
//! start-up: a bad value stops start-up with a message naming the variable,
//! never echoing a secret (CONTRACT §7). Each part owns its group of
//! variables, with its own `--help` heading; this file puts them together
//! and decides what depends on more than one group.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use secrecy::SecretString;

use crate::bus::settings::BusConfig;
use crate::events::settings::{EventConfig, MAX_EVENT_AGE_SECONDS};
use crate::feed::settings::{FeedConfig, SourceChoice};
use crate::sim::settings::SimConfig;
use crate::sim::{self, Plan, Scenario};
use crate::store::settings::DatabaseConfig;
use crate::telemetry::TelemetryConfig;
use crate::web::settings::{LoginConfig, ServerConfig};

/// The bootstrap admin's password in `Config::for_tests`.
pub const TEST_ADMIN_PASSWORD: &str = "admin-password-for-tests";

#[derive(Debug, Clone, Args)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerConfig,
    #[command(flatten)]
    pub login: LoginConfig,
    #[command(flatten)]
    pub bus: BusConfig,
    #[command(flatten)]
    pub database: DatabaseConfig,
    #[command(flatten)]
    pub events: EventConfig,
    #[command(flatten)]
    pub feed: FeedConfig,
    #[command(flatten)]
    pub sim: SimConfig,
    #[command(flatten)]
    pub telemetry: TelemetryConfig,
}

impl Config {
    /// The defaults of every variable, on an ephemeral port and with no feed,
    /// for tests to adjust.
    pub fn for_tests() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            config: Config,
        }
        let mut config = Defaults::parse_from(["tickstock"]).config;
        config.server.bind_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        config.bus.redis_url = None;
        config.database.database_url = None;
        config.login.tickstock_admin_password = Some(SecretString::from(TEST_ADMIN_PASSWORD));
        config.feed.data_source = Some(SourceChoice::None);
        // The seeds' examples and the mock data are dated 2025: accept them.
        config.events.event_max_age_seconds = MAX_EVENT_AGE_SECONDS;
        config
    }

    /// The simulator's settings for `plan`: it analyses the feed's symbols.
    pub fn simulator(&self, plan: Plan, default_bar: Duration) -> sim::Settings {
        self.sim
            .settings(plan, default_bar, self.feed.symbols.0.len())
    }

    /// The in-process simulator of the embedded default, when this
    /// configuration runs one: `ticks_in_process` says whether the feed
    /// produces ticks here.
    pub fn embedded_simulator(&self, ticks_in_process: bool) -> Option<sim::Settings> {
        let in_process_bus = self.bus.redis_url.is_none();
        self.sim
            .runs_embedded(in_process_bus, ticks_in_process)
            .then(|| self.simulator(Plan::new(Scenario::Normal), sim::EMBEDDED_BAR))
    }
}
