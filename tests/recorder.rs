//! The recorder against a real Redis and real PostgreSQL (a fresh database
//! per test): events land in the tables exactly once, an outage of the
//! database never holds up the live path, and an open session survives a
//! restart.

mod common;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};
use tickstock::config::Config;
use tickstock::recorder::{BATCH_ROWS, MAX_HELD_ROWS};
use tickstock::store::Store;
use tickstock::store::history::session_uuid;

use common::postgres::TestDatabase;
use common::proxy::TcpProxy;
use common::{RedisServer, TestApp, WAIT, deliver, wait_for};

const SESSION_STARTED: &str = "tickstock:streaming:session_started";
const SESSION_STOPPED: &str = "tickstock:streaming:session_stopped";
const HEALTH: &str = "tickstock:streaming:health";
const PATTERNS: &str = "tickstock:patterns:streaming";
const PATTERNS_DETECTED: &str = "tickstock:patterns:detected";
const INDICATORS: &str = "tickstock:indicators:streaming";
const INDICATOR_ALERTS: &str = "tickstock:alerts:indicators";
const CRITICAL_ALERTS: &str = "tickstock:alerts:critical";

const SESSION: &str = "550e8400-e29b-41d4-a716-446655440000";

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A whole second, some minutes ago: the events' clock.
fn minutes_ago(minutes: i64) -> DateTime<Utc> {
    let now = Utc::now();
    let second = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    second - TimeDelta::minutes(minutes)
}

async fn app_with(redis: &RedisServer, database_url: &str) -> TestApp {
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.bus.redis_url = Some(redis.url().into());
        config.database.database_url = Some(database_url.to_owned().into());
        config
    })
    .await;
    app.wait_connected().await;
    app
}

/// Waits until the recorder has written `records` and holds none; returns
/// its status section.
async fn wait_written(app: &TestApp, records: u64, timeout: Duration) -> Value {
    wait_for(&format!("{records} records written"), timeout, || async {
        let recorder = app.status().await["recorder"].clone();
        (recorder["written"] == records && recorder["pending"] == 0).then_some(recorder)
    })
    .await
}

fn pattern(symbol: &str, name: &str, at: DateTime<Utc>, confidence: f64) -> Value {
    json!({"symbol": symbol, "pattern_type": name, "confidence": confidence,
        "timestamp": iso(at), "timeframe": "1min",
        "bar_data": {"open": 125.5, "high": 125.75, "low": 125.45, "close": 125.52, "volume": 250000},
        "metadata": {"session_id": SESSION}})
}

fn single(detection: Value) -> String {
    json!({"type": "streaming_pattern", "detection": detection}).to_string()
}

fn batch(patterns: Vec<Value>) -> String {
    let count = patterns.len();
    json!({"type": "streaming_patterns_batch", "patterns": patterns, "count": count}).to_string()
}

fn rsi(value: f64, at: DateTime<Utc>) -> String {
    json!({"type": "streaming_indicator", "calculation": {"symbol": "NVDA", "indicator": "RSI",
        "value": value, "timestamp": iso(at), "timeframe": "1min", "session_id": SESSION,
        "metadata": {"period": 14}}})
    .to_string()
}

fn health(active_symbols: i64, at: DateTime<Utc>) -> String {
    json!({"type": "streaming_health", "health": {"session_id": SESSION, "status": "healthy",
        "active_symbols": active_symbols, "ticks_per_second": 18.2, "timestamp": iso(at)}})
    .to_string()
}

fn session_started(session_id: &str, at: DateTime<Utc>) -> String {
    json!({"type": "streaming_session_started", "session": {"session_id": session_id,
        "universe": "market_leaders:top_500", "started_at": iso(at), "symbol_count": 60,
        "status": "active"}})
    .to_string()
}

/// A message, the rows it becomes, and how many times it is published.
struct Sent {
    channel: &'static str,
    payload: String,
    rows: u64,
}

fn sent(channel: &'static str, payload: String, rows: u64) -> Sent {
    Sent {
        channel,
        payload,
        rows,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_twice_land_in_the_tables_exactly_once_and_read_back_newest_first() {
    let redis = RedisServer::start().await;
    let db = TestDatabase::create().await;
    let app = app_with(&redis, &db.url).await;
    let mut publisher = redis.publisher().await;
    let base = minutes_ago(30);
    let at = |minutes: i64| base + TimeDelta::minutes(minutes);
    let engulfing = single(pattern("NVDA", "Engulfing", at(3), 0.9));
    let messages = vec![
        sent(SESSION_STARTED, session_started(SESSION, base), 1),
        sent(
            PATTERNS,
            batch(vec![
                pattern("NVDA", "Doji", at(1), 0.85),
                pattern("NVDA", "Hammer", at(2), 0.78),
                pattern("TSLA", "Doji", at(2), 0.7),
            ]),
            3,
        ),
        sent(PATTERNS, engulfing.clone(), 1),
        // The high-confidence copy of the same detection.
        sent(PATTERNS_DETECTED, engulfing, 1),
        sent(PATTERNS, single(pattern("NVDA", "Doji", at(4), 0.81)), 1),
        sent(
            PATTERNS,
            single(pattern("NVDA", "Doji", minutes_ago(180), 0.8)),
            1,
        ),
        sent(INDICATORS, rsi(55.0, at(1)), 1),
        sent(INDICATORS, rsi(61.5, at(2)), 1),
        sent(INDICATORS, rsi(72.25, at(3)), 1),
        sent(
            INDICATORS,
            json!({"calculation": {"symbol": "NVDA", "indicator": "MACD", "timestamp": iso(at(3)),
                "values": {"macd": 1.25, "signal": 1.1, "histogram": 0.15}}})
            .to_string(),
            1,
        ),
        sent(HEALTH, health(60, at(1)), 1),
        sent(
            HEALTH,
            json!({"type": "streaming_health", "health": {"status": "warning", "timestamp": iso(at(2)),
                "active_symbols": 485, "connection_status": "connected",
                "data_flow": {"ticks_per_second": 125.3, "bars_per_minute": 480, "processing_lag_ms": 45},
                "resource_usage": {"cpu_percent": 85.2, "memory_mb": 512, "threads_active": 8},
                "issues": ["High CPU usage: 85%"]}})
            .to_string(),
            1,
        ),
        sent(
            INDICATOR_ALERTS,
            json!({"type": "indicator_alert", "alert": {"symbol": "NVDA", "alert_type": "RSI_OVERBOUGHT",
                "timestamp": iso(at(3)), "severity": "warning",
                "data": {"indicator": "RSI", "value": 72.25, "threshold": 70, "direction": "above"}}})
            .to_string(),
            1,
        ),
        sent(
            CRITICAL_ALERTS,
            json!({"type": "critical_alert", "alert": {"severity": "critical",
                "message": "WebSocket connection lost to Massive", "timestamp": iso(at(4)),
                "component": "polygon_websocket", "action_required": "check API credentials",
                "recovery": null}})
            .to_string(),
            1,
        ),
        sent(
            CRITICAL_ALERTS,
            json!({"type": "critical_alert", "alert": {"severity": "info",
                "message": "WebSocket connection restored", "timestamp": iso(at(5)),
                "component": "polygon_websocket", "action_required": null,
                "recovery": "Connection re-established"}})
            .to_string(),
            1,
        ),
        sent(
            SESSION_STOPPED,
            json!({"type": "streaming_session_stopped", "session": {"session_id": SESSION,
                "stopped_at": iso(at(6)), "duration_seconds": 360, "total_patterns": 6,
                "total_indicators": 4, "final_status": "completed"}})
            .to_string(),
            1,
        ),
    ];

    for message in &messages {
        for _ in 0..2 {
            deliver(&app, &mut publisher, message.channel, &message.payload).await;
        }
    }
    let records: u64 = messages.iter().map(|m| 2 * m.rows).sum();
    let recorder = wait_written(&app, records, WAIT).await;
    assert_eq!(recorder["store"], "postgres");
    assert_eq!(recorder["dropped"], 0);

    assert_eq!(db.count("streaming_sessions").await, 1);
    assert_eq!(db.count("intraday_patterns").await, 6);
    assert_eq!(db.count("intraday_indicators").await, 4);
    assert_eq!(db.count("streaming_health_metrics").await, 2);
    assert_eq!(db.count("streaming_alerts").await, 3);

    let times = |rows: &Value, field: &str| -> Vec<String> {
        let rows = rows.as_array().expect("an array of rows");
        rows.iter()
            .map(|r| r[field].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let (code, newest) = app.get("/streaming/api/patterns/nvda?limit=3").await;
    assert_eq!(code, 200, "{newest}");
    assert_eq!(newest["symbol"], "NVDA");
    assert_eq!(newest["count"], 3);
    assert_eq!(
        times(&newest["patterns"], "detected_at"),
        [iso(at(4)), iso(at(3)), iso(at(2))]
    );
    assert_eq!(newest["patterns"][1]["pattern_type"], "Engulfing");
    assert_eq!(newest["patterns"][1]["bar_volume"], 250000);
    assert_eq!(newest["patterns"][1]["session_id"], SESSION);
    let (_, all) = app.get("/streaming/api/patterns/NVDA").await;
    assert_eq!(
        (all["count"].clone(), all["limit"].clone()),
        (json!(5), json!(100))
    );
    let (_, last_hour) = app.get("/api/streaming/patterns/NVDA?hours=1").await;
    assert_eq!(last_hour["count"], 4);

    let (_, rsi) = app
        .get("/streaming/api/indicators/NVDA?indicator=rsi&limit=2")
        .await;
    let values: Vec<f64> = rsi["indicators"]
        .as_array()
        .expect("indicators")
        .iter()
        .filter_map(|r| r["value"].as_f64())
        .collect();
    assert_eq!(values, [72.25, 61.5]);
    let (_, macd) = app
        .get("/streaming/api/indicators/NVDA?indicator=MACD")
        .await;
    assert_eq!(macd["indicators"][0]["metadata"]["values"]["signal"], 1.1);

    let (_, alerts) = app.get("/streaming/api/alerts").await;
    assert_eq!(
        times(&alerts["alerts"], "triggered_at"),
        [iso(at(5)), iso(at(4)), iso(at(3))]
    );
    assert_eq!(alerts["alerts"][0]["recovery"], "Connection re-established");
    assert_eq!(alerts["alerts"][2]["data"]["threshold"], 70.0);
    let (_, critical) = app
        .get("/streaming/api/alerts?alert_type=critical_alert")
        .await;
    assert_eq!(critical["count"], 2);
    let (_, overbought) = app
        .get("/streaming/api/alerts?alert_type=RSI_OVERBOUGHT&hours=2")
        .await;
    assert_eq!(overbought["count"], 1);

    let (_, health) = app.get("/streaming/api/health/history?limit=1").await;
    assert_eq!(health["count"], 1);
    assert_eq!(health["health"][0]["status"], "warning");
    assert_eq!(health["health"][0]["bars_per_minute"], 480);
    assert_eq!(
        health["health"][0]["issues"],
        json!(["High CPU usage: 85%"])
    );

    let (_, sessions) = app.get("/streaming/api/sessions").await;
    assert_eq!(sessions["count"], 1);
    let session = &sessions["sessions"][0];
    assert_eq!(session["session_id"], SESSION);
    assert_eq!(session["universe"], "market_leaders:top_500");
    assert_eq!(session["stopped_at"], iso(at(6)));
    assert_eq!(session["final_status"], "completed");
    assert_eq!(session["total_patterns"], 6);
}

/// Reads one sample of the Prometheus text.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_while_events_flow_keeps_the_live_status_counts_drops_and_resumes() {
    let redis = RedisServer::start().await;
    let db = TestDatabase::create().await;
    let proxy = TcpProxy::start(db.server_address()).await;
    let app = app_with(&redis, &db.url_via(proxy.port)).await;
    let mut publisher = redis.publisher().await;
    let base = minutes_ago(10);

    deliver(
        &app,
        &mut publisher,
        SESSION_STARTED,
        &session_started(SESSION, base),
    )
    .await;
    deliver(&app, &mut publisher, HEALTH, &health(60, base)).await;
    wait_written(&app, 2, WAIT).await;

    proxy.cut();
    deliver(
        &app,
        &mut publisher,
        HEALTH,
        &health(61, base + TimeDelta::seconds(1)),
    )
    .await;
    // More than can be held: the oldest batch in the writer's hands, the
    // queue full, and the rest dropped.
    let batches = (MAX_HELD_ROWS + 2 * BATCH_ROWS) / 50;
    let flood_started = std::time::Instant::now();
    let before = app.messages_on(PATTERNS);
    for n in 0..batches {
        let patterns = (0..50)
            .map(|i| pattern("FLOOD", &format!("P{n}-{i}"), base, 0.5))
            .collect();
        publisher.publish(PATTERNS, batch(patterns)).await;
    }
    app.wait_messages(PATTERNS, before + batches as u64).await;
    let flood_took = flood_started.elapsed();
    let dropped = wait_for("rows to be dropped", WAIT, || async {
        let metrics = app.get_text("/metrics").await;
        let dropped = metric(&metrics, "tickstock_recorder_dropped_rows_total");
        (dropped > 0).then_some(dropped)
    })
    .await;
    assert!(
        dropped as usize >= 50 * batches - MAX_HELD_ROWS - BATCH_ROWS,
        "{dropped}"
    );

    // The live path does not wait on the database.
    let later = base + TimeDelta::seconds(2);
    deliver(&app, &mut publisher, HEALTH, &health(62, later)).await;
    wait_for("the live health to update", WAIT, || async {
        let live = app.state.live.health()?;
        (live.active_symbols == Some(62)).then_some(())
    })
    .await;
    // Found out when its write attempt fails (the pool's acquire timeout at worst).
    let pending = wait_for("the writer to be retrying", WAIT, || async {
        let metrics = app.get_text("/metrics").await;
        let retrying = metric(&metrics, "tickstock_recorder_retrying") == 1;
        retrying.then(|| metric(&metrics, "tickstock_recorder_pending_rows"))
    })
    .await;
    assert!(pending as usize > MAX_HELD_ROWS, "{pending}");
    let retrying = app.status().await["recorder"].clone();
    assert!(retrying["last_error"].is_string(), "{retrying}");

    proxy.restore();
    let restored = std::time::Instant::now();
    let held_written = wait_for("recording to resume", Duration::from_secs(90), || async {
        let recorder = app.status().await["recorder"].clone();
        let done = recorder["pending"] == 0 && recorder["retrying"] == false;
        done.then(|| recorder["written"].as_u64().expect("written"))
    })
    .await;
    let catch_up = restored.elapsed();
    let after = single(pattern("AFTER", "Doji", base + TimeDelta::seconds(3), 0.9));
    deliver(&app, &mut publisher, PATTERNS, &after).await;
    let recorder = wait_written(&app, held_written + 1, WAIT).await;
    let dropped = recorder["dropped"].as_u64().expect("dropped");
    // Cleared by the first write that succeeded.
    assert!(recorder["last_error"].is_null(), "{recorder}");

    let flooded = (50 * batches + 1) as u64;
    let healths = 3;
    let recorded = db.count("intraday_patterns").await + db.count("streaming_health_metrics").await;
    assert_eq!(recorded as u64, flooded + healths - dropped);
    assert_eq!(
        recorder["written"].as_u64(),
        Some(1 + flooded + healths - dropped)
    );
    let pool = db.pool().await;
    let after_recorded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM intraday_patterns WHERE symbol = 'AFTER'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(after_recorded, 1);
    eprintln!(
        "{batches} batches of 50 patterns counted in {flood_took:?} while PostgreSQL was away; \
         {dropped} rows dropped; the held rows written {catch_up:?} after it was back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_session_row_restores_the_current_session_at_start_up() {
    let db = TestDatabase::create().await;
    let store = Store::connect(&db.url).await.expect("migrate");
    let Some(pool) = store.postgres().cloned() else {
        panic!("a PostgreSQL store");
    };
    let open = uuid::Uuid::new_v4();
    let open_started = minutes_ago(10);
    let insert = "INSERT INTO streaming_sessions (session_id, universe, started_at, stopped_at, symbol_count)
                  VALUES ($1, $2, $3, $4, $5)";
    for (id, universe, started, stopped) in [
        (open, "market_leaders:top_500", open_started, None),
        // Newer, but stopped.
        (
            uuid::Uuid::new_v4(),
            "stopped",
            minutes_ago(5),
            Some(minutes_ago(1)),
        ),
        // Open, but from days ago: its stop was never received.
        (
            uuid::Uuid::new_v4(),
            "stale",
            minutes_ago(3 * 24 * 60),
            None,
        ),
    ] {
        sqlx::query(insert)
            .bind(id)
            .bind(universe)
            .bind(started)
            .bind(stopped)
            .bind(60)
            .execute(&pool)
            .await
            .expect("insert a session");
    }
    pool.close().await;

    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.database.database_url = Some(db.url.clone().into());
        config
    })
    .await;
    let status = app.status().await;
    assert_eq!(status["status"], "online", "{status}");
    let session = &status["session"];
    assert_eq!(session["session_id"], open.to_string());
    assert_eq!(session["source"], "database");
    assert_eq!(session["universe"], "market_leaders:top_500");
    assert_eq!(session["symbol_count"], 60);
    assert_eq!(session["started_at"], iso(open_started));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_id_that_is_not_a_uuid_is_recorded_as_its_uuid_v5_and_restored_after_a_restart() {
    let redis = RedisServer::start().await;
    let db = TestDatabase::create().await;
    let producer_id = "tickstockpl-2025-10-05";
    let recorded_id = session_uuid(producer_id).to_string();
    {
        let app = app_with(&redis, &db.url).await;
        let mut publisher = redis.publisher().await;
        let started = session_started(producer_id, minutes_ago(5));
        deliver(&app, &mut publisher, SESSION_STARTED, &started).await;
        let mut detection = pattern("NVDA", "Doji", minutes_ago(4), 0.9);
        detection["metadata"]["session_id"] = json!(producer_id);
        deliver(&app, &mut publisher, PATTERNS, &single(detection)).await;
        wait_written(&app, 2, WAIT).await;
        let (_, sessions) = app.get("/streaming/api/sessions").await;
        assert_eq!(sessions["sessions"][0]["session_id"], recorded_id);
        let (_, patterns) = app.get("/streaming/api/patterns/NVDA").await;
        assert_eq!(patterns["patterns"][0]["session_id"], recorded_id);
        assert_eq!(db.count("streaming_sessions").await, 1);
    }
    let restarted = app_with(&redis, &db.url).await;
    let status = restarted.status().await;
    assert_eq!(status["session"]["session_id"], recorded_id, "{status}");
    assert_eq!(status["session"]["source"], "database");
}
