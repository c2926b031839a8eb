//! The built-in TickStockPL simulator: a producer that behaves like
//! TickStockPL on the bus (CONTRACT §2, seed 004). It consumes the
//! `market_tick`s TickStock publishes, builds bars, computes RSI(14),
//! SMA(20, 50, 200), MACD(12, 26, 9) and Bollinger Bands(20, 2) on them,
//! detects candlestick patterns, and publishes on all 8 streaming channels.
//!
//! `tickstock simulate` runs it against Redis, one scenario at a time; the
//! embedded default runs the `normal` scenario in-process, with short bars.

pub mod analysis;
pub mod bars;
pub mod candles;
mod engine;
pub mod health;
pub mod indicators;
pub mod messages;
mod outbox;
pub mod publish;
pub mod settings;
mod synthetic;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use self::engine::Engine;
use self::messages::{FinalStatus, Session};
use self::outbox::PublishStats;
use crate::bus::Bus;
use crate::events::MARKET_TICKS;

pub use self::engine::{MAX_TRACKED_SYMBOLS, OUTAGE_COMPONENT};

/// Bar length of `tickstock simulate` unless configured: TickStockPL's.
pub const SIMULATE_BAR: Duration = Duration::from_secs(60);
/// Bar length of the embedded default unless configured: short, so that a
/// fresh dashboard comes alive within seconds.
pub const EMBEDDED_BAR: Duration = Duration::from_secs(5);
/// Parcels (one per bar close, health snapshot or alert) waiting to be
/// published, at most: several bar intervals of backlog, and a few tens of
/// megabytes at worst with the high-volume universe.
const OUTBOX_PARCELS: usize = 64;

/// The test scenarios of seed 004.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Bars, indicators, patterns and alerts from the ticks on the bus; healthy.
    Normal,
    /// Normal, plus a synthetic universe whose pattern-rich bars give 1000+
    /// patterns and 100+ indicator alerts per bar interval (a minute by default).
    HighVolume,
    /// Normal, then a simulated disconnect (critical alert) and, later, its
    /// recovery.
    ErrorRecovery,
    /// Normal until the close, then `session_stopped` with the final totals.
    MarketClose,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Normal => "normal",
            Scenario::HighVolume => "high-volume",
            Scenario::ErrorRecovery => "error-recovery",
            Scenario::MarketClose => "market-close",
        }
    }
}

/// `SIM_HEALTH_SHAPE`: the two health shapes of CONTRACT §2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HealthShape {
    /// Flat metrics with the session id: what TickStockPL sends.
    A,
    /// Seed 004's `data_flow` / `resource_usage` groups and `issues`.
    B,
}

/// Seconds, fractions allowed (`0.25`), from 10 ms to a day.
pub fn parse_seconds(value: &str) -> Result<Duration, String> {
    match value.trim().parse::<f64>() {
        Ok(seconds) if (0.01..=86_400.0).contains(&seconds) => Ok(Duration::from_secs_f64(seconds)),
        _ => Err("expected a number of seconds from 0.01 to 86400".into()),
    }
}

/// A duration as people write it: `120`, `0.3`.
pub(crate) fn seconds_label(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds.fract() == 0.0 {
        format!("{seconds:.0}")
    } else {
        format!("{}", (seconds * 1000.0).round() / 1000.0)
    }
}

/// The `timeframe` of a bar length: `1min`, `5min`, `5s`, `250ms`.
pub fn timeframe(bar: Duration) -> String {
    let millis = bar.as_millis();
    match millis {
        m if m % 60_000 == 0 => format!("{}min", m / 60_000),
        m if m % 1_000 == 0 => format!("{}s", m / 1_000),
        m => format!("{m}ms"),
    }
}

/// error-recovery's simulated disconnect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fault {
    /// From the start of the session.
    pub after: Duration,
    pub lasts: Duration,
}

/// What a scenario does and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub scenario: Scenario,
    /// Ends the session (`completed`) this long after its start; `None`
    /// runs until stopped (`stopped`).
    pub duration: Option<Duration>,
    pub fault: Option<Fault>,
    /// Synthetic symbols whose bars the simulator makes up itself.
    pub load_symbols: usize,
}

impl Plan {
    /// The scenario with its default timings: seed 004's two-minute outage
    /// a minute in, a five-minute session to market close, and a
    /// 1500-symbol synthetic universe for high volume.
    pub fn new(scenario: Scenario) -> Self {
        let mut plan = Plan {
            scenario,
            duration: None,
            fault: None,
            load_symbols: 0,
        };
        match scenario {
            Scenario::Normal => {}
            Scenario::HighVolume => plan.load_symbols = 1500,
            Scenario::ErrorRecovery => {
                plan.fault = Some(Fault {
                    after: Duration::from_secs(60),
                    lasts: Duration::from_secs(120),
                })
            }
            Scenario::MarketClose => plan.duration = Some(Duration::from_secs(300)),
        }
        plan
    }
}

/// Everything a simulator run needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub plan: Plan,
    pub bar_interval: Duration,
    pub health_interval: Duration,
    pub health_shape: HealthShape,
    /// Invented past bars each new symbol's indicators are fed (unpublished).
    pub warmup_bars: usize,
    /// `symbol_count` of `session_started`.
    pub symbol_count: usize,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub session_id: String,
    pub final_status: FinalStatus,
    pub ticks: u64,
    pub rejected_ticks: u64,
    pub bars: u64,
    pub patterns: u64,
    pub indicators: u64,
    pub indicator_alerts: u64,
    pub published: u64,
    pub dropped: u64,
    pub publish_failures: u64,
}

/// Runs one session on `bus` until its plan ends it or `stop` is cancelled;
/// returns once everything it produced has been published.
pub async fn run(settings: Settings, bus: Bus, stop: CancellationToken) -> Summary {
    let listening = stop.child_token();
    let subscription = bus.subscribe(&[MARKET_TICKS], listening.clone());
    let session = Arc::new(Session {
        session_id: outbox::new_id(&mut rand::rng()),
        universe: format!("simulator:{}", settings.plan.scenario.name()),
        symbol_count: settings.symbol_count,
        started_at: Utc::now(),
        timeframe: timeframe(settings.bar_interval),
    });
    info!(
        "TICKSTOCKPL-SIMULATOR: Session {} starting - scenario {}, {} bars, health every {} s (shape {:?}), on the {} bus",
        session.session_id,
        settings.plan.scenario.name(),
        session.timeframe,
        seconds_label(settings.health_interval),
        settings.health_shape,
        bus.kind()
    );
    let stats = Arc::new(PublishStats::default());
    let (outbox, parcels) = outbox::channel(OUTBOX_PARCELS, stats.clone());
    let publisher = tokio::spawn(outbox::publish(
        parcels,
        bus,
        session.clone(),
        settings.health_shape,
        stats.clone(),
    ));
    let engine = Engine::new(settings, session, outbox, subscription.link);
    let summary = engine.run(subscription.messages, &stop).await;
    listening.cancel();
    if let Err(error) = publisher.await {
        warn!("TICKSTOCKPL-SIMULATOR: Publisher ended abnormally: {error}");
    }
    Summary {
        published: stats.published(),
        dropped: stats.dropped(),
        publish_failures: stats.failed(),
        ..summary
    }
}

/// Starts the in-process simulator of the embedded default, supervised.
pub fn start_embedded(
    settings: Settings,
    bus: &Bus,
    tasks: &crate::supervise::Supervisor,
    shutdown: &CancellationToken,
) {
    let (bus, stop) = (bus.clone(), shutdown.clone());
    tasks.spawn(
        "simulator",
        crate::supervise::Restart::Always,
        shutdown.clone(),
        move || {
            let run = run(settings.clone(), bus.clone(), stop.clone());
            async move {
                run.await;
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeframes_name_the_bar_length() {
        assert_eq!(timeframe(Duration::from_secs(60)), "1min");
        assert_eq!(timeframe(Duration::from_secs(300)), "5min");
        assert_eq!(timeframe(Duration::from_secs(5)), "5s");
        assert_eq!(timeframe(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn seconds_read_as_written() {
        assert_eq!(seconds_label(Duration::from_secs(120)), "120");
        assert_eq!(seconds_label(Duration::from_millis(300)), "0.3");
    }

    #[test]
    fn scenarios_have_seed_timings_by_default() {
        assert_eq!(Plan::new(Scenario::Normal).duration, None);
        assert_eq!(Plan::new(Scenario::HighVolume).load_symbols, 1500);
        let fault = Plan::new(Scenario::ErrorRecovery).fault.unwrap();
        assert_eq!(fault.lasts, Duration::from_secs(120));
        assert!(Plan::new(Scenario::MarketClose).duration.is_some());
    }
}
