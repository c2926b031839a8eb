//! The simulator's configuration group: whether the embedded default runs
//! it, and the bars and health events it makes.

use std::time::Duration;

use clap::Args;
use tracing::info;

use super::{HealthShape, Plan, Settings, parse_seconds};

/// `EMBEDDED_SIMULATOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EmbeddedSimulator {
    /// On when the bus is in-process and this process produces ticks.
    Auto,
    /// On whenever the bus is in-process.
    On,
    Off,
}

/// `SIM_BAR_SECONDS`: a length in seconds, or `auto` for the mode's default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BarLength {
    Auto,
    Fixed(Duration),
}

impl std::str::FromStr for BarLength {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.trim().eq_ignore_ascii_case("auto") {
            return Ok(BarLength::Auto);
        }
        parse_seconds(value)
            .map(BarLength::Fixed)
            .map_err(|reason| format!("{reason}, or auto"))
    }
}

impl BarLength {
    fn or(self, default: Duration) -> Duration {
        match self {
            BarLength::Auto => default,
            BarLength::Fixed(length) => length,
        }
    }
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Built-in TickStockPL simulator")]
pub struct SimConfig {
    /// The built-in TickStockPL simulator in the embedded default (no REDIS_URL):
    /// auto runs it when this process also produces ticks, on always, off never.
    #[arg(
        long,
        global = true,
        env = "EMBEDDED_SIMULATOR",
        value_name = "EMBEDDED_SIMULATOR",
        value_enum,
        default_value = "auto"
    )]
    pub embedded_simulator: EmbeddedSimulator,

    /// Simulator bar length in seconds; auto: 60 for `tickstock simulate`, 5 embedded.
    #[arg(
        long,
        global = true,
        env = "SIM_BAR_SECONDS",
        value_name = "SIM_BAR_SECONDS",
        default_value = "auto"
    )]
    pub sim_bar_seconds: BarLength,

    /// Seconds between the simulator's health events.
    #[arg(
        long,
        global = true,
        env = "SIM_HEALTH_SECONDS",
        value_name = "SIM_HEALTH_SECONDS",
        default_value = "10",
        value_parser = parse_seconds
    )]
    pub sim_health_seconds: Duration,

    /// Shape of the simulator's health events: a (flat, as TickStockPL sends) or b (seed 004's groups).
    #[arg(
        long,
        global = true,
        env = "SIM_HEALTH_SHAPE",
        value_name = "SIM_HEALTH_SHAPE",
        value_enum,
        default_value = "a"
    )]
    pub sim_health_shape: HealthShape,

    /// Invented past bars (never published) that warm each new symbol's indicators.
    #[arg(
        long,
        global = true,
        env = "SIM_WARMUP_BARS",
        value_name = "SIM_WARMUP_BARS",
        default_value_t = 250,
        value_parser = clap::value_parser!(u64).range(0..=10_000)
    )]
    pub sim_warmup_bars: u64,
}

impl SimConfig {
    /// The settings of a run of `plan` over `symbols` symbols besides the
    /// plan's own, with bars of `default_bar` unless `SIM_BAR_SECONDS` says
    /// otherwise.
    pub fn settings(&self, plan: Plan, default_bar: Duration, symbols: usize) -> Settings {
        Settings {
            symbol_count: symbols + plan.load_symbols,
            plan,
            bar_interval: self.sim_bar_seconds.or(default_bar),
            health_interval: self.sim_health_seconds,
            health_shape: self.sim_health_shape,
            warmup_bars: usize::try_from(self.sim_warmup_bars).unwrap_or(usize::MAX),
        }
    }

    /// Whether the embedded default runs the simulator: only ever on the
    /// in-process bus (with Redis, `tickstock simulate` plays TickStockPL).
    pub fn runs_embedded(&self, in_process_bus: bool, ticks_in_process: bool) -> bool {
        let wanted = match self.embedded_simulator {
            EmbeddedSimulator::Auto => ticks_in_process,
            EmbeddedSimulator::On => true,
            EmbeddedSimulator::Off => false,
        };
        if wanted && !in_process_bus && self.embedded_simulator == EmbeddedSimulator::On {
            info!(
                "EMBEDDED_SIMULATOR=on is ignored with REDIS_URL: run `tickstock simulate` instead"
            );
        }
        wanted && in_process_bus
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_lengths_parse_as_auto_or_seconds() {
        assert_eq!("auto".parse::<BarLength>(), Ok(BarLength::Auto));
        assert_eq!(
            "0.25".parse::<BarLength>(),
            Ok(BarLength::Fixed(Duration::from_millis(250)))
        );
        assert_eq!(
            "60".parse::<BarLength>(),
            Ok(BarLength::Fixed(Duration::from_secs(60)))
        );
        for bad in ["0", "-1", "abc", "", "100000", "NaN"] {
            assert!(bad.parse::<BarLength>().is_err(), "{bad}");
        }
    }
}
