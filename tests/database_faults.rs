//! PostgreSQL refusing rows, going away and not being there at start-up,
//! against a real Redis, a real PostgreSQL (a fresh database per test) and,
//! for outages, a TCP proxy of the test's own in front of it. Also the
//! current streaming session kept in Redis when there is no database.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};
use tickstock::app::Application;
use tickstock::config::Config;
use tokio_util::sync::CancellationToken;

use common::postgres::TestDatabase;
use common::proxy::TcpProxy;
use common::{RedisServer, TestApp, WAIT, deliver, free_port, wait_for};

const SESSION_STARTED: &str = "tickstock:streaming:session_started";
const HEALTH: &str = "tickstock:streaming:health";
const PATTERNS: &str = "tickstock:patterns:streaming";
const CRITICAL_ALERTS: &str = "tickstock:alerts:critical";

/// Routes that answer from the database.
const HISTORY_ROUTES: [&str; 5] = [
    "/streaming/api/patterns/AAPL",
    "/streaming/api/indicators/AAPL",
    "/streaming/api/alerts",
    "/streaming/api/sessions",
    "/streaming/api/health/history",
];

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn at(seconds: i64) -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now) - TimeDelta::minutes(10)
        + TimeDelta::seconds(seconds)
}

fn critical(message: &str, t: DateTime<Utc>) -> String {
    json!({"type": "critical_alert", "alert": {"severity": "critical", "message": message,
        "timestamp": iso(t), "component": "feed"}})
    .to_string()
}

fn pattern(symbol: &str, t: DateTime<Utc>) -> String {
    json!({"type": "pattern_detected", "detection": {"symbol": symbol, "pattern_type": "Doji",
        "confidence": 0.5, "timestamp": iso(t)}})
    .to_string()
}

fn health(active_symbols: i64, t: DateTime<Utc>) -> String {
    json!({"type": "streaming_health", "health": {"status": "healthy",
        "active_symbols": active_symbols, "timestamp": iso(t)}})
    .to_string()
}

async fn recorder_idle(app: &TestApp) -> Value {
    wait_for("the recorder to have nothing pending", WAIT, || async {
        let recorder = app.status().await["recorder"].clone();
        (recorder["pending"] == 0).then_some(recorder)
    })
    .await
}

async fn readyz(base_url: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{base_url}/readyz"))
        .await
        .expect("GET /readyz");
    let code = response.status().as_u16();
    (code, response.json().await.expect("a JSON body"))
}

/// Before: a NUL in a critical alert, or any row PostgreSQL refused, failed
/// its whole batch for ever, and nothing after it was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_the_database_refuses_are_rejected_alone_and_every_other_row_is_written() {
    let redis = RedisServer::start().await;
    let db = TestDatabase::create().await;
    let app = TestApp::with_redis_and_database(&redis, &db).await;
    app.wait_connected().await;
    // A rule of this database's own: any row can be one PostgreSQL refuses
    // (class 23), whatever TickStock checked before.
    let pool = db.pool().await;
    sqlx::query(
        "ALTER TABLE streaming_alerts ADD CONSTRAINT no_refused CHECK (message NOT LIKE '%refused%')",
    )
    .execute(&pool)
    .await
    .expect("add a constraint");
    let mut publisher = redis.publisher().await;

    // Interleaved, so that they share batches with the valid rows.
    // Random, so that PostgreSQL cannot compress it below an index entry's limit.
    let hex_noise: String = (0..600)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    let hostile = [
        critical("feed lost\u{0}", at(1)),
        critical("refused by this database", at(2)),
        // Beyond what a unique index entry holds (class 54).
        critical(&hex_noise, at(3)),
    ];
    let mut valid = 0;
    for (n, bad) in hostile.iter().enumerate() {
        for i in 0..3 {
            let t = at(10 * n as i64 + i);
            deliver(&app, &mut publisher, PATTERNS, &pattern("OK", t)).await;
            valid += 1;
        }
        deliver(&app, &mut publisher, CRITICAL_ALERTS, bad).await;
    }
    deliver(&app, &mut publisher, PATTERNS, &pattern("LAST", at(100))).await;
    valid += 1;

    let recorder = recorder_idle(&app).await;
    assert_eq!(db.count("intraday_patterns").await, valid, "{recorder}");
    // The NUL alert is written without its NUL, unless the decoder refused it.
    let decode_errors = app
        .state
        .live
        .channel(tickstock::events::Channel::CriticalAlerts)
        .decode_errors();
    let alerts: Vec<String> = sqlx::query_scalar("SELECT message FROM streaming_alerts")
        .fetch_all(&pool)
        .await
        .expect("alerts");
    assert!(
        alerts == ["feed lost"] || (alerts.is_empty() && decode_errors >= 1),
        "{alerts:?}"
    );
    assert_eq!(recorder["rejected"], 2, "{recorder}");
    assert_eq!(
        recorder["written"].as_u64(),
        Some(valid as u64 + alerts.len() as u64),
        "{recorder}"
    );
    assert!(recorder["last_error"].is_null(), "{recorder}");
    assert_eq!(recorder["retrying"], false, "{recorder}");
    let (code, ready) = readyz(&app.base_url).await;
    assert_eq!(code, 200, "{ready}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_away_routes_that_need_it_answer_503_json_at_once_and_the_rest_works() {
    let redis = RedisServer::start().await;
    let db = TestDatabase::create().await;
    let proxy = TcpProxy::start(db.server_address()).await;
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.bus.redis_url = Some(redis.url().into());
        config.database.database_url = Some(db.url_via(proxy.port).into());
        config
    })
    .await;
    app.wait_connected().await;
    for path in HISTORY_ROUTES {
        let (code, body) = app.get(path).await;
        assert_eq!(code, 200, "{path}: {body}");
    }

    proxy.cut();
    let cut_at = Instant::now();
    let (_, ready) = wait_for("readiness to see the database gone", WAIT, || async {
        let (code, ready) = readyz(&app.base_url).await;
        (code == 503 && ready["database"]["connected"] == false).then_some((code, ready))
    })
    .await;
    let noticed = cut_at.elapsed();
    assert_eq!(ready["bus"]["connected"], true, "{ready}");
    assert!(ready["reasons"].to_string().contains("database"), "{ready}");
    let mut slowest = Duration::ZERO;
    for path in HISTORY_ROUTES {
        let asked = Instant::now();
        let (code, body) = app.get(path).await;
        let took = asked.elapsed();
        assert_eq!(code, 503, "{path}: {body}");
        assert_eq!(body["reason"], "database unavailable", "{path}: {body}");
        assert!(body["error"].is_string(), "{path}: {body}");
        assert!(took < Duration::from_millis(500), "{path} took {took:?}");
        slowest = slowest.max(took);
    }
    for (method, path) in [
        (reqwest::Method::GET, "/admin/users"),
        (reqwest::Method::GET, "/admin/sessions"),
        (reqwest::Method::POST, "/admin/users"),
    ] {
        let asked = Instant::now();
        let response = app
            .http
            .request(method.clone(), format!("{}{path}", app.base_url))
            .bearer_auth(&app.admin_token)
            .form(&[("username", "new"), ("password", "x"), ("role", "user")])
            .send()
            .await
            .expect("an admin request");
        let took = asked.elapsed();
        assert_eq!(response.status(), 503, "{method} {path}");
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(
            body["reason"], "database unavailable",
            "{method} {path}: {body}"
        );
        assert!(
            took < Duration::from_millis(500),
            "{method} {path} took {took:?}"
        );
        slowest = slowest.max(took);
    }
    eprintln!("database loss noticed after {noticed:?}; slowest 503 {slowest:?}");
    // What does not need the database does not wait on it.
    let mut publisher = redis.publisher().await;
    deliver(&app, &mut publisher, HEALTH, &health(42, at(0))).await;
    let status = app.status().await;
    assert_eq!(status["health"]["active_symbols"], 42, "{status}");

    proxy.restore();
    wait_for("readiness to see the database back", WAIT, || async {
        (readyz(&app.base_url).await.0 == 200).then_some(())
    })
    .await;
    for path in HISTORY_ROUTES {
        let (code, body) = app.get(path).await;
        assert_eq!(code, 200, "{path}: {body}");
    }
}

/// Before: start-up waited 5 s for a connection and exited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_with_postgres_away_it_serves_live_data_and_migrates_and_bootstraps_when_it_arrives()
 {
    let redis = RedisServer::start().await;
    let db = TestDatabase::create().await;
    let proxy = TcpProxy::start(db.server_address()).await;
    proxy.cut();
    let building = Instant::now();
    let app = Application::build({
        let mut config = Config::for_tests();
        config.bus.redis_url = Some(redis.url().into());
        config.database.database_url = Some(db.url_via(proxy.port).into());
        config
    })
    .await
    .expect("starts without its database");
    assert!(
        building.elapsed() < Duration::from_secs(4),
        "{:?}",
        building.elapsed()
    );
    let base_url = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(app.run_until_stopped(async move { stopped.cancelled().await }));

    let (code, ready) = readyz(&base_url).await;
    assert_eq!(code, 503, "{ready}");
    assert_eq!(ready["database"]["connected"], false, "{ready}");
    assert_eq!(ready["database"]["migrated"], false, "{ready}");
    // Live data flows meanwhile.
    let mut publisher = redis.publisher().await;
    wait_for("the subscriber to connect", WAIT, || async {
        state.live.link().connected().then_some(())
    })
    .await;
    publisher.publish(HEALTH, health(7, at(0))).await;
    wait_for("the subscriber to take a health event", WAIT, || async {
        let live = state.live.health()?;
        (live.active_symbols == Some(7)).then_some(())
    })
    .await;
    let healthz = reqwest::get(format!("{base_url}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(healthz.status(), 200);

    proxy.restore();
    let ready = wait_for("the database to be migrated", WAIT, || async {
        let (code, ready) = readyz(&base_url).await;
        (code == 200).then_some(ready)
    })
    .await;
    assert_eq!(ready["database"]["migrated"], true, "{ready}");
    // Then the bootstrap admin, and the tables (login sessions included).
    let admin = wait_for("the bootstrap admin", WAIT, || async {
        state.accounts.find_by_login("admin").await.ok().flatten()
    })
    .await;
    let (_, token) = state
        .accounts
        .create_token(&admin.username, "tests")
        .await
        .expect("a token");
    let sessions = reqwest::Client::new()
        .get(format!("{base_url}/streaming/api/sessions"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sessions");
    assert_eq!(sessions.status(), 200);
    assert_eq!(db.count("tower_sessions.session").await, 0);
    stop.cancel();
}

/// The real binary, with `DATABASE_URL` on a port where nothing listens:
/// it stays up, serves, and says why the database is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_started_on_a_dead_database_port_stays_up_and_logs_the_cause() {
    let port = free_port();
    let dead = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickstock"))
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "DATABASE_URL",
            format!("postgres://postgres:hunter2@127.0.0.1:{dead}/tickstock"),
        )
        .env("DATA_SOURCE", "none")
        .env("RUST_LOG", "warn")
        .env_remove("REDIS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tickstock");
    let healthz = wait_for("the binary to serve", WAIT, || async {
        reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
            .await
            .ok()
    })
    .await;
    assert_eq!(healthz.status(), 200);
    let (code, ready) = readyz(&format!("http://127.0.0.1:{port}")).await;
    assert_eq!(
        (code, &ready["database"]["connected"]),
        (503, &json!(false)),
        "{ready}"
    );
    let _ = child.kill();
    let output = child.wait_with_output().expect("its output");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.to_lowercase().contains("connection refused"), "{log}");
    assert!(!log.contains("hunter2"), "{log}");
}

/// Before: clap's error repeated the whole value, password included.
#[test]
fn a_bad_secret_bearing_value_stops_start_up_naming_the_variable_not_the_value() {
    for (variable, value) in [
        (
            "DATABASE_URL",
            "postgres://postgres:hunter2@127.0.0.1:notaport/x",
        ),
        ("DATABASE_URL", "mysql://root:hunter2@127.0.0.1/x"),
        ("SESSION_SECRET", "hunter2"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_tickstock"))
            .env("BIND_ADDR", "127.0.0.1:0")
            .env(variable, value)
            .env_remove("REDIS_URL")
            .output()
            .expect("run tickstock");
        assert!(!output.status.success(), "{variable}={value}");
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(said.contains(variable), "{said}");
        assert!(!said.contains("hunter2"), "{said}");
    }
}

/// Before: with Redis and no database the current session lived only in
/// the process; a restart or another replica showed none, then one without
/// its universe once a health event came.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_and_no_database_another_build_shows_the_current_session_with_its_universe() {
    let redis = RedisServer::start().await;
    let first = TestApp::with_redis(&redis).await;
    first.wait_connected().await;
    let mut publisher = redis.publisher().await;
    let started_at = at(0);
    let started = json!({"type": "session_started", "session": {"session_id": "pl-morning",
        "universe": "market_leaders:top_500", "started_at": iso(started_at), "symbol_count": 500}});
    deliver(
        &first,
        &mut publisher,
        SESSION_STARTED,
        &started.to_string(),
    )
    .await;

    let client = redis::Client::open(redis.url()).expect("redis url");
    let conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let ttl: i64 = wait_for("the session to be kept in Redis", WAIT, || {
        let mut conn = conn.clone();
        async move {
            let ttl: i64 = redis::cmd("TTL")
                .arg(tickstock::store::current_session::KEY)
                .query_async(&mut conn)
                .await
                .ok()?;
            (ttl > 0).then_some(ttl)
        }
    })
    .await;
    assert!(ttl <= 24 * 60 * 60, "{ttl}");

    // A second replica (or the same one restarted) on the same Redis.
    let second = TestApp::with_redis(&redis).await;
    let session = second.status().await["session"].clone();
    assert_eq!(session["session_id"], "pl-morning", "{session}");
    assert_eq!(session["universe"], "market_leaders:top_500", "{session}");
    assert_eq!(session["symbol_count"], 500, "{session}");
    assert_eq!(session["started_at"], iso(started_at), "{session}");

    // A stop clears it for the next start-up.
    let stopped = json!({"type": "session_stopped", "session": {"session_id": "pl-morning",
        "stopped_at": iso(at(60)), "final_status": "completed"}});
    deliver(
        &first,
        &mut publisher,
        "tickstock:streaming:session_stopped",
        &stopped.to_string(),
    )
    .await;
    wait_for("the session to be forgotten in Redis", WAIT, || {
        let mut conn = conn.clone();
        async move {
            let exists: i64 = redis::cmd("EXISTS")
                .arg(tickstock::store::current_session::KEY)
                .query_async(&mut conn)
                .await
                .ok()?;
            (exists == 0).then_some(())
        }
    })
    .await;
    let third = TestApp::with_redis(&redis).await;
    assert!(third.status().await["session"].is_null());
}

/// Before: `/readyz` said ready while the recorder wrote nothing at all.
/// Here the database answers (its health check passes) but a lock held
/// elsewhere stops every write to one table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorder_that_writes_nothing_while_rows_are_pending_makes_readyz_say_why() {
    let redis = RedisServer::start().await;
    let db = TestDatabase::create().await;
    let app = TestApp::with_redis_and_database(&redis, &db).await;
    app.wait_connected().await;
    let mut publisher = redis.publisher().await;
    let pool = db.pool().await;
    let mut lock = pool.begin().await.expect("a transaction");
    sqlx::query("LOCK TABLE intraday_patterns IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .expect("lock the table");
    deliver(&app, &mut publisher, PATTERNS, &pattern("HELD", at(0))).await;

    let stalled_within = tickstock::recorder::STALLED_AFTER + Duration::from_secs(15);
    let ready = wait_for(
        "readiness to report the stalled recorder",
        stalled_within,
        || async {
            let (code, ready) = readyz(&app.base_url).await;
            (code == 503).then_some(ready)
        },
    )
    .await;
    assert_eq!(ready["database"]["connected"], true, "{ready}");
    assert_eq!(ready["recorder"]["stalled"], true, "{ready}");
    assert!(ready["reasons"].to_string().contains("recorder"), "{ready}");
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains("tickstock_recorder_stalled 1"),
        "{metrics}"
    );

    lock.rollback().await.expect("release the lock");
    wait_for("readiness after the write", WAIT, || async {
        (readyz(&app.base_url).await.0 == 200).then_some(())
    })
    .await;
    assert_eq!(db.count("intraday_patterns").await, 1);
}
