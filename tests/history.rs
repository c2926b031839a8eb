//! The history API: the same JSON from the memory store (embedded default)
//! and from PostgreSQL, and a JSON 400 naming the reason for a bad parameter;
//! cursor paging and CSV; retention.

mod common;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};
use tickstock::config::Config;
use tickstock::events::Channel;
use tickstock::store::history::retention::{RETENTION_BATCH_ROWS, delete_old};
use tickstock::store::history::{
    AlertRow, HealthRow, HistoryRow, HistoryTable, IndicatorRow, PatternRow, SessionRow,
    session_uuid,
};
use tokio_util::sync::CancellationToken;

use common::history::seed;
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

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Many rows sharing their times, so that pages end inside a tie: 130 NVDA
/// and 40 AAPL patterns (3 per second), 10 AAPL indicator values, 60 indicator alerts (4 per second)
/// and 40 critical alerts of one component with long messages (all at one
/// instant), 110 health snapshots and 105 sessions (5 per second).
fn crowd(base: DateTime<Utc>) -> Vec<(Channel, Value)> {
    let at = |seconds: i64| iso(base - TimeDelta::seconds(seconds));
    let types = ["Doji", "Hammer", "=HYPERLINK(\"http://x\")"];
    let mut messages = Vec::new();
    for i in 0..170 {
        let symbol = if i < 130 { "NVDA" } else { "AAPL" };
        let detection = json!({"symbol": symbol, "pattern_type": types[i % 3], "confidence": 0.5,
            "timestamp": at(i as i64 / 3), "timeframe": "1min", "bar_data": {"close": 1.25}});
        messages.push((Channel::PatternsStreaming, json!({"detection": detection})));
    }
    for i in 0..10 {
        let timeframe = ["1min", "5min"][i as usize % 2];
        let calculation = json!({"symbol": "AAPL", "indicator": "MACD", "value": -1.25,
            "timestamp": at(i / 2), "timeframe": timeframe});
        messages.push((Channel::Indicators, json!({"calculation": calculation})));
    }
    for i in 0..60 {
        let symbol = ["AAPL", "MSFT", "TSLA", "AMD"][i % 4];
        let alert = json!({"symbol": symbol, "alert_type": "RSI_OVERBOUGHT",
            "timestamp": at(i as i64 / 4), "severity": "warning", "data": {"value": 75, "note": "+7 \"pts\""}});
        messages.push((Channel::IndicatorAlerts, json!({"alert": alert})));
    }
    for i in 0..40 {
        let message = format!("{i:03} {}", "lost, \"again\"\n".repeat(300));
        let alert = json!({"severity": "critical", "message": message, "component": "feed",
            "timestamp": at(3)});
        messages.push((Channel::CriticalAlerts, json!({"alert": alert})));
    }
    for i in 0..110 {
        let health = json!({"session_id": format!("h-{}", i % 5), "status": "healthy",
            "active_symbols": i, "timestamp": at(i as i64 / 5)});
        messages.push((Channel::Health, json!({"health": health})));
    }
    for i in 0..105 {
        let session = json!({"session_id": format!("s-{i}"), "universe": "u", "started_at": at(i as i64 / 5),
            "symbol_count": 3});
        messages.push((Channel::SessionStarted, json!({"session": session})));
    }
    messages
}

/// Every page of `path`, following `next_cursor` until it is null.
async fn walk(app: &TestApp, path: &str) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let url = match &before {
            Some(cursor) => format!("{path}&before={cursor}"),
            None => path.to_owned(),
        };
        let (code, page) = app.get(&url).await;
        assert_eq!(code, 200, "{url}: {page}");
        before = page["next_cursor"].as_str().map(str::to_owned);
        pages.push(page);
        assert!(pages.len() < 500, "{path} never ends");
        if before.is_none() {
            return pages;
        }
    }
}

/// The rows of `pages` under `key`.
fn rows_of(pages: &[Value], key: &str) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|page| page[key].as_array().cloned().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_pages_go_past_any_limit_through_ties_identically_in_both_stores() {
    let db = TestDatabase::create().await;
    let embedded = TestApp::spawn(Config::for_tests()).await;
    let postgres = TestApp::spawn({
        let mut config = Config::for_tests();
        config.database.database_url = Some(db.url.clone().into());
        config
    })
    .await;
    let now = Utc::now();
    let base = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now) - TimeDelta::minutes(10);
    let crowd = crowd(base);
    seed(&embedded, &crowd).await;
    seed(&postgres, &crowd).await;

    // (path, rows' key, time field, rows expected)
    let walks = [
        (
            "/streaming/api/patterns/NVDA?limit=7",
            "patterns",
            "detected_at",
            130,
        ),
        (
            "/streaming/api/patterns?limit=100",
            "patterns",
            "detected_at",
            170,
        ),
        (
            "/streaming/api/patterns?symbol=aapl&pattern_type=doji&limit=3",
            "patterns",
            "detected_at",
            13,
        ),
        (
            "/streaming/api/patterns?hours=1&limit=100",
            "patterns",
            "detected_at",
            170,
        ),
        (
            "/streaming/api/indicators/AAPL?limit=3",
            "indicators",
            "calculated_at",
            10,
        ),
        (
            "/streaming/api/alerts?limit=9",
            "alerts",
            "triggered_at",
            100,
        ),
        (
            "/streaming/api/alerts?alert_type=critical_alert&limit=6",
            "alerts",
            "triggered_at",
            40,
        ),
        (
            "/streaming/api/alerts?symbol=AMD&limit=4",
            "alerts",
            "triggered_at",
            15,
        ),
        (
            "/streaming/api/health/history?limit=13",
            "health",
            "measured_at",
            110,
        ),
        (
            "/api/streaming/health/history?status=HEALTHY&limit=100",
            "health",
            "measured_at",
            110,
        ),
        // 105 started, and the placeholders of the 5 health sessions.
        (
            "/streaming/api/sessions?limit=11",
            "sessions",
            "started_at",
            110,
        ),
    ];
    for (path, key, time, expected) in walks {
        let from_memory = walk(&embedded, path).await;
        let from_postgres = walk(&postgres, path).await;
        assert_eq!(from_memory, from_postgres, "{path}");
        let rows = rows_of(&from_memory, key);
        assert_eq!(rows.len(), expected, "{path}");
        assert!(from_memory.len() > 1, "{path}: more than one page");
        let distinct: std::collections::HashSet<String> =
            rows.iter().map(Value::to_string).collect();
        assert_eq!(distinct.len(), rows.len(), "{path}: a row came twice");
        let times: Vec<&str> = rows.iter().filter_map(|r| r[time].as_str()).collect();
        assert!(
            times.windows(2).all(|w| w[0] >= w[1]),
            "{path}: newest first"
        );
        let last = from_memory.last().expect("a page");
        assert_eq!(last["next_cursor"], Value::Null);
    }

    let (_, first) = postgres.get("/streaming/api/patterns/NVDA").await;
    assert_eq!(first["count"], 100);
    assert!(first["next_cursor"].is_string());

    // A cursor that is not one, or is another route's, is refused.
    let alerts_cursor = from_alerts_cursor(&postgres).await;
    for path in [
        "/streaming/api/patterns/NVDA?before=zz".to_owned(),
        "/streaming/api/alerts?before=7b7d".to_owned(),
        format!("/streaming/api/patterns/NVDA?before={alerts_cursor}"),
        format!("/streaming/api/sessions?before={alerts_cursor}"),
    ] {
        for app in [&embedded, &postgres] {
            let (code, body) = app.get(&path).await;
            assert_eq!(code, 400, "{path}: {body}");
            assert!(
                body["error"].as_str().unwrap_or("").contains("before"),
                "{body}"
            );
        }
    }
}

async fn from_alerts_cursor(app: &TestApp) -> String {
    let (_, page) = app.get("/streaming/api/alerts?limit=1").await;
    page["next_cursor"].as_str().expect("a cursor").to_owned()
}

/// The CSV cell of a JSON value, as the API documents it.
fn csv_cell(value: &Value) -> String {
    let guarded = |text: String| {
        if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{text}")
        } else {
            text
        }
    };
    match value {
        Value::Null => String::new(),
        Value::String(text) => guarded(text.clone()),
        Value::Number(_) | Value::Bool(_) => value.to_string(),
        other => guarded(other.to_string()),
    }
}

/// Asserts that the CSV of `path` holds exactly the rows of its JSON.
async fn assert_csv_matches_json(app: &TestApp, path: &str, key: &str, columns: &[&str]) {
    let (code, json_page) = app.get(path).await;
    assert_eq!(code, 200, "{json_page}");
    let response = app
        .http
        .get(format!("{}{path}&format=csv", app.base_url))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let next = response
        .headers()
        .get("x-next-cursor")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(next.as_deref(), json_page["next_cursor"].as_str(), "{path}");
    let body = response.text().await.expect("a body");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, columns, "{path}");
    let records: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect();
    let rows = json_page[key].as_array().expect("rows");
    assert_eq!(records.len(), rows.len(), "{path}");
    assert!(!rows.is_empty(), "{path}");
    for (record, row) in records.iter().zip(rows) {
        let expected: Vec<String> = columns.iter().map(|c| csv_cell(&row[*c])).collect();
        assert_eq!(record, &expected, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_pages_hold_the_json_rows_quoted_and_without_formulas() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let now = Utc::now();
    seed(&app, &crowd(now - TimeDelta::minutes(5))).await;
    let cursor = from_alerts_cursor(&app).await;
    let cases = [
        (
            "/streaming/api/patterns?limit=100",
            "patterns",
            PatternRow::COLUMNS,
        ),
        (
            "/streaming/api/patterns/AAPL?limit=5",
            "patterns",
            PatternRow::COLUMNS,
        ),
        (
            "/streaming/api/alerts?limit=50",
            "alerts",
            AlertRow::COLUMNS,
        ),
        (
            "/streaming/api/health/history?limit=7",
            "health",
            HealthRow::COLUMNS,
        ),
        (
            "/streaming/api/indicators/AAPL?limit=50",
            "indicators",
            IndicatorRow::COLUMNS,
        ),
        (
            "/streaming/api/sessions?limit=100",
            "sessions",
            SessionRow::COLUMNS,
        ),
    ];
    for (path, key, columns) in cases {
        assert_csv_matches_json(&app, path, key, columns).await;
    }
    let after = format!("/streaming/api/alerts?limit=60&before={cursor}");
    assert_csv_matches_json(&app, &after, "alerts", AlertRow::COLUMNS).await;

    let csv = app
        .http
        .get(format!(
            "{}/streaming/api/patterns/NVDA?limit=3&format=csv",
            app.base_url
        ))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("a body");
    assert!(csv.contains("'=HYPERLINK"), "{csv}");
    assert!(!csv.contains(",=HYPERLINK"), "{csv}");
    let macd = app
        .http
        .get(format!(
            "{}/streaming/api/indicators/AAPL?format=csv",
            app.base_url
        ))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("a body");
    assert!(
        macd.contains(",MACD,-1.25,"),
        "numbers stay numbers: {macd}"
    );
    let (code, body) = app.get("/streaming/api/alerts?format=xml").await;
    assert_eq!(code, 400, "{body}");
}

/// Rows on either side of `cutoff`: a batch's worth and more of old
/// patterns; one of each other kind just outside and just inside; an old
/// session no kept row refers to, an old one a kept row refers to, a new one.
fn around(cutoff: DateTime<Utc>, old_patterns: usize) -> Vec<(Channel, Value)> {
    let micro = TimeDelta::microseconds(1);
    let (outside, inside) = (cutoff - micro, cutoff);
    let session = |id: &str, started: DateTime<Utc>| {
        (
            Channel::SessionStarted,
            json!({"session": {"session_id": id, "universe": "u",
            "started_at": iso(started), "symbol_count": 1}}),
        )
    };
    let stopped = json!({"session": {"session_id": "old-done", "stopped_at": iso(outside)}});
    let mut messages = vec![
        session("old-done", cutoff - TimeDelta::days(2)),
        (Channel::SessionStopped, stopped),
        session("old-open", cutoff - TimeDelta::days(1)),
        session("new", inside),
    ];
    let pattern = |at: DateTime<Utc>, session: &str, name: &str| {
        (
            Channel::PatternsStreaming,
            json!({"detection": {"symbol": "NVDA", "pattern_type": name,
            "confidence": 0.5, "timestamp": iso(at), "metadata": {"session_id": session}}}),
        )
    };
    for i in 0..old_patterns {
        let at = outside - TimeDelta::seconds(i as i64);
        messages.push(pattern(at, "old-done", "Doji"));
    }
    messages.push(pattern(inside, "old-open", "Doji"));
    messages.push(pattern(inside + micro, "new", "Hammer"));
    for at in [outside, inside] {
        messages.push((
            Channel::Indicators,
            json!({"calculation": {"symbol": "NVDA",
            "indicator": "RSI", "value": 50, "timestamp": iso(at), "session_id": "old-done"}}),
        ));
        messages.push((
            Channel::Health,
            json!({"health": {"session_id": "old-done",
            "status": "healthy", "timestamp": iso(at)}}),
        ));
        messages.push((
            Channel::IndicatorAlerts,
            json!({"alert": {"symbol": "NVDA",
            "alert_type": "RSI_OVERBOUGHT", "timestamp": iso(at)}}),
        ));
        messages.push((
            Channel::CriticalAlerts,
            json!({"alert": {"severity": "critical",
            "message": "lost", "component": "feed", "timestamp": iso(at)}}),
        ));
    }
    messages
}

/// Retention at `cutoff` on `app`, then what is left and what was counted.
async fn assert_retention_deletes_exactly_the_old_rows(app: &TestApp) {
    let cutoff =
        DateTime::from_timestamp_micros((Utc::now() - TimeDelta::days(90)).timestamp_micros())
            .expect("a time");
    let old_patterns = RETENTION_BATCH_ROWS * 2 + 10;
    seed(app, &around(cutoff, old_patterns)).await;
    let stats = app.state.recorder.retention();
    delete_old(&app.state.store, cutoff, &stats, &CancellationToken::new())
        .await
        .expect("retention runs");

    let deleted: Vec<u64> = HistoryTable::ALL
        .iter()
        .map(|t| stats.deleted(*t))
        .collect();
    // patterns, indicators, health, alerts (one of each kind), sessions (each
    // still referred to by a kept row).
    assert_eq!(deleted, [old_patterns as u64, 1, 1, 2, 0]);
    let (_, patterns) = app.get("/streaming/api/patterns/NVDA").await;
    let kept: Vec<&str> = patterns["patterns"]
        .as_array()
        .expect("patterns")
        .iter()
        .filter_map(|p| p["detected_at"].as_str())
        .collect();
    assert_eq!(kept.len(), 2, "{patterns}");
    for (path, key) in [
        ("/streaming/api/indicators/NVDA", "indicators"),
        ("/streaming/api/health/history", "health"),
    ] {
        let (_, body) = app.get(path).await;
        assert_eq!(body["count"], 1, "{path}: {body}");
        assert_eq!(
            body[key][0]["session_id"],
            session_uuid("old-done").to_string()
        );
    }
    let (_, alerts) = app.get("/streaming/api/alerts").await;
    assert_eq!(alerts["count"], 2, "{alerts}");
    let (_, sessions) = app.get("/streaming/api/sessions").await;
    let ids: std::collections::BTreeSet<String> = sessions["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|s| s["session_id"].as_str().map(str::to_owned))
        .collect();
    // old-done is still referred to by the kept indicator and health rows.
    let expected: std::collections::BTreeSet<String> = ["old-done", "old-open", "new"]
        .iter()
        .map(|id| session_uuid(id).to_string())
        .collect();
    assert_eq!(ids, expected);

    // A second later every row is old, and once nothing refers to them the
    // sessions go too.
    let later = cutoff + TimeDelta::seconds(1);
    delete_old(&app.state.store, later, &stats, &CancellationToken::new())
        .await
        .expect("retention runs");
    let (_, sessions) = app.get("/streaming/api/sessions").await;
    assert_eq!(sessions["count"], 0, "{sessions}");
    let deleted: Vec<u64> = HistoryTable::ALL
        .iter()
        .map(|t| stats.deleted(*t))
        .collect();
    assert_eq!(deleted, [old_patterns as u64 + 2, 2, 2, 4, 3]);

    // The status and the metrics count it.
    let retention = app.status().await["recorder"]["retention"].clone();
    assert_eq!(retention["days"], 3650, "{retention}");
    assert_eq!(retention["deleted"]["patterns"], old_patterns + 2);
    assert!(retention["last_run_at"].is_string(), "{retention}");
    let metrics = app.get_text("/metrics").await;
    let line = format!(
        "tickstock_history_retention_deleted_total{{table=\"patterns\"}} {}",
        old_patterns + 2
    );
    assert!(metrics.contains(&line), "{metrics}");
}

/// A configuration whose own retention (ten years) never reaches the test's rows.
fn long_retention(database_url: Option<&str>) -> Config {
    let mut config = Config::for_tests();
    config.database.history_retention_days = 3650;
    config.database.database_url = database_url.map(|url| url.to_owned().into());
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_exactly_the_old_rows_in_memory() {
    let app = TestApp::spawn(long_retention(None)).await;
    assert_retention_deletes_exactly_the_old_rows(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_exactly_the_old_rows_in_postgres() {
    let db = TestDatabase::create().await;
    let app = TestApp::spawn(long_retention(Some(&db.url))).await;
    assert_retention_deletes_exactly_the_old_rows(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_runs_at_start_up_with_the_configured_days() {
    let db = TestDatabase::create().await;
    let cutoff = Utc::now() - TimeDelta::days(7);
    {
        let app = TestApp::spawn(long_retention(Some(&db.url))).await;
        seed(&app, &around(cutoff - TimeDelta::hours(1), 3)).await;
    }
    let mut config = long_retention(Some(&db.url));
    config.database.history_retention_days = 7;
    let app = TestApp::spawn(config).await;
    let retention = wait_for("retention's first run", WAIT, || async {
        let retention = app.status().await["recorder"]["retention"].clone();
        retention["last_run_at"].is_string().then_some(retention)
    })
    .await;
    assert_eq!(retention["days"], 7);
    // Every row of `around` is over a week old.
    assert_eq!(retention["deleted"]["patterns"], 5, "{retention}");
    assert_eq!(retention["deleted"]["sessions"], 3, "{retention}");
    assert_eq!(db.count("intraday_patterns").await, 0);

    // 0 keeps everything: no run, and the status says so.
    let mut config = long_retention(None);
    config.database.history_retention_days = 0;
    let keep_all = TestApp::spawn(config).await;
    let retention = keep_all.status().await["recorder"]["retention"].clone();
    assert_eq!(retention["days"], 0);
    assert_eq!(retention["last_run_at"], Value::Null);
}

#[test]
fn a_bad_retention_is_refused_naming_the_variable() {
    use clap::Parser;
    for bad in ["abc", "-1", "36501", "1.5"] {
        let flag = format!("--history-retention-days={bad}");
        let refused = tickstock::cli::Cli::try_parse_from(["tickstock", flag.as_str()]);
        let error = refused.expect_err(bad).to_string();
        assert!(error.contains("HISTORY_RETENTION_DAYS"), "{bad}: {error}");
    }
    let default = tickstock::cli::Cli::try_parse_from(["tickstock"]).expect("the defaults");
    assert_eq!(default.config.database.history_retention_days, 90);
}
