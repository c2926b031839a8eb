//! Producer conformance against seed 004: `tickstock verify` listening to a
//! deliberately broken producer on a real Redis, the simulator's own output
//! verified in-process, and `GET /streaming/api/verify` on a running server.

mod common;

use std::process::Output;
use std::time::Duration;

use chrono::Utc;
use common::postgres::TestDatabase;
use common::{Publisher, RedisServer, TestApp, WAIT, deliver, wait_for};
use serde_json::{Value, json};
use tickstock::bus::Bus;
use tickstock::config::Config;
use tickstock::conformance;
use tickstock::conformance::mark::Mark;
use tickstock::conformance::report::{Origin, Report};
use tickstock::conformance::tables::Tables;
use tickstock::conformance::tally::Tally;
use tickstock::events::Channel;
use tickstock::sim::{self, Fault, HealthShape, Plan, Scenario, Settings};
use tokio_util::sync::CancellationToken;

const SESSION_ID: &str = "550e8400-e29b-41d4-a716-446655440000";

/// The binary, with nothing inherited that could change its configuration.
fn tickstock(args: &[&str], envs: &[(&str, &str)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tickstock"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(envs.iter().copied())
        // Away from any .env in the working tree.
        .current_dir(std::env::temp_dir())
        .kill_on_drop(true);
    command
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn session_started_without_universe() -> Value {
    json!({"type": "streaming_session_started", "session": {"session_id": SESSION_ID,
        "started_at": now(), "symbol_count": 60, "status": "active"}, "timestamp": now()})
}

fn session_stopped() -> Value {
    json!({"type": "streaming_session_stopped", "session": {"session_id": SESSION_ID, "stopped_at": now(),
        "duration_seconds": 60, "total_patterns": 1, "total_indicators": 6, "final_status": "completed"},
        "timestamp": now()})
}

fn health(status: Option<&str>) -> Value {
    let mut health = json!({"type": "streaming_health", "health": {"timestamp": now(), "active_symbols": 60,
        "connection_status": "connected",
        "data_flow": {"ticks_per_second": 18.2, "bars_per_minute": 60, "processing_lag_ms": 12},
        "resource_usage": {"cpu_percent": 12.5, "memory_mb": 300, "threads_active": 8}, "issues": []}});
    if let Some(status) = status {
        health["health"]["status"] = json!(status);
    }
    health
}

fn pattern(confidence: Value) -> Value {
    json!({"type": "streaming_pattern", "detection": {"symbol": "NVDA", "pattern_type": "Doji",
        "confidence": confidence, "timestamp": now(), "timeframe": "1min",
        "bar_data": {"open": 125.5, "high": 125.75, "low": 125.45, "close": 125.52, "volume": 250000},
        "metadata": {"session_id": SESSION_ID, "pattern_id": format!("p-{confidence}")}}})
}

fn indicator() -> Value {
    json!({"type": "streaming_indicator", "calculation": {"symbol": "TSLA", "indicator": "RSI", "value": 72.5,
        "timestamp": now(), "timeframe": "1min", "metadata": {"period": 14}}})
}

fn critical_alert() -> Value {
    json!({"type": "critical_alert", "alert": {"severity": "critical", "message": "Feed lost",
        "timestamp": now(), "component": "polygon_websocket", "action_required": "Check credentials",
        "recovery": null}})
}

/// Everything of the broken mix but the indicator alerts (nothing on that
/// channel): a session start without `universe`, a health event without
/// `status` beside a good one, a pattern whose `confidence` is a string.
fn broken_mix() -> Vec<(Channel, Value)> {
    vec![
        (Channel::SessionStarted, session_started_without_universe()),
        (Channel::Health, health(Some("healthy"))),
        (Channel::Health, health(None)),
        (Channel::PatternsStreaming, pattern(json!("0.85"))),
        (Channel::PatternsDetected, pattern(json!(0.91))),
        (Channel::Indicators, indicator()),
        (Channel::CriticalAlerts, critical_alert()),
        (Channel::SessionStopped, session_stopped()),
    ]
}

fn row(report: &Value, channel: Channel) -> &Value {
    &report["channels"][channel.index()]
}

fn fault<'a>(report: &'a Value, channel: Channel, field: &str) -> &'a Value {
    let faults = row(report, channel)["faults"].as_array().unwrap();
    faults
        .iter()
        .find(|f| f["field"] == field)
        .unwrap_or_else(|| panic!("no fault on {field} in {faults:?}"))
}

/// The rows the broken mix must give, whoever observed it.
fn assert_broken_mix_report(report: &Value) {
    let statuses: Vec<&str> = report["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["mark"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["⏳", "✅", "⏳", "⏳", "✅", "✅", "❌", "✅"],
        "{report:#}"
    );
    assert_eq!(row(report, Channel::IndicatorAlerts)["messages"], 0);
    assert_eq!(
        row(report, Channel::IndicatorAlerts)["status"],
        "not_implemented"
    );

    let universe = fault(report, Channel::SessionStarted, "universe");
    assert_eq!(universe["problem"], "missing");
    assert_eq!(universe["count"], 1);
    assert!(
        universe["example"]
            .as_str()
            .unwrap()
            .contains(r#""symbol_count":60"#)
    );
    assert_eq!(
        row(report, Channel::SessionStarted)["faults"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // TickStock cannot decode a health event without status: counted there too.
    let health = row(report, Channel::Health);
    assert_eq!(
        (
            &health["messages"],
            &health["faulty_messages"],
            &health["undecodable_messages"]
        ),
        (&json!(2), &json!(1), &json!(1))
    );
    let status = fault(report, Channel::Health, "status");
    assert_eq!(
        (&status["problem"], &status["count"]),
        (&json!("missing"), &json!(1))
    );

    // "0.85" decodes, but seed 004 says float.
    let confidence = fault(report, Channel::PatternsStreaming, "confidence");
    assert_eq!(confidence["problem"], "wrong_kind");
    assert_eq!(
        (&confidence["found"], &confidence["expected"]),
        (&json!("string"), &json!("float"))
    );
    assert_eq!(
        row(report, Channel::PatternsStreaming)["undecodable_messages"],
        0
    );
    assert!(
        report["known_issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|issue| issue
                .as_str()
                .unwrap()
                .contains("`confidence` of the wrong kind")),
        "{report:#}"
    );
}

async fn publish_all(publisher: &mut Publisher, messages: &[(Channel, Value)]) {
    for (channel, message) in messages {
        publisher.publish(channel.name(), message.to_string()).await;
    }
}

/// Subscribers to each of the 8 channels, per Redis.
async fn subscribers(redis: &RedisServer) -> Vec<i64> {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut command = redis::cmd("PUBSUB");
    command.arg("NUMSUB");
    for channel in Channel::ALL {
        command.arg(channel.name());
    }
    let counts: Vec<(String, i64)> = command.query_async(&mut conn).await.unwrap();
    counts.into_iter().map(|(_, n)| n).collect()
}

async fn finish(child: tokio::process::Child) -> Output {
    tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("verify ends after its window")
        .expect("verify runs")
}

#[tokio::test]
async fn verify_needs_redis_url_and_names_it() {
    let output = finish(
        tickstock(&["verify", "--minutes", "0.01"], &[])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("REDIS_URL"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn a_broken_producer_gets_partial_and_missing_rows_naming_the_faulty_fields() {
    let redis = RedisServer::start().await;
    // The tables: one with a recent row, one empty, two missing.
    let db = TestDatabase::create().await;
    let pool = db.pool().await;
    for statement in [
        "CREATE TABLE streaming_sessions (session_id UUID PRIMARY KEY, universe VARCHAR(100) NOT NULL,
            started_at TIMESTAMPTZ NOT NULL, stopped_at TIMESTAMPTZ, symbol_count INTEGER NOT NULL)",
        "INSERT INTO streaming_sessions VALUES (gen_random_uuid(), 'market_leaders:top_500', now(), NULL, 500)",
        "CREATE TABLE intraday_patterns (id SERIAL PRIMARY KEY, symbol VARCHAR(10) NOT NULL,
            detected_at TIMESTAMPTZ NOT NULL)",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let verify = tickstock(
        &["verify", "--minutes", "0.15", "--format", "json"],
        &[("REDIS_URL", &redis.url()), ("DATABASE_URL", &db.url)],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    wait_for("verify to subscribe to the 8 channels", WAIT, || async {
        subscribers(&redis)
            .await
            .iter()
            .all(|&n| n == 1)
            .then_some(())
    })
    .await;
    publish_all(&mut redis.publisher().await, &broken_mix()).await;

    let output = finish(verify).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "a channel is ❌: {stderr}");
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    assert_broken_mix_report(&report);

    let tables: Vec<(&str, &str)> = report["tables"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["table"].as_str().unwrap(), t["mark"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tables,
        [
            ("streaming_sessions", "✅"),
            ("intraday_patterns", "⏳"),
            ("intraday_indicators", "❌"),
            ("streaming_health_metrics", "❌"),
        ]
    );
    assert_eq!(report["tables"]["tables"][0]["rows_last_hour"], 1);
    // Its health events came about 0 s apart: far more often than seed 004 asks.
    assert_eq!(report["health_cadence"]["intervals"], 1);
    assert_eq!(report["health_cadence"]["seed_004"]["verdict"], "meets");
    let latency = &report["latency"]["all_channels"];
    assert!(latency["samples"].as_u64().unwrap() >= 8, "{latency}");
    assert!(latency["p95_ms"].as_i64().unwrap() < 5_000, "{latency}");
}

/// The simulator's every event kind in one session (a synthetic universe
/// for patterns and alerts, an outage for critical alerts, a planned end),
/// verified in-process.
async fn verify_simulator(shape: HealthShape) -> Report {
    let bus = Bus::new(None).unwrap();
    let stop = CancellationToken::new();
    let _unsubscribe = stop.clone().drop_guard();
    let mut subscription = conformance::subscribe(&bus, stop).await.unwrap();
    let tally = Tally::new(Utc::now());
    let settings = Settings {
        plan: Plan {
            scenario: Scenario::ErrorRecovery,
            duration: Some(Duration::from_millis(1600)),
            fault: Some(Fault {
                after: Duration::from_millis(500),
                lasts: Duration::from_millis(400),
            }),
            load_symbols: 200,
        },
        bar_interval: Duration::from_millis(100),
        health_interval: Duration::from_millis(250),
        health_shape: shape,
        warmup_bars: 250,
        symbol_count: 200,
    };
    let session = sim::run(settings, bus.clone(), CancellationToken::new());
    // session_stopped is the last message of a session.
    let until_stopped = wait_for("session_stopped", WAIT, || async {
        (tally.messages(Channel::SessionStopped) == 1).then_some(())
    });
    tokio::join!(
        session,
        conformance::tally_until(&mut subscription.messages, &tally, until_stopped)
    );
    Report::build(
        Origin::Listened,
        &tally,
        Tables::not_checked("no database in this test"),
        0,
        Utc::now(),
    )
}

#[tokio::test]
async fn the_simulator_in_health_shape_b_verifies_clean() {
    let report = verify_simulator(HealthShape::B).await;
    for row in &report.channels {
        assert_eq!(
            row.status,
            Mark::Implemented,
            "{}: {:?}",
            row.channel,
            row.faults
        );
        assert!(row.messages > 0, "{}", row.channel);
    }
    assert!(!report.any_channel_silent());
    assert!(report.health_cadence.intervals >= 3);
    assert!(report.latency.all_channels.is_some());
    let markdown = report.to_markdown();
    assert_eq!(markdown.matches(": ✅ - ").count(), 8, "{markdown}");
}

/// Shape A is what TickStockPL really sends (seeds 000, 002): the spec's
/// groups are missing, and the report says exactly that.
#[tokio::test]
async fn the_simulators_health_shape_a_lacks_exactly_seed_004s_health_groups() {
    let report = verify_simulator(HealthShape::A).await;
    for row in &report.channels {
        let expected = if row.channel == Channel::Health.name() {
            Mark::InProgress
        } else {
            Mark::Implemented
        };
        assert_eq!(row.status, expected, "{}: {:?}", row.channel, row.faults);
    }
    let health = &report.channels[Channel::Health.index()];
    let missing: Vec<&str> = health.faults.iter().map(|f| f.field).collect();
    assert_eq!(
        missing,
        [
            "connection_status",
            "data_flow.bars_per_minute",
            "data_flow.processing_lag_ms",
            "data_flow.ticks_per_second",
            "issues",
            "resource_usage.cpu_percent",
            "resource_usage.memory_mb",
        ]
    );
    assert!(health.faults.iter().all(|f| f.count == health.messages));
}

#[tokio::test]
async fn the_verify_route_reports_what_the_server_has_received() {
    let redis = RedisServer::start().await;
    let db = TestDatabase::create().await;
    let app = TestApp::with_redis_and_database(&redis, &db).await;
    app.wait_connected().await;
    let mut publisher = redis.publisher().await;
    for (channel, message) in broken_mix() {
        deliver(&app, &mut publisher, channel.name(), &message.to_string()).await;
    }

    // TickStock's recorder writes what it decoded into the 4 tables, in
    // batches: wait until each has its recent rows.
    let report = wait_for("the mix recorded", WAIT, || async {
        let (code, report) = app.get("/streaming/api/verify").await;
        assert_eq!(code, 200, "{report}");
        let tables = report["tables"]["tables"].as_array()?;
        tables
            .iter()
            .all(|t| t["status"] == "implemented")
            .then_some(report)
    })
    .await;
    assert_broken_mix_report(&report);
    assert_eq!(report["tables"]["checked"], true);
    assert!(
        report["reporter"]
            .as_str()
            .unwrap()
            .starts_with("TickStock server")
    );

    let response = app
        .http
        .get(format!(
            "{}/streaming/api/verify?format=markdown",
            app.base_url
        ))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let markdown = response.text().await.unwrap();
    for expected in [
        "## TickStockPL Streaming Status Report",
        "1. tickstock:streaming:session_started: ⏳ - 1 message, 1 with missing or wrong fields:",
        "   - `universe` missing in 1 of 1, e.g. ",
        "3. tickstock:streaming:health: ⏳ - 2 messages, 1 with missing or wrong fields, 1 of them not decodable by TickStock:",
        "   - `confidence` of the wrong kind (string, expected float) in 1 of 1",
        "7. tickstock:alerts:indicators: ❌ - nothing received in",
        "### Database Tables Status",
        "4. streaming_health_metrics: ✅ - exists, 1 row in the last hour",
    ] {
        assert!(
            markdown.contains(expected),
            "{expected:?} not in\n{markdown}"
        );
    }

    let (code, body) = app.get("/streaming/api/verify?format=html").await;
    assert_eq!(code, 400, "{body}");
}

#[tokio::test]
async fn without_a_database_the_route_says_the_tables_were_not_checked() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let (code, report) = app.get("/streaming/api/verify").await;
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["tables"]["checked"], false);
    assert_eq!(report["tables"]["tables"][0]["mark"], "❔");
    assert!(
        report["tables"]["reason"]
            .as_str()
            .unwrap()
            .contains("DATABASE_URL")
    );
    // Nothing received yet: every channel is ❌.
    assert!(
        report["channels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["mark"] == "❌")
    );
}
