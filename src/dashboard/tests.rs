//! The wire, byte for byte: every change, the status, the snapshot and a
//! resync serialise to exactly the messages the dashboard has always been
//! sent (the literals below), and the live state hands the hub its values
//! without serialising anything.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::messages::{self, Message, Snapshot};
use super::status::{StatusBody, StatusSections, status_body};
use crate::bus::Link;
use crate::events::{self, Channel, Event, Reason, Rules};
use crate::feed::FeedStats;
use crate::market::{MarketBook, MarketStats};
use crate::recorder::RecorderStats;
use crate::state::{Change, Limits, LiveState};

fn live() -> LiveState {
    LiveState::new(
        Arc::new(Link::default()),
        std::time::Duration::from_secs(30),
        Limits::default(),
    )
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

fn decoded(channel: Channel, message: &Value) -> Event {
    events::decode_with(
        channel,
        message.to_string().as_bytes(),
        now(),
        &Rules::ANY_TIME,
    )
    .unwrap_or_else(|error| panic!("{message} does not decode: {error}"))
}

/// Applies `message` and returns the one change announced.
fn applied(live: &LiveState, channel: Channel, message: &Value, at: DateTime<Utc>) -> Change {
    let mut changes = live.subscribe();
    assert!(
        live.apply(decoded(channel, message), at),
        "{message} changed nothing"
    );
    let change = changes.try_recv().expect("one change announced");
    assert!(changes.try_recv().is_err(), "one change only");
    change
}

/// A session's life: a health event revealing a missed session, a start,
/// health, a single pattern, two batches (the second a partial copy), an
/// indicator, an indicator alert, a critical alert and its recovery, a stop.
fn session_life() -> [(Channel, Value, &'static str); 11] {
    [
        (
            Channel::Health,
            json!({"type":"streaming_health","timestamp":"2026-01-02T03:04:00+00:00","health":{"session_id":"s-0","status":"healthy","active_symbols":60,"ticks_per_second":18.2,"uptime_seconds":120,"queue_depth":3}}),
            r#"{"seq":1,"event":"streaming_health","data":{"health":{"session_id":"s-0","status":"healthy","active_symbols":60,"ticks_per_second":18.2,"patterns_detected":null,"indicators_calculated":null,"cpu_percent":null,"memory_usage_mb":null,"errors_count":null,"uptime_seconds":120.0,"connection_status":null,"data_flow":{"ticks_per_second":18.2,"bars_per_minute":null,"processing_lag_ms":null},"resource_usage":{"cpu_percent":null,"memory_mb":null,"threads_active":null},"issues":[],"timestamp":"2026-01-02T03:04:00.000Z","queue_depth":3,"age_seconds":0.0},"session":{"session_id":"s-0","universe":null,"started_at":"2026-01-02T03:02:00.000Z","start_time":"2026-01-02T03:02:00.000Z","symbol_count":60,"status":"active","source":"health"}}}"#,
        ),
        (
            Channel::SessionStarted,
            json!({"type":"streaming_session_started","session_id":"s-1","symbol_universe_key":"market_leaders:top_500","start_time":"2026-01-02T03:00:00+00:00","symbol_count":60,"region":"us"}),
            r#"{"seq":2,"event":"streaming_session","data":{"state":"started","session":{"session_id":"s-1","universe":"market_leaders:top_500","started_at":"2026-01-02T03:00:00.000Z","start_time":"2026-01-02T03:00:00.000Z","symbol_count":60,"status":"active","source":"session_started","region":"us"}}}"#,
        ),
        (
            Channel::Health,
            json!({"type":"streaming_health","timestamp":"2026-01-02T03:04:01+00:00","health":{"session_id":"s-1","status":"warning","active_symbols":59,"data_flow":{"ticks_per_second":7.5,"dropped":1},"issues":["lag high"]}}),
            r#"{"seq":3,"event":"streaming_health","data":{"health":{"session_id":"s-1","status":"warning","active_symbols":59,"ticks_per_second":7.5,"patterns_detected":null,"indicators_calculated":null,"cpu_percent":null,"memory_usage_mb":null,"errors_count":null,"uptime_seconds":null,"connection_status":null,"data_flow":{"ticks_per_second":7.5,"bars_per_minute":null,"processing_lag_ms":null,"dropped":1},"resource_usage":{"cpu_percent":null,"memory_mb":null,"threads_active":null},"issues":["lag high"],"timestamp":"2026-01-02T03:04:01.000Z","age_seconds":0.0}}}"#,
        ),
        (
            Channel::PatternsStreaming,
            json!({"symbol":"aapl","pattern_type":"Doji","confidence":0.85,"timestamp":"2026-01-02T03:04:02+00:00","extra_field":1}),
            r#"{"seq":4,"event":"streaming_pattern","data":{"symbol":"AAPL","pattern_type":"Doji","confidence":0.85,"high_confidence":true,"timestamp":"2026-01-02T03:04:02.000Z","timeframe":null,"bar_data":null,"session_id":null,"metadata":{},"extra_field":1}}"#,
        ),
        (
            Channel::PatternsStreaming,
            json!({"type":"streaming_patterns_batch","patterns":[{"symbol":"msft","pattern_type":"Hammer","confidence":0.9,"timestamp":"2026-01-02T03:04:03+00:00"},{"symbol":"nvda","pattern_type":"Engulfing","confidence":0.7,"timestamp":"2026-01-02T03:04:03+00:00"}]}),
            r#"{"seq":5,"event":"streaming_patterns_batch","data":{"patterns":[{"symbol":"MSFT","pattern_type":"Hammer","confidence":0.9,"high_confidence":true,"timestamp":"2026-01-02T03:04:03.000Z","timeframe":null,"bar_data":null,"session_id":null,"metadata":{}},{"symbol":"NVDA","pattern_type":"Engulfing","confidence":0.7,"high_confidence":false,"timestamp":"2026-01-02T03:04:03.000Z","timeframe":null,"bar_data":null,"session_id":null,"metadata":{}}],"count":2}}"#,
        ),
        (
            Channel::PatternsDetected,
            json!({"type":"streaming_patterns_batch","patterns":[{"symbol":"msft","pattern_type":"Hammer","confidence":0.9,"timestamp":"2026-01-02T03:04:03+00:00"},{"symbol":"tsla","pattern_type":"Doji","confidence":0.6,"timestamp":"2026-01-02T03:04:04+00:00"}]}),
            r#"{"seq":6,"event":"streaming_patterns_batch","data":{"patterns":[{"symbol":"TSLA","pattern_type":"Doji","confidence":0.6,"high_confidence":false,"timestamp":"2026-01-02T03:04:04.000Z","timeframe":null,"bar_data":null,"session_id":null,"metadata":{}}],"count":1}}"#,
        ),
        (
            Channel::Indicators,
            json!({"type":"streaming_indicator","symbol":"AAPL","indicator":"RSI","value":71.0,"timestamp":"2026-01-02T03:04:05+00:00","period":14}),
            r#"{"seq":7,"event":"streaming_indicator","data":{"symbol":"AAPL","indicator":"RSI","value":71.0,"timestamp":"2026-01-02T03:04:05.000Z","metadata":{},"period":14}}"#,
        ),
        (
            Channel::IndicatorAlerts,
            json!({"type":"indicator_alert","symbol":"AAPL","alert_type":"RSI_OVERBOUGHT","value":71.0,"threshold":70,"timestamp":"2026-01-02T03:04:05+00:00"}),
            r#"{"seq":8,"event":"indicator_alert","data":{"kind":"indicator_alert","symbol":"AAPL","alert_type":"RSI_OVERBOUGHT","timestamp":"2026-01-02T03:04:05.000Z","data":{"indicator":null,"value":71.0,"threshold":70.0,"direction":null},"severity":null,"message":null}}"#,
        ),
        (
            Channel::CriticalAlerts,
            json!({"type":"critical_alert","component":"redis","severity":"critical","message":"connection lost","timestamp":"2026-01-02T03:04:05+00:00"}),
            r#"{"seq":9,"event":"critical_alert","data":{"kind":"critical_alert","severity":"critical","message":"connection lost","timestamp":"2026-01-02T03:04:05.000Z","component":"redis","action_required":null,"recovery":null,"resolved_by":null}}"#,
        ),
        (
            Channel::CriticalAlerts,
            json!({"type":"critical_alert","component":"redis","severity":"info","message":"connection restored","recovery":"reconnected","timestamp":"2026-01-02T03:04:06+00:00"}),
            r#"{"seq":10,"event":"critical_alert","data":{"kind":"critical_alert","severity":"info","message":"connection restored","timestamp":"2026-01-02T03:04:06.000Z","component":"redis","action_required":null,"recovery":"reconnected","resolved_by":null}}"#,
        ),
        (
            Channel::SessionStopped,
            json!({"type":"streaming_session_stopped","session_id":"s-1","final_status":"completed","total_patterns":3,"total_indicators":1,"stop_time":"2026-01-02T03:04:07+00:00"}),
            r#"{"seq":11,"event":"streaming_session","data":{"state":"stopped","session":{"session_id":"s-1","stopped_at":"2026-01-02T03:04:07.000Z","duration_seconds":null,"total_patterns":3,"total_indicators":1,"final_status":"completed"}}}"#,
        ),
    ]
}

#[test]
fn every_change_serialises_to_the_message_it_always_was() {
    let live = live();
    for (seq, (channel, message, expected)) in (1..).zip(session_life()) {
        let change = applied(&live, channel, &message, now());
        assert_eq!(
            messages::frame(seq, &[Message::Change(change)]),
            expected,
            "{message}"
        );
    }
}

#[test]
fn changes_of_one_window_travel_as_one_array() {
    let live = live();
    let (changes, expected): (Vec<_>, Vec<_>) = session_life()
        .into_iter()
        .map(|(channel, message, expected)| {
            (
                Message::Change(applied(&live, channel, &message, now())),
                expected,
            )
        })
        .unzip();
    assert_eq!(
        messages::frame(1, &changes),
        format!("[{}]", expected.join(","))
    );
}

/// `session_life`, then a new session with health received 2.5 s ago, one
/// health message counted and refused.
fn live_after_session_life() -> LiveState {
    let live = live();
    for (channel, message, _) in session_life() {
        applied(&live, channel, &message, now());
    }
    let started = json!({"session_id": "s-2", "start_time": "2026-01-02T03:04:08+00:00"});
    applied(&live, Channel::SessionStarted, &started, now());
    let health = json!({"timestamp": "2026-01-02T03:04:04+00:00",
                        "health": {"session_id": "s-2", "status": "healthy"}});
    let received = now() - chrono::Duration::milliseconds(2500);
    applied(&live, Channel::Health, &health, received);
    live.channel(Channel::Health).record_message(now());
    live.channel(Channel::Health)
        .record_decode_error(Reason::TooLarge);
    live
}

const STATUS: &str = r#"{"status":"offline","session":{"session_id":"s-2","universe":null,"started_at":"2026-01-02T03:04:08.000Z","start_time":"2026-01-02T03:04:08.000Z","symbol_count":null,"status":"active","source":"session_started"},"last_session":{"session_id":"s-1","stopped_at":"2026-01-02T03:04:07.000Z","duration_seconds":null,"total_patterns":3,"total_indicators":1,"final_status":"completed"},"health":{"session_id":"s-2","status":"healthy","active_symbols":null,"ticks_per_second":null,"patterns_detected":null,"indicators_calculated":null,"cpu_percent":null,"memory_usage_mb":null,"errors_count":null,"uptime_seconds":null,"connection_status":null,"data_flow":{"ticks_per_second":null,"bars_per_minute":null,"processing_lag_ms":null},"resource_usage":{"cpu_percent":null,"memory_mb":null,"threads_active":null},"issues":[],"timestamp":"2026-01-02T03:04:04.000Z","age_seconds":2.5},"subscriber_stats":{"connected":false,"reconnects":0,"dropped":0,"channels":{"tickstock:streaming:session_started":{"messages":0,"decode_errors":0,"decode_error_reasons":{},"last_message_at":null},"tickstock:streaming:session_stopped":{"messages":0,"decode_errors":0,"decode_error_reasons":{},"last_message_at":null},"tickstock:streaming:health":{"messages":1,"decode_errors":1,"decode_error_reasons":{"too_large":1},"last_message_at":"2026-01-02T03:04:05.000Z"},"tickstock:patterns:streaming":{"messages":0,"decode_errors":0,"decode_error_reasons":{},"last_message_at":null},"tickstock:patterns:detected":{"messages":0,"decode_errors":0,"decode_error_reasons":{},"last_message_at":null},"tickstock:indicators:streaming":{"messages":0,"decode_errors":0,"decode_error_reasons":{},"last_message_at":null},"tickstock:alerts:indicators":{"messages":0,"decode_errors":0,"decode_error_reasons":{},"last_message_at":null},"tickstock:alerts:critical":{"messages":0,"decode_errors":0,"decode_error_reasons":{},"last_message_at":null}}},"market_feed":{"source":null,"state":"disabled","leader":false,"ticks_received":0,"ticks_forwarded":0,"ticks_dropped":0,"elements_refused":{"malformed":0,"price":0,"range":0,"size":0,"symbol":0,"timestamp":0},"next_attempt_at":null,"detail":null},"recorder":{"store":"memory","pending":0,"written":0,"dropped":0,"rejected":0,"retrying":false,"last_error":null,"last_error_at":null},"market_ticks":{"connected":false,"dropped":0,"received":0,"applied":0,"refused":{"malformed":0,"price":0,"size":0,"timestamp":0,"symbol":0,"range":0},"over_symbol_limit":0,"symbols":0},"market":{"phase":"closed","holiday":"New Year's Day","early_close":false,"next_open":"2026-01-02T14:30:00.000Z","next_close":"2026-01-02T21:00:00.000Z","at":"2026-01-02T03:04:05.000Z","calendar_known":true}}"#;

#[test]
fn the_status_body_is_the_one_it_always_was() {
    let live = live_after_session_life();
    let feed = FeedStats::new(None);
    let recorder = RecorderStats::new("memory");
    let market_ticks = MarketStats::default();
    let sections = StatusSections {
        market_feed: &feed,
        recorder: &recorder,
        market_ticks: &market_ticks,
    };
    let body = status_body(&live, now(), &sections);
    assert_eq!(body, STATUS);
    assert_eq!(
        messages::frame(9, &[Message::Status(body)]),
        format!(r#"{{"seq":9,"event":"streaming_status","data":{STATUS}}}"#)
    );
}

#[test]
fn the_snapshot_is_the_one_it_always_was() {
    let live = live_after_session_life();
    let feed = FeedStats::new(None);
    let recorder = RecorderStats::new("memory");
    let market_ticks = MarketStats::default();
    let sections = StatusSections {
        market_feed: &feed,
        recorder: &recorder,
        market_ticks: &market_ticks,
    };
    let view = live.status_view(now());
    let snapshot = messages::snapshot(
        13,
        &Snapshot {
            status: StatusBody::new(&live, &view, now(), &sections),
            patterns: &live.recent_patterns(50),
            indicators: &live.latest_indicators(),
            alerts: &live.recent_alerts(50),
            market: &MarketBook::new().symbols(now()),
        },
    );
    let patterns = r#"[{"symbol":"TSLA","pattern_type":"Doji","confidence":0.6,"high_confidence":false,"timestamp":"2026-01-02T03:04:04.000Z","timeframe":null,"bar_data":null,"session_id":null,"metadata":{}},{"symbol":"NVDA","pattern_type":"Engulfing","confidence":0.7,"high_confidence":false,"timestamp":"2026-01-02T03:04:03.000Z","timeframe":null,"bar_data":null,"session_id":null,"metadata":{}},{"symbol":"MSFT","pattern_type":"Hammer","confidence":0.9,"high_confidence":true,"timestamp":"2026-01-02T03:04:03.000Z","timeframe":null,"bar_data":null,"session_id":null,"metadata":{}},{"symbol":"AAPL","pattern_type":"Doji","confidence":0.85,"high_confidence":true,"timestamp":"2026-01-02T03:04:02.000Z","timeframe":null,"bar_data":null,"session_id":null,"metadata":{},"extra_field":1}]"#;
    let indicators = r#"[{"symbol":"AAPL","indicator":"RSI","value":71.0,"timestamp":"2026-01-02T03:04:05.000Z","metadata":{},"period":14}]"#;
    let alerts = r#"[{"kind":"critical_alert","severity":"info","message":"connection restored","timestamp":"2026-01-02T03:04:06.000Z","component":"redis","action_required":null,"recovery":"reconnected","resolved_by":null},{"kind":"critical_alert","severity":"critical","message":"connection lost","timestamp":"2026-01-02T03:04:05.000Z","component":"redis","action_required":null,"recovery":null,"resolved_by":{"recovery":"reconnected","timestamp":"2026-01-02T03:04:06.000Z"}},{"kind":"indicator_alert","symbol":"AAPL","alert_type":"RSI_OVERBOUGHT","timestamp":"2026-01-02T03:04:05.000Z","data":{"indicator":null,"value":71.0,"threshold":70.0,"direction":null},"severity":null,"message":null}]"#;
    assert_eq!(
        snapshot,
        format!(
            r#"{{"seq":13,"event":"snapshot","data":{{"status":{STATUS},"patterns":{patterns},"indicators":{indicators},"alerts":{alerts},"market":{{"session_id":null,"symbols":[]}}}}}}"#
        )
    );
}

#[test]
fn a_resync_says_how_many_changes_were_missed() {
    assert_eq!(
        messages::frame(3, &[Message::Resync { missed: 5 }]),
        r#"{"seq":3,"event":"resync","data":{"missed":5}}"#
    );
}

/// What the state announces is what it keeps, shared: no copy, no JSON.
#[test]
fn apply_hands_a_hub_the_values_the_state_keeps() {
    let live = live();
    let life = session_life();
    let at = now();
    for (channel, message, _) in life {
        match applied(&live, channel, &message, at) {
            Change::SessionStarted(session) => {
                let kept = live.status_view(at).session.expect("a session");
                assert!(Arc::ptr_eq(&session, &kept));
            }
            Change::SessionStopped(stopped) => {
                let kept = live
                    .status_view(at)
                    .last_session
                    .expect("a stopped session");
                assert!(Arc::ptr_eq(&stopped, &kept));
            }
            Change::Health {
                health,
                revealed_session,
            } => {
                let view = live.status_view(at);
                assert!(Arc::ptr_eq(&health, &view.health.expect("health").value));
                if let Some(revealed) = revealed_session {
                    assert!(Arc::ptr_eq(&revealed, &view.session.expect("a session")));
                }
            }
            Change::Pattern(pattern) => {
                assert!(Arc::ptr_eq(&pattern, &live.recent_patterns(1)[0]));
            }
            Change::Patterns(patterns) => {
                let kept = live.recent_patterns(patterns.len());
                for (pattern, kept) in patterns.iter().rev().zip(&kept) {
                    assert!(Arc::ptr_eq(pattern, kept));
                }
            }
            Change::Indicator(indicator) => {
                assert!(Arc::ptr_eq(&indicator, &live.latest_indicators()[0]));
            }
            Change::Alert(alert) => assert!(Arc::ptr_eq(&alert, &live.recent_alerts(1)[0])),
        }
    }
    // The state cannot serialise: it does not even name a serialiser.
    assert!(!include_str!("../state.rs").contains("serde_json"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    /// Whatever arrives, decoding and applying it never panics, and the
    /// status still serialises.
    #[test]
    fn no_message_panics_decode_and_apply(
        body in events::tests::arbitrary_json(),
        kind in events::tests::event_type(),
    ) {
        let mut message = body;
        if let (Value::Object(map), Some(kind)) = (&mut message, kind) {
            map.insert("type".into(), Value::from(kind));
        }
        let bytes = message.to_string();
        let state = live();
        let now = Utc::now();
        for rules in [Rules::default(), Rules::ANY_TIME] {
            for channel in Channel::ALL {
                if let Ok(event) = events::decode_with(channel, bytes.as_bytes(), now, &rules) {
                    state.apply(event, now);
                }
            }
        }
        let status: Result<Value, _> = serde_json::from_str(&status_body(&state, now, &serde_json::Map::new()));
        prop_assert!(status.is_ok());
    }
}
