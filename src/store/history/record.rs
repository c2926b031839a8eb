//! From decoded events to history rows.
//!
//! The live path hands over `Record`s (what it received, one per row:
//! health and indicators shared with the live state, the rest cloned); the
//! recorder turns a batch of them into a `Batch` of rows, which either store
//! writes in the same order with the same rules.
//!
//! Rules, so that a row always fits its table and both stores agree:
//! - Session ids that are UUIDs are kept; any other string maps to its UUID v5
//!   in `SESSION_NAMESPACE`, so the same producer id is always the same row.
//! - Text longer than its `VARCHAR(n)` column is cut to `n` characters. NUL
//!   characters are removed from text and JSON: PostgreSQL refuses them in
//!   both `text` and `jsonb`.
//! - Numbers are rounded to their `DECIMAL(p, s)` scale, and every number is
//!   checked against its column (`DECIMAL(p, s)`, `INTEGER`; a non-finite one
//!   fits none). One that does not fit is recorded as NULL where the column
//!   is optional, so the rest of the row is kept; where it is required (a
//!   pattern's confidence, an indicator's value) the row is rejected: not
//!   recorded, counted, and logged with the column.
//! - Timestamps are cut to PostgreSQL's microseconds; one before PostgreSQL's
//!   earliest (4713 BC) makes its row rejected.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::rows::{
    AlertRow, HealthRow, IndicatorRow, PatternRow, Placeholder, SessionRow, SessionStop,
    UNKNOWN_UNIVERSE,
};
use crate::events::fields::Object;
use crate::events::{
    CriticalAlert, Event, Health, Indicator, IndicatorAlert, Pattern, SessionStarted,
    SessionStopped,
};

/// The namespace of the UUID v5 that a session id which is not a UUID maps to.
pub const SESSION_NAMESPACE: Uuid = Uuid::from_u128(0x1d6e25c0_5dfc_41f9_a1da_c2cfc4645623);

/// One row's worth of a received event.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    SessionStarted(SessionStarted),
    SessionStopped(SessionStopped),
    Health(Arc<Health>),
    Pattern(Pattern),
    Indicator(Arc<Indicator>),
    IndicatorAlert(IndicatorAlert),
    CriticalAlert(CriticalAlert),
}

impl Record {
    /// The table its row goes to.
    pub fn table(&self) -> &'static str {
        match self {
            Record::SessionStarted(_) | Record::SessionStopped(_) => "streaming_sessions",
            Record::Health(_) => "streaming_health_metrics",
            Record::Pattern(_) => "intraday_patterns",
            Record::Indicator(_) => "intraday_indicators",
            Record::IndicatorAlert(_) | Record::CriticalAlert(_) => "streaming_alerts",
        }
    }

    /// Calls `each` with the records of `event`: one per pattern of a batch, else one.
    pub fn for_each_of(event: &Event, mut each: impl FnMut(Record)) {
        match event {
            Event::SessionStarted(started) => each(Record::SessionStarted(started.clone())),
            Event::SessionStopped(stopped) => each(Record::SessionStopped(stopped.clone())),
            Event::Health(health) => each(Record::Health(health.clone())),
            Event::Patterns(batch) => {
                for pattern in &batch.patterns {
                    each(Record::Pattern(pattern.clone()));
                }
            }
            Event::Indicator(indicator) => each(Record::Indicator(indicator.clone())),
            Event::IndicatorAlert(alert) => each(Record::IndicatorAlert(alert.clone())),
            Event::CriticalAlert(alert) => each(Record::CriticalAlert(alert.clone())),
        }
    }
}

/// The rows of one flush, in the order they are written: session starts,
/// placeholders for every other session referred to (stops included), the
/// history rows, then the stops.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Batch {
    /// One per session (the last start wins).
    pub started: Vec<SessionRow>,
    pub placeholders: Vec<Placeholder>,
    pub patterns: Vec<PatternRow>,
    pub indicators: Vec<IndicatorRow>,
    pub health: Vec<HealthRow>,
    pub alerts: Vec<AlertRow>,
    /// One per session (the last stop wins).
    pub stopped: Vec<SessionStop>,
    /// Records that cannot be stored in their table, with the reason.
    pub rejected: Vec<Rejection>,
}

/// A record that does not fit its table.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub table: &'static str,
    pub reason: String,
}

/// The column whose value does not fit.
type Unfit = &'static str;

impl Batch {
    /// Whether it holds no row to write.
    pub fn is_empty(&self) -> bool {
        self.started.is_empty()
            && self.placeholders.is_empty()
            && self.patterns.is_empty()
            && self.indicators.is_empty()
            && self.health.is_empty()
            && self.alerts.is_empty()
            && self.stopped.is_empty()
    }

    pub fn new(records: &[Record]) -> Self {
        let mut batch = Batch::default();
        let mut referenced = BTreeMap::new();
        let mut refer = |session_id: Option<Uuid>, at: DateTime<Utc>| {
            if let Some(id) = session_id {
                let earliest = referenced.entry(id).or_insert(at);
                *earliest = (*earliest).min(at);
            }
        };
        for record in records {
            let rejected = |column: Unfit| Rejection {
                table: record.table(),
                reason: format!("{column} does not fit its column"),
            };
            match record {
                Record::SessionStarted(started) => match started_row(started) {
                    Ok(row) => {
                        batch.started.retain(|r| r.session_id != row.session_id);
                        batch.started.push(row);
                    }
                    Err(column) => batch.rejected.push(rejected(column)),
                },
                Record::SessionStopped(stopped) => match stop_of(stopped) {
                    Ok(stop) => {
                        refer(Some(stop.session_id), estimated_start(stopped));
                        batch.stopped.retain(|s| s.session_id != stop.session_id);
                        batch.stopped.push(stop);
                    }
                    Err(column) => batch.rejected.push(rejected(column)),
                },
                Record::Health(health) => match health_row(health) {
                    Ok(row) => {
                        refer(row.session_id, row.measured_at);
                        batch.health.push(row);
                    }
                    Err(column) => batch.rejected.push(rejected(column)),
                },
                Record::Pattern(pattern) => match pattern_row(pattern) {
                    Ok(row) => {
                        refer(row.session_id, row.detected_at);
                        batch.patterns.push(row);
                    }
                    Err(column) => batch.rejected.push(rejected(column)),
                },
                Record::Indicator(indicator) => match indicator_row(indicator) {
                    Ok(row) => {
                        refer(row.session_id, row.calculated_at);
                        batch.indicators.push(row);
                    }
                    Err(column) => batch.rejected.push(rejected(column)),
                },
                Record::IndicatorAlert(alert) => match indicator_alert_row(alert) {
                    Ok(row) => {
                        refer(row.session_id, row.triggered_at);
                        batch.alerts.push(row);
                    }
                    Err(column) => batch.rejected.push(rejected(column)),
                },
                Record::CriticalAlert(alert) => match critical_alert_row(alert) {
                    Ok(row) => {
                        refer(row.session_id, row.triggered_at);
                        batch.alerts.push(row);
                    }
                    Err(column) => batch.rejected.push(rejected(column)),
                },
            }
        }
        batch.placeholders = referenced
            .into_iter()
            .map(|(session_id, started_at)| Placeholder {
                session_id,
                started_at,
            })
            .collect();
        batch
    }
}

/// The `streaming_sessions` key of a producer's session id.
pub fn session_uuid(session_id: &str) -> Uuid {
    Uuid::parse_str(session_id)
        .unwrap_or_else(|_| Uuid::new_v5(&SESSION_NAMESPACE, session_id.as_bytes()))
}

fn started_row(started: &SessionStarted) -> Result<SessionRow, Unfit> {
    let universe = started.universe.as_deref().unwrap_or(UNKNOWN_UNIVERSE);
    Ok(SessionRow {
        universe: fit(universe, 100),
        symbol_count: started.symbol_count.and_then(int4).unwrap_or(0),
        ..SessionRow::placeholder(&Placeholder {
            session_id: session_uuid(&started.session_id),
            started_at: timestamp(started.started_at, "started_at")?,
        })
    })
}

fn stop_of(stopped: &SessionStopped) -> Result<SessionStop, Unfit> {
    Ok(SessionStop {
        session_id: session_uuid(&stopped.session_id),
        stopped_at: timestamp(stopped.stopped_at, "stopped_at")?,
        total_patterns: stopped.total_patterns.and_then(int4),
        total_indicators: stopped.total_indicators.and_then(int4),
        final_status: stopped.final_status.as_deref().map(|s| fit(s, 20)),
    })
}

/// When a stopped session began, for its placeholder: `stopped_at - duration_seconds`.
fn estimated_start(stopped: &SessionStopped) -> DateTime<Utc> {
    let stopped_at = micros(stopped.stopped_at);
    stopped
        .duration_seconds
        .and_then(|seconds| chrono::Duration::try_seconds(seconds.max(0)))
        .and_then(|duration| stopped_at.checked_sub_signed(duration))
        .filter(|start| start.timestamp() >= EARLIEST_TIMESTAMP_SECONDS)
        .unwrap_or(stopped_at)
}

fn pattern_row(pattern: &Pattern) -> Result<PatternRow, Unfit> {
    let bar = pattern.bar_data.as_ref();
    let price = |field: fn(&crate::events::pattern::Bar) -> Option<f64>| {
        bar.and_then(field).and_then(|x| decimal(x, 12, 2))
    };
    Ok(PatternRow {
        session_id: pattern.session_id.as_deref().map(session_uuid),
        symbol: fit(&pattern.symbol, 10),
        pattern_type: fit(&pattern.pattern_type, 50),
        confidence: decimal(pattern.confidence, 5, 2).ok_or("confidence")?,
        detected_at: timestamp(pattern.timestamp, "detected_at")?,
        timeframe: pattern.timeframe.as_deref().map(|t| fit(t, 10)),
        bar_open: price(|b| b.open),
        bar_high: price(|b| b.high),
        bar_low: price(|b| b.low),
        bar_close: price(|b| b.close),
        bar_volume: bar.and_then(|b| b.volume),
        metadata: Some(json(Value::Object(pattern.metadata.clone()))),
    })
}

/// Unfit when the indicator has no value, or none that fits `DECIMAL(12,4)`.
fn indicator_row(indicator: &Indicator) -> Result<IndicatorRow, Unfit> {
    let primary = indicator
        .value
        .or_else(|| indicator.values.as_ref().and_then(primary_value))
        .ok_or("value")?;
    let mut metadata = indicator.metadata.clone();
    if let Some(values) = &indicator.values {
        metadata.insert("values".into(), Value::Object(values.clone()));
    }
    Ok(IndicatorRow {
        session_id: indicator.session_id.as_deref().map(session_uuid),
        symbol: fit(&indicator.symbol, 10),
        indicator: fit(&indicator.indicator, 50),
        value: decimal(primary, 12, 4).ok_or("value")?,
        calculated_at: timestamp(indicator.timestamp, "calculated_at")?,
        timeframe: indicator.timeframe.as_deref().map(|t| fit(t, 10)),
        metadata: Some(json(Value::Object(metadata))),
    })
}

/// The value a multi-valued indicator is listed by: MACD's `macd`, the
/// Bollinger Bands' `middle`, else its first number (in key order).
fn primary_value(values: &Object) -> Option<f64> {
    ["value", "macd", "middle"]
        .iter()
        .find_map(|key| values.get(*key).and_then(Value::as_f64))
        .or_else(|| values.values().find_map(Value::as_f64))
}

fn health_row(health: &Health) -> Result<HealthRow, Unfit> {
    let flow = &health.data_flow;
    Ok(HealthRow {
        session_id: health.session_id.as_deref().map(session_uuid),
        status: fit(&health.status, 20),
        active_symbols: health.active_symbols.and_then(int4),
        ticks_per_second: health.ticks_per_second.and_then(|x| decimal(x, 10, 2)),
        bars_per_minute: flow.bars_per_minute.and_then(int4_of_f64),
        processing_lag_ms: flow.processing_lag_ms.and_then(int4_of_f64),
        cpu_percent: health.cpu_percent.and_then(|x| decimal(x, 5, 2)),
        memory_mb: health.memory_usage_mb.and_then(int4_of_f64),
        issues: Some(json(Value::Array(health.issues.clone()))),
        measured_at: timestamp(health.timestamp, "measured_at")?,
    })
}

fn indicator_alert_row(alert: &IndicatorAlert) -> Result<AlertRow, Unfit> {
    Ok(AlertRow {
        kind: "indicator_alert".into(),
        session_id: session_in(&alert.extra),
        symbol: Some(fit(&alert.symbol, 10)),
        alert_type: Some(fit(&alert.alert_type, 50)),
        severity: alert.severity.as_deref().map(|s| fit(s, 20)),
        message: alert.message.as_deref().map(text),
        component: None,
        action_required: None,
        recovery: None,
        data: serde_json::to_value(&alert.data).ok().map(json),
        triggered_at: timestamp(alert.timestamp, "triggered_at")?,
    })
}

fn critical_alert_row(alert: &CriticalAlert) -> Result<AlertRow, Unfit> {
    Ok(AlertRow {
        kind: "critical_alert".into(),
        session_id: session_in(&alert.extra),
        symbol: None,
        alert_type: None,
        severity: alert.severity.as_deref().map(|s| fit(s, 20)),
        message: Some(text(&alert.message)),
        component: alert.component.as_deref().map(|c| fit(c, 100)),
        action_required: alert.action_required.as_deref().map(text),
        recovery: alert.recovery.as_deref().map(text),
        // The fields TickStock does not know, kept rather than lost.
        data: (!alert.extra.is_empty()).then(|| json(Value::Object(alert.extra.clone()))),
        triggered_at: timestamp(alert.timestamp, "triggered_at")?,
    })
}

/// Alerts carry no session in the spec; some producers add one.
fn session_in(extra: &Object) -> Option<Uuid> {
    extra
        .get("session_id")
        .and_then(Value::as_str)
        .map(session_uuid)
}

/// `text` without NUL characters, which PostgreSQL refuses in text and jsonb.
fn text(text: &str) -> String {
    text.replace('\0', "")
}

/// `value` with NUL characters removed from every string and key.
fn json(value: Value) -> Value {
    match value {
        Value::String(s) if s.contains('\0') => Value::String(text(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(json).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, value)| (text(&key), json(value)))
                .collect(),
        ),
        other => other,
    }
}

/// The first `max_chars` characters (NULs removed), as `VARCHAR(max_chars)` holds.
fn fit(text: &str, max_chars: usize) -> String {
    let text = self::text(text);
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text,
    }
}

/// Rounded half away from zero, as PostgreSQL rounds numerics; never `-0`.
fn round(x: f64, scale: i32) -> f64 {
    let factor = 10f64.powi(scale);
    let rounded = (x * factor).round() / factor;
    if rounded == 0.0 { 0.0 } else { rounded }
}

/// `x` as a `DECIMAL(precision, scale)` holds it, or None if it does not fit
/// (or is not finite).
fn decimal(x: f64, precision: i32, scale: i32) -> Option<f64> {
    let rounded = round(x, scale);
    (rounded.abs() < 10f64.powi(precision - scale)).then_some(rounded)
}

fn int4(x: i64) -> Option<i32> {
    i32::try_from(x).ok()
}

fn int4_of_f64(x: f64) -> Option<i32> {
    let rounded = x.round();
    (rounded >= f64::from(i32::MIN) && rounded <= f64::from(i32::MAX)).then_some(rounded as i32)
}

/// `t` cut to microseconds, if PostgreSQL's `timestamptz` holds it (its
/// latest, year 294276, is beyond what `DateTime` holds).
fn timestamp(t: DateTime<Utc>, column: Unfit) -> Result<DateTime<Utc>, Unfit> {
    (t.timestamp() >= EARLIEST_TIMESTAMP_SECONDS)
        .then(|| micros(t))
        .ok_or(column)
}

/// PostgreSQL's earliest `timestamptz`, 4714-11-24 00:00 UTC BC, in Unix seconds.
const EARLIEST_TIMESTAMP_SECONDS: i64 = -210_866_803_200;

fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Channel, decode};

    fn records(channel: Channel, json: serde_json::Value) -> Vec<Record> {
        let event = decode(channel, json.to_string().as_bytes(), Utc::now()).unwrap();
        let mut records = Vec::new();
        Record::for_each_of(&event, |r| records.push(r));
        records
    }

    #[test]
    fn session_ids_map_to_uuids_deterministically() {
        let uuid = "550e8400-e29b-41d4-a716-446655440000";
        assert_eq!(session_uuid(uuid).to_string(), uuid);
        let mapped = session_uuid("tickstockpl-2025-10-05");
        assert_eq!(mapped, session_uuid("tickstockpl-2025-10-05"));
        assert_ne!(mapped, session_uuid("tickstockpl-2025-10-06"));
        assert_eq!(mapped.get_version_num(), 5);
    }

    #[test]
    fn values_are_cut_and_rounded_to_their_columns() {
        assert_eq!(fit("ABCDEFGHIJKL", 10), "ABCDEFGHIJ");
        assert_eq!(fit("ééé", 2), "éé");
        assert_eq!(decimal(0.857, 5, 2), Some(0.86));
        assert_eq!(decimal(-0.001, 5, 2), Some(0.0));
        assert!(decimal(0.0, 5, 2).is_some_and(|x| x.is_sign_positive()));
        assert_eq!(decimal(999.994, 5, 2), Some(999.99));
        assert_eq!(decimal(999.995, 5, 2), None);
        assert_eq!(decimal(123_456_789.0, 12, 4), None);
        assert_eq!(int4_of_f64(3e9), None);
        assert_eq!(int4_of_f64(480.4), Some(480));
    }

    #[test]
    fn a_batch_of_patterns_becomes_one_row_each_with_a_placeholder_session() {
        let records = records(
            Channel::PatternsStreaming,
            serde_json::json!({
                "type": "streaming_patterns_batch",
                "patterns": [
                    {"symbol": "nvda", "pattern_type": "Doji", "confidence": 0.857,
                     "timestamp": "2025-10-05T10:15:00.1234567Z", "timeframe": "1min",
                     "bar_data": {"open": 125.505, "volume": 250000},
                     "metadata": {"session_id": "pl-session"}},
                    {"symbol": "TSLA", "pattern_type": "Hammer", "confidence": 0.78,
                     "timestamp": "2025-10-05T10:14:00Z", "metadata": {"session_id": "pl-session"}}
                ]
            }),
        );
        assert_eq!(records.len(), 2);
        let batch = Batch::new(&records);
        let nvda = &batch.patterns[0];
        assert_eq!(nvda.symbol, "NVDA");
        assert_eq!(nvda.confidence, 0.86);
        assert_eq!(nvda.bar_open, Some(125.51));
        assert_eq!(nvda.bar_volume, Some(250_000));
        assert_eq!(nvda.detected_at.timestamp_subsec_nanos(), 123_456_000);
        assert_eq!(nvda.session_id, Some(session_uuid("pl-session")));
        assert_eq!(
            batch.placeholders,
            vec![Placeholder {
                session_id: session_uuid("pl-session"),
                started_at: "2025-10-05T10:14:00Z".parse().unwrap(),
            }]
        );
    }

    #[test]
    fn a_multi_valued_indicator_keeps_its_values_and_lists_its_primary_one() {
        let records = records(
            Channel::Indicators,
            serde_json::json!({"calculation": {"symbol": "AAPL", "indicator": "MACD",
                "values": {"macd": 1.23456, "signal": 1.1, "histogram": 0.13456},
                "timestamp": "2025-10-05T10:15:00Z", "metadata": {"fast": 12}}}),
        );
        let batch = Batch::new(&records);
        let row = &batch.indicators[0];
        assert_eq!(row.value, 1.2346);
        assert_eq!(row.metadata.as_ref().unwrap()["values"]["signal"], 1.1);
        assert_eq!(row.metadata.as_ref().unwrap()["fast"], 12);
        assert_eq!(row.session_id, None);
        assert!(batch.placeholders.is_empty());
    }

    #[test]
    fn an_indicator_value_beyond_its_column_is_rejected_not_recorded() {
        let records = records(
            Channel::Indicators,
            serde_json::json!({"calculation": {"symbol": "AAPL", "indicator": "OBV",
                "value": 1.5e9, "timestamp": "2025-10-05T10:15:00Z"}}),
        );
        let batch = Batch::new(&records);
        assert!(batch.indicators.is_empty());
        assert_eq!(batch.rejected.len(), 1);
        assert_eq!(batch.rejected[0].table, "intraday_indicators");
    }

    #[test]
    fn a_number_beyond_its_column_is_null_where_optional_and_rejects_its_row_where_required() {
        // Decoded from fitting values, then pushed beyond their columns: the
        // decoder refuses such values, the recorder stands on its own.
        let pattern = |confidence: f64, open: f64| {
            let mut records = records(
                Channel::PatternsStreaming,
                serde_json::json!({"detection": {"symbol": "AAPL", "pattern_type": "Doji",
                    "confidence": confidence, "timestamp": "2025-10-05T10:15:00Z",
                    "bar_data": {"open": 99.0, "close": 99.5}}}),
            );
            if let Some(Record::Pattern(p)) = records.first_mut()
                && let Some(bar) = p.bar_data.as_mut()
            {
                bar.open = Some(open);
            }
            records
        };
        let mut health = records(
            Channel::Health,
            serde_json::json!({"health": {"status": "healthy", "timestamp": "2025-10-05T10:15:00Z",
                "active_symbols": 3, "data_flow": {"bars_per_minute": 480}}}),
        );
        let Some(Record::Health(h)) = health.first_mut() else {
            panic!("a health record");
        };
        let h = Arc::make_mut(h);
        h.active_symbols = Some(3_000_000_000);
        (h.ticks_per_second, h.data_flow.ticks_per_second) = (Some(1e8), Some(1e8));
        (h.cpu_percent, h.resource_usage.cpu_percent) = (Some(1000.0), Some(1000.0));
        (h.memory_usage_mb, h.resource_usage.memory_mb) = (Some(3e9), Some(3e9));
        h.data_flow.processing_lag_ms = Some(3e9);
        let batch = Batch::new(&[pattern(0.5, 1e10), health].concat());
        assert!(batch.rejected.is_empty(), "{:?}", batch.rejected);
        assert_eq!(batch.patterns[0].bar_open, None);
        assert_eq!(batch.patterns[0].bar_close, Some(99.5));
        let row = &batch.health[0];
        assert_eq!(row.bars_per_minute, Some(480));
        let unfit = [row.active_symbols, row.memory_mb, row.processing_lag_ms];
        assert_eq!(unfit, [None, None, None]);
        assert_eq!((row.ticks_per_second, row.cpu_percent), (None, None));
        // A confidence is required; its column holds at most 999.99. Built
        // directly: the decoder keeps confidences within 0..=1.
        let Record::Pattern(fitting) = &pattern(0.5, 1.0)[0] else {
            panic!("a pattern");
        };
        let unfit = Pattern {
            confidence: 1000.0,
            ..fitting.clone()
        };
        let batch = Batch::new(&[Record::Pattern(unfit)]);
        assert!(batch.patterns.is_empty());
        assert_eq!(
            batch.rejected[0].reason,
            "confidence does not fit its column"
        );
    }

    #[test]
    fn nul_characters_never_reach_text_or_json() {
        // Built directly: the decoder may refuse NUL, the recorder stands on its own.
        let extra = serde_json::json!({"nested": {"k\0": ["v\0"]}});
        let critical = [Record::CriticalAlert(CriticalAlert {
            severity: Some("crit\0ical".into()),
            message: "boom\0".into(),
            timestamp: "2025-10-05T12:45:00Z".parse().unwrap(),
            component: Some("a\0b".into()),
            action_required: Some("\0".into()),
            recovery: Some("r\0".into()),
            extra: extra.as_object().cloned().unwrap(),
        })];
        let batch = Batch::new(&critical);
        let row = format!("{:?}", batch.alerts);
        assert!(!row.contains("\\0"), "{row}");
        assert_eq!(batch.alerts.len(), 1, "{row}");
        assert_eq!(batch.alerts[0].message.as_deref(), Some("boom"));
        assert_eq!(
            batch.alerts[0].data,
            Some(serde_json::json!({"nested": {"k": ["v"]}}))
        );
    }

    #[test]
    fn a_stop_alone_refers_to_its_session_from_its_estimated_start() {
        let stop = records(
            Channel::SessionStopped,
            serde_json::json!({"session": {"session_id": "s1", "stopped_at": "2025-10-05T16:00:00Z",
                "duration_seconds": 23400}}),
        );
        let batch = Batch::new(&stop);
        assert_eq!(
            batch.placeholders[0].started_at,
            "2025-10-05T09:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn the_last_start_and_stop_of_a_session_in_a_batch_win() {
        let start = |universe: &str| {
            records(
                Channel::SessionStarted,
                serde_json::json!({"session": {"session_id": "s1", "universe": universe,
                    "started_at": "2025-10-05T09:30:00Z", "symbol_count": 500}}),
            )
        };
        let stop = records(
            Channel::SessionStopped,
            serde_json::json!({"session": {"session_id": "s1", "stopped_at": "2025-10-05T16:00:00Z",
                "duration_seconds": 23400, "total_patterns": 1250, "final_status": "completed"}}),
        );
        let all: Vec<Record> = [start("a"), start("b"), stop.clone(), stop]
            .into_iter()
            .flatten()
            .collect();
        let batch = Batch::new(&all);
        assert_eq!(batch.started.len(), 1);
        assert_eq!(batch.started[0].universe, "b");
        assert_eq!(batch.started[0].symbol_count, 500);
        assert_eq!(batch.stopped.len(), 1);
        let stop = &batch.stopped[0];
        assert_eq!(stop.total_patterns, Some(1250));
        assert_eq!(stop.total_indicators, None);
    }

    #[test]
    fn alerts_of_both_kinds_become_alert_rows() {
        let indicator = records(
            Channel::IndicatorAlerts,
            serde_json::json!({"alert": {"symbol": "AAPL", "alert_type": "RSI_OVERBOUGHT",
                "timestamp": "2025-10-05T11:30:00Z", "severity": "warning",
                "data": {"indicator": "RSI", "value": 75.2, "threshold": 70, "direction": "above"}}}),
        );
        let critical = records(
            Channel::CriticalAlerts,
            serde_json::json!({"alert": {"severity": "critical", "message": "WebSocket lost",
                "timestamp": "2025-10-05T12:45:00Z", "component": "polygon_websocket",
                "action_required": "check", "recovery": null, "region": "us"}}),
        );
        let batch = Batch::new(&[indicator, critical].concat());
        let [indicator, critical] = &batch.alerts[..] else {
            panic!("two alerts: {:?}", batch.alerts);
        };
        assert_eq!(indicator.kind, "indicator_alert");
        assert_eq!(indicator.data.as_ref().unwrap()["threshold"], 70.0);
        assert_eq!(critical.kind, "critical_alert");
        assert_eq!(critical.component.as_deref(), Some("polygon_websocket"));
        assert_eq!(critical.data, Some(serde_json::json!({"region": "us"})));
    }
}
