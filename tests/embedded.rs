//! The embedded default: no Redis, no database, everything in-process.

mod common;

use bytes::Bytes;
use common::TestApp;
use serde_json::json;
use tickstock::config::Config;

#[tokio::test]
async fn starts_without_redis_or_database_and_answers_status() {
    let app = TestApp::spawn(Config::for_tests()).await;
    app.wait_connected().await;
    let status = app.status().await;
    assert_eq!(status["status"], "idle");
    assert_eq!(status["subscriber_stats"]["connected"], true);
    assert_eq!(app.get("/readyz").await.0, 200);

    // Events on the in-process bus reach the same pipeline.
    let health = json!({"type": "streaming_health", "health": {"session_id": "embedded",
        "status": "healthy", "active_symbols": 3, "ticks_per_second": 4.5}});
    app.state
        .bus
        .publish(
            "tickstock:streaming:health",
            Bytes::from(health.to_string()),
        )
        .await
        .expect("in-process publish");
    app.wait_messages("tickstock:streaming:health", 1).await;
    let status = app.status().await;
    assert_eq!(status["status"], "online");
    assert_eq!(status["health"]["data_flow"]["ticks_per_second"], 4.5);
}

#[tokio::test]
async fn the_api_alias_and_unknown_routes() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let (code, alias) = app.get("/api/streaming/status").await;
    assert_eq!(code, 200);
    assert_eq!(alias["status"], "idle");
    let (code, body) = app.get("/streaming/api/nothing-here").await;
    assert_eq!(code, 404);
    assert_eq!(body["error"], "not found");
}
