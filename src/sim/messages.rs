//! The simulator's messages, in the shapes seed 004 specifies for the 8
//! streaming channels (CONTRACT §2). Timestamps are ISO 8601 UTC with `Z`.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::HealthShape;
use super::analysis::{
    Alert, AlertKind, BOLLINGER_PERIOD, BOLLINGER_WIDTH, MACD_FAST, MACD_SIGNAL, MACD_SLOW,
    RSI_OVERBOUGHT, RSI_OVERSOLD, RSI_PERIOD, Readings, SMA_PERIODS,
};
use super::candles::Bar;
use super::health::HealthSnapshot;
use super::indicators::{BollingerValue, MacdValue};

/// Patterns per `streaming_patterns_batch`, at most (seed 004).
pub const MAX_BATCH: usize = 50;
/// `metadata.detection_method` of every detection.
pub const DETECTION_METHOD: &str = "tickstock_simulator";

pub fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn bytes(value: &Value) -> Bytes {
    Bytes::from(value.to_string())
}

/// Rounds to `decimals` places: what the database columns keep, and easier
/// on the eye.
pub fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

/// What every message of one session shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub session_id: String,
    pub universe: String,
    pub symbol_count: usize,
    pub started_at: DateTime<Utc>,
    /// The bar length as a label: `1min` for one-minute bars, `5s` for demos.
    pub timeframe: String,
}

pub fn session_started(session: &Session) -> Bytes {
    bytes(&json!({
        "type": "streaming_session_started",
        "session": {
            "session_id": session.session_id,
            "universe": session.universe,
            "started_at": iso(session.started_at),
            "symbol_count": session.symbol_count,
            "status": "active",
        },
        "timestamp": iso(session.started_at),
    }))
}

/// How a session ended (`final_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalStatus {
    /// Ran its planned course (market close).
    Completed,
    /// Interrupted.
    Stopped,
    /// Lost its input for good.
    Failed,
}

impl FinalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalStatus::Completed => "completed",
            FinalStatus::Stopped => "stopped",
            FinalStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionEnd {
    pub stopped_at: DateTime<Utc>,
    pub duration_seconds: u64,
    pub total_patterns: u64,
    pub total_indicators: u64,
    pub final_status: FinalStatus,
}

pub fn session_stopped(session: &Session, end: &SessionEnd) -> Bytes {
    bytes(&json!({
        "type": "streaming_session_stopped",
        "session": {
            "session_id": session.session_id,
            "stopped_at": iso(end.stopped_at),
            "duration_seconds": end.duration_seconds,
            "total_patterns": end.total_patterns,
            "total_indicators": end.total_indicators,
            "final_status": end.final_status.as_str(),
        },
        "timestamp": iso(end.stopped_at),
    }))
}

/// One detection, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Detected {
    pub symbol: Arc<str>,
    pub pattern: &'static str,
    pub confidence: f64,
    pub bar: Bar,
    pub at: DateTime<Utc>,
    /// The same on both pattern channels, so consumers can show it once.
    pub pattern_id: String,
}

fn detection(session: &Session, detected: &Detected) -> Value {
    let bar = &detected.bar;
    json!({
        "symbol": detected.symbol,
        "pattern_type": detected.pattern,
        "confidence": detected.confidence,
        "timestamp": iso(detected.at),
        "timeframe": session.timeframe,
        "bar_data": {
            "open": bar.open,
            "high": bar.high,
            "low": bar.low,
            "close": bar.close,
            "volume": bar.volume.round() as u64,
        },
        "metadata": {
            "session_id": session.session_id,
            "detection_method": DETECTION_METHOD,
            "pattern_id": detected.pattern_id,
        },
    })
}

/// One `streaming_pattern` for a lone detection, else
/// `streaming_patterns_batch`es of at most [`MAX_BATCH`].
pub fn patterns(session: &Session, detections: &[Detected], at: DateTime<Utc>) -> Vec<Bytes> {
    if let [only] = detections {
        return vec![bytes(&json!({
            "type": "streaming_pattern",
            "detection": detection(session, only),
        }))];
    }
    detections
        .chunks(MAX_BATCH)
        .map(|chunk| {
            let patterns: Vec<Value> = chunk.iter().map(|d| detection(session, d)).collect();
            bytes(&json!({
                "type": "streaming_patterns_batch",
                "patterns": patterns,
                "count": chunk.len(),
                "batch_timestamp": iso(at),
            }))
        })
        .collect()
}

/// One published indicator value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IndicatorValue {
    Rsi(f64),
    Sma { period: usize, value: f64 },
    Macd(MacdValue),
    Bollinger(BollingerValue),
}

impl IndicatorValue {
    /// The `indicator` name; SMAs carry their period so that the three
    /// stay apart wherever the latest value per name is kept.
    pub fn name(&self) -> String {
        match self {
            IndicatorValue::Rsi(_) => "RSI".into(),
            IndicatorValue::Sma { period, .. } => format!("SMA_{period}"),
            IndicatorValue::Macd(_) => "MACD".into(),
            IndicatorValue::Bollinger(_) => "BB".into(),
        }
    }

    /// Every reading that is warm, in a fixed order.
    pub fn all_of(readings: &Readings) -> impl Iterator<Item = IndicatorValue> {
        let smas = SMA_PERIODS
            .iter()
            .zip(readings.sma)
            .filter_map(|(&period, value)| {
                Some(IndicatorValue::Sma {
                    period,
                    value: value?,
                })
            });
        readings
            .rsi
            .map(IndicatorValue::Rsi)
            .into_iter()
            .chain(smas)
            .chain(readings.macd.map(IndicatorValue::Macd))
            .chain(readings.bollinger.map(IndicatorValue::Bollinger))
    }

    /// `value` (the headline number; MACD: its line, BB: the middle band),
    /// `values` for the multi-valued ones, and `metadata`.
    fn fields(&self) -> (f64, Option<Value>, Value) {
        let r = |x: f64| round_to(x, 4);
        match *self {
            IndicatorValue::Rsi(rsi) => (
                r(rsi),
                None,
                json!({"period": RSI_PERIOD, "overbought_threshold": RSI_OVERBOUGHT, "oversold_threshold": RSI_OVERSOLD}),
            ),
            IndicatorValue::Sma { period, value } => (r(value), None, json!({"period": period})),
            IndicatorValue::Macd(m) => (
                r(m.macd),
                Some(
                    json!({"macd": r(m.macd), "signal": r(m.signal), "histogram": r(m.histogram)}),
                ),
                json!({"fast_period": MACD_FAST, "slow_period": MACD_SLOW, "signal_period": MACD_SIGNAL}),
            ),
            IndicatorValue::Bollinger(b) => (
                r(b.middle),
                Some(json!({"upper": r(b.upper), "middle": r(b.middle), "lower": r(b.lower)})),
                json!({"period": BOLLINGER_PERIOD, "std_dev": BOLLINGER_WIDTH}),
            ),
        }
    }
}

pub fn indicator(
    session: &Session,
    symbol: &str,
    at: DateTime<Utc>,
    value: &IndicatorValue,
) -> Bytes {
    let (headline, values, mut metadata) = value.fields();
    metadata["session_id"] = json!(session.session_id);
    let mut calculation = json!({
        "symbol": symbol,
        "indicator": value.name(),
        "value": headline,
        "timestamp": iso(at),
        "timeframe": session.timeframe,
        "metadata": metadata,
    });
    if let Some(values) = values {
        calculation["values"] = values;
    }
    bytes(&json!({"type": "streaming_indicator", "calculation": calculation}))
}

pub fn indicator_alert(session: &Session, symbol: &str, at: DateTime<Utc>, alert: &Alert) -> Bytes {
    let kind = alert.kind;
    let value = round_to(alert.value, 4);
    let threshold = round_to(alert.threshold, 4);
    bytes(&json!({
        "type": "indicator_alert",
        "alert": {
            "symbol": symbol,
            "alert_type": kind.name(),
            "timestamp": iso(at),
            "data": {
                "indicator": kind.indicator(),
                "value": value,
                "threshold": threshold,
                "direction": kind.direction(),
            },
            "severity": kind.severity(),
            "message": alert_message(symbol, kind, value, threshold),
            "session_id": session.session_id,
        },
    }))
}

/// What an operator reads: `AAPL RSI 75.2 crossed above 70`.
fn alert_message(symbol: &str, kind: AlertKind, value: f64, threshold: f64) -> String {
    let direction = kind.direction();
    match kind.indicator() {
        "MACD" => format!("{symbol} MACD {value} crossed {direction} its signal line {threshold}"),
        "BB" => {
            let band = if direction == "above" {
                "upper"
            } else {
                "lower"
            };
            format!("{symbol} closed at {value}, {direction} the {band} Bollinger Band {threshold}")
        }
        indicator => format!("{symbol} {indicator} {value} crossed {direction} {threshold}"),
    }
}

/// A failure, or (with `recovery`) its resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct CriticalAlert {
    pub severity: &'static str,
    pub message: String,
    pub component: &'static str,
    pub action_required: Option<String>,
    pub recovery: Option<String>,
    pub at: DateTime<Utc>,
}

pub fn critical_alert(alert: &CriticalAlert) -> Bytes {
    bytes(&json!({
        "type": "critical_alert",
        "alert": {
            "severity": alert.severity,
            "message": alert.message,
            "timestamp": iso(alert.at),
            "component": alert.component,
            "action_required": alert.action_required,
            "recovery": alert.recovery,
        },
    }))
}

pub fn health(session: &Session, snapshot: &HealthSnapshot, shape: HealthShape) -> Bytes {
    let payload = match shape {
        HealthShape::A => health_flat(session, snapshot),
        HealthShape::B => health_grouped(snapshot),
    };
    bytes(&json!({
        "type": "streaming_health",
        "health": payload,
        "timestamp": iso(snapshot.at),
    }))
}

/// Shape A, what TickStockPL sends: flat metrics and the session id.
fn health_flat(session: &Session, s: &HealthSnapshot) -> Value {
    json!({
        "session_id": session.session_id,
        "status": s.status.as_str(),
        "active_symbols": s.active_symbols,
        "ticks_per_second": round_to(s.ticks_per_second, 2),
        "patterns_detected": s.patterns_detected,
        "indicators_calculated": s.indicators_calculated,
        "memory_usage_mb": s.memory_mb.map(|mb| round_to(mb, 1)),
        "cpu_percent": s.cpu_percent.map(|cpu| round_to(cpu, 1)),
        "errors_count": s.errors_count,
        "uptime_seconds": s.uptime_seconds,
        "timestamp": iso(s.at),
    })
}

/// Shape B, seed 004's: `data_flow` and `resource_usage` groups, `issues`.
/// Seed 004 requires `cpu_percent` and `memory_mb` as numbers: before a
/// first interval is measured (the `starting` snapshot), or where `/proc`
/// is missing, they read 0 rather than null.
fn health_grouped(s: &HealthSnapshot) -> Value {
    json!({
        "status": s.status.as_str(),
        "timestamp": iso(s.at),
        "active_symbols": s.active_symbols,
        "connection_status": if s.connected { "connected" } else { "disconnected" },
        "data_flow": {
            "ticks_per_second": round_to(s.ticks_per_second, 2),
            "bars_per_minute": s.bars_per_minute.round() as u64,
            "processing_lag_ms": s.processing_lag_ms,
        },
        "resource_usage": {
            "cpu_percent": round_to(s.cpu_percent.unwrap_or(0.0), 1),
            "memory_mb": s.memory_mb.map_or(0, |mb| mb.round() as u64),
            "threads_active": s.threads,
        },
        "issues": s.issues,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::events::{self, Channel, Event, Rules};
    use crate::sim::health::Status;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 10, 6, 14, 15, 0).unwrap()
    }

    fn session() -> Session {
        Session {
            session_id: "550e8400-e29b-41d4-a716-446655440000".into(),
            universe: "simulator:normal".into(),
            symbol_count: 20,
            started_at: at(),
            timeframe: "1min".into(),
        }
    }

    fn decode(channel: Channel, payload: &Bytes) -> Event {
        match events::decode(channel, payload, Utc::now()) {
            Ok(event) => event,
            Err(error) => panic!("{channel}: {error}: {}", String::from_utf8_lossy(payload)),
        }
    }

    fn detected(symbol: &str, pattern: &'static str, confidence: f64) -> Detected {
        Detected {
            symbol: symbol.into(),
            pattern,
            confidence,
            bar: Bar {
                open: 125.5,
                high: 125.75,
                low: 125.45,
                close: 125.52,
                volume: 250_000.0,
            },
            at: at(),
            pattern_id: format!("{symbol}-{pattern}"),
        }
    }

    #[test]
    fn session_events_decode_to_what_was_sent() {
        let s = session();
        let Event::SessionStarted(started) = decode(Channel::SessionStarted, &session_started(&s))
        else {
            panic!("not a session start")
        };
        assert_eq!(started.session_id, s.session_id);
        assert_eq!(started.universe.as_deref(), Some("simulator:normal"));
        assert_eq!(started.started_at, at());
        assert_eq!(started.symbol_count, Some(20));
        assert_eq!(started.status, "active");

        let end = SessionEnd {
            stopped_at: at() + chrono::Duration::seconds(90),
            duration_seconds: 90,
            total_patterns: 12,
            total_indicators: 345,
            final_status: FinalStatus::Completed,
        };
        let Event::SessionStopped(stopped) =
            decode(Channel::SessionStopped, &session_stopped(&s, &end))
        else {
            panic!("not a session stop")
        };
        assert_eq!(stopped.session_id, s.session_id);
        assert_eq!(stopped.stopped_at, end.stopped_at);
        assert_eq!(stopped.duration_seconds, Some(90));
        assert_eq!(stopped.total_patterns, Some(12));
        assert_eq!(stopped.total_indicators, Some(345));
        assert_eq!(stopped.final_status.as_deref(), Some("completed"));
    }

    #[test]
    fn a_lone_pattern_is_a_single_event_and_decodes_to_what_was_sent() {
        let one = detected("NVDA", "Doji", 0.85);
        let messages = patterns(&session(), std::slice::from_ref(&one), at());
        assert_eq!(messages.len(), 1);
        let Event::Patterns(batch) = decode(Channel::PatternsStreaming, &messages[0]) else {
            panic!("not patterns")
        };
        assert!(!batch.batched);
        let p = &batch.patterns[0];
        assert_eq!(
            (p.symbol.as_str(), p.pattern_type.as_str()),
            ("NVDA", "Doji")
        );
        assert_eq!(p.confidence, 0.85);
        assert!(p.high_confidence);
        assert_eq!(p.timestamp, at());
        assert_eq!(p.timeframe.as_deref(), Some("1min"));
        assert_eq!(p.session_id.as_deref(), Some(session().session_id.as_str()));
        let bar = p.bar_data.as_ref().unwrap();
        assert_eq!(
            (bar.open, bar.high, bar.low, bar.close, bar.volume),
            (
                Some(125.5),
                Some(125.75),
                Some(125.45),
                Some(125.52),
                Some(250_000)
            )
        );
        assert_eq!(p.metadata["pattern_id"], "NVDA-Doji");
        assert_eq!(p.metadata["detection_method"], DETECTION_METHOD);
    }

    #[test]
    fn many_patterns_go_in_batches_of_at_most_fifty() {
        let many: Vec<Detected> = (0..120)
            .map(|i| detected(&format!("S{i}"), "Hammer", 0.7))
            .collect();
        let messages = patterns(&session(), &many, at());
        let sizes: Vec<usize> = messages
            .iter()
            .map(|m| match decode(Channel::PatternsDetected, m) {
                Event::Patterns(batch) => {
                    assert!(batch.batched && batch.rejected.is_empty());
                    assert_eq!(batch.batch_timestamp, Some(at()));
                    batch.count
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(sizes, [50, 50, 20]);
        assert!(patterns(&session(), &[], at()).is_empty());
    }

    #[test]
    fn every_indicator_decodes_with_its_value_and_values() {
        let readings = Readings {
            rsi: Some(72.51234),
            sma: [Some(101.0), Some(100.5), Some(99.25)],
            macd: Some(MacdValue {
                macd: 0.5,
                signal: 0.25,
                histogram: 0.25,
            }),
            bollinger: Some(BollingerValue {
                upper: 103.0,
                middle: 101.0,
                lower: 99.0,
            }),
        };
        let values: Vec<IndicatorValue> = IndicatorValue::all_of(&readings).collect();
        assert_eq!(values.len(), readings.count());
        let mut names = Vec::new();
        for value in &values {
            let Event::Indicator(decoded) = decode(
                Channel::Indicators,
                &indicator(&session(), "TSLA", at(), value),
            ) else {
                panic!("not an indicator")
            };
            assert_eq!(decoded.symbol, "TSLA");
            assert_eq!(decoded.timestamp, at());
            assert_eq!(decoded.timeframe.as_deref(), Some("1min"));
            assert_eq!(
                decoded.session_id.as_deref(),
                Some(session().session_id.as_str())
            );
            let expected = match value {
                IndicatorValue::Rsi(_) => 72.5123,
                IndicatorValue::Sma { value, .. } => *value,
                IndicatorValue::Macd(m) => m.macd,
                IndicatorValue::Bollinger(b) => b.middle,
            };
            assert_eq!(decoded.value, Some(expected), "{value:?}");
            match value {
                IndicatorValue::Macd(_) => {
                    let v = decoded.values.as_ref().unwrap();
                    assert_eq!(
                        (v["macd"].as_f64(), v["signal"].as_f64()),
                        (Some(0.5), Some(0.25))
                    );
                    assert_eq!(v["histogram"].as_f64(), Some(0.25));
                }
                IndicatorValue::Bollinger(_) => {
                    let v = decoded.values.as_ref().unwrap();
                    assert_eq!(
                        (v["upper"].as_f64(), v["lower"].as_f64()),
                        (Some(103.0), Some(99.0))
                    );
                }
                _ => assert!(decoded.values.is_none()),
            }
            names.push(decoded.indicator.clone());
        }
        assert_eq!(names, ["RSI", "SMA_20", "SMA_50", "SMA_200", "MACD", "BB"]);
    }

    #[test]
    fn every_alert_type_decodes_with_its_reading() {
        for kind in AlertKind::ALL {
            let alert = Alert {
                kind,
                value: 75.2,
                threshold: 70.0,
            };
            let payload = indicator_alert(&session(), "AAPL", at(), &alert);
            let Event::IndicatorAlert(decoded) = decode(Channel::IndicatorAlerts, &payload) else {
                panic!("not an indicator alert")
            };
            assert_eq!(decoded.symbol, "AAPL");
            assert_eq!(decoded.alert_type, kind.name());
            assert_eq!(decoded.timestamp, at());
            assert_eq!(decoded.data.indicator.as_deref(), Some(kind.indicator()));
            assert_eq!(decoded.data.value, Some(75.2));
            assert_eq!(decoded.data.threshold, Some(70.0));
            assert_eq!(decoded.data.direction.as_deref(), Some(kind.direction()));
            assert_eq!(decoded.severity.as_deref(), Some(kind.severity()));
        }
    }

    #[test]
    fn alert_messages_read_as_sentences() {
        let message = |kind, value, threshold| {
            let payload = indicator_alert(
                &session(),
                "AAPL",
                at(),
                &Alert {
                    kind,
                    value,
                    threshold,
                },
            );
            let json: Value = serde_json::from_slice(&payload).unwrap();
            json["alert"]["message"].as_str().unwrap().to_owned()
        };
        assert_eq!(
            message(AlertKind::RsiOverbought, 75.2, 70.0),
            "AAPL RSI 75.2 crossed above 70"
        );
        assert_eq!(
            message(AlertKind::MacdBearishCross, -0.0952, -0.0819),
            "AAPL MACD -0.0952 crossed below its signal line -0.0819"
        );
        assert_eq!(
            message(AlertKind::BbUpperBreak, 231.4, 231.12),
            "AAPL closed at 231.4, above the upper Bollinger Band 231.12"
        );
    }

    #[test]
    fn critical_alerts_and_recoveries_decode() {
        let failure = CriticalAlert {
            severity: "critical",
            message: "Tick stream lost".into(),
            component: "tickstockpl_streaming",
            action_required: Some("Check the feed".into()),
            recovery: None,
            at: at(),
        };
        let Event::CriticalAlert(decoded) =
            decode(Channel::CriticalAlerts, &critical_alert(&failure))
        else {
            panic!("not a critical alert")
        };
        assert_eq!(decoded.severity.as_deref(), Some("critical"));
        assert_eq!(decoded.message, "Tick stream lost");
        assert_eq!(decoded.component.as_deref(), Some("tickstockpl_streaming"));
        assert_eq!(decoded.action_required.as_deref(), Some("Check the feed"));
        assert!(!decoded.is_recovery());

        let recovery = CriticalAlert {
            severity: "info",
            message: "Tick stream restored".into(),
            action_required: None,
            recovery: Some("Re-established after 120 seconds".into()),
            ..failure
        };
        let Event::CriticalAlert(decoded) =
            decode(Channel::CriticalAlerts, &critical_alert(&recovery))
        else {
            panic!("not a critical alert")
        };
        assert_eq!(decoded.severity.as_deref(), Some("info"));
        assert_eq!(
            decoded.recovery.as_deref(),
            Some("Re-established after 120 seconds")
        );
        assert_eq!(decoded.action_required, None);
    }

    fn snapshot() -> HealthSnapshot {
        HealthSnapshot {
            status: Status::Warning,
            at: at(),
            connected: true,
            active_symbols: 485,
            ticks_per_second: 125.3,
            bars_per_minute: 480.0,
            processing_lag_ms: 250,
            patterns_detected: 17,
            indicators_calculated: 2_900,
            errors_count: 1,
            uptime_seconds: 600,
            cpu_percent: Some(35.25),
            memory_mb: Some(512.4),
            threads: Some(8),
            issues: vec!["Processing lag above threshold: 250ms".into()],
        }
    }

    #[test]
    fn health_shape_a_decodes_with_its_flat_metrics() {
        let Event::Health(h) = decode(
            Channel::Health,
            &health(&session(), &snapshot(), HealthShape::A),
        ) else {
            panic!("not health")
        };
        assert_eq!(h.session_id.as_deref(), Some(session().session_id.as_str()));
        assert_eq!(h.status, "warning");
        assert_eq!(h.active_symbols, Some(485));
        assert_eq!(h.ticks_per_second, Some(125.3));
        assert_eq!(h.patterns_detected, Some(17));
        assert_eq!(h.indicators_calculated, Some(2_900));
        assert_eq!(h.memory_usage_mb, Some(512.4));
        assert_eq!(h.cpu_percent, Some(35.3));
        assert_eq!(h.errors_count, Some(1));
        assert_eq!(h.uptime_seconds, Some(600.0));
        assert_eq!(h.timestamp, at());
    }

    #[test]
    fn health_shape_b_decodes_with_its_groups_and_issues() {
        let Event::Health(h) = decode(
            Channel::Health,
            &health(&session(), &snapshot(), HealthShape::B),
        ) else {
            panic!("not health")
        };
        assert_eq!(h.status, "warning");
        assert_eq!(h.session_id, None);
        assert_eq!(h.connection_status.as_deref(), Some("connected"));
        assert_eq!(h.data_flow.ticks_per_second, Some(125.3));
        assert_eq!(h.data_flow.bars_per_minute, Some(480.0));
        assert_eq!(h.data_flow.processing_lag_ms, Some(250.0));
        assert_eq!(h.resource_usage.cpu_percent, Some(35.3));
        assert_eq!(h.resource_usage.memory_mb, Some(512.0));
        assert_eq!(h.resource_usage.threads_active, Some(8));
        assert_eq!(h.issues, [json!("Processing lag above threshold: 250ms")]);
        assert_eq!(h.timestamp, at());
    }

    #[test]
    fn health_shape_b_sends_numbers_before_anything_is_measured() {
        let unmeasured = HealthSnapshot {
            status: Status::Starting,
            cpu_percent: None,
            memory_mb: None,
            ..snapshot()
        };
        let message = health(&session(), &unmeasured, HealthShape::B);
        let (_, findings) =
            events::required::examine(Channel::Health, &message, Utc::now(), &Rules::ANY_TIME);
        assert_eq!(findings.faults, [], "{}", String::from_utf8_lossy(&message));
    }

    #[test]
    fn timestamps_are_utc_with_z_and_milliseconds() {
        assert_eq!(iso(at()), "2025-10-06T14:15:00.000Z");
    }
}
