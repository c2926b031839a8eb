//! The subscriber against a real Redis: session recovery, staleness, Redis
//! restarts, malformed input and duplicate detections.

mod common;

use std::time::Duration;

use common::{RedisServer, TestApp, WAIT, deliver, wait_for};
use serde_json::{Value, json};
use tickstock::config::Config;
use tickstock::events::Channel;

const HEALTH: &str = "tickstock:streaming:health";

fn health_a(session_id: &str, tps: f64) -> String {
    json!({"type": "streaming_health", "health": {"session_id": session_id, "status": "healthy",
           "active_symbols": 60, "ticks_per_second": tps, "timestamp": "2025-10-07T17:35:00Z"}})
    .to_string()
}

#[tokio::test]
async fn both_health_shapes_carry_the_same_ticks_per_second() {
    let redis = RedisServer::start().await;
    let app = TestApp::with_redis(&redis).await;
    app.wait_connected().await;
    let mut redis_pub = redis.publisher().await;

    deliver(&app, &mut redis_pub, HEALTH, &health_a("s-1", 18.2)).await;
    let shape_a = app.status().await["health"].clone();
    let shape_b = json!({"type": "streaming_health", "health": {"status": "healthy",
        "timestamp": "2025-10-07T17:35:00Z", "active_symbols": 60,
        "data_flow": {"ticks_per_second": 18.2}}});
    deliver(&app, &mut redis_pub, HEALTH, &shape_b.to_string()).await;
    let shape_b = app.status().await["health"].clone();

    for health in [&shape_a, &shape_b] {
        assert_eq!(health["ticks_per_second"], 18.2, "{health}");
        assert_eq!(health["data_flow"]["ticks_per_second"], 18.2, "{health}");
    }
}

#[tokio::test]
async fn health_alone_means_online_stop_means_idle_silence_means_stale() {
    let redis = RedisServer::start().await;
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.bus.redis_url = Some(redis.url().into());
        config.events.health_stale_seconds = 1;
        config
    })
    .await;
    app.wait_connected().await;
    assert_eq!(app.status().await["status"], "idle");
    let mut redis_pub = redis.publisher().await;

    // TickStock started after TickStockPL: no session_started, only health.
    deliver(&app, &mut redis_pub, HEALTH, &health_a("late-joiner", 12.0)).await;
    let status = app.status().await;
    assert_eq!(status["status"], "online");
    assert_eq!(status["session"]["session_id"], "late-joiner");
    assert_eq!(status["session"]["source"], "health");

    // No health for longer than HEALTH_STALE_SECONDS.
    wait_for("status to go stale", WAIT, || async {
        (app.status().await["status"] == "stale").then_some(())
    })
    .await;
    // Health again: online again.
    deliver(&app, &mut redis_pub, HEALTH, &health_a("late-joiner", 12.0)).await;
    assert_eq!(app.status().await["status"], "online");

    let stop = json!({"type": "streaming_session_stopped",
        "session": {"session_id": "late-joiner", "final_status": "stopped"}});
    deliver(
        &app,
        &mut redis_pub,
        "tickstock:streaming:session_stopped",
        &stop.to_string(),
    )
    .await;
    assert_eq!(app.status().await["status"], "idle");

    // A late health of the stopped session does not bring it back.
    deliver(&app, &mut redis_pub, HEALTH, &health_a("late-joiner", 0.0)).await;
    assert_eq!(app.status().await["status"], "idle");
}

#[tokio::test]
async fn survives_a_redis_restart_and_resubscribes_every_channel() {
    let mut redis = RedisServer::start().await;
    let app = TestApp::with_redis(&redis).await;
    app.wait_connected().await;
    let mut redis_pub = redis.publisher().await;
    deliver(&app, &mut redis_pub, HEALTH, &health_a("before", 1.0)).await;

    redis.kill();
    wait_for("status offline", WAIT, || async {
        let status = app.status().await;
        (status["status"] == "offline" && status["subscriber_stats"]["connected"] == false)
            .then_some(())
    })
    .await;
    let (code, ready) = app.get("/readyz").await;
    assert_eq!(code, 503, "{ready}");

    redis.restart().await;
    app.wait_connected().await;
    let status = app.status().await;
    assert!(
        status["subscriber_stats"]["reconnects"].as_u64() >= Some(1),
        "{status}"
    );
    assert_eq!(app.get("/readyz").await.0, 200);

    // Every channel was subscribed again: each one delivers.
    let mut redis_pub = redis.publisher().await;
    for channel in Channel::ALL {
        let receivers = redis_pub.publish(channel.name(), "{}").await;
        assert_eq!(receivers, 1, "{channel} not resubscribed");
    }
    deliver(&app, &mut redis_pub, HEALTH, &health_a("after", 2.0)).await;
    let status = app.status().await;
    assert_eq!(status["session"]["session_id"], "after");
    assert_eq!(status["health"]["ticks_per_second"], 2.0);
}

/// Messages that must be counted as decode errors on every channel.
fn malformed() -> Vec<Vec<u8>> {
    let mut bad: Vec<Vec<u8>> = [
        "not json",
        "[1,2,3]",
        "\"a string\"",
        "42",
        "null",
        "{\"type\": \"streaming_health\", \"health\": {\"status\": {\"nested\": true}}}",
        "{\"type\": \"streaming_pattern\", \"detection\": {\"symbol\": \"X\"}}",
        "{\"type\": \"streaming_indicator\", \"calculation\": {\"symbol\": \"X\", \"indicator\": \"RSI\", \"value\": \"high\"}}",
        "{\"type\": \"critical_alert\", \"alert\": {\"severity\": \"critical\"}}",
        "{\"type\": \"streaming_session_started\", \"session\": {\"universe\": \"u\"}}",
        "{\"type\": \"indicator_alert\", \"alert\": {\"symbol\": [\"AAPL\"], \"alert_type\": \"X\"}}",
        "{\"timestamp\": \"not a time\"}",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    bad.push(vec![0xff, 0xfe, 0x00]);
    bad.push(format!("{{\"pad\": \"{}\"}}", "x".repeat(1_100_000)).into_bytes());
    bad
}

#[tokio::test]
async fn malformed_messages_are_counted_change_nothing_and_do_not_stop_the_subscriber() {
    let redis = RedisServer::start().await;
    let app = TestApp::with_redis(&redis).await;
    app.wait_connected().await;
    let mut redis_pub = redis.publisher().await;
    deliver(&app, &mut redis_pub, HEALTH, &health_a("steady", 5.0)).await;
    let before = app.status().await;

    let bad = malformed();
    for channel in Channel::ALL {
        for payload in &bad {
            redis_pub.publish(channel.name(), payload).await;
        }
    }
    let expected = bad.len() as u64;
    wait_for("every malformed message counted", WAIT, || async {
        Channel::ALL
            .iter()
            .all(|c| app.state.live.channel(*c).decode_errors() >= expected)
            .then_some(())
    })
    .await;

    let after = app.status().await;
    for channel in Channel::ALL {
        let errors = &after["subscriber_stats"]["channels"][channel.name()]["decode_errors"];
        assert_eq!(errors.as_u64(), Some(expected), "{channel}");
    }
    for key in ["status", "session", "health"] {
        let strip_age = |v: &Value| {
            let mut v = v.clone();
            if let Some(h) = v.get_mut("health").and_then(Value::as_object_mut) {
                h.remove("age_seconds");
            }
            v[key].clone()
        };
        assert_eq!(strip_age(&before), strip_age(&after), "{key} changed");
    }
    assert!(app.state.live.recent_patterns(10).is_empty());
    assert!(app.state.live.latest_indicators().is_empty());
    assert!(app.state.live.recent_alerts(10).is_empty());

    // Still receiving.
    deliver(&app, &mut redis_pub, HEALTH, &health_a("steady", 6.0)).await;
    assert_eq!(app.status().await["health"]["ticks_per_second"], 6.0);
}

#[tokio::test]
async fn a_detection_on_both_pattern_channels_is_kept_once() {
    let redis = RedisServer::start().await;
    let app = TestApp::with_redis(&redis).await;
    app.wait_connected().await;
    let mut redis_pub = redis.publisher().await;
    let detection = json!({"type": "streaming_pattern", "detection": {"symbol": "nvda",
        "pattern": "Hammer", "confidence": "0.91", "timestamp": 1759659300000_i64}})
    .to_string();
    deliver(
        &app,
        &mut redis_pub,
        "tickstock:patterns:streaming",
        &detection,
    )
    .await;
    deliver(
        &app,
        &mut redis_pub,
        "tickstock:patterns:detected",
        &detection,
    )
    .await;

    let patterns = app.state.live.recent_patterns(10);
    assert_eq!(patterns.len(), 1);
    assert_eq!(patterns[0].symbol, "NVDA");
    assert_eq!(patterns[0].pattern_type, "Hammer");
    assert_eq!(patterns[0].confidence, 0.91);
    assert!(patterns[0].high_confidence);
}

#[tokio::test]
async fn the_status_route_never_waits_on_a_dead_redis() {
    // Nothing listens on this port: the bus is down from the start.
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.bus.redis_url = Some(format!("redis://127.0.0.1:{}/", common::free_port()).into());
        config
    })
    .await;
    let status = tokio::time::timeout(Duration::from_secs(2), app.status())
        .await
        .expect("status answers at once");
    assert_eq!(status["status"], "offline");
    assert_eq!(app.get("/readyz").await.0, 503);
    assert_eq!(app.get("/healthz").await.0, 200);
}
