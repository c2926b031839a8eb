//! The simulator's loop: consumes ticks, closes bars on a clock, analyses
//! them, reports health, plays its scenario's script, and hands everything
//! to the outbox without waiting on the bus.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior, interval, interval_at, sleep_until};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::analysis::SymbolAnalysis;
use super::bars::{self, MarketTick};
use super::candles::Bar;
use super::health::{self, HealthSnapshot, Observations, Status, UsageSampler};
use super::messages::{CriticalAlert, FinalStatus, Session, SessionEnd};
use super::outbox::{BarClose, Outbox, Parcel, SymbolBar};
use super::synthetic::{self, LoadUniverse};
use super::{Settings, Summary, seconds_label};
use crate::bus::{BusMessage, Link};

/// Symbols tracked from ticks, at most: ticks for more are ignored, so a
/// feed gone wrong cannot grow memory without bound.
pub const MAX_TRACKED_SYMBOLS: usize = 10_000;
/// The component error-recovery's critical alerts name.
pub const OUTAGE_COMPONENT: &str = "tickstockpl_streaming";

struct Tracked {
    analysis: SymbolAnalysis,
    forming: Option<Bar>,
    /// Had a tick or a bar since the last health snapshot.
    active: bool,
}

/// Counts since the last health snapshot.
struct Window {
    started: Instant,
    ticks: u64,
    bars: u64,
}

impl Window {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            ticks: 0,
            bars: 0,
        }
    }
}

#[derive(Debug, Default)]
struct Totals {
    ticks: u64,
    rejected_ticks: u64,
    bars: u64,
    patterns: u64,
    indicators: u64,
    indicator_alerts: u64,
}

/// error-recovery's simulated disconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutageStep {
    Begin,
    End,
}

pub(super) struct Engine {
    settings: Settings,
    session: Arc<Session>,
    outbox: Outbox,
    link: Arc<Link>,
    rng: StdRng,
    symbols: HashMap<Arc<str>, Tracked>,
    load: Option<LoadUniverse>,
    window: Window,
    totals: Totals,
    usage: UsageSampler,
    started: Instant,
    in_outage: bool,
    first_health: bool,
}

impl Engine {
    pub fn new(settings: Settings, session: Arc<Session>, outbox: Outbox, link: Arc<Link>) -> Self {
        let mut rng = StdRng::from_rng(&mut rand::rng());
        let load = (settings.plan.load_symbols > 0)
            .then(|| LoadUniverse::new(settings.plan.load_symbols, &mut rng));
        let mut engine = Self {
            settings,
            session,
            outbox,
            link,
            rng,
            symbols: HashMap::new(),
            load: None,
            window: Window::new(),
            totals: Totals::default(),
            usage: UsageSampler::default(),
            started: Instant::now(),
            in_outage: false,
            first_health: true,
        };
        if let Some(load) = load {
            for (symbol, last) in load.last_bars() {
                let mut tracked = engine.warmed_up(last.close);
                // The generator continues from this bar: showing it to the
                // analysis lets the first generated bar complete an engulfing.
                tracked.analysis.on_bar(last);
                engine.symbols.insert(symbol.clone(), tracked);
            }
            engine.load = Some(load);
        }
        engine
    }

    /// Runs the session to its end and reports on it.
    pub async fn run(
        mut self,
        mut ticks: mpsc::Receiver<BusMessage>,
        stop: &CancellationToken,
    ) -> Summary {
        self.outbox.deliver(Parcel::SessionStarted).await;
        let end = self.run_until_end(&mut ticks, stop).await;
        self.finish(end).await
    }

    async fn run_until_end(
        &mut self,
        ticks: &mut mpsc::Receiver<BusMessage>,
        stop: &CancellationToken,
    ) -> FinalStatus {
        let start = Instant::now();
        let bar_length = self.settings.bar_interval;
        let mut bar_clock = interval_at(start + bar_length, bar_length);
        bar_clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut health_clock = interval(self.settings.health_interval);
        health_clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let deadline = self.settings.plan.duration.map(|d| start + d);
        let mut outage_script: Vec<(Instant, OutageStep)> = match self.settings.plan.fault {
            Some(fault) => vec![
                (start + fault.after + fault.lasts, OutageStep::End),
                (start + fault.after, OutageStep::Begin),
            ],
            None => Vec::new(),
        };
        loop {
            let next_step = outage_script.last().map(|(at, _)| *at);
            // Clocks before ticks: a busy feed must not delay bars or health.
            tokio::select! {
                biased;
                _ = stop.cancelled() => return FinalStatus::Stopped,
                _ = until(deadline) => return FinalStatus::Completed,
                _ = until(next_step) => {
                    if let Some((_, step)) = outage_script.pop() {
                        self.on_outage(step);
                    }
                }
                _ = bar_clock.tick() => self.close_bars(),
                _ = health_clock.tick() => self.report_health(),
                message = ticks.recv() => match message {
                    Some(message) => self.on_tick(&message.payload),
                    None => return FinalStatus::Failed,
                },
            }
        }
    }

    fn on_tick(&mut self, payload: &[u8]) {
        // During a simulated disconnect the ticks never "arrive".
        if self.in_outage {
            return;
        }
        let tick = match MarketTick::parse(payload) {
            Ok(tick) => tick,
            Err(error) => return self.reject(error),
        };
        let Some(tracked) = self.tracked(&tick) else {
            return self.reject(format!("more than {MAX_TRACKED_SYMBOLS} symbols"));
        };
        match &mut tracked.forming {
            Some(bar) => bars::extend_bar(bar, &tick),
            forming @ None => *forming = Some(bars::open_bar(&tick)),
        }
        tracked.active = true;
        self.totals.ticks += 1;
        self.window.ticks += 1;
    }

    /// Counts a tick that cannot be used; says why for the first one only.
    fn reject(&mut self, why: impl std::fmt::Display) {
        self.totals.rejected_ticks += 1;
        if self.totals.rejected_ticks == 1 {
            warn!(
                "TICKSTOCKPL-SIMULATOR: Ignoring a market tick ({why}); further ones are counted in health errors_count"
            );
        }
    }

    /// The symbol's state, warmed up on its first tick; `None` beyond
    /// [`MAX_TRACKED_SYMBOLS`] symbols of ticks.
    fn tracked(&mut self, tick: &MarketTick) -> Option<&mut Tracked> {
        if !self.symbols.contains_key(tick.symbol.as_str()) {
            let from_ticks = self
                .symbols
                .len()
                .saturating_sub(self.settings.plan.load_symbols);
            if from_ticks >= MAX_TRACKED_SYMBOLS {
                return None;
            }
            let tracked = self.warmed_up(tick.price);
            self.symbols.insert(tick.symbol.as_str().into(), tracked);
        }
        self.symbols.get_mut(tick.symbol.as_str())
    }

    /// A new symbol's analysis, fed an invented past ending at `price` so
    /// that indicators, alerts and patterns are live from its first bar.
    fn warmed_up(&mut self, price: f64) -> Tracked {
        let mut analysis = SymbolAnalysis::new();
        let history = synthetic::history(price, self.settings.warmup_bars, &mut self.rng);
        analysis.warm_up(history);
        Tracked {
            analysis,
            forming: None,
            active: false,
        }
    }

    fn close_bars(&mut self) {
        if self.in_outage {
            return;
        }
        if let Some(load) = &mut self.load {
            for (symbol, bar) in load.next_bars(&mut self.rng) {
                if let Some(tracked) = self.symbols.get_mut(&symbol) {
                    tracked.forming = Some(bar);
                }
            }
        }
        let closed_at = std::time::Instant::now();
        let mut closed: Vec<SymbolBar> = Vec::new();
        for (symbol, tracked) in &mut self.symbols {
            let Some(bar) = tracked.forming.take() else {
                continue;
            };
            tracked.active = true;
            closed.push(SymbolBar {
                symbol: symbol.clone(),
                bar,
                analysis: tracked.analysis.on_bar(&bar),
            });
        }
        if closed.is_empty() {
            return;
        }
        closed.sort_unstable_by(|a, b| a.symbol.cmp(&b.symbol));
        self.count(&closed);
        self.outbox.offer(Parcel::Bars(BarClose {
            at: Utc::now(),
            closed_at,
            bars: closed,
        }));
    }

    fn count(&mut self, closed: &[SymbolBar]) {
        let totals = &mut self.totals;
        for SymbolBar { analysis, .. } in closed {
            totals.patterns += analysis.patterns.len() as u64;
            totals.indicators += analysis.readings.count() as u64;
            totals.indicator_alerts += analysis.alerts.len() as u64;
        }
        totals.bars += closed.len() as u64;
        self.window.bars += closed.len() as u64;
    }

    fn report_health(&mut self) {
        let snapshot = self.snapshot();
        self.outbox.offer(Parcel::Health(snapshot));
    }

    /// Measures and judges the span since the previous snapshot, and starts
    /// a new one.
    fn snapshot(&mut self) -> HealthSnapshot {
        let elapsed = self.window.started.elapsed();
        let recent = self.outbox.stats().take_recent();
        let usage = self.usage.sample();
        let connected = self.link.connected() && !self.in_outage;
        let observations = Observations {
            elapsed,
            ticks: self.window.ticks,
            bars: self.window.bars,
            expects_input: elapsed >= self.settings.bar_interval,
            connected,
            lag_ms: recent.worst_lag_ms,
            cpu_percent: usage.cpu_percent,
            dropped: recent.dropped,
            publish_failures: recent.failed,
        };
        let (status, issues) = if std::mem::take(&mut self.first_health) {
            (Status::Starting, Vec::new())
        } else {
            health::assess(&observations)
        };
        let active_symbols = self
            .symbols
            .values_mut()
            .filter_map(|t| std::mem::take(&mut t.active).then_some(()))
            .count();
        let stats = self.outbox.stats();
        let snapshot = HealthSnapshot {
            status,
            at: Utc::now(),
            connected,
            active_symbols,
            ticks_per_second: health::rate(self.window.ticks, elapsed, Duration::from_secs(1)),
            // Bars close in bursts, one per bar interval: a shorter span
            // (the last one of a session) would inflate the rate.
            bars_per_minute: health::rate(
                self.window.bars,
                elapsed.max(self.settings.bar_interval),
                Duration::from_secs(60),
            ),
            processing_lag_ms: recent.worst_lag_ms,
            patterns_detected: self.totals.patterns,
            indicators_calculated: self.totals.indicators,
            errors_count: self.totals.rejected_ticks + stats.dropped() + stats.failed(),
            uptime_seconds: self.started.elapsed().as_secs(),
            cpu_percent: usage.cpu_percent,
            memory_mb: usage.memory_mb,
            threads: usage.threads,
            issues,
        };
        self.window = Window::new();
        snapshot
    }

    /// Publishes the disconnect or the recovery, then health at once: seed
    /// 004 wants health "immediately when status changes".
    fn on_outage(&mut self, step: OutageStep) {
        let at = Utc::now();
        let alert = match step {
            OutageStep::Begin => {
                self.in_outage = true;
                for tracked in self.symbols.values_mut() {
                    tracked.forming = None;
                }
                warn!("TICKSTOCKPL-SIMULATOR: Simulated disconnect: ignoring ticks");
                CriticalAlert {
                    severity: "critical",
                    message: "Market tick stream lost (simulated disconnect): no ticks are being processed".into(),
                    component: OUTAGE_COMPONENT,
                    action_required: Some("Check the Massive connection and TickStock's market feed; streaming resumes when ticks flow again".into()),
                    recovery: None,
                    at,
                }
            }
            OutageStep::End => {
                self.in_outage = false;
                // Silence during the outage is already reported; the next
                // window starts now.
                self.window = Window::new();
                info!("TICKSTOCKPL-SIMULATOR: Simulated disconnect over: consuming ticks again");
                let lasted = self
                    .settings
                    .plan
                    .fault
                    .map(|f| f.lasts)
                    .unwrap_or_default();
                CriticalAlert {
                    severity: "info",
                    message: "Market tick stream restored".into(),
                    component: OUTAGE_COMPONENT,
                    action_required: None,
                    recovery: Some(format!(
                        "Tick stream re-established after {} seconds",
                        seconds_label(lasted)
                    )),
                    at,
                }
            }
        };
        self.outbox.offer(Parcel::Critical(alert));
        self.report_health();
    }

    /// Closes the session: the last bar at a planned close, a `stopping`
    /// health snapshot, and `session_stopped` with the totals.
    async fn finish(mut self, end: FinalStatus) -> Summary {
        if end == FinalStatus::Completed {
            self.close_bars();
        }
        let mut last = self.snapshot();
        last.status = Status::Stopping;
        self.outbox.deliver(Parcel::Health(last)).await;
        let duration = self.started.elapsed();
        let session_end = SessionEnd {
            stopped_at: Utc::now(),
            duration_seconds: duration.as_secs_f64().round() as u64,
            total_patterns: self.totals.patterns,
            total_indicators: self.totals.indicators,
            final_status: end,
        };
        self.outbox
            .deliver(Parcel::SessionStopped(session_end))
            .await;
        info!(
            "TICKSTOCKPL-SIMULATOR: Session {} {} after {}s: {} ticks, {} bars, {} patterns, {} indicators, {} indicator alerts",
            self.session.session_id,
            end.as_str(),
            duration.as_secs(),
            self.totals.ticks,
            self.totals.bars,
            self.totals.patterns,
            self.totals.indicators,
            self.totals.indicator_alerts
        );
        Summary {
            session_id: self.session.session_id.clone(),
            final_status: end,
            ticks: self.totals.ticks,
            rejected_ticks: self.totals.rejected_ticks,
            bars: self.totals.bars,
            patterns: self.totals.patterns,
            indicators: self.totals.indicators,
            indicator_alerts: self.totals.indicator_alerts,
            published: 0,
            dropped: 0,
            publish_failures: 0,
        }
    }
}

/// Completes at `deadline`, or never.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
