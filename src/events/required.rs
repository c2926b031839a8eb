//! What seed 004 requires of each event kind ("Required Fields"), and how one
//! message measures up against it. These lists (health's comes from the
//! health decoder's own field table, `health::FIELDS`) are the only
//! statement of those requirements in TickStock: the channel inspector marks
//! messages with them and `tickstock verify` fills in seed 004's status
//! report with them. The
//! rules are spelled out for operators in `conformance::rules_help`
//! (`tickstock verify --help`); in short, a field counts when it is present
//! under seed 004's name, not null or blank, and of seed 004's JSON kind.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::fields;
use super::{Channel, DecodeError, Event, Kind, Object, Rules, health};

pub use super::findings::{Fault, FieldKind, Findings, Problem, Required, Sent, WHOLE_MESSAGE};

/// Unrecognised field names reported per message, at most.
const MAX_UNRECOGNISED: usize = 32;

const fn field(field: &'static str, kind: FieldKind) -> Required {
    Required { field, kind }
}

use FieldKind::{Float, Integer, Text, TextOrNull, Timestamp, Uuid};

const SESSION_STARTED: &[Required] = &[
    field("session_id", Uuid),
    field("universe", Text),
    field("started_at", Timestamp),
    field("symbol_count", Integer),
    field("status", Text),
];

const SESSION_STOPPED: &[Required] = &[
    field("session_id", Uuid),
    field("stopped_at", Timestamp),
    field("duration_seconds", Integer),
    field("total_patterns", Integer),
    field("total_indicators", Integer),
    field("final_status", Text),
];

const PATTERN: &[Required] = &[
    field("symbol", Text),
    field("pattern_type", Text),
    field("confidence", Float),
    field("timestamp", Timestamp),
    field("timeframe", Text),
    field("bar_data.open", Float),
    field("bar_data.high", Float),
    field("bar_data.low", Float),
    field("bar_data.close", Float),
    field("bar_data.volume", Integer),
];

const INDICATOR: &[Required] = &[
    field("symbol", Text),
    field("indicator", Text),
    field("value", Float),
    field("timestamp", Timestamp),
    field("timeframe", Text),
    field("metadata", FieldKind::Object),
];

const INDICATOR_ALERT: &[Required] = &[
    field("symbol", Text),
    field("alert_type", Text),
    field("timestamp", Timestamp),
    field("data.indicator", Text),
    field("data.value", Float),
    field("data.threshold", Float),
    field("severity", Text),
];

/// `action_required` may be null too: seed 004's own recovery example sends it so.
const CRITICAL_ALERT: &[Required] = &[
    field("severity", Text),
    field("message", Text),
    field("timestamp", Timestamp),
    field("component", Text),
    field("action_required", TextOrNull),
    field("recovery", TextOrNull),
];

/// Seed 004's required fields of an event kind; a batch's apply to each of
/// its patterns.
pub fn required(kind: Kind) -> &'static [Required] {
    match kind {
        Kind::SessionStarted => SESSION_STARTED,
        Kind::SessionStopped => SESSION_STOPPED,
        Kind::Health => &health::REQUIRED,
        Kind::Pattern | Kind::PatternsBatch => PATTERN,
        Kind::Indicator => INDICATOR,
        Kind::IndicatorAlert => INDICATOR_ALERT,
        Kind::CriticalAlert => CRITICAL_ALERT,
    }
}

/// The event kinds by their `type`, for listing the requirements.
pub const KINDS: [(Kind, &str); 7] = [
    (Kind::SessionStarted, "streaming_session_started"),
    (Kind::SessionStopped, "streaming_session_stopped"),
    (Kind::Health, "streaming_health"),
    (
        Kind::Pattern,
        "streaming_pattern (and each pattern of a streaming_patterns_batch)",
    ),
    (Kind::Indicator, "streaming_indicator"),
    (Kind::IndicatorAlert, "indicator_alert"),
    (Kind::CriticalAlert, "critical_alert"),
];

/// Where a kind's payload sits when nested.
fn payload_key(kind: Kind) -> &'static str {
    match kind {
        Kind::SessionStarted | Kind::SessionStopped => "session",
        Kind::Health => "health",
        Kind::Pattern => "detection",
        Kind::PatternsBatch => "patterns",
        Kind::Indicator => "calculation",
        Kind::IndicatorAlert | Kind::CriticalAlert => "alert",
    }
}

/// Decodes one message received on `channel` as `events::decode_with` does
/// and measures it against seed 004's requirements, from the decoder's own
/// reading of it (no second parse): the typed health decoder notes what it
/// read, the tolerant decoders' JSON tree is checked before they take it
/// apart. Then what the decoder refused, and the fields it did not know.
pub fn examine(
    channel: Channel,
    message: &[u8],
    received_at: DateTime<Utc>,
    rules: &Rules,
) -> (Result<Event, DecodeError>, Findings) {
    let mut findings = Findings::default();
    let decoded = super::decode_noting(channel, message, received_at, rules, Some(&mut findings));
    match &decoded {
        Err(error) => findings.add_rejection(error),
        Ok(event) => {
            if let Event::Patterns(batch) = event {
                batch
                    .rejected
                    .iter()
                    .for_each(|error| findings.add_rejection(error));
            }
            findings.unrecognised = unrecognised(event);
        }
    }
    (decoded, findings)
}

/// Checks a message's JSON tree, found as the decoders find its payload.
pub(super) fn check_fields(channel: Channel, obj: &Object, findings: &mut Findings) {
    let declared = match obj.get("type") {
        Some(Value::String(name)) => Kind::from_type(name),
        _ => None,
    };
    let kind = declared.unwrap_or_else(|| channel.default_kind(obj));
    if kind == Kind::PatternsBatch {
        findings.event_time = time_of(|name| obj.get(name), &["batch_timestamp", "timestamp"]);
        match obj.get(payload_key(kind)) {
            Some(Value::Array(items)) => {
                for item in items {
                    let element = item.as_object();
                    check_payload(kind, element.map(Payload::Flat), findings);
                }
            }
            _ => findings.add(payload_key(kind), Problem::Missing),
        }
        return;
    }
    let p = Payload::of(obj, payload_key(kind));
    findings.event_time = time_of(|name| p.get(name), &["timestamp"]);
    check_payload(kind, Some(p), findings);
}

/// A payload as the decoders see it (`events::payload`), without taking the
/// message apart: nested under its key, with the top level's other fields
/// (but `type`) beside it, or flat.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Nested {
        inner: &'a Object,
        outer: &'a Object,
        key: &'a str,
    },
    Flat(&'a Object),
}

impl<'a> Payload<'a> {
    fn of(obj: &'a Object, key: &'a str) -> Self {
        match obj.get(key) {
            Some(Value::Object(inner)) => Payload::Nested {
                inner,
                outer: obj,
                key,
            },
            _ => Payload::Flat(obj),
        }
    }

    fn get(self, name: &str) -> Option<&'a Value> {
        match self {
            Payload::Nested { inner, outer, key } => inner.get(name).or_else(|| {
                if name == key || name == "type" {
                    None
                } else {
                    outer.get(name)
                }
            }),
            Payload::Flat(_) if name == "type" => None,
            Payload::Flat(obj) => obj.get(name),
        }
    }
}

fn check_payload(kind: Kind, payload: Option<Payload<'_>>, findings: &mut Findings) {
    for required in required(kind) {
        let value = payload.and_then(|p| lookup(p, required.field));
        if let Some(problem) = required.kind.judge(Sent::of(value)) {
            findings.add(required.field, problem);
        }
    }
}

/// The value at a dotted path (`data_flow.ticks_per_second`).
fn lookup<'a>(payload: Payload<'a>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = payload.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

fn time_of<'a>(get: impl Fn(&str) -> Option<&'a Value>, names: &[&str]) -> Option<DateTime<Utc>> {
    names
        .iter()
        .find_map(|name| get(name).and_then(fields::parse_timestamp))
}

/// The fields the decoder kept as extras (passed through, not understood),
/// as paths: `note`, `data_flow.queue_depth`.
pub fn unrecognised(event: &Event) -> Vec<String> {
    let mut names = BTreeSet::new();
    let mut add = |prefix: &str, extra: &Object| {
        for key in extra.keys() {
            if names.len() < MAX_UNRECOGNISED {
                names.insert(format!("{prefix}{key}"));
            }
        }
    };
    match event {
        Event::SessionStarted(s) => add("", &s.extra),
        Event::SessionStopped(s) => add("", &s.extra),
        Event::Health(h) => {
            add("", &h.extra);
            add("data_flow.", &h.data_flow.extra);
            add("resource_usage.", &h.resource_usage.extra);
        }
        Event::Patterns(batch) => {
            for pattern in &batch.patterns {
                add("", &pattern.extra);
                if let Some(bar) = &pattern.bar_data {
                    add("bar_data.", &bar.extra);
                }
            }
        }
        Event::Indicator(i) => add("", &i.extra),
        Event::IndicatorAlert(a) => {
            add("", &a.extra);
            add("data.", &a.data.extra);
        }
        Event::CriticalAlert(c) => add("", &c.extra),
    }
    names.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn examine_json(channel: Channel, message: Value) -> Findings {
        let bytes = message.to_string().into_bytes();
        examine(channel, &bytes, Utc::now(), &Rules::ANY_TIME).1
    }

    fn faults(channel: Channel, message: Value) -> Vec<String> {
        examine_json(channel, message)
            .faults
            .iter()
            .map(|f| format!("{}: {}", f.field, f.problem))
            .collect()
    }

    /// Seed 004's own examples meet seed 004's requirements.
    #[test]
    fn the_seed_004_examples_have_every_required_field() {
        let examples = [
            (
                Channel::SessionStarted,
                json!({"type": "streaming_session_started", "session": {"session_id": "550e8400-e29b-41d4-a716-446655440000",
                    "universe": "market_leaders:top_500", "started_at": "2025-10-05T09:30:00.000Z", "symbol_count": 500,
                    "status": "active"}, "timestamp": "2025-10-05T09:30:00.000Z"}),
            ),
            (
                Channel::SessionStopped,
                json!({"type": "streaming_session_stopped", "session": {"session_id": "550e8400-e29b-41d4-a716-446655440000",
                    "stopped_at": "2025-10-05T16:00:00.000Z", "duration_seconds": 23400, "total_patterns": 1250,
                    "total_indicators": 45000, "final_status": "completed"}, "timestamp": "2025-10-05T16:00:00.000Z"}),
            ),
            (
                Channel::PatternsStreaming,
                json!({"type": "streaming_pattern", "detection": {"symbol": "NVDA", "pattern_type": "Doji", "confidence": 0.85,
                    "timestamp": "2025-10-05T10:15:00.000Z", "timeframe": "1min",
                    "bar_data": {"open": 125.50, "high": 125.75, "low": 125.45, "close": 125.52, "volume": 250000},
                    "metadata": {"session_id": "550e8400-e29b-41d4-a716-446655440000", "pattern_id": "p-1"}}}),
            ),
            (
                Channel::Indicators,
                json!({"type": "streaming_indicator", "calculation": {"symbol": "TSLA", "indicator": "RSI", "value": 72.5,
                    "timestamp": "2025-10-05T10:15:00.000Z", "timeframe": "1min",
                    "metadata": {"period": 14, "overbought_threshold": 70, "oversold_threshold": 30}}}),
            ),
            (
                Channel::IndicatorAlerts,
                json!({"type": "indicator_alert", "alert": {"symbol": "AAPL", "alert_type": "RSI_OVERBOUGHT",
                    "timestamp": "2025-10-05T11:30:00.000Z",
                    "data": {"indicator": "RSI", "value": 75.2, "threshold": 70, "direction": "above"}, "severity": "warning"}}),
            ),
            (
                Channel::Health,
                json!({"type": "streaming_health", "health": {"status": "healthy", "timestamp": "2025-10-05T10:15:00.000Z",
                    "active_symbols": 485, "connection_status": "connected",
                    "data_flow": {"ticks_per_second": 125.3, "bars_per_minute": 480, "processing_lag_ms": 45},
                    "resource_usage": {"cpu_percent": 35.2, "memory_mb": 512, "threads_active": 8}, "issues": []}}),
            ),
            (
                Channel::CriticalAlerts,
                json!({"type": "critical_alert", "alert": {"severity": "info", "message": "WebSocket connection restored",
                    "timestamp": "2025-10-05T12:50:00.000Z", "component": "polygon_websocket", "action_required": null,
                    "recovery": "Connection re-established successfully after 5 minutes"}}),
            ),
        ];
        for (channel, message) in examples {
            let findings = examine_json(channel, message);
            assert_eq!(findings.faults, [], "{channel}");
            assert!(findings.event_time.is_some(), "{channel}");
        }
    }

    /// Health's come from the decoder's field table; they are seed 004's.
    #[test]
    fn healths_required_fields_are_seed_004s() {
        let fields: Vec<(&str, &str)> = required(Kind::Health)
            .iter()
            .map(|r| (r.field, r.kind.name()))
            .collect();
        assert_eq!(
            fields,
            [
                ("status", "string"),
                ("timestamp", "ISO 8601 string"),
                ("active_symbols", "integer"),
                ("connection_status", "string"),
                ("data_flow.ticks_per_second", "float"),
                ("data_flow.bars_per_minute", "integer"),
                ("data_flow.processing_lag_ms", "integer"),
                ("resource_usage.cpu_percent", "float"),
                ("resource_usage.memory_mb", "integer"),
                ("issues", "array"),
            ]
        );
    }

    #[test]
    fn a_number_sent_as_a_string_decodes_but_is_the_wrong_kind() {
        let message = json!({"type": "streaming_pattern", "detection": {"symbol": "NVDA", "pattern_type": "Doji",
            "confidence": "0.85", "timestamp": "2025-10-05T10:15:00Z", "timeframe": "1min",
            "bar_data": {"open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 100.0}}});
        let bytes = message.to_string().into_bytes();
        assert!(super::super::decode(Channel::PatternsStreaming, &bytes, Utc::now()).is_ok());
        assert_eq!(
            faults(Channel::PatternsStreaming, message),
            ["confidence: of the wrong kind (string, expected float)"]
        );
    }

    #[test]
    fn a_field_the_decoder_needs_counts_once_as_missing() {
        let message = json!({"type": "streaming_health", "health": {"timestamp": "2025-10-05T10:15:00Z",
            "active_symbols": 1, "connection_status": "connected", "issues": [],
            "data_flow": {"ticks_per_second": 1.5, "bars_per_minute": 1, "processing_lag_ms": 2},
            "resource_usage": {"cpu_percent": 3, "memory_mb": 4}}});
        assert_eq!(faults(Channel::Health, message), ["status: missing"]);
    }

    #[test]
    fn kinds_are_judged_as_seed_004_gives_them() {
        let session = |session_id: Value, started_at: Value, symbol_count: Value| {
            json!({"session": {"session_id": session_id, "universe": " ", "started_at": started_at,
                "symbol_count": symbol_count, "status": "active"}})
        };
        assert_eq!(
            faults(
                Channel::SessionStarted,
                session(json!("s-1"), json!(1759656600), json!(60.5))
            ),
            [
                "session_id: of the wrong kind (string that is not a UUID, expected UUID string)",
                "universe: missing",
                "started_at: of the wrong kind (number, expected ISO 8601 string)",
                "symbol_count: of the wrong kind (number with a fraction, expected integer)",
            ]
        );
        let clean = session(
            json!("550e8400-e29b-41d4-a716-446655440000"),
            json!("2025-10-05T09:30:00"),
            json!(60.0),
        );
        assert_eq!(
            faults(Channel::SessionStarted, clean),
            ["universe: missing"]
        );
    }

    #[test]
    fn nullable_fields_must_still_be_present() {
        let alert = json!({"alert": {"severity": "critical", "message": "down", "timestamp": "2025-10-05T12:45:00Z",
            "component": "feed", "action_required": null}});
        assert_eq!(
            faults(Channel::CriticalAlerts, alert),
            ["recovery: missing"]
        );
    }

    #[test]
    fn every_pattern_of_a_batch_is_checked_and_each_field_named_once() {
        let pattern = |symbol: &str, confidence: Value| {
            json!({"symbol": symbol, "pattern_type": "Doji", "confidence": confidence, "timestamp": "2025-10-05T10:15:00Z",
                "timeframe": "1min", "bar_data": {"open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 100}})
        };
        let batch = json!({"type": "streaming_patterns_batch", "count": 3, "batch_timestamp": "2025-10-05T10:15:01Z",
            "patterns": [pattern("A", json!(0.9)), pattern("B", json!("0.8")), pattern("C", json!("high"))]});
        let findings = examine_json(Channel::PatternsDetected, batch);
        assert_eq!(
            findings.faults,
            [Fault {
                field: "confidence",
                problem: Problem::WrongKind {
                    expected: "float",
                    found: "string"
                }
            }]
        );
        assert_eq!(
            findings.event_time,
            fields::parse_timestamp(&json!("2025-10-05T10:15:01Z"))
        );
    }

    #[test]
    fn an_unreadable_message_faults_as_a_whole() {
        let (_, findings) = examine(Channel::Health, b"not json", Utc::now(), &Rules::ANY_TIME);
        assert_eq!(findings.faults.len(), 1);
        assert_eq!(findings.faults[0].field, WHOLE_MESSAGE);
        assert!(matches!(
            findings.faults[0].problem,
            Problem::Rejected { .. }
        ));
    }

    #[test]
    fn fields_kept_as_extras_are_unrecognised() {
        let message = json!({"type": "streaming_health", "health": {"status": "healthy", "queue": 3,
            "data_flow": {"ticks_per_second": 1, "drops": 0}}});
        assert_eq!(
            examine_json(Channel::Health, message).unrecognised,
            ["data_flow.drops", "queue"]
        );
    }
}
