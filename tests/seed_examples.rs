//! Every JSON event example of the seeds (000 to 004), published on a real
//! Redis, shows up in `/streaming/api/status` (and the live state) with the
//! right values.

mod common;

use common::{RedisServer, TestApp, deliver};
use serde_json::json;

const SESSION_STARTED: &str = "tickstock:streaming:session_started";
const SESSION_STOPPED: &str = "tickstock:streaming:session_stopped";
const HEALTH: &str = "tickstock:streaming:health";
const PATTERNS: &str = "tickstock:patterns:streaming";
const INDICATORS: &str = "tickstock:indicators:streaming";
const INDICATOR_ALERTS: &str = "tickstock:alerts:indicators";
const CRITICAL_ALERTS: &str = "tickstock:alerts:critical";

#[tokio::test]
async fn seed_004_spec_examples() {
    let redis = RedisServer::start().await;
    let app = TestApp::with_redis(&redis).await;
    app.wait_connected().await;
    let mut redis_pub = redis.publisher().await;

    deliver(&app, &mut redis_pub, SESSION_STARTED, r#"{
      "type": "streaming_session_started",
      "session": {"session_id": "550e8400-e29b-41d4-a716-446655440000", "universe": "market_leaders:top_500",
                  "started_at": "2025-10-05T09:30:00.000Z", "symbol_count": 500, "status": "active"},
      "timestamp": "2025-10-05T09:30:00.000Z"}"#).await;
    let status = app.status().await;
    assert_eq!(status["status"], "online");
    assert_eq!(
        status["session"]["session_id"],
        "550e8400-e29b-41d4-a716-446655440000"
    );
    assert_eq!(status["session"]["universe"], "market_leaders:top_500");
    assert_eq!(status["session"]["started_at"], "2025-10-05T09:30:00.000Z");
    assert_eq!(status["session"]["start_time"], "2025-10-05T09:30:00.000Z");
    assert_eq!(status["session"]["symbol_count"], 500);
    assert_eq!(status["session"]["status"], "active");

    deliver(&app, &mut redis_pub, HEALTH, r#"{
      "type": "streaming_health",
      "health": {"status": "healthy", "timestamp": "2025-10-05T10:15:00.000Z", "active_symbols": 485,
                 "connection_status": "connected",
                 "data_flow": {"ticks_per_second": 125.3, "bars_per_minute": 480, "processing_lag_ms": 45},
                 "resource_usage": {"cpu_percent": 35.2, "memory_mb": 512, "threads_active": 8},
                 "issues": []}}"#).await;
    let health = app.status().await["health"].clone();
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["active_symbols"], 485);
    assert_eq!(health["ticks_per_second"], 125.3);
    assert_eq!(health["data_flow"]["ticks_per_second"], 125.3);
    assert_eq!(health["data_flow"]["bars_per_minute"], 480.0);
    assert_eq!(health["data_flow"]["processing_lag_ms"], 45.0);
    assert_eq!(health["resource_usage"]["cpu_percent"], 35.2);
    assert_eq!(health["cpu_percent"], 35.2);
    assert_eq!(health["resource_usage"]["memory_mb"], 512.0);
    assert_eq!(health["resource_usage"]["threads_active"], 8);
    assert_eq!(health["connection_status"], "connected");
    assert_eq!(health["issues"], json!([]));
    assert_eq!(health["timestamp"], "2025-10-05T10:15:00.000Z");
    assert!(health["age_seconds"].as_f64().is_some_and(|age| age >= 0.0));

    deliver(&app, &mut redis_pub, PATTERNS, r#"{
      "type": "streaming_pattern",
      "detection": {"symbol": "NVDA", "pattern_type": "Doji", "confidence": 0.85,
                    "timestamp": "2025-10-05T10:15:00.000Z", "timeframe": "1min",
                    "bar_data": {"open": 125.50, "high": 125.75, "low": 125.45, "close": 125.52, "volume": 250000},
                    "metadata": {"session_id": "550e8400-e29b-41d4-a716-446655440000",
                                 "detection_method": "DynamicPatternIndicatorLoader", "pattern_id": "uuid-pattern-specific"}}}"#).await;
    deliver(&app, &mut redis_pub, PATTERNS, r#"{
      "type": "streaming_patterns_batch",
      "patterns": [
        {"symbol": "NVDA", "pattern_type": "Doji", "confidence": 0.85, "timestamp": "2025-10-05T10:15:00.000Z"},
        {"symbol": "TSLA", "pattern_type": "Hammer", "confidence": 0.78, "timestamp": "2025-10-05T10:15:00.000Z"}],
      "count": 2, "batch_timestamp": "2025-10-05T10:15:01.000Z"}"#).await;
    // The verification command of seed 004: no timestamp, no timeframe.
    deliver(&app, &mut redis_pub, PATTERNS,
        r#"{"type":"streaming_pattern","detection":{"symbol":"TEST","pattern_type":"Doji","confidence":0.9}}"#).await;
    let patterns = app.state.live.recent_patterns(10);
    let seen: Vec<_> = patterns
        .iter()
        .map(|p| (p.symbol.as_str(), p.pattern_type.as_str(), p.confidence))
        .collect();
    assert_eq!(
        seen,
        [
            ("TEST", "Doji", 0.9),
            ("TSLA", "Hammer", 0.78),
            ("NVDA", "Doji", 0.85),
            ("NVDA", "Doji", 0.85)
        ]
    );
    let nvda = &patterns[3];
    assert_eq!(
        nvda.session_id.as_deref(),
        Some("550e8400-e29b-41d4-a716-446655440000")
    );
    assert_eq!(nvda.bar_data.as_ref().and_then(|b| b.volume), Some(250000));
    assert!(nvda.high_confidence && !patterns[1].high_confidence);

    deliver(&app, &mut redis_pub, INDICATORS, r#"{
      "type": "streaming_indicator",
      "calculation": {"symbol": "TSLA", "indicator": "RSI", "value": 72.5, "timestamp": "2025-10-05T10:15:00.000Z",
                      "timeframe": "1min", "metadata": {"period": 14, "overbought_threshold": 70, "oversold_threshold": 30}}}"#).await;
    let indicators = app.state.live.latest_indicators();
    assert_eq!(indicators.len(), 1);
    assert_eq!(
        (
            indicators[0].symbol.as_str(),
            indicators[0].indicator.as_str()
        ),
        ("TSLA", "RSI")
    );
    assert_eq!(indicators[0].value, Some(72.5));
    assert_eq!(indicators[0].metadata["period"], 14);

    deliver(&app, &mut redis_pub, INDICATOR_ALERTS, r#"{
      "type": "indicator_alert",
      "alert": {"symbol": "AAPL", "alert_type": "RSI_OVERBOUGHT", "timestamp": "2025-10-05T11:30:00.000Z",
                "data": {"indicator": "RSI", "value": 75.2, "threshold": 70, "direction": "above"}, "severity": "warning"}}"#).await;
    deliver(&app, &mut redis_pub, CRITICAL_ALERTS, r#"{
      "type": "critical_alert",
      "alert": {"severity": "critical", "message": "WebSocket connection lost to Massive", "timestamp": "2025-10-05T12:45:00.000Z",
                "component": "polygon_websocket", "action_required": "Manual intervention needed - check API credentials", "recovery": null}}"#).await;
    deliver(&app, &mut redis_pub, CRITICAL_ALERTS, r#"{
      "type": "critical_alert",
      "alert": {"severity": "info", "message": "WebSocket connection restored", "timestamp": "2025-10-05T12:50:00.000Z",
                "component": "polygon_websocket", "action_required": null,
                "recovery": "Connection re-established successfully after 5 minutes"}}"#).await;
    let alerts: Vec<_> = app
        .state
        .live
        .recent_alerts(10)
        .iter()
        .map(|a| serde_json::to_value(a.as_ref()).unwrap())
        .collect();
    assert_eq!(alerts.len(), 3);
    assert_eq!(alerts[0]["kind"], "critical_alert");
    assert_eq!(
        alerts[0]["recovery"],
        "Connection re-established successfully after 5 minutes"
    );
    assert_eq!(alerts[1]["message"], "WebSocket connection lost to Massive");
    assert_eq!(
        alerts[1]["resolved_by"]["recovery"],
        "Connection re-established successfully after 5 minutes"
    );
    assert_eq!(
        alerts[1]["resolved_by"]["timestamp"],
        "2025-10-05T12:50:00.000Z"
    );
    assert_eq!(alerts[2]["kind"], "indicator_alert");
    assert_eq!(alerts[2]["symbol"], "AAPL");
    assert_eq!(alerts[2]["alert_type"], "RSI_OVERBOUGHT");
    assert_eq!(
        alerts[2]["data"],
        json!({"indicator": "RSI", "value": 75.2, "threshold": 70.0, "direction": "above"})
    );
    assert_eq!(alerts[2]["severity"], "warning");

    deliver(&app, &mut redis_pub, SESSION_STOPPED, r#"{
      "type": "streaming_session_stopped",
      "session": {"session_id": "550e8400-e29b-41d4-a716-446655440000", "stopped_at": "2025-10-05T16:00:00.000Z",
                  "duration_seconds": 23400, "total_patterns": 1250, "total_indicators": 45000, "final_status": "completed"},
      "timestamp": "2025-10-05T16:00:00.000Z"}"#).await;
    let status = app.status().await;
    assert_eq!(status["status"], "idle");
    assert_eq!(status["session"], serde_json::Value::Null);
    assert_eq!(
        status["last_session"]["session_id"],
        "550e8400-e29b-41d4-a716-446655440000"
    );
    assert_eq!(status["last_session"]["duration_seconds"], 23400);
    assert_eq!(status["last_session"]["total_patterns"], 1250);
    assert_eq!(status["last_session"]["total_indicators"], 45000);
    assert_eq!(status["last_session"]["final_status"], "completed");

    for channel in [
        SESSION_STARTED,
        SESSION_STOPPED,
        HEALTH,
        PATTERNS,
        INDICATORS,
        INDICATOR_ALERTS,
        CRITICAL_ALERTS,
    ] {
        assert_eq!(
            status["subscriber_stats"]["channels"][channel]["decode_errors"], 0,
            "{channel}"
        );
    }
    assert_eq!(
        status["subscriber_stats"]["channels"][PATTERNS]["messages"],
        3
    );
}

/// Seeds 000 to 003: the shapes TickStockPL actually sent (health shape A,
/// `start_time`, Python's naive `isoformat()`), in the order they happened.
#[tokio::test]
async fn seeds_000_to_003_field_examples() {
    let redis = RedisServer::start().await;
    let app = TestApp::with_redis(&redis).await;
    app.wait_connected().await;
    let mut redis_pub = redis.publisher().await;

    // Seed 003: the session_started TickStockPL was asked to publish.
    deliver(&app, &mut redis_pub, SESSION_STARTED, r#"{
      "type": "streaming_session_started",
      "session": {"session_id": "a7de6432-1da0-4543-aaa7-2a4d7083edc3", "universe": "market_leaders:top_500",
                  "started_at": "2025-10-07T09:41:30.000Z", "symbol_count": 60, "status": "active"},
      "timestamp": "2025-10-07T09:41:30.000Z"}"#).await;
    let status = app.status().await;
    assert_eq!(status["status"], "online");
    assert_eq!(
        status["session"]["session_id"],
        "a7de6432-1da0-4543-aaa7-2a4d7083edc3"
    );
    assert_eq!(status["session"]["symbol_count"], 60);

    // Seed 002: the session as the original's status route showed it, with
    // `start_time` (microseconds, offset) instead of `started_at`.
    deliver(&app, &mut redis_pub, SESSION_STARTED, r#"{
      "type": "streaming_session_started",
      "session": {"session_id": "f444e96f-1b50-4766-b98d-02921a9b5b57", "start_time": "2025-10-07T19:21:51.658768+00:00",
                  "universe": "market_leaders:top_500", "symbol_count": 0, "status": "active"}}"#).await;
    let status = app.status().await;
    assert_eq!(
        status["session"]["session_id"],
        "f444e96f-1b50-4766-b98d-02921a9b5b57"
    );
    assert_eq!(status["session"]["started_at"], "2025-10-07T19:21:51.658Z");
    assert_eq!(status["session"]["symbol_count"], 0);

    // Seed 002: health shape A, what TickStockPL sent every 10 s.
    deliver(&app, &mut redis_pub, HEALTH, r#"{
      "type": "streaming_health",
      "health": {"session_id": "f444e96f-1b50-4766-b98d-02921a9b5b57", "status": "healthy", "active_symbols": 60,
                 "ticks_per_second": 18.2, "patterns_detected": 0, "indicators_calculated": 0,
                 "timestamp": "2025-10-07T19:22:02.000Z"},
      "timestamp": "2025-10-07T19:22:02.000Z"}"#).await;
    let status = app.status().await;
    assert_eq!(status["status"], "online");
    assert_eq!(status["health"]["status"], "healthy");
    assert_eq!(status["health"]["active_symbols"], 60);
    assert_eq!(status["health"]["ticks_per_second"], 18.2);
    assert_eq!(status["health"]["data_flow"]["ticks_per_second"], 18.2);
    assert_eq!(
        status["health"]["data_flow"]["bars_per_minute"],
        serde_json::Value::Null
    );
    assert_eq!(status["health"]["patterns_detected"], 0);
    assert_eq!(status["health"]["indicators_calculated"], 0);

    // Seeds 000 and 001: health for a session whose start was never seen,
    // with the optional fields and Python's naive UTC timestamps.
    deliver(&app, &mut redis_pub, HEALTH, r#"{
      "type": "streaming_health",
      "health": {"session_id": "df4f5558-c1d6-496f-9b43-6849a55838aa", "status": "healthy", "active_symbols": 60,
                 "ticks_per_second": 15.2, "patterns_detected": 5, "indicators_calculated": 150,
                 "memory_usage_mb": 256.5, "cpu_percent": 45.2, "errors_count": 0, "uptime_seconds": 3600,
                 "timestamp": "2025-10-07T17:35:00.000000"},
      "timestamp": "2025-10-07T17:35:00.000Z"}"#).await;
    let status = app.status().await;
    assert_eq!(status["status"], "online");
    assert_eq!(
        status["session"]["session_id"],
        "df4f5558-c1d6-496f-9b43-6849a55838aa"
    );
    assert_eq!(status["session"]["source"], "health");
    assert_eq!(status["session"]["started_at"], "2025-10-07T16:35:00.000Z");
    assert_eq!(status["health"]["timestamp"], "2025-10-07T17:35:00.000Z");
    assert_eq!(status["health"]["ticks_per_second"], 15.2);
    assert_eq!(status["health"]["patterns_detected"], 5);
    assert_eq!(status["health"]["indicators_calculated"], 150);
    assert_eq!(status["health"]["memory_usage_mb"], 256.5);
    assert_eq!(status["health"]["resource_usage"]["memory_mb"], 256.5);
    assert_eq!(status["health"]["cpu_percent"], 45.2);
    assert_eq!(status["health"]["errors_count"], 0);
    assert_eq!(status["health"]["uptime_seconds"], 3600.0);

    // Seed 003: the session_stopped shape of its Python example.
    deliver(&app, &mut redis_pub, SESSION_STOPPED, r#"{
      "type": "streaming_session_stopped",
      "session": {"session_id": "df4f5558-c1d6-496f-9b43-6849a55838aa", "stopped_at": "2025-10-07T20:00:00.000000Z",
                  "duration_seconds": 8100, "total_patterns": 5, "total_indicators": 150, "final_status": "completed"},
      "timestamp": "2025-10-07T20:00:00.000000Z"}"#).await;
    assert_eq!(app.status().await["status"], "idle");
}
