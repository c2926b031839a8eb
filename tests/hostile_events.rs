//! Hostile values on the 8 channels: every field of every kind, driven
//! through the subscriber into the live state, is refused with its reason,
//! counted, and changes nothing; what is free text is cleaned instead. The
//! defect that stopped ingestion (a health event whose uptime is -1e16
//! panicked the subscriber) is driven through a real Redis too, and the one
//! that stopped the history (a NUL in an alert's message, which PostgreSQL
//! refuses) through a real PostgreSQL.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use common::postgres::TestDatabase;
use common::{RedisServer, TestApp, WAIT, deliver, wait_for};
use serde_json::{Value, json};
use tickstock::bus::{BusMessage, Link};
use tickstock::config::Config;
use tickstock::dashboard::status_body;
use tickstock::events::{self, Channel, Reason, Rules};
use tickstock::state::{Limits, LiveState};
use tickstock::subscriber::Subscriber;

const SESSION_ID: &str = "550e8400-e29b-41d4-a716-446655440000";
const BOOM: &str = r#"{"type":"streaming_health","health":{"session_id":"boom","status":"healthy","uptime_seconds":-1e16}}"#;

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One valid message of every kind, timestamped `now`, on its channel.
fn valid_messages(now: DateTime<Utc>) -> Vec<(Channel, Value)> {
    let t = iso(now);
    vec![
        (
            Channel::SessionStarted,
            json!({"type": "streaming_session_started", "session": {"session_id": SESSION_ID,
                "universe": "market_leaders:top_500", "started_at": t, "symbol_count": 500, "status": "active"},
                "timestamp": t}),
        ),
        (
            Channel::Health,
            json!({"type": "streaming_health", "health": {"session_id": SESSION_ID, "status": "healthy",
                "timestamp": t, "active_symbols": 485, "connection_status": "connected",
                "ticks_per_second": 125.3, "patterns_detected": 5, "indicators_calculated": 150,
                "cpu_percent": 35.2, "memory_usage_mb": 512.0, "errors_count": 0, "uptime_seconds": 600,
                "data_flow": {"ticks_per_second": 125.3, "bars_per_minute": 480, "processing_lag_ms": 45},
                "resource_usage": {"cpu_percent": 35.2, "memory_mb": 512, "threads_active": 8},
                "issues": ["High CPU usage: 85%"]}}),
        ),
        (
            Channel::PatternsStreaming,
            json!({"type": "streaming_pattern", "detection": {"symbol": "NVDA", "pattern_type": "Doji",
                "confidence": 0.85, "timestamp": t, "timeframe": "1min",
                "bar_data": {"open": 125.50, "high": 125.75, "low": 125.45, "close": 125.52, "volume": 250000},
                "metadata": {"session_id": SESSION_ID, "pattern_id": "p-1"}}}),
        ),
        (
            Channel::Indicators,
            json!({"type": "streaming_indicator", "calculation": {"symbol": "TSLA", "indicator": "RSI",
                "value": 72.5, "timestamp": t, "timeframe": "1min", "metadata": {"period": 14}}}),
        ),
        (
            Channel::IndicatorAlerts,
            json!({"type": "indicator_alert", "alert": {"symbol": "AAPL", "alert_type": "RSI_OVERBOUGHT",
                "timestamp": t, "severity": "warning",
                "data": {"indicator": "RSI", "value": 75.2, "threshold": 70, "direction": "above"}}}),
        ),
        (
            Channel::CriticalAlerts,
            json!({"type": "critical_alert", "alert": {"severity": "critical", "message": "WebSocket connection lost",
                "timestamp": t, "component": "polygon_websocket", "action_required": "Check credentials",
                "recovery": null}}),
        ),
        (
            Channel::SessionStopped,
            json!({"type": "streaming_session_stopped", "session": {"session_id": "another-session",
                "stopped_at": t, "duration_seconds": 23400, "total_patterns": 1250,
                "total_indicators": 45000, "final_status": "completed"}, "timestamp": t}),
        ),
    ]
}

fn valid_message(channel: Channel, now: DateTime<Utc>) -> Value {
    valid_messages(now)
        .into_iter()
        .find(|(c, _)| *c == channel)
        .map(|(_, m)| m)
        .expect("a valid message of every kind")
}

/// `message` with the value at a dotted `path` replaced.
fn with(mut message: Value, path: &str, value: Value) -> Value {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().expect("a path");
    let mut target = &mut message;
    for part in parts {
        target = &mut target[part];
    }
    target[last] = value;
    message
}

/// One hostile value: where it goes, and the field and reason it must be
/// refused with.
struct Case {
    channel: Channel,
    path: &'static str,
    value: Value,
    field: &'static str,
    reason: Reason,
}

fn case(
    channel: Channel,
    path: &'static str,
    value: Value,
    field: &'static str,
    reason: Reason,
) -> Case {
    Case {
        channel,
        path,
        value,
        field,
        reason,
    }
}

/// The classes of hostile input, on every field of every kind that can
/// carry one.
fn hostile_cases(now: DateTime<Utc>) -> Vec<Case> {
    use Channel::*;
    use Reason::*;
    let old = json!(iso(now - Duration::days(8)));
    let ahead = json!(iso(now + Duration::hours(2)));
    let year_9999 = json!("9999-12-31T23:59:59Z");
    let year_0 = json!("0000-01-01T00:00:00Z");
    let nul = |s: &str| json!(format!("{s}\u{0}"));
    let esc = |s: &str| json!(format!("\u{1b}[2J{s}"));
    vec![
        // Sessions.
        case(
            SessionStarted,
            "session.session_id",
            nul("s"),
            "session_id",
            ControlCharacter,
        ),
        case(
            SessionStarted,
            "session.universe",
            esc("u"),
            "universe",
            ControlCharacter,
        ),
        case(
            SessionStarted,
            "session.status",
            nul("active"),
            "status",
            ControlCharacter,
        ),
        case(
            SessionStarted,
            "session.started_at",
            old.clone(),
            "started_at",
            TooOld,
        ),
        case(
            SessionStarted,
            "session.started_at",
            year_9999.clone(),
            "started_at",
            InFuture,
        ),
        case(
            SessionStarted,
            "session.started_at",
            year_0.clone(),
            "started_at",
            TooOld,
        ),
        // Epoch microseconds that land in 2286.
        case(
            SessionStarted,
            "session.started_at",
            json!(1e16),
            "started_at",
            InFuture,
        ),
        case(
            SessionStarted,
            "session.symbol_count",
            json!(-1),
            "symbol_count",
            Negative,
        ),
        case(
            SessionStarted,
            "session.symbol_count",
            json!(i64::MAX),
            "symbol_count",
            OutOfRange,
        ),
        case(
            SessionStarted,
            "session.symbol_count",
            json!(1e16),
            "symbol_count",
            OutOfRange,
        ),
        case(
            SessionStarted,
            "timestamp",
            ahead.clone(),
            "timestamp",
            InFuture,
        ),
        case(
            SessionStopped,
            "session.session_id",
            nul("s"),
            "session_id",
            ControlCharacter,
        ),
        case(
            SessionStopped,
            "session.stopped_at",
            ahead.clone(),
            "stopped_at",
            InFuture,
        ),
        case(
            SessionStopped,
            "session.duration_seconds",
            json!(-5),
            "duration_seconds",
            Negative,
        ),
        case(
            SessionStopped,
            "session.total_patterns",
            json!(-1),
            "total_patterns",
            Negative,
        ),
        case(
            SessionStopped,
            "session.total_indicators",
            json!(u64::MAX),
            "total_indicators",
            OutOfRange,
        ),
        case(
            SessionStopped,
            "session.final_status",
            esc("completed"),
            "final_status",
            ControlCharacter,
        ),
        case(
            SessionStopped,
            "timestamp",
            old.clone(),
            "timestamp",
            TooOld,
        ),
        // Health, in both shapes.
        case(
            Health,
            "health.uptime_seconds",
            json!(-1e16),
            "uptime_seconds",
            Negative,
        ),
        case(
            Health,
            "health.uptime_seconds",
            json!(1e16),
            "uptime_seconds",
            OutOfRange,
        ),
        case(
            Health,
            "health.uptime_seconds",
            json!("inf"),
            "uptime_seconds",
            NotFinite,
        ),
        case(
            Health,
            "health.session_id",
            nul("s"),
            "session_id",
            ControlCharacter,
        ),
        case(
            Health,
            "health.status",
            nul("healthy"),
            "status",
            ControlCharacter,
        ),
        case(
            Health,
            "health.connection_status",
            esc("ok"),
            "connection_status",
            ControlCharacter,
        ),
        case(
            Health,
            "health.timestamp",
            year_9999.clone(),
            "timestamp",
            InFuture,
        ),
        case(
            Health,
            "health.timestamp",
            year_0.clone(),
            "timestamp",
            TooOld,
        ),
        case(Health, "health.timestamp", old.clone(), "timestamp", TooOld),
        case(
            Health,
            "health.active_symbols",
            json!(-1),
            "active_symbols",
            Negative,
        ),
        case(
            Health,
            "health.active_symbols",
            json!(1e16),
            "active_symbols",
            OutOfRange,
        ),
        case(
            Health,
            "health.ticks_per_second",
            json!(-5.0),
            "ticks_per_second",
            Negative,
        ),
        case(
            Health,
            "health.ticks_per_second",
            json!("NaN"),
            "ticks_per_second",
            NotFinite,
        ),
        case(
            Health,
            "health.patterns_detected",
            json!(-1),
            "patterns_detected",
            Negative,
        ),
        case(
            Health,
            "health.indicators_calculated",
            json!(i64::MIN),
            "indicators_calculated",
            Negative,
        ),
        case(
            Health,
            "health.cpu_percent",
            json!(-1.0),
            "cpu_percent",
            Negative,
        ),
        case(
            Health,
            "health.memory_usage_mb",
            json!(1e300),
            "memory_usage_mb",
            OutOfRange,
        ),
        case(
            Health,
            "health.errors_count",
            json!(-3),
            "errors_count",
            Negative,
        ),
        case(
            Health,
            "health.data_flow.ticks_per_second",
            json!(1e30),
            "data_flow.ticks_per_second",
            OutOfRange,
        ),
        case(
            Health,
            "health.data_flow.bars_per_minute",
            json!(-1),
            "data_flow.bars_per_minute",
            Negative,
        ),
        case(
            Health,
            "health.data_flow.processing_lag_ms",
            json!(-1e30),
            "data_flow.processing_lag_ms",
            Negative,
        ),
        case(
            Health,
            "health.data_flow.processing_lag_ms",
            json!(1e308),
            "data_flow.processing_lag_ms",
            OutOfRange,
        ),
        case(
            Health,
            "health.resource_usage.cpu_percent",
            json!(1e6),
            "resource_usage.cpu_percent",
            OutOfRange,
        ),
        case(
            Health,
            "health.resource_usage.memory_mb",
            json!(-512),
            "resource_usage.memory_mb",
            Negative,
        ),
        case(
            Health,
            "health.resource_usage.threads_active",
            json!(-8),
            "resource_usage.threads_active",
            Negative,
        ),
        // Patterns.
        case(
            PatternsStreaming,
            "detection.symbol",
            nul("AAPL"),
            "symbol",
            NotTicker,
        ),
        case(
            PatternsStreaming,
            "detection.symbol",
            json!("<img src=x>"),
            "symbol",
            NotTicker,
        ),
        case(
            PatternsStreaming,
            "detection.symbol",
            json!("TOOLONGFORATICKER"),
            "symbol",
            NotTicker,
        ),
        case(
            PatternsStreaming,
            "detection.pattern_type",
            nul("Doji"),
            "pattern_type",
            ControlCharacter,
        ),
        case(
            PatternsStreaming,
            "detection.confidence",
            json!(-0.1),
            "confidence",
            NotFraction,
        ),
        case(
            PatternsStreaming,
            "detection.confidence",
            json!(250),
            "confidence",
            NotFraction,
        ),
        case(
            PatternsStreaming,
            "detection.confidence",
            json!("inf"),
            "confidence",
            NotFinite,
        ),
        case(
            PatternsStreaming,
            "detection.timestamp",
            ahead.clone(),
            "timestamp",
            InFuture,
        ),
        case(
            PatternsStreaming,
            "detection.timestamp",
            json!(-5),
            "timestamp",
            NotTimestamp,
        ),
        case(
            PatternsStreaming,
            "detection.timeframe",
            nul("1min"),
            "timeframe",
            ControlCharacter,
        ),
        case(
            PatternsStreaming,
            "detection.bar_data.open",
            json!(-125.5),
            "bar_data.open",
            Negative,
        ),
        case(
            PatternsStreaming,
            "detection.bar_data.high",
            json!(1e12),
            "bar_data.high",
            OutOfRange,
        ),
        case(
            PatternsStreaming,
            "detection.bar_data.low",
            json!(200.0),
            "bar_data.high",
            HighBelowLow,
        ),
        case(
            PatternsStreaming,
            "detection.bar_data.close",
            json!(130.0),
            "bar_data.close",
            OutsideHighLow,
        ),
        case(
            PatternsStreaming,
            "detection.bar_data.volume",
            json!(-1),
            "bar_data.volume",
            Negative,
        ),
        case(
            PatternsStreaming,
            "detection.bar_data.volume",
            json!(1e20),
            "volume",
            OutOfRange,
        ),
        case(
            PatternsStreaming,
            "detection.metadata.session_id",
            nul("s"),
            "session_id",
            ControlCharacter,
        ),
        // Indicators and their alerts.
        case(
            Indicators,
            "calculation.symbol",
            json!("A B"),
            "symbol",
            NotTicker,
        ),
        case(
            Indicators,
            "calculation.indicator",
            nul("RSI"),
            "indicator",
            ControlCharacter,
        ),
        case(
            Indicators,
            "calculation.value",
            json!("NaN"),
            "value",
            NotFinite,
        ),
        case(
            Indicators,
            "calculation.timestamp",
            old.clone(),
            "timestamp",
            TooOld,
        ),
        case(
            Indicators,
            "calculation.timeframe",
            esc("1min"),
            "timeframe",
            ControlCharacter,
        ),
        case(
            IndicatorAlerts,
            "alert.symbol",
            json!("ÄPFEL"),
            "symbol",
            NotTicker,
        ),
        case(
            IndicatorAlerts,
            "alert.alert_type",
            nul("RSI_OVERBOUGHT"),
            "alert_type",
            ControlCharacter,
        ),
        case(
            IndicatorAlerts,
            "alert.timestamp",
            ahead.clone(),
            "timestamp",
            InFuture,
        ),
        case(
            IndicatorAlerts,
            "alert.severity",
            nul("warning"),
            "severity",
            ControlCharacter,
        ),
        case(
            IndicatorAlerts,
            "alert.data.indicator",
            nul("RSI"),
            "indicator",
            ControlCharacter,
        ),
        case(
            IndicatorAlerts,
            "alert.data.value",
            json!("-inf"),
            "value",
            NotFinite,
        ),
        case(
            IndicatorAlerts,
            "alert.data.direction",
            esc("above"),
            "direction",
            ControlCharacter,
        ),
        // Critical alerts (free text is cleaned, not refused: see below).
        case(
            CriticalAlerts,
            "alert.severity",
            nul("critical"),
            "severity",
            ControlCharacter,
        ),
        case(
            CriticalAlerts,
            "alert.component",
            nul("feed"),
            "component",
            ControlCharacter,
        ),
        case(
            CriticalAlerts,
            "alert.timestamp",
            year_9999,
            "timestamp",
            InFuture,
        ),
    ]
}

fn live_state() -> Arc<LiveState> {
    Arc::new(LiveState::new(
        Arc::new(Link::default()),
        std::time::Duration::from_secs(30),
        Limits::default(),
    ))
}

fn bus_message(channel: Channel, message: &Value) -> BusMessage {
    BusMessage {
        channel: channel.name().into(),
        payload: Bytes::from(message.to_string()),
    }
}

/// Everything the live state shows, but the channel counters.
fn view(state: &LiveState, now: DateTime<Utc>) -> Value {
    let mut status: Value =
        serde_json::from_str(&status_body(state, now, &serde_json::Map::new())).unwrap();
    status.as_object_mut().unwrap().remove("subscriber_stats");
    json!({
        "status": status,
        "patterns": serde_json::to_value(state.recent_patterns(1000)).unwrap(),
        "indicators": serde_json::to_value(state.latest_indicators()).unwrap(),
        "alerts": serde_json::to_value(state.recent_alerts(1000)).unwrap(),
    })
}

#[test]
fn the_recovered_session_of_a_health_event_with_uptime_minus_1e16_does_not_panic_ingestion() {
    let state = live_state();
    let mut subscriber = Subscriber::new(state.clone());
    let now = Utc::now();
    let boom = BusMessage {
        channel: Channel::Health.name().into(),
        payload: Bytes::from_static(BOOM.as_bytes()),
    };
    subscriber.ingest(&boom, now);
    // Still ingesting: a good health event after it is applied.
    subscriber.ingest(
        &bus_message(Channel::Health, &valid_message(Channel::Health, now)),
        now,
    );
    let stats = state.channel(Channel::Health);
    assert_eq!(stats.messages(), 2);
    assert_eq!(stats.decode_errors(), 1);
    assert_eq!(stats.decode_errors_for(Reason::Negative), 1);
    assert_eq!(
        state.session().map(|s| s.session_id),
        Some(SESSION_ID.into())
    );
}

#[test]
fn every_hostile_value_of_every_kind_is_refused_counted_by_reason_and_changes_nothing() {
    let now = Utc::now();
    let rules = Rules::default();
    let state = live_state();
    let mut subscriber = Subscriber::new(state.clone()).with_rules(rules);
    // A live state with something of everything in it.
    for (channel, message) in valid_messages(now) {
        subscriber.ingest(&bus_message(channel, &message), now);
        assert_eq!(
            state.channel(channel).decode_errors(),
            0,
            "{channel}: {message}"
        );
    }
    let cases = hostile_cases(now);
    for case in &cases {
        let message = with(
            valid_message(case.channel, now),
            case.path,
            case.value.clone(),
        );
        let bytes = message.to_string();
        let what = format!("{} = {}", case.path, case.value);

        let error =
            events::decode_with(case.channel, bytes.as_bytes(), now, &rules).expect_err(&what);
        assert_eq!(error.field(), Some(case.field), "{what}: {error}");
        assert_eq!(error.reason(), case.reason, "{what}: {error}");

        let stats = state.channel(case.channel);
        let (errors, of_reason) = (stats.decode_errors(), stats.decode_errors_for(case.reason));
        let before = view(&state, now);
        subscriber.ingest(&bus_message(case.channel, &message), now);
        assert_eq!(view(&state, now), before, "{what} changed the live state");
        assert_eq!(stats.decode_errors(), errors + 1, "{what}");
        assert_eq!(
            stats.decode_errors_for(case.reason),
            of_reason + 1,
            "{what}"
        );
    }
    // The status names the reasons it counted.
    let status: Value =
        serde_json::from_str(&status_body(&state, now, &serde_json::Map::new())).unwrap();
    let health = &status["subscriber_stats"]["channels"][Channel::Health.name()];
    let health_cases = cases.iter().filter(|c| c.channel == Channel::Health);
    assert_eq!(health["decode_errors"], health_cases.clone().count());
    assert_eq!(
        health["decode_error_reasons"]["negative"],
        health_cases
            .filter(|c| c.reason == Reason::Negative)
            .count()
    );
}

#[test]
fn a_bad_pattern_in_a_batch_is_refused_alone() {
    let now = Utc::now();
    let state = live_state();
    let mut subscriber = Subscriber::new(state.clone());
    let good = valid_message(Channel::PatternsStreaming, now)["detection"].clone();
    let negative_volume = with(good.clone(), "bar_data.volume", json!(-1));
    let batch = json!({"type": "streaming_patterns_batch", "count": 2, "batch_timestamp": iso(now),
        "patterns": [good, negative_volume]});
    subscriber.ingest(&bus_message(Channel::PatternsStreaming, &batch), now);
    let stats = state.channel(Channel::PatternsStreaming);
    assert_eq!(state.recent_patterns(10).len(), 1);
    assert_eq!(stats.decode_errors_for(Reason::Negative), 1);
}

#[test]
fn free_text_and_passed_through_json_lose_their_control_characters() {
    let now = Utc::now();
    let state = live_state();
    let mut subscriber = Subscriber::new(state.clone());
    let alert = json!({"type": "critical_alert", "alert": {"severity": "critical",
        "message": "disk\u{0} full\u{7}\nsee log", "timestamp": iso(now), "component": "recorder",
        "action_required": "free\u{0} space", "recovery": null, "note": {"k\u{0}": "v\u{1b}"}}});
    subscriber.ingest(&bus_message(Channel::CriticalAlerts, &alert), now);
    let pattern = with(
        valid_message(Channel::PatternsStreaming, now),
        "detection.metadata.detection_method",
        json!("loader\u{0}"),
    );
    let pattern = with(pattern, "detection.symbol", json!("brk.b"));
    subscriber.ingest(&bus_message(Channel::PatternsStreaming, &pattern), now);
    let health = with(
        valid_message(Channel::Health, now),
        "health.issues",
        json!(["lag\u{0} high"]),
    );
    subscriber.ingest(&bus_message(Channel::Health, &health), now);

    for channel in [
        Channel::CriticalAlerts,
        Channel::PatternsStreaming,
        Channel::Health,
    ] {
        assert_eq!(state.channel(channel).decode_errors(), 0, "{channel}");
    }
    let alerts = serde_json::to_value(state.recent_alerts(1)).unwrap();
    assert_eq!(alerts[0]["message"], "disk full\nsee log");
    assert_eq!(alerts[0]["action_required"], "free space");
    assert_eq!(alerts[0]["note"], json!({"k": "v"}));
    let patterns = state.recent_patterns(1);
    assert_eq!(patterns[0].symbol, "BRK.B");
    assert_eq!(patterns[0].metadata["detection_method"], "loader");
    assert_eq!(state.health().unwrap().issues, [json!("lag high")]);
}

/// The defect as it was found: one health event stopped ingestion for good.
#[tokio::test]
async fn after_a_health_event_with_uptime_minus_1e16_the_subscriber_still_ingests() {
    let redis = RedisServer::start().await;
    let app = TestApp::with_redis(&redis).await;
    app.wait_connected().await;
    let mut redis_pub = redis.publisher().await;
    let health = Channel::Health.name();

    deliver(&app, &mut redis_pub, health, BOOM).await;
    let good = valid_message(Channel::Health, Utc::now()).to_string();
    redis_pub.publish(health, &good).await;
    let status = wait_for("the good health event after it", WAIT, || async {
        let status = app.status().await;
        (status["health"]["session_id"] == SESSION_ID).then_some(status)
    })
    .await;
    let counters = &status["subscriber_stats"]["channels"][health];
    assert_eq!(counters["decode_errors"], 1);
    assert_eq!(counters["decode_error_reasons"], json!({"negative": 1}));
    let metrics = app.get_text("/metrics").await;
    let line = format!(
        r#"tickstock_channel_decode_errors_total{{channel="{health}",reason="negative"}} 1"#
    );
    assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
}

/// With the default window, a seed example dated October 2025 is too old;
/// the same example sent now is shown.
#[tokio::test]
async fn the_configured_window_refuses_old_events_and_keeps_current_ones() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.bus.redis_url = Some(redis.url().into());
        config.events.event_max_age_seconds = Rules::DEFAULT_MAX_AGE_SECONDS;
        config.events.event_max_future_seconds = Rules::DEFAULT_MAX_FUTURE_SECONDS;
        config
    })
    .await;
    app.wait_connected().await;
    let mut redis_pub = redis.publisher().await;
    let channel = Channel::Indicators.name();
    let dated = |t: &str| {
        json!({"type": "streaming_indicator", "calculation": {"symbol": "TSLA", "indicator": "RSI",
            "value": 72.5, "timestamp": t, "timeframe": "1min"}})
        .to_string()
    };
    deliver(
        &app,
        &mut redis_pub,
        channel,
        &dated("2025-10-05T10:15:00.000Z"),
    )
    .await;
    deliver(&app, &mut redis_pub, channel, &dated(&iso(Utc::now()))).await;
    let status = app.status().await;
    let counters = &status["subscriber_stats"]["channels"][channel];
    assert_eq!(counters["decode_error_reasons"], json!({"too_old": 1}));
    assert_eq!(app.state.live.latest_indicators().len(), 1);
}

/// A NUL in an alert's text no longer reaches PostgreSQL (which refuses it
/// and, before, stopped every later row): the alert is stored without it,
/// and so is the next one.
#[tokio::test]
async fn an_alert_with_a_nul_in_its_text_is_stored_without_it_and_so_is_the_next() {
    let redis = RedisServer::start().await;
    let db = TestDatabase::create().await;
    let app = TestApp::with_redis_and_database(&redis, &db).await;
    app.wait_connected().await;
    let mut redis_pub = redis.publisher().await;
    let channel = Channel::CriticalAlerts.name();
    let alert = |message: &str, at: DateTime<Utc>| {
        json!({"type": "critical_alert", "alert": {"severity": "critical", "message": message,
            "timestamp": iso(at), "component": "polygon_websocket", "action_required": "act\u{0}",
            "recovery": null, "note": "x\u{0}y"}})
        .to_string()
    };
    let now = Utc::now();
    deliver(
        &app,
        &mut redis_pub,
        channel,
        &alert("lost\u{0} feed", now - Duration::seconds(2)),
    )
    .await;
    deliver(
        &app,
        &mut redis_pub,
        channel,
        &alert("next", now - Duration::seconds(1)),
    )
    .await;
    let pool = db.pool().await;
    let rows: Vec<(Option<String>, Option<String>, Option<Value>)> =
        wait_for("both alerts stored", WAIT, || {
            let pool = pool.clone();
            async move {
                let rows: Vec<(Option<String>, Option<String>, Option<Value>)> = sqlx::query_as(
                "SELECT message, action_required, data FROM streaming_alerts ORDER BY triggered_at",
            )
            .fetch_all(&pool)
            .await
            .ok()?;
                (rows.len() == 2).then_some(rows)
            }
        })
        .await;
    assert_eq!(rows[0].0.as_deref(), Some("lost feed"));
    assert_eq!(rows[0].1.as_deref(), Some("act"));
    assert_eq!(rows[0].2, Some(json!({"note": "xy"})));
    assert_eq!(rows[1].0.as_deref(), Some("next"));
}
