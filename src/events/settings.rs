//! The subscriber's configuration group: what it refuses beyond the shapes
//! (the event time window) and when a silent session turns `stale`.

use std::time::Duration;

use clap::Args;

use super::Rules;

/// The widest `EVENT_MAX_AGE_SECONDS`: a century.
pub const MAX_EVENT_AGE_SECONDS: u64 = 3_155_760_000;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "TickStockPL events")]
pub struct EventConfig {
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

    /// Seconds an event's own timestamp may lie before its arrival; an older one is refused (decode error `too_old`).
    #[arg(
        long,
        global = true,
        env = "EVENT_MAX_AGE_SECONDS",
        value_name = "EVENT_MAX_AGE_SECONDS",
        default_value_t = Rules::DEFAULT_MAX_AGE_SECONDS,
        value_parser = clap::value_parser!(u64).range(1..=MAX_EVENT_AGE_SECONDS)
    )]
    pub event_max_age_seconds: u64,

    /// Seconds an event's own timestamp may lie after its arrival; a later one is refused (decode error `in_future`).
    #[arg(
        long,
        global = true,
        env = "EVENT_MAX_FUTURE_SECONDS",
        value_name = "EVENT_MAX_FUTURE_SECONDS",
        default_value_t = Rules::DEFAULT_MAX_FUTURE_SECONDS,
        value_parser = clap::value_parser!(u64).range(0..=86_400)
    )]
    pub event_max_future_seconds: u64,
}

impl EventConfig {
    pub fn health_stale_after(&self) -> Duration {
        Duration::from_secs(self.health_stale_seconds)
    }

    /// What the subscriber refuses beyond the shapes: the event time window.
    pub fn rules(&self) -> Rules {
        Rules::new(
            Duration::from_secs(self.event_max_age_seconds),
            Duration::from_secs(self.event_max_future_seconds),
        )
    }
}
