//! The OpenAPI document against the real thing: every JSON route of the
//! route table is in it, with the security its access needs, and the real
//! answers of each (pages, the next page, a bad parameter, no login) are
//! valid by the schemas it gives, from the memory store and PostgreSQL.

mod common;

use chrono::{SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};
use tickstock::config::Config;
use tickstock::events::Channel;
use tickstock::web::access::{Access, Surface};
use tickstock::web::routes;

use common::TestApp;
use common::history::seed;
use common::postgres::TestDatabase;

/// Routes that answer no JSON: the metrics text and the WebSocket.
const NOT_JSON: [&str; 2] = ["/metrics", "/streaming/ws"];

/// A row of every table, two of some, so that pages have a next one.
fn events() -> Vec<(Channel, Value)> {
    let at =
        |s: i64| (Utc::now() - TimeDelta::seconds(s)).to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut events = vec![
        (
            Channel::SessionStarted,
            json!({"session": {"session_id": "s-1", "universe": "u", "started_at": at(60), "symbol_count": 2}}),
        ),
        (
            Channel::SessionStopped,
            json!({"session": {"session_id": "s-1", "stopped_at": at(1), "final_status": "completed"}}),
        ),
        (
            Channel::CriticalAlerts,
            json!({"alert": {"severity": "critical", "message": "lost", "component": "feed", "timestamp": at(5), "session_id": "s-1"}}),
        ),
        (
            Channel::Health,
            json!({"health": {"status": "warning", "timestamp": at(3), "active_symbols": 2,
            "data_flow": {"ticks_per_second": 1.5}, "issues": ["slow", {"code": 7}]}}),
        ),
    ];
    for s in 0..3 {
        events.push((Channel::PatternsStreaming, json!({"detection": {"symbol": "NVDA", "pattern_type": "Doji",
            "confidence": 0.9, "timestamp": at(s), "bar_data": {"open": 1, "high": 2, "low": 0.5, "close": 1.5, "volume": 10},
            "metadata": {"session_id": "s-1"}}})));
        events.push((
            Channel::Indicators,
            json!({"calculation": {"symbol": "NVDA", "indicator": "MACD", "timestamp": at(s),
            "values": {"macd": 1.2, "signal": 1.1}}}),
        ));
        events.push((
            Channel::IndicatorAlerts,
            json!({"alert": {"symbol": "NVDA", "alert_type": "RSI_OVERBOUGHT",
            "timestamp": at(s), "data": {"value": 75}}}),
        ));
        events.push((
            Channel::Health,
            json!({"health": {"session_id": "s-1", "status": "healthy", "timestamp": at(10 + s)}}),
        ));
        events.push((
            Channel::SessionStarted,
            json!({"session": {"session_id": format!("t-{s}"), "started_at": at(30 + s)}}),
        ));
    }
    events
}

/// Asserts that `body`, answered `code` on `path`, is valid by the document.
fn assert_valid(document: &Value, path: &str, code: u16, body: &Value) {
    let errors = errors(document, path, code, body);
    assert!(errors.is_empty(), "{path} {code}: {errors:?}\n{body}");
}

/// What is wrong with `body` as the answer `code` of `path`, by the document.
fn errors(document: &Value, path: &str, code: u16, body: &Value) -> Vec<String> {
    let response = &document["paths"][path]["get"]["responses"][code.to_string()];
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{path}: no JSON schema for {code}: {body}"
    );
    let mut root = schema.clone();
    root["components"] = document["components"].clone();
    let validator = jsonschema::draft202012::new(&root)
        .unwrap_or_else(|error| panic!("{path}: the schema of {code} is not valid: {error}"));
    validator
        .iter_errors(body)
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect()
}

async fn walk_the_route_table(app: &TestApp) {
    seed(app, &events()).await;
    let (code, document) = app.get_anonymous("/streaming/api/openapi.json").await;
    assert_eq!(code, 200);
    assert_eq!(document["openapi"], "3.1.0");
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer_token"]["scheme"], "bearer");
    assert_eq!(schemes["session_cookie"]["in"], "cookie");
    let mut walked = 0;
    for route in routes::table() {
        if route.surface != Surface::Api || NOT_JSON.contains(&route.path) {
            continue;
        }
        let path = route.path;
        let operation = &document["paths"][path]["get"];
        assert!(operation.is_object(), "{path} is not in the document");
        let security = operation["security"].as_array().expect("security");
        assert_eq!(
            security.is_empty(),
            route.access == Access::Public,
            "{path}"
        );
        if route.access == Access::Admin {
            assert!(operation["responses"]["403"].is_object(), "{path}");
        }
        let url = path.replace("{symbol}", "nvda");
        let (code, body) = app.get(&url).await;
        assert_valid(&document, path, code.as_u16(), &body);
        if route.access != Access::Public {
            let (code, body) = app.get_anonymous(&url).await;
            assert_eq!(code, 401, "{url}");
            assert_valid(&document, path, 401, &body);
        }
        if body.get("next_cursor").is_some() {
            // A page with a next one, that next one, and a bad parameter.
            let (code, first) = app.get(&format!("{url}?limit=1")).await;
            assert_valid(&document, path, code.as_u16(), &first);
            let cursor = first["next_cursor"]
                .as_str()
                .unwrap_or_else(|| panic!("{url}: {first}"));
            let (code, next) = app.get(&format!("{url}?limit=1&before={cursor}")).await;
            assert_valid(&document, path, code.as_u16(), &next);
            assert_ne!(first, next, "{url}");
            let (code, bad) = app.get(&format!("{url}?limit=0")).await;
            assert_eq!(code, 400, "{url}");
            assert_valid(&document, path, 400, &bad);
        }
        walked += 1;
    }
    assert!(walked >= 11, "{walked} JSON routes walked");

    // The walk can fail: answers that are not as documented are caught,
    // down to a row's column.
    let (_, mut page) = app.get("/streaming/api/patterns?limit=1").await;
    assert!(errors(&document, "/streaming/api/patterns", 200, &page).is_empty());
    page["patterns"][0]["confidence"] = json!("high");
    assert!(!errors(&document, "/streaming/api/patterns", 200, &page).is_empty());
    let wrong = json!({"count": 1});
    assert!(!errors(&document, "/streaming/api/sessions", 200, &wrong).is_empty());
    assert!(
        !errors(
            &document,
            "/streaming/api/alerts",
            400,
            &json!({"reason": 1})
        )
        .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_route_answers_as_the_document_says_in_memory() {
    let app = TestApp::spawn(Config::for_tests()).await;
    walk_the_route_table(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_route_answers_as_the_document_says_in_postgres() {
    let db = TestDatabase::create().await;
    let mut config = Config::for_tests();
    config.database.database_url = Some(db.url.clone().into());
    let app = TestApp::spawn(config).await;
    walk_the_route_table(&app).await;
}
