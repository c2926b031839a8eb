//! The built-in TickStockPL simulator over the in-process bus, on accelerated
//! timings: every event it publishes decodes with the subscriber's decoders
//! to the values that were published, and each of seed 004's scenarios
//! produces the events and counts it promises.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use common::{TestApp, WAIT, wait_for};
use parking_lot::Mutex;
use rand::Rng;
use serde_json::{Value, json};
use tickstock::bus::Bus;
use tickstock::config::Config;
use tickstock::events::{self, Channel, Event, MARKET_TICKS};
use tickstock::feed::settings::SourceChoice;
use tickstock::sim::messages::FinalStatus;
use tickstock::sim::settings::BarLength;
use tickstock::sim::{self, Fault, HealthShape, Plan, Scenario, Settings, Summary};
use tokio_util::sync::{CancellationToken, DropGuard};

const BAR: Duration = Duration::from_millis(100);
const HEALTH_EVERY: Duration = Duration::from_millis(250);

/// Health reports this process's CPU share: the high-volume test takes it
/// alone, so that the others' health reads `healthy`, not `High CPU usage`.
static CPU: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn settings(plan: Plan, shape: HealthShape) -> Settings {
    Settings {
        plan,
        bar_interval: BAR,
        health_interval: HEALTH_EVERY,
        health_shape: shape,
        warmup_bars: 250,
        symbol_count: 4,
    }
}

/// Everything published on the 8 channels, in order.
struct ChannelCapture {
    messages: Arc<Mutex<Vec<(Channel, Bytes)>>>,
    _stop: DropGuard,
}

impl ChannelCapture {
    fn start(bus: &Bus) -> Self {
        let stop = CancellationToken::new();
        let mut subscription = bus.subscribe(&Channel::ALL.map(Channel::name), stop.clone());
        let messages: Arc<Mutex<Vec<(Channel, Bytes)>>> = Arc::default();
        let sink = messages.clone();
        tokio::spawn(async move {
            while let Some(message) = subscription.messages.recv().await {
                let channel = Channel::from_name(&message.channel).expect("one of the 8");
                sink.lock().push((channel, message.payload));
            }
        });
        Self {
            messages,
            _stop: stop.drop_guard(),
        }
    }

    fn count(&self, channel: Channel) -> usize {
        self.messages
            .lock()
            .iter()
            .filter(|(c, _)| *c == channel)
            .count()
    }

    /// Waits for the session's last message, then decodes everything.
    async fn session(&self) -> Vec<Decoded> {
        wait_for("session_stopped", WAIT, || async {
            (self.count(Channel::SessionStopped) == 1).then_some(())
        })
        .await;
        let messages = self.messages.lock().clone();
        messages
            .into_iter()
            .map(|(channel, payload)| Decoded::new(channel, &payload))
            .collect()
    }
}

/// Publishes ticks on the bus until dropped: a random walk per symbol, and
/// symbols named `DOJI*` whose every tick (an aggregate) makes a perfect Doji.
struct TickPump {
    _stop: DropGuard,
}

impl TickPump {
    fn start(bus: &Bus, symbols: &[&'static str]) -> Self {
        let stop = CancellationToken::new();
        let (bus, symbols, stopped) = (bus.clone(), symbols.to_vec(), stop.clone());
        tokio::spawn(async move {
            let mut prices: Vec<f64> = symbols.iter().map(|_| 100.0).collect();
            let mut clock = tokio::time::interval(Duration::from_millis(5));
            while !stopped.is_cancelled() {
                clock.tick().await;
                for (symbol, price) in symbols.iter().zip(&mut prices) {
                    let tick = if symbol.starts_with("DOJI") {
                        json!({"type": "market_tick", "symbol": symbol, "price": 100.0, "high": 101.0,
                               "low": 99.0, "volume": 100, "timestamp": now_epoch(), "source": "synthetic"})
                    } else {
                        *price *= 1.0 + (rand::rng().random::<f64>() - 0.5) * 0.004;
                        json!({"type": "market_tick", "symbol": symbol, "price": (*price * 100.0).round() / 100.0,
                               "volume": 200, "timestamp": now_epoch(), "source": "synthetic"})
                    };
                    let published = bus.publish(MARKET_TICKS, Bytes::from(tick.to_string()));
                    published.await.expect("in-process publish");
                }
            }
        });
        Self {
            _stop: stop.drop_guard(),
        }
    }
}

fn now_epoch() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1e6
}

/// Runs the simulator until its plan ends the session.
async fn run_to_completion(settings: Settings, bus: &Bus) -> Summary {
    let run = sim::run(settings, bus.clone(), CancellationToken::new());
    tokio::time::timeout(WAIT, run)
        .await
        .expect("the session ends by itself")
}

/// One published message, with its JSON and its decoding.
struct Decoded {
    channel: Channel,
    json: Value,
    event: Event,
}

impl Decoded {
    /// Decodes as the subscriber does and checks that what it read is what
    /// was sent.
    fn new(channel: Channel, payload: &Bytes) -> Self {
        let text = String::from_utf8_lossy(payload);
        let event = match events::decode(channel, payload, Utc::now()) {
            Ok(event) => event,
            Err(error) => panic!("{channel}: {error}: {text}"),
        };
        let json: Value = serde_json::from_slice(payload).expect("JSON");
        assert_timestamps_are_utc_iso(&json, &text);
        let decoded = Self {
            channel,
            json,
            event,
        };
        decoded.assert_matches_json();
        decoded
    }

    fn kind(&self) -> &str {
        self.json["type"].as_str().unwrap_or_default()
    }

    /// The detections of a pattern message, as sent.
    fn pattern_items(&self) -> Vec<&Value> {
        match self.json["patterns"].as_array() {
            Some(items) => items.iter().collect(),
            None => vec![&self.json["detection"]],
        }
    }

    fn assert_matches_json(&self) {
        let j = &self.json;
        match &self.event {
            Event::SessionStarted(s) => {
                assert_eq!(s.session_id, j["session"]["session_id"]);
                assert_eq!(Some(s.started_at), time(&j["session"]["started_at"]));
                assert_eq!(s.symbol_count, j["session"]["symbol_count"].as_i64());
                assert_eq!(s.status, "active");
            }
            Event::SessionStopped(s) => {
                let session = &j["session"];
                assert_eq!(s.session_id, session["session_id"]);
                assert_eq!(s.total_patterns, session["total_patterns"].as_i64());
                assert_eq!(s.total_indicators, session["total_indicators"].as_i64());
                assert_eq!(s.duration_seconds, session["duration_seconds"].as_i64());
                assert_eq!(s.final_status.as_deref(), session["final_status"].as_str());
            }
            Event::Health(h) => {
                let health = &j["health"];
                assert_eq!(h.status, health["status"]);
                assert_eq!(h.active_symbols, health["active_symbols"].as_i64());
                assert_eq!(Some(h.timestamp), time(&health["timestamp"]));
                let tps = health["ticks_per_second"]
                    .as_f64()
                    .or(health["data_flow"]["ticks_per_second"].as_f64());
                assert_eq!(h.ticks_per_second, tps);
                assert_eq!(h.data_flow.ticks_per_second, tps);
            }
            Event::Patterns(batch) => {
                let items = self.pattern_items();
                assert!(batch.rejected.is_empty());
                assert_eq!(batch.patterns.len(), items.len());
                if batch.batched {
                    assert_eq!(j["count"].as_u64(), Some(items.len() as u64));
                    assert!(items.len() <= 50, "batch of {}", items.len());
                }
                for (p, item) in batch.patterns.iter().zip(items) {
                    assert_eq!(p.symbol, item["symbol"]);
                    assert_eq!(p.pattern_type, item["pattern_type"]);
                    assert_eq!(Some(p.confidence), item["confidence"].as_f64());
                    assert_eq!(Some(p.timestamp), time(&item["timestamp"]));
                    assert_eq!(p.metadata["pattern_id"], item["metadata"]["pattern_id"]);
                    let bar = p.bar_data.as_ref().expect("bar_data");
                    assert_eq!(bar.close, item["bar_data"]["close"].as_f64());
                    assert_eq!(bar.volume, item["bar_data"]["volume"].as_i64());
                }
            }
            Event::Indicator(i) => {
                let c = &j["calculation"];
                assert_eq!(i.symbol, c["symbol"]);
                assert_eq!(i.indicator, c["indicator"]);
                assert_eq!(i.value, c["value"].as_f64());
                assert_eq!(
                    i.values.clone().map(Value::Object),
                    c.get("values").cloned()
                );
                assert_eq!(Some(i.timestamp), time(&c["timestamp"]));
            }
            Event::IndicatorAlert(a) => {
                let alert = &j["alert"];
                assert_eq!(a.symbol, alert["symbol"]);
                assert_eq!(a.alert_type, alert["alert_type"]);
                assert_eq!(a.data.value, alert["data"]["value"].as_f64());
                assert_eq!(a.data.threshold, alert["data"]["threshold"].as_f64());
                assert_eq!(
                    a.data.direction.as_deref(),
                    alert["data"]["direction"].as_str()
                );
                assert_eq!(a.severity.as_deref(), alert["severity"].as_str());
            }
            Event::CriticalAlert(c) => {
                let alert = &j["alert"];
                assert_eq!(c.severity.as_deref(), alert["severity"].as_str());
                assert_eq!(c.message, alert["message"]);
                assert_eq!(c.component.as_deref(), alert["component"].as_str());
                assert_eq!(c.recovery.as_deref(), alert["recovery"].as_str());
                assert!(alert.get("recovery").is_some(), "recovery is always sent");
            }
        }
    }
}

fn time(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Every `timestamp` and `*_at` field is ISO 8601 UTC with `Z`.
fn assert_timestamps_are_utc_iso(value: &Value, message: &str) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                if name.contains("timestamp") || name.ends_with("_at") {
                    let text = field.as_str().unwrap_or_default();
                    assert!(
                        text.ends_with('Z') && time(field).is_some(),
                        "{name}: {field} in {message}"
                    );
                }
                assert_timestamps_are_utc_iso(field, message);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| assert_timestamps_are_utc_iso(item, message)),
        _ => {}
    }
}

fn on(messages: &[Decoded], channel: Channel) -> Vec<&Decoded> {
    messages.iter().filter(|m| m.channel == channel).collect()
}

fn health_statuses(messages: &[Decoded]) -> Vec<String> {
    on(messages, Channel::Health)
        .iter()
        .map(|m| match &m.event {
            Event::Health(h) => h.status.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

/// Every detection on a pattern channel, as decoded.
fn detections(messages: &[Decoded], channel: Channel) -> Vec<events::Pattern> {
    on(messages, channel)
        .iter()
        .flat_map(|m| match &m.event {
            Event::Patterns(batch) => batch.patterns.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn indicator_alerts(messages: &[Decoded]) -> Vec<events::IndicatorAlert> {
    on(messages, Channel::IndicatorAlerts)
        .iter()
        .map(|m| match &m.event {
            Event::IndicatorAlert(alert) => alert.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn critical_alerts(messages: &[Decoded]) -> Vec<events::CriticalAlert> {
    on(messages, Channel::CriticalAlerts)
        .iter()
        .map(|m| match &m.event {
            Event::CriticalAlert(alert) => alert.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn indicators(messages: &[Decoded]) -> Vec<events::Indicator> {
    on(messages, Channel::Indicators)
        .iter()
        .map(|m| match &m.event {
            Event::Indicator(indicator) => (**indicator).clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn pattern_id(pattern: &events::Pattern) -> String {
    pattern.metadata["pattern_id"]
        .as_str()
        .expect("pattern_id")
        .to_owned()
}

/// The session opens with `session_started` and closes with a `stopping`
/// health snapshot and `session_stopped` carrying the run's totals.
fn assert_session_frame(messages: &[Decoded], summary: &Summary, final_status: &str) {
    let first = messages.first().expect("messages");
    assert_eq!(first.channel, Channel::SessionStarted);
    assert_eq!(on(messages, Channel::SessionStarted).len(), 1);
    let (last, before_last) = (&messages[messages.len() - 1], &messages[messages.len() - 2]);
    let Event::SessionStopped(stopped) = &last.event else {
        panic!("the last message is {:?}", last.event)
    };
    assert_eq!(stopped.session_id, summary.session_id);
    assert_eq!(stopped.final_status.as_deref(), Some(final_status));
    let Event::Health(health) = &before_last.event else {
        panic!("before session_stopped: {:?}", before_last.event)
    };
    assert_eq!(health.status, "stopping");
    assert_eq!(health_statuses(messages)[0], "starting");

    // The totals are what was published.
    let published_patterns = detections(messages, Channel::PatternsStreaming).len();
    let published_indicators = on(messages, Channel::Indicators).len();
    assert_eq!(stopped.total_patterns, Some(published_patterns as i64));
    assert_eq!(stopped.total_indicators, Some(published_indicators as i64));
    assert_eq!(summary.patterns, published_patterns as u64);
    assert_eq!(summary.indicators, published_indicators as u64);
    assert_eq!(
        summary.indicator_alerts,
        on(messages, Channel::IndicatorAlerts).len() as u64
    );
    assert_eq!((summary.dropped, summary.publish_failures), (0, 0));
    assert_eq!(summary.published, messages.len() as u64);
}

/// High-confidence detections, and only those, are copied to
/// `patterns:detected` under the same id.
fn assert_high_confidence_copies(messages: &[Decoded]) {
    let streaming = detections(messages, Channel::PatternsStreaming);
    let detected = detections(messages, Channel::PatternsDetected);
    let expected: BTreeSet<String> = streaming
        .iter()
        .filter(|p| p.confidence >= 0.8)
        .map(pattern_id)
        .collect();
    let copied: BTreeSet<String> = detected.iter().map(pattern_id).collect();
    assert_eq!(copied.len(), detected.len(), "each detection copied once");
    assert_eq!(copied, expected);
}

/// After each bar, each symbol publishes its 6 indicators together.
fn assert_indicators_per_bar(messages: &[Decoded]) -> usize {
    let mut per_bar: BTreeMap<(String, DateTime<Utc>), BTreeSet<String>> = BTreeMap::new();
    for indicator in indicators(messages) {
        assert_eq!(indicator.timeframe.as_deref(), Some("100ms"));
        let names = per_bar
            .entry((indicator.symbol, indicator.timestamp))
            .or_default();
        assert!(
            names.insert(indicator.indicator),
            "an indicator twice in one bar"
        );
    }
    let all: BTreeSet<String> = ["RSI", "SMA_20", "SMA_50", "SMA_200", "MACD", "BB"]
        .map(String::from)
        .into();
    for ((symbol, at), names) in &per_bar {
        assert_eq!(names, &all, "{symbol} at {at}");
    }
    per_bar.len()
}

#[tokio::test]
async fn every_event_kind_decodes_to_what_was_published_in_health_shape_a() {
    let _cpu = CPU.read().await;
    let bus = Bus::new(None).unwrap();
    let capture = ChannelCapture::start(&bus);
    let _ticks = TickPump::start(&bus, &["AAPL", "MSFT", "DOJI"]);
    // Every kind in one session: a synthetic universe for patterns and
    // alerts of every type, an outage for critical alerts, a planned end.
    let plan = Plan {
        scenario: Scenario::ErrorRecovery,
        duration: Some(Duration::from_millis(1600)),
        fault: Some(Fault {
            after: Duration::from_millis(500),
            lasts: Duration::from_millis(400),
        }),
        load_symbols: 200,
    };
    let summary = run_to_completion(settings(plan, HealthShape::A), &bus).await;
    let messages = capture.session().await;

    for channel in Channel::ALL {
        assert!(!on(&messages, channel).is_empty(), "nothing on {channel}");
    }
    let health = on(&messages, Channel::Health);
    assert!(
        health
            .iter()
            .all(|m| m.json["health"]["session_id"] == summary.session_id)
    );
    assert!(
        health
            .iter()
            .all(|m| m.json["health"].get("data_flow").is_none())
    );
    let alert_types: BTreeSet<String> = indicator_alerts(&messages)
        .into_iter()
        .map(|a| a.alert_type)
        .collect();
    assert_eq!(alert_types.len(), 6, "{alert_types:?}");
    let pattern_types: BTreeSet<String> = detections(&messages, Channel::PatternsStreaming)
        .into_iter()
        .map(|p| p.pattern_type)
        .collect();
    assert_eq!(
        pattern_types,
        ["Bearish Engulfing", "Bullish Engulfing", "Doji", "Hammer"]
            .map(String::from)
            .into()
    );
    assert!(
        on(&messages, Channel::PatternsStreaming)
            .iter()
            .any(|m| m.kind() == "streaming_patterns_batch")
    );
    assert_session_frame(&messages, &summary, "completed");
}

#[tokio::test]
async fn every_event_kind_decodes_in_health_shape_b_and_lone_patterns_are_single_events() {
    let _cpu = CPU.read().await;
    let bus = Bus::new(None).unwrap();
    let capture = ChannelCapture::start(&bus);
    // One symbol whose every bar is a Doji: one detection per bar close.
    let _ticks = TickPump::start(&bus, &["DOJI"]);
    let plan = Plan {
        duration: Some(Duration::from_millis(800)),
        ..Plan::new(Scenario::Normal)
    };
    let summary = run_to_completion(settings(plan, HealthShape::B), &bus).await;
    let messages = capture.session().await;

    let patterns = on(&messages, Channel::PatternsStreaming);
    assert!(patterns.len() >= 4, "{} pattern events", patterns.len());
    for message in &patterns {
        assert_eq!(message.kind(), "streaming_pattern");
        assert_eq!(message.json["detection"]["pattern_type"], "Doji");
        assert_eq!(message.json["detection"]["confidence"], 0.99);
    }
    // 0.99 is high confidence: every one is copied.
    assert_eq!(
        on(&messages, Channel::PatternsDetected).len(),
        patterns.len()
    );
    for message in on(&messages, Channel::Health) {
        let health = &message.json["health"];
        assert!(health.get("session_id").is_none(), "{health}");
        for field in ["connection_status", "data_flow", "resource_usage", "issues"] {
            assert!(health.get(field).is_some(), "no {field} in {health}");
        }
        assert!(health["data_flow"]["bars_per_minute"].is_u64(), "{health}");
        assert!(
            health["data_flow"]["processing_lag_ms"].is_u64(),
            "{health}"
        );
    }
    assert_high_confidence_copies(&messages);
    assert_session_frame(&messages, &summary, "completed");
}

#[tokio::test]
async fn normal_scenario_streams_bars_of_ticks_with_health_and_no_errors() {
    let _cpu = CPU.read().await;
    let bus = Bus::new(None).unwrap();
    let capture = ChannelCapture::start(&bus);
    let _ticks = TickPump::start(&bus, &["AAPL", "MSFT", "NVDA", "DOJI"]);
    let stop = CancellationToken::new();
    let plan = Plan::new(Scenario::Normal);
    let run = tokio::spawn(sim::run(
        settings(plan, HealthShape::A),
        bus.clone(),
        stop.clone(),
    ));
    // Run until at least 8 bars of indicators per symbol and 4 health events.
    wait_for("8 bars and 4 health events", WAIT, || async {
        let enough =
            capture.count(Channel::Indicators) >= 4 * 6 * 8 && capture.count(Channel::Health) >= 4;
        enough.then_some(())
    })
    .await;
    stop.cancel();
    let summary = run.await.unwrap();
    let messages = capture.session().await;

    assert_eq!(summary.final_status, FinalStatus::Stopped);
    assert_session_frame(&messages, &summary, "stopped");
    let bars = assert_indicators_per_bar(&messages);
    assert_eq!(bars as u64, summary.bars);
    assert!(summary.ticks > 0 && summary.rejected_ticks == 0);
    assert_high_confidence_copies(&messages);
    // Every bar of DOJI is a Doji: patterns are detected on tick bars.
    let doji = detections(&messages, Channel::PatternsStreaming)
        .into_iter()
        .filter(|p| p.symbol == "DOJI" && p.pattern_type == "Doji")
        .count();
    assert!(doji >= 8, "{doji} Doji detections");
    // Healthy, and never an error.
    let statuses = health_statuses(&messages);
    assert!(statuses.iter().any(|s| s == "healthy"), "{statuses:?}");
    assert!(!statuses.iter().any(|s| s == "critical"), "{statuses:?}");
    assert!(on(&messages, Channel::CriticalAlerts).is_empty());
    let active: Vec<i64> = on(&messages, Channel::Health)
        .iter()
        .filter_map(|m| m.json["health"]["active_symbols"].as_i64())
        .collect();
    assert!(active.contains(&4), "{active:?}");
}

#[tokio::test]
async fn high_volume_scenario_gives_1000_patterns_and_100_alerts_per_bar() {
    let _cpu = CPU.write().await;
    let bus = Bus::new(None).unwrap();
    let capture = ChannelCapture::start(&bus);
    // The default 1500-symbol universe on half-second bars (for "minutes").
    let plan = Plan {
        duration: Some(Duration::from_millis(1250)),
        ..Plan::new(Scenario::HighVolume)
    };
    let summary = run_to_completion(
        Settings {
            bar_interval: Duration::from_millis(500),
            ..settings(plan, HealthShape::A)
        },
        &bus,
    )
    .await;
    let messages = capture.session().await;

    let mut patterns_per_bar: BTreeMap<DateTime<Utc>, usize> = BTreeMap::new();
    for pattern in detections(&messages, Channel::PatternsStreaming) {
        *patterns_per_bar.entry(pattern.timestamp).or_default() += 1;
    }
    let mut alerts_per_bar: BTreeMap<DateTime<Utc>, usize> = BTreeMap::new();
    for alert in indicator_alerts(&messages) {
        *alerts_per_bar.entry(alert.timestamp).or_default() += 1;
    }
    // Two clock bars and the one closed at the end.
    assert_eq!(patterns_per_bar.len(), 3, "{patterns_per_bar:?}");
    assert!(
        patterns_per_bar.values().all(|&n| n >= 1000),
        "{patterns_per_bar:?}"
    );
    assert_eq!(alerts_per_bar.len(), 3, "{alerts_per_bar:?}");
    assert!(
        alerts_per_bar.values().all(|&n| n >= 100),
        "{alerts_per_bar:?}"
    );
    for message in on(&messages, Channel::PatternsStreaming) {
        assert_eq!(message.kind(), "streaming_patterns_batch");
    }
    assert_eq!(summary.bars, 3 * 1500);
    assert_high_confidence_copies(&messages);
    assert_session_frame(&messages, &summary, "completed");
}

#[tokio::test]
async fn error_recovery_scenario_publishes_the_outage_and_later_its_recovery() {
    let _cpu = CPU.read().await;
    let bus = Bus::new(None).unwrap();
    let capture = ChannelCapture::start(&bus);
    let _ticks = TickPump::start(&bus, &["AAPL", "MSFT"]);
    let outage = Fault {
        after: Duration::from_millis(400),
        lasts: Duration::from_millis(500),
    };
    let plan = Plan {
        duration: Some(Duration::from_millis(1400)),
        fault: Some(outage),
        ..Plan::new(Scenario::ErrorRecovery)
    };
    let summary = run_to_completion(settings(plan, HealthShape::B), &bus).await;
    let messages = capture.session().await;

    let alerts = critical_alerts(&messages);
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let (failure, recovery) = (&alerts[0], &alerts[1]);
    assert_eq!(failure.severity.as_deref(), Some("critical"));
    assert_eq!(failure.component.as_deref(), Some(sim::OUTAGE_COMPONENT));
    assert_eq!(failure.recovery, None);
    assert!(failure.action_required.is_some());
    assert_eq!(recovery.severity.as_deref(), Some("info"));
    assert_eq!(recovery.component.as_deref(), Some(sim::OUTAGE_COMPONENT));
    assert_eq!(
        recovery.recovery.as_deref(),
        Some("Tick stream re-established after 0.5 seconds")
    );
    let lasted = (recovery.timestamp - failure.timestamp).to_std().unwrap();
    assert!(lasted >= Duration::from_millis(450), "{lasted:?}");

    // Health follows each at once: critical and disconnected, then healthy.
    let position = |alert: &events::CriticalAlert| {
        messages
            .iter()
            .position(|m| matches!(&m.event, Event::CriticalAlert(a) if a == alert))
            .unwrap()
    };
    let next_health = |after: usize| {
        messages[after..]
            .iter()
            .find(|m| m.channel == Channel::Health)
            .map(|m| m.json["health"].clone())
            .unwrap()
    };
    let during = next_health(position(failure));
    assert_eq!(during["status"], "critical");
    assert_eq!(during["connection_status"], "disconnected");
    let after = next_health(position(recovery));
    assert_eq!(after["status"], "healthy", "{after}");
    assert_eq!(after["connection_status"], "connected");

    // No bars while disconnected; bars again after the recovery.
    let bar_times: Vec<DateTime<Utc>> = indicators(&messages).iter().map(|i| i.timestamp).collect();
    let inside = |t: &DateTime<Utc>| *t > failure.timestamp && *t < recovery.timestamp;
    assert!(!bar_times.iter().any(inside), "a bar during the outage");
    assert!(bar_times.iter().any(|t| *t > recovery.timestamp));
    assert!(bar_times.iter().any(|t| *t < failure.timestamp));
    assert_session_frame(&messages, &summary, "completed");
}

#[tokio::test]
async fn market_close_scenario_ends_by_itself_with_the_final_totals() {
    let _cpu = CPU.read().await;
    let bus = Bus::new(None).unwrap();
    let capture = ChannelCapture::start(&bus);
    let _ticks = TickPump::start(&bus, &["AAPL", "MSFT", "DOJI"]);
    let plan = Plan {
        duration: Some(Duration::from_millis(1000)),
        ..Plan::new(Scenario::MarketClose)
    };
    let summary = run_to_completion(settings(plan, HealthShape::A), &bus).await;
    let messages = capture.session().await;

    assert_eq!(summary.final_status, FinalStatus::Completed);
    assert_session_frame(&messages, &summary, "completed");
    let Event::SessionStopped(stopped) = &messages[messages.len() - 1].event else {
        unreachable!("checked by assert_session_frame")
    };
    assert_eq!(stopped.duration_seconds, Some(1));
    assert!(stopped.total_patterns.is_some_and(|n| n > 0));
    assert!(stopped.total_indicators.is_some_and(|n| n >= 3 * 6 * 5));
    // The session's universe and symbol count, as started.
    let Event::SessionStarted(started) = &messages[0].event else {
        unreachable!("checked by assert_session_frame")
    };
    assert_eq!(started.universe.as_deref(), Some("simulator:market-close"));
    assert_eq!(started.symbol_count, Some(4));
    assert_eq!(started.session_id, stopped.session_id);
}

#[tokio::test]
async fn a_bad_tick_is_counted_and_skipped() {
    let _cpu = CPU.read().await;
    let bus = Bus::new(None).unwrap();
    let capture = ChannelCapture::start(&bus);
    let stop = CancellationToken::new();
    let plan = Plan::new(Scenario::Normal);
    let run = tokio::spawn(sim::run(
        settings(plan, HealthShape::A),
        bus.clone(),
        stop.clone(),
    ));
    wait_for("session_started", WAIT, || async {
        (capture.count(Channel::SessionStarted) == 1).then_some(())
    })
    .await;
    for bad in [
        r#"{"symbol":"AAPL","price":-1}"#,
        "not json",
        r#"{"price":5}"#,
    ] {
        bus.publish(MARKET_TICKS, Bytes::from(bad)).await.unwrap();
    }
    let good = json!({"type": "market_tick", "symbol": "aapl", "price": 227.41, "volume": 300,
                      "timestamp": now_epoch(), "source": "synthetic"});
    bus.publish(MARKET_TICKS, Bytes::from(good.to_string()))
        .await
        .unwrap();
    // The good tick makes a bar: indicators for AAPL (upper-cased).
    wait_for("AAPL's indicators", WAIT, || async {
        (capture.count(Channel::Indicators) >= 6).then_some(())
    })
    .await;
    wait_for("health counting the bad ticks", WAIT, || async {
        let messages = capture.messages.lock().clone();
        messages.iter().rev().find_map(|(channel, payload)| {
            let json: Value = serde_json::from_slice(payload).ok()?;
            let errors = json["health"]["errors_count"].as_u64();
            (*channel == Channel::Health && errors == Some(3)).then_some(())
        })
    })
    .await;
    stop.cancel();
    let summary = run.await.unwrap();
    assert_eq!((summary.ticks, summary.rejected_ticks), (1, 3));
    let messages = capture.session().await;
    let symbols: HashSet<String> = indicators(&messages)
        .into_iter()
        .map(|i| i.symbol)
        .collect();
    assert_eq!(symbols, HashSet::from(["AAPL".to_string()]));
}

#[tokio::test]
async fn the_embedded_default_comes_alive_with_the_simulator_on_the_synthetic_feed() {
    let _cpu = CPU.read().await;
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.feed.data_source = Some(SourceChoice::Synthetic);
        config.feed.synthetic_ticks_per_second = 400.0;
        config.sim.sim_bar_seconds = BarLength::Fixed(Duration::from_millis(200));
        config.sim.sim_health_seconds = Duration::from_millis(300);
        config
    })
    .await;
    // Warmed-up indicators: values from the very first bar.
    app.wait_messages("tickstock:indicators:streaming", 20 * 6)
        .await;
    app.wait_messages("tickstock:streaming:health", 2).await;
    let status = app.status().await;
    assert_eq!(status["status"], "online", "{status}");
    assert_eq!(status["session"]["universe"], "simulator:normal");
    assert_eq!(status["session"]["symbol_count"], 20);
    assert!(
        status["health"]["ticks_per_second"].as_f64().unwrap() > 0.0,
        "{status}"
    );
    for (channel, stats) in status["subscriber_stats"]["channels"].as_object().unwrap() {
        assert_eq!(stats["decode_errors"], 0, "{channel}");
    }
}
