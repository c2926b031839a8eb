//! The history API: the same JSON from the memory store (embedded default)
//! and from PostgreSQL, and a JSON 400 naming the reason for a bad parameter.

mod common;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};
use tickstock::config::Config;

use common::postgres::TestDatabase;
use common::{Publisher, RedisServer, TestApp, WAIT, wait_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_parameters_get_400_with_a_json_reason() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let cases = [
        ("/streaming/api/patterns/NVDA?limit=0", "limit"),
        ("/streaming/api/patterns/NVDA?limit=abc", "limit"),
        ("/api/streaming/patterns/NVDA?limit=-5", "limit"),
        ("/streaming/api/patterns/NVDA?hours=-1", "hours"),
        ("/streaming/api/patterns/NVDA?hours=abc", "hours"),
        ("/streaming/api/patterns/NOT%20A%20TICKER", "symbol"),
        ("/streaming/api/patterns/WAYTOOLONGSYMBOL", "symbol"),
        ("/streaming/api/indicators/AAPL;DROP", "symbol"),
        ("/streaming/api/indicators/AAPL?limit=1.5", "limit"),
        (
            "/streaming/api/indicators/AAPL?indicator=a%20b",
            "indicator",
        ),
        ("/streaming/api/alerts?hours=0", "hours"),
        ("/streaming/api/alerts?alert_type=%00", "alert_type"),
        ("/api/streaming/alerts?limit=x", "limit"),
        ("/streaming/api/sessions?limit=0", "limit"),
        ("/streaming/api/health/history?limit=-1", "limit"),
        // Malformed for axum's own extractors, still answered in JSON.
        ("/streaming/api/alerts?limit=1&limit=2", "limit"),
        ("/streaming/api/patterns/%FF", ""),
    ];
    for (path, parameter) in cases {
        let (code, body) = app.get(path).await;
        assert_eq!(code, 400, "{path}: {body}");
        let reason = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: {body}"));
        assert!(reason.contains(parameter), "{path}: {reason}");
    }
    // Good ones, for contrast: a limit above the maximum is lowered to it.
    let (code, body) = app.get("/streaming/api/indicators/brk.b?limit=500").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["limit"], 50);
    assert_eq!(body["symbol"], "BRK.B");
    assert_eq!(body["indicators"], json!([]));
}

fn iso_nanos(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Awkward but valid events: ids that are not UUIDs, values past their
/// columns' scale, nanosecond times, names that sort differently by locale,
/// both health shapes, both alert kinds, copies on both pattern channels.
fn events(base: DateTime<Utc>) -> Vec<(&'static str, Value)> {
    let at = |seconds: i64| {
        iso_nanos(base + TimeDelta::seconds(seconds) + TimeDelta::nanoseconds(123_456_789))
    };
    let pattern = |name: &str, seconds: i64, confidence: f64| {
        json!({"symbol": "nvda", "pattern_type": name, "confidence": confidence,
            "timestamp": at(seconds), "timeframe": "1min",
            "bar_data": {"open": 125.504, "high": 125.755, "low": "125.45", "close": 125.5, "volume": 250000.0},
            "metadata": {"session_id": "pl-morning", "threshold": 70.0, "tiny": 0.0000001, "nested": {"b": 1, "a": [true, null]}}})
    };
    let batch = json!({"type": "streaming_patterns_batch", "patterns": [
        pattern("Doji", 60, 0.857), pattern("doji", 60, 85.5), pattern("Évening Star", 60, 0.5),
        pattern("Hammer", 120, 0.91)]});
    vec![
        (
            "tickstock:streaming:session_started",
            json!({"session": {"session_id": "pl-morning", "symbol_universe_key": "market_leaders:top_500",
                "start_time": at(0), "symbol_count": 60.0}}),
        ),
        (
            "tickstock:streaming:session_started",
            json!({"session": {"session_id": "pl-afternoon", "started_at": at(30)}}),
        ),
        ("tickstock:patterns:streaming", batch.clone()),
        ("tickstock:patterns:detected", batch),
        (
            "tickstock:patterns:streaming",
            json!({"detection": pattern("Engulfing", 90, 0.8)}),
        ),
        (
            "tickstock:indicators:streaming",
            json!({"calculation": {"symbol": "AAPL", "indicator": "RSI", "value": "72.123456",
                "timestamp": at(60), "metadata": {"period": 14}, "session_id": "pl-morning"}}),
        ),
        (
            "tickstock:indicators:streaming",
            json!({"calculation": {"symbol": "AAPL", "indicator_type": "MACD", "timestamp": at(60),
                "values": {"macd": 1.23456, "signal": 1.1, "histogram": 0.13456}}}),
        ),
        (
            "tickstock:indicators:streaming",
            json!({"calculation": {"symbol": "AAPL", "indicator": "BB", "timestamp": at(61),
                "value": {"upper": 190.5, "middle": 185.25, "lower": 180.0}, "timeframe": "1min"}}),
        ),
        (
            "tickstock:streaming:health",
            json!({"health": {"session_id": "pl-morning", "status": "healthy", "active_symbols": 60.0,
                "ticks_per_second": 18.255, "memory_usage_mb": 512.7, "cpu_percent": 35.555,
                "timestamp": at(60)}}),
        ),
        (
            "tickstock:streaming:health",
            json!({"type": "streaming_health", "health": {"status": "warning", "timestamp": at(61),
                "active_symbols": 485, "data_flow": {"ticks_per_second": 125.3, "bars_per_minute": 480,
                "processing_lag_ms": 45.4}, "resource_usage": {"cpu_percent": 1234.5, "memory_mb": 512},
                "issues": ["High CPU usage: 85%", {"code": 7}]}}),
        ),
        (
            "tickstock:alerts:indicators",
            json!({"alert": {"symbol": "AAPL", "alert_type": "RSI_OVERBOUGHT", "timestamp": at(62),
                "severity": "warning", "data": {"indicator": "RSI", "value": 75.2, "threshold": 70,
                "direction": "above", "period": 14}}}),
        ),
        (
            "tickstock:alerts:critical",
            json!({"alert": {"severity": "critical", "message": "WebSocket connection lost",
                "timestamp": at(62), "component": "polygon_websocket", "action_required": "check",
                "recovery": null, "region": "us-east", "session_id": "pl-morning"}}),
        ),
        (
            "tickstock:streaming:session_stopped",
            json!({"session": {"session_id": "pl-morning", "stopped_at": at(300),
                "total_patterns": 5, "final_status": "completed"}}),
        ),
        (
            "tickstock:streaming:session_stopped",
            json!({"session": {"session_id": "pl-unseen", "stopped_at": at(400),
                "duration_seconds": 100, "final_status": "failed"}}),
        ),
    ]
}

/// Publishes once to every app subscribed and waits until each counted it.
async fn publish_to(apps: &[&TestApp], publisher: &mut Publisher, channel: &str, message: &Value) {
    let before: Vec<u64> = apps.iter().map(|app| app.messages_on(channel)).collect();
    let receivers = publisher.publish(channel, message.to_string()).await;
    assert!(
        receivers >= apps.len() as i64,
        "{receivers} subscribers on {channel}"
    );
    for (app, before) in apps.iter().zip(before) {
        app.wait_messages(channel, before + 1).await;
    }
}

/// Waits until the recorder holds nothing and has written `records`.
async fn wait_recorded(app: &TestApp, records: u64) {
    wait_for(&format!("{records} records written"), WAIT, || async {
        let recorder = app.status().await["recorder"].clone();
        let done = recorder["pending"] == 0 && recorder["written"] == records;
        done.then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_and_postgres_answer_the_same_json() {
    let redis = RedisServer::start().await;
    let db = TestDatabase::create().await;
    let embedded = TestApp::with_redis(&redis).await;
    let postgres = TestApp::with_redis_and_database(&redis, &db).await;
    embedded.wait_connected().await;
    postgres.wait_connected().await;
    let mut publisher = redis.publisher().await;

    let now = Utc::now();
    let base = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now) - TimeDelta::minutes(30);
    let events = events(base);
    for (channel, message) in &events {
        publish_to(&[&embedded, &postgres], &mut publisher, channel, message).await;
    }
    // 4 + 4 + 1 patterns; every other message is one record.
    let records = (events.len() - 3) as u64 + 9;
    wait_recorded(&embedded, records).await;
    wait_recorded(&postgres, records).await;

    let (_, status) = embedded.get("/streaming/api/status").await;
    assert_eq!(status["recorder"]["store"], "memory");
    for path in [
        "/streaming/api/patterns/NVDA",
        "/streaming/api/patterns/nvda?limit=2&hours=1",
        "/streaming/api/indicators/AAPL",
        "/streaming/api/indicators/AAPL?indicator=macd",
        "/streaming/api/alerts",
        "/streaming/api/alerts?alert_type=critical_alert&hours=2",
        "/streaming/api/sessions",
        "/streaming/api/health/history",
        "/api/streaming/health/history?limit=1",
    ] {
        let (memory_code, from_memory) = embedded.get(path).await;
        let (postgres_code, from_postgres) = postgres.get(path).await;
        assert_eq!(memory_code, 200, "{path}: {from_memory}");
        assert_eq!(postgres_code, 200, "{path}: {from_postgres}");
        assert!(
            from_memory["count"].as_u64() > Some(0),
            "{path}: {from_memory}"
        );
        assert_eq!(from_memory, from_postgres, "{path}");
    }

    // A few of the rules both stores applied.
    let (_, patterns) = postgres.get("/streaming/api/patterns/NVDA").await;
    let names: Vec<&str> = patterns["patterns"]
        .as_array()
        .expect("patterns")
        .iter()
        .filter_map(|p| p["pattern_type"].as_str())
        .collect();
    assert_eq!(
        names,
        ["Hammer", "Engulfing", "Doji", "doji", "Évening Star"]
    );
    assert_eq!(patterns["patterns"][2]["confidence"], 0.86);
    assert_eq!(patterns["patterns"][2]["bar_open"], 125.5);
    let (_, sessions) = postgres.get("/streaming/api/sessions").await;
    let universes: Vec<&str> = sessions["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|s| s["universe"].as_str())
        .collect();
    assert_eq!(universes, ["unknown", "unknown", "market_leaders:top_500"]);
}
