//! Decoding rules of CONTRACT §2, one case each, and property tests that feed
//! arbitrary bytes and arbitrary JSON to every decoder.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

fn any_time() -> rules::Window {
    Rules::ANY_TIME.window(now())
}

fn decode_json(channel: Channel, message: Value) -> Result<Event, DecodeError> {
    decode(channel, message.to_string().as_bytes(), now())
}

#[test]
fn flat_session_without_type_uses_the_channel_and_aliases() {
    let event = decode_json(
        Channel::SessionStarted,
        json!({"session_id": "s1", "symbol_universe_key": "u:top", "start_time": 1759656600,
               "symbol_count": "60.0", "region": "us"}),
    );
    let Ok(Event::SessionStarted(s)) = event else {
        panic!("{event:?}")
    };
    assert_eq!(s.universe.as_deref(), Some("u:top"));
    assert_eq!(
        s.started_at,
        Utc.with_ymd_and_hms(2025, 10, 5, 9, 30, 0).unwrap()
    );
    assert_eq!(s.symbol_count, Some(60));
    assert_eq!(s.status, "active");
    assert_eq!(s.extra["region"], "us");
}

#[test]
fn a_known_type_on_an_unexpected_channel_is_decoded_by_its_type() {
    let event = decode_json(
        Channel::PatternsStreaming,
        json!({"type": "streaming_health", "health": {"status": "degraded"}}),
    );
    assert!(matches!(event, Ok(Event::Health(h)) if h.status == "degraded"));
}

#[test]
fn an_unknown_type_falls_back_to_the_channel() {
    let event = decode_json(
        Channel::Health,
        json!({"type": "health_v2", "status": "healthy", "ticks_per_second": "7.5"}),
    );
    let Ok(Event::Health(h)) = event else {
        panic!("{event:?}")
    };
    assert_eq!(h.ticks_per_second, Some(7.5));
    assert_eq!(h.data_flow.ticks_per_second, Some(7.5));
    assert_eq!(h.timestamp, now(), "no timestamp: arrival time");
}

#[test]
fn health_keeps_unknown_fields_at_every_level() {
    let event = decode_json(
        Channel::Health,
        json!({"type": "streaming_health", "source": "pl-2",
               "health": {"status": "warning", "queue_depth": 9,
                          "data_flow": {"ticks_per_second": 3, "dropped": 1},
                          "resource_usage": {"memory_mb": 512, "gc": "ok"}, "issues": "lag"}}),
    );
    let Ok(Event::Health(h)) = event else {
        panic!("{event:?}")
    };
    assert_eq!(h.extra["queue_depth"], 9);
    assert_eq!(h.extra["source"], "pl-2");
    assert_eq!(h.data_flow.extra["dropped"], 1);
    assert_eq!(h.resource_usage.extra["gc"], "ok");
    assert_eq!(h.memory_usage_mb, Some(512.0));
    assert_eq!(h.issues, vec![json!("lag")]);
    let out = serde_json::to_value(&h).unwrap();
    assert_eq!(out["queue_depth"], 9);
    assert_eq!(out["data_flow"]["dropped"], 1);
}

#[test]
fn pattern_names_confidence_scales_and_flat_payloads() {
    for (name_field, confidence, expected) in [
        ("pattern_type", json!(0.85), 0.85),
        ("pattern", json!("0.7"), 0.7),
        ("pattern_name", json!(85), 0.85),
    ] {
        let mut message = json!({"symbol": "aapl", "confidence": confidence, "timestamp": "2025-10-05T10:15:00+00:00"});
        message[name_field] = json!("Doji");
        let event = decode_json(Channel::PatternsStreaming, message);
        let Ok(Event::Patterns(batch)) = event else {
            panic!("{event:?}")
        };
        let p = &batch.patterns[0];
        assert_eq!(
            (p.symbol.as_str(), p.pattern_type.as_str()),
            ("AAPL", "Doji")
        );
        assert!((p.confidence - expected).abs() < 1e-12);
        assert!(!batch.batched);
    }
    let out_of_range = decode_json(
        Channel::PatternsStreaming,
        json!({"symbol": "A", "pattern_type": "Doji", "confidence": 250}),
    );
    assert_eq!(out_of_range.unwrap_err().field(), Some("confidence"));
}

#[test]
fn a_pattern_nested_under_pattern_is_unwrapped() {
    let event = decode_json(
        Channel::PatternsDetected,
        json!({"pattern": {"symbol": "msft", "pattern_name": "Hammer", "confidence": 0.9}}),
    );
    let Ok(Event::Patterns(batch)) = event else {
        panic!("{event:?}")
    };
    assert_eq!(batch.patterns[0].symbol, "MSFT");
}

#[test]
fn a_batch_without_type_keeps_good_elements_and_reports_bad_ones() {
    let event = decode_json(
        Channel::PatternsStreaming,
        json!({"patterns": [
            {"symbol": "A", "pattern_type": "Doji", "confidence": 0.9},
            {"symbol": "B"},
            "junk"],
            "batch_timestamp": "2025-10-05T10:15:01Z"}),
    );
    let Ok(Event::Patterns(batch)) = event else {
        panic!("{event:?}")
    };
    assert!(batch.batched);
    assert_eq!(batch.patterns.len(), 1);
    assert_eq!(batch.rejected.len(), 2);
    assert_eq!(
        batch.patterns[0].timestamp,
        Utc.with_ymd_and_hms(2025, 10, 5, 10, 15, 1).unwrap(),
        "an element without a timestamp takes the batch's"
    );
    let all_bad = decode_json(
        Channel::PatternsStreaming,
        json!({"patterns": [{"symbol": "B"}]}),
    );
    assert!(all_bad.is_err());
}

#[test]
fn indicators_take_either_name_and_single_or_multiple_values() {
    let single = decode_json(
        Channel::Indicators,
        json!({"symbol": "tsla", "indicator_type": "SMA_20", "value": "250.5"}),
    );
    assert!(
        matches!(single, Ok(Event::Indicator(i)) if i.indicator == "SMA_20" && i.value == Some(250.5))
    );
    let macd = decode_json(
        Channel::Indicators,
        json!({"calculation": {"symbol": "tsla", "indicator": "MACD",
               "values": {"macd": 1.2, "signal": 0.9, "histogram": 0.3}}}),
    );
    assert!(
        matches!(macd, Ok(Event::Indicator(i)) if i.values.as_ref().is_some_and(|v| v["signal"] == 0.9))
    );
    let value_object = decode_json(
        Channel::Indicators,
        json!({"symbol": "X", "indicator": "BB", "value": {"upper": 2, "lower": 1}}),
    );
    assert!(
        matches!(value_object, Ok(Event::Indicator(i)) if i.value.is_none() && i.values.is_some())
    );
    let missing = decode_json(
        Channel::Indicators,
        json!({"symbol": "X", "indicator": "RSI"}),
    );
    assert_eq!(missing.unwrap_err(), DecodeError::Missing("value"));
}

#[test]
fn indicator_alerts_nested_or_flat() {
    let flat = decode_json(
        Channel::IndicatorAlerts,
        json!({"symbol": "aapl", "alert_type": "RSI_OVERSOLD", "indicator": "RSI",
               "value": 25, "threshold": 30, "direction": "below", "severity": "info"}),
    );
    let Ok(Event::IndicatorAlert(a)) = flat else {
        panic!("{flat:?}")
    };
    assert_eq!(a.symbol, "AAPL");
    assert_eq!(a.data.value, Some(25.0));
    assert_eq!(a.data.direction.as_deref(), Some("below"));
    assert!(a.extra.is_empty());
}

#[test]
fn a_recovery_may_carry_only_its_recovery_text() {
    let event = decode_json(
        Channel::CriticalAlerts,
        json!({"alert": {"severity": "info", "component": "massive_websocket", "recovery": "back"}}),
    );
    let Ok(Event::CriticalAlert(a)) = event else {
        panic!("{event:?}")
    };
    assert!(a.is_recovery());
    assert_eq!(a.message, "back");
}

#[test]
fn rejects_name_what_is_wrong() {
    let cases = [
        (b"nope".to_vec(), "not JSON"),
        (b"[]".to_vec(), "not a JSON object"),
        (
            br#"{"type":"streaming_session_started","session":{}}"#.to_vec(),
            "`session_id` is missing",
        ),
        (br#"{"status": true}"#.to_vec(), "`status` is not a string"),
        (vec![b' '; MAX_MESSAGE_BYTES + 1], "over the"),
    ];
    for (payload, expected) in cases {
        let error = decode(Channel::Health, &payload, now()).unwrap_err();
        assert!(error.to_string().contains(expected), "{error} / {expected}");
    }
}

/// Arbitrary JSON built mostly from the decoders' field names, with hostile
/// leaves.
pub(crate) fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-zA-Z0-9_:. -]{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "2025-10-05T09:30:00Z",
            "2026-01-02T03:00:00Z",
            "99999-01-01T00:00:00Z",
            "-0001-01-01T00:00:00Z",
            "1759656600",
            "0.85",
            "NaN",
            "1e400",
            "-1",
            "",
            "AAPL\u{0}",
            "brk.b",
            "\u{7}\u{1b}\u{9b}",
        ])
        .prop_map(Value::from),
        hostile_number(),
    ];
    // Now and then a huge string (a message over the limit is refused unread).
    let leaf = prop_oneof![
        40 => leaf,
        1 => (0..300_000usize).prop_map(|n| Value::from("y".repeat(n))),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map(field_name(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Numbers at the edges of every conversion: f64 and i64 bounds, -0, values
/// past `i32`, durations chrono cannot hold.
fn hostile_number() -> impl Strategy<Value = Value> {
    prop::sample::select(vec![
        json!(1e308),
        json!(-1e308),
        json!(-0.0),
        json!(1e16),
        json!(-1e16),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(i64::from(i32::MAX) + 1),
        json!(-1e-300),
        json!(0.5),
        json!(150),
    ])
}

/// Mostly the names decoders look for, so that the properties reach deep.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "type",
            "session",
            "health",
            "detection",
            "patterns",
            "calculation",
            "alert",
            "session_id",
            "universe",
            "started_at",
            "status",
            "symbol",
            "pattern_type",
            "pattern",
            "confidence",
            "timestamp",
            "indicator",
            "value",
            "values",
            "data",
            "data_flow",
            "resource_usage",
            "ticks_per_second",
            "issues",
            "recovery",
            "message",
            "metadata",
            "bar_data",
            "alert_type",
            "batch_timestamp",
            "uptime_seconds",
            "active_symbols",
            "cpu_percent",
            "memory_mb",
            "memory_usage_mb",
            "processing_lag_ms",
            "bars_per_minute",
            "threads_active",
            "errors_count",
            "open",
            "high",
            "low",
            "close",
            "volume",
            "symbol_count",
            "duration_seconds",
            "total_patterns",
            "stopped_at",
            "threshold",
            "component",
            "action_required",
            "severity",
            "timeframe",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,8}",
    ]
}

pub(crate) fn event_type() -> impl Strategy<Value = Option<&'static str>> {
    prop::option::of(prop::sample::select(vec![
        "streaming_session_started",
        "streaming_session_stopped",
        "streaming_health",
        "streaming_pattern",
        "streaming_patterns_batch",
        "streaming_indicator",
        "indicator_alert",
        "critical_alert",
        "something_else",
    ]))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for channel in Channel::ALL {
            let _ = decode(channel, &bytes, now());
        }
    }

    #[test]
    fn arbitrary_json_never_panics_and_what_decodes_serialises(
        body in arbitrary_json(),
        kind in event_type(),
    ) {
        let mut message = body;
        if let (Value::Object(map), Some(kind)) = (&mut message, kind) {
            map.insert("type".into(), Value::from(kind));
        }
        let bytes = message.to_string();
        for channel in Channel::ALL {
            if let Ok(event) = decode(channel, bytes.as_bytes(), now()) {
                let json = match &event {
                    Event::SessionStarted(e) => serde_json::to_value(e),
                    Event::SessionStopped(e) => serde_json::to_value(e),
                    Event::Health(e) => serde_json::to_value(e),
                    Event::Patterns(e) => serde_json::to_value(e),
                    Event::Indicator(e) => serde_json::to_value(e),
                    Event::IndicatorAlert(e) => serde_json::to_value(e),
                    Event::CriticalAlert(e) => serde_json::to_value(e),
                };
                prop_assert!(json.is_ok(), "{event:?}");
            }
        }
    }

    #[test]
    fn every_decoder_accepts_its_payload_nested_or_flat(
        symbol in "[a-z]{1,5}",
        value in -1.0e6..1.0e6f64,
        as_string in any::<bool>(),
    ) {
        let number = if as_string { Value::from(value.to_string()) } else { Value::from(value) };
        let payload = json!({"symbol": symbol, "indicator": "RSI", "value": number});
        let nested = decode_json(Channel::Indicators, json!({"calculation": payload.clone()}));
        let flat = decode_json(Channel::Indicators, payload);
        prop_assert_eq!(&nested, &flat);
        let Ok(Event::Indicator(i)) = nested else { panic!("{nested:?}") };
        prop_assert_eq!(&i.symbol, &symbol.to_ascii_uppercase());
        prop_assert!((i.value.unwrap_or(f64::NAN) - value).abs() <= value.abs() * 1e-12);
    }
}

/// Health messages near the canonical shapes: every field under its own name
/// or an alias, with a value of the right JSON type or a look-alike.
fn health_message() -> impl Strategy<Value = String> {
    fn pick(values: Vec<Value>) -> impl Strategy<Value = Value> {
        prop::sample::select(values)
    }
    let text = || {
        pick(vec![
            json!("healthy"),
            json!(" warning "),
            json!(""),
            json!("a\"b"),
            json!("nul\u{0}inside"),
            json!("\u{1b}[31m"),
            json!("x".repeat(10_000)),
            json!(5),
            Value::Null,
        ])
    };
    let integer = || {
        pick(vec![
            json!(60),
            json!(-3),
            json!(60.0),
            json!("60"),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(i64::from(i32::MAX) + 1),
            json!(1e16),
            Value::Null,
        ])
    };
    let float = || {
        pick(vec![
            json!(15.2),
            json!(15),
            json!("15.2"),
            json!(true),
            json!(-0.0),
            json!(-1e16),
            json!(1e16),
            json!(1e308),
            json!(-1e308),
            json!(-1e-300),
            json!("NaN"),
            json!("-inf"),
            Value::Null,
        ])
    };
    // The window is 7 days back and 1 hour ahead of `now()`.
    let stamp = || {
        pick(vec![
            json!("2026-01-02T03:00:00.000Z"),
            json!("2026-01-02T03:00:00"),
            json!("2025-10-05T10:15:00.000Z"),
            json!("2026-01-02T05:00:00Z"),
            json!("0001-01-01T00:00:00Z"),
            json!("9999-12-31T23:59:59Z"),
            json!(""),
            json!(1767322800),
            json!(1e300),
            Value::Null,
        ])
    };
    let group = |names: Vec<&'static str>, value: BoxedStrategy<Value>| {
        prop::collection::vec((prop::sample::select(names), value), 0..4).prop_map(|entries| {
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            )
        })
    };
    // Arrays too: a derived struct decoder would take its fields from one.
    let flow = prop_oneof![
        group(
            vec![
                "ticks_per_second",
                "bars_per_minute",
                "processing_lag_ms",
                "extra"
            ],
            float().boxed(),
        ),
        Just(json!([1.5, 2, 3])),
    ];
    let usage = prop_oneof![
        group(
            vec![
                "cpu_percent",
                "memory_mb",
                "memory_usage_mb",
                "threads_active"
            ],
            prop_oneof![float(), integer()].boxed(),
        ),
        Just(json!([35.2, 512, 8])),
    ];
    let fields = (
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "status",
                    "session_id",
                    "connection_status",
                    "active_symbols",
                    "patterns_detected",
                    "indicators_calculated",
                    "errors_count",
                    "ticks_per_second",
                    "cpu_percent",
                    "memory_usage_mb",
                    "memory_mb",
                    "uptime_seconds",
                    "timestamp",
                    "issues",
                    "region",
                ]),
                prop_oneof![
                    text(),
                    integer(),
                    float(),
                    stamp(),
                    pick(vec![json!([]), json!(["feed lag"]), json!("one")])
                ],
            ),
            0..12,
        ),
        prop::option::of(flow),
        prop::option::of(usage),
    );
    let kind = pick(vec![
        json!("streaming_health"),
        json!("streaming_pattern"),
        json!("other"),
        json!(7),
        Value::Null,
    ]);
    (
        fields,
        prop::option::of(kind),
        prop::option::of(stamp()),
        any::<bool>(),
    )
        .prop_map(|((entries, flow, usage), kind, stamp, status_first)| {
            let mut health: Vec<String> = Vec::new();
            if status_first {
                health.push(r#""status":"healthy""#.into());
            }
            for (name, value) in entries {
                health.push(format!("{}:{value}", json!(name)));
            }
            for (name, group) in [("data_flow", flow), ("resource_usage", usage)] {
                if let Some(group) = group {
                    health.push(format!(r#""{name}":{group}"#));
                }
            }
            // Written by hand so that duplicate keys reach the decoders.
            let mut top = vec![format!(r#""health":{{{}}}"#, health.join(","))];
            top.extend(kind.map(|k| format!(r#""type":{k}"#)));
            top.extend(stamp.map(|t| format!(r#""timestamp":{t}"#)));
            format!("{{{}}}", top.join(","))
        })
}

#[test]
fn canonical_health_in_both_shapes_takes_the_typed_path() {
    for message in [
        r#"{"type":"streaming_health","health":{"session_id":"df4f5558-c1d6-496f-9b43-6849a55838aa","status":"healthy","active_symbols":60,"ticks_per_second":15.2,"patterns_detected":5,"indicators_calculated":150,"timestamp":"2025-10-07T17:35:00.000Z"},"timestamp":"2025-10-07T17:35:00.000Z"}"#,
        r#"{"type":"streaming_health","health":{"status":"healthy","timestamp":"2025-10-05T10:15:00.000Z","active_symbols":485,"connection_status":"connected","data_flow":{"ticks_per_second":125.3,"bars_per_minute":480,"processing_lag_ms":45},"resource_usage":{"cpu_percent":35.2,"memory_mb":512,"threads_active":8},"issues":[]}}"#,
    ] {
        let typed = health::decode_canonical(message.as_bytes(), now(), any_time(), None)
            .map(|health| Event::Health(health.into()));
        assert!(typed.is_some(), "{message}");
        assert_eq!(
            typed.ok_or(DecodeError::NotObject),
            decode_tolerant(Channel::Health, message.as_bytes(), now(), any_time(), None)
        );
    }
    for refused in [
        r#"{"health":{"status":"healthy","memory_mb":512}}"#,
        // Objects only: not the fields of a struct in order, at any level.
        r#"[null,{"status":"healthy"},null]"#,
        r#"{"health":["healthy",null,null,null,null,null,null,null,null,null,null,null,null,null,null]}"#,
        r#"{"health":{"status":"ok","data_flow":[1,2,3]}}"#,
        r#"{"health":{"status":"ok","resource_usage":[35.2,512,8]}}"#,
    ] {
        assert!(
            health::decode_canonical(refused.as_bytes(), now(), any_time(), None).is_none(),
            "{refused}"
        );
        assert_eq!(
            decode(Channel::Health, refused.as_bytes(), now()),
            decode_tolerant(Channel::Health, refused.as_bytes(), now(), any_time(), None),
            "{refused}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn the_typed_health_path_agrees_with_the_tolerant_one(message in health_message()) {
        let rules = Rules::default();
        prop_assert_eq!(
            decode_with(Channel::Health, message.as_bytes(), now(), &rules),
            decode_tolerant(Channel::Health, message.as_bytes(), now(), rules.window(now()), None),
            "{}", message
        );
    }
}

/// The findings both paths note for `message`, once the typed one took it.
fn findings_of_both_paths(message: &str) -> Option<(Findings, Findings)> {
    let mut typed = Findings::default();
    health::decode_canonical(message.as_bytes(), now(), any_time(), Some(&mut typed))?;
    let mut tree = Findings::default();
    let _ = decode_tolerant(
        Channel::Health,
        message.as_bytes(),
        now(),
        any_time(),
        Some(&mut tree),
    );
    Some((typed, tree))
}

#[test]
fn the_typed_health_path_finds_what_the_json_tree_shows() {
    for message in [
        // Shape A: seed 004's groups and more are missing.
        r#"{"type":"streaming_health","health":{"session_id":"s-1","status":"healthy","active_symbols":60,"ticks_per_second":15.2,"timestamp":"2025-10-07T17:35:00.000Z"},"timestamp":"2025-10-07T17:35:00.000Z"}"#,
        // Integers with a fraction, an epoch inside a string, nulls.
        r#"{"health":{"status":"ok","timestamp":"1759656600","active_symbols":null,"connection_status":" ","data_flow":{"ticks_per_second":1,"bars_per_minute":480.5,"processing_lag_ms":null},"resource_usage":{"memory_mb":512.25},"issues":null}}"#,
        // The envelope's time stands in for none at all, not for a null one.
        r#"{"health":{"status":"ok"},"timestamp":"2025-10-07T17:35:00Z"}"#,
        r#"{"health":{"status":"ok","timestamp":null},"timestamp":"2025-10-07T17:35:00Z"}"#,
        r#"{"health":{"status":"ok"},"timestamp":null}"#,
        r#"{"health":{"status":"ok","data_flow":null,"resource_usage":{}}}"#,
    ] {
        let (typed, tree) =
            findings_of_both_paths(message).unwrap_or_else(|| panic!("not typed: {message}"));
        assert_eq!(typed, tree, "{message}");
    }
    let (shape_a, _) = findings_of_both_paths(
        r#"{"health":{"status":"healthy","active_symbols":60,"timestamp":"2025-10-07T17:35:00Z"}}"#,
    )
    .unwrap();
    let missing: Vec<&str> = shape_a.faults.iter().map(|f| f.field).collect();
    assert_eq!(
        missing,
        [
            "connection_status",
            "data_flow.ticks_per_second",
            "data_flow.bars_per_minute",
            "data_flow.processing_lag_ms",
            "resource_usage.cpu_percent",
            "resource_usage.memory_mb",
            "issues",
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn the_typed_health_paths_findings_agree_with_the_json_trees(message in health_message()) {
        if let Some((typed, tree)) = findings_of_both_paths(&message) {
            prop_assert_eq!(typed, tree, "{}", message);
        }
    }
}
