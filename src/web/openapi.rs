//! The OpenAPI 3.1 document of the JSON routes, served at
//! `/streaming/api/openapi.json`: the rows' schemas are generated from the
//! row types (utoipa's `ToSchema`), the routes' parameters and answers are
//! written out here beside them. Public: it describes the API's shape and
//! holds no data, so client generators and gateways can fetch it without
//! credentials (the README says as much).
//!
//! Paths are given under `/streaming/api`; each is also served under the
//! alias prefix `/api/streaming`. tests/openapi.rs walks the route table and
//! validates real answers against this document.

use axum::Json;
use serde_json::{Value, json};
use utoipa::openapi::ComponentsBuilder;

use crate::store::history::{AlertRow, HealthRow, IndicatorRow, PatternRow, SessionRow};
use crate::web::login_sessions::COOKIE_NAME;

/// `GET /streaming/api/openapi.json`
pub async fn openapi() -> Json<Value> {
    Json(document())
}

/// Who may call a route (as the route table says).
#[derive(Clone, Copy)]
enum Who {
    Anyone,
    User,
    Admin,
}

fn reference(schema: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{schema}") })
}

fn nullable(kind: &str) -> Value {
    json!({ "type": [kind, "null"] })
}

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": reference("Error")}}})
}

/// An operation answering `ok` (a 200 response object) to `who`.
fn operation(summary: &str, who: Who, parameters: Vec<Value>, ok: Value) -> Value {
    let mut responses = json!({ "200": ok });
    let mut operation = json!({"summary": summary, "parameters": parameters});
    match who {
        Who::Anyone => operation["security"] = json!([]),
        Who::User | Who::Admin => {
            operation["security"] = json!([{"session_cookie": []}, {"bearer_token": []}]);
            responses["401"] = error_response("Not signed in, or the token is invalid or revoked");
        }
    }
    if let Who::Admin = who {
        responses["403"] = error_response("The admin role is required");
    }
    operation["responses"] = responses;
    json!({ "get": operation })
}

fn json_ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

/// A history route's operation: a page of `rows` (schema `row`), with the
/// page's own `fields` beside `count`, the rows and `next_cursor`.
fn history(
    summary: &str,
    who: Who,
    mut parameters: Vec<Value>,
    rows: &str,
    row: &str,
    fields: Value,
    limit: (u32, u32),
) -> Value {
    let (default, max) = limit;
    parameters.extend([
        query(
            "hours",
            json!({"type": "number", "exclusiveMinimum": 0, "maximum": 8760}),
            "Only rows of the past this many hours",
        ),
        query(
            "limit",
            json!({"type": "integer", "minimum": 1, "default": default}),
            &format!("Rows per page (at most {max}; more is lowered to {max})"),
        ),
        query(
            "before",
            json!({"type": "string"}),
            "The next_cursor of the previous page: the page after it",
        ),
        query(
            "format",
            json!({"type": "string", "enum": ["json", "csv"], "default": "json"}),
            "csv: the same page as CSV (a header row; cells starting with = + - @ get a leading ')",
        ),
    ]);
    let mut properties = json!({
        "limit": {"type": "integer"},
        "count": {"type": "integer", "minimum": 0},
        "next_cursor": nullable("string"),
    });
    properties[rows] = json!({"type": "array", "items": reference(row)});
    let mut required = vec![
        json!("limit"),
        json!("count"),
        json!(rows),
        json!("next_cursor"),
    ];
    if let Value::Object(fields) = fields {
        for (name, schema) in fields {
            required.push(json!(name));
            properties[name] = schema;
        }
    }
    let page = json!({"type": "object", "required": required, "properties": properties});
    let ok = json!({
        "description": "A page of rows, newest first",
        "headers": {"x-next-cursor": {"description": "CSV only: the next page's cursor", "schema": {"type": "string"}}},
        "content": {
            "application/json": {"schema": page},
            "text/csv": {"schema": {"type": "string"}},
        },
    });
    let mut item = operation(summary, who, parameters, ok);
    let responses = &mut item["get"]["responses"];
    responses["400"] = error_response("A parameter is invalid; error names it");
    responses["503"] = error_response("The database is unavailable (reason says so; Retry-After)");
    item
}

fn symbol_in_path() -> Value {
    json!({"name": "symbol", "in": "path", "required": true,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,10}$"}, "description": "A ticker (any case)"})
}

fn symbol_in_query(description: &str) -> Value {
    query(
        "symbol",
        json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,10}$"}),
        description,
    )
}

/// The row schemas, generated from the row types.
fn row_schemas() -> Value {
    let components = ComponentsBuilder::new()
        .schema_from::<PatternRow>()
        .schema_from::<IndicatorRow>()
        .schema_from::<HealthRow>()
        .schema_from::<AlertRow>()
        .schema_from::<SessionRow>()
        .build();
    serde_json::to_value(components.schemas).unwrap_or_default()
}

fn status_schema() -> Value {
    let counts = json!({"type": "integer", "minimum": 0});
    let retention = json!({
        "type": "object",
        "required": ["days", "deleted", "last_run_at", "last_error"],
        "properties": {
            "days": {"type": "integer", "minimum": 0},
            "deleted": {"type": "object", "required": ["patterns", "indicators", "health", "alerts", "sessions"],
                "additionalProperties": counts},
            "last_run_at": nullable("string"),
            "last_error": nullable("string"),
        },
    });
    json!({
        "type": "object",
        "required": ["status", "session", "last_session", "health", "subscriber_stats", "market_feed", "recorder", "market_ticks", "market"],
        "properties": {
            "status": {"type": "string", "enum": ["online", "idle", "stale", "offline"]},
            "session": nullable("object"),
            "last_session": nullable("object"),
            "health": nullable("object"),
            "subscriber_stats": {"type": "object", "required": ["connected", "reconnects", "dropped", "channels"],
                "properties": {"connected": {"type": "boolean"}, "reconnects": counts, "dropped": counts,
                    "channels": {"type": "object"}}},
            "market_feed": {"type": "object"},
            "market_ticks": {"type": "object", "required": ["connected", "dropped", "received", "applied", "refused", "symbols"]},
            "market": reference("MarketTime"),
            "recorder": {"type": "object",
                "required": ["store", "pending", "written", "dropped", "rejected", "retrying", "last_error", "last_error_at"],
                "properties": {"store": {"type": "string", "enum": ["memory", "postgres"]}, "pending": counts,
                    "written": counts, "dropped": counts, "rejected": counts, "retrying": {"type": "boolean"},
                    "last_error": nullable("string"), "last_error_at": nullable("string"), "retention": retention}},
        },
    })
}

fn readiness_schema() -> Value {
    json!({
        "type": "object",
        "required": ["ready", "reasons", "bus", "database", "recorder", "tasks"],
        "properties": {
            "ready": {"type": "boolean"},
            "reasons": {"type": "array", "items": {"type": "string"}},
            "bus": {"type": "object", "required": ["kind", "connected"]},
            "database": {"type": "object", "required": ["kind", "connected", "migrated"]},
            "recorder": {"type": "object", "required": ["stalled", "pending", "last_error"]},
            "tasks": {"type": "object"},
        },
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut schemas = row_schemas();
    schemas["Error"] = json!({
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "What was wrong"},
            "reason": {"type": "string", "description": "Which dependency is down (503 only)"},
        },
    });
    let hours = json!({"hours": nullable("number")});
    let pattern_type = query(
        "pattern_type",
        json!({"type": "string", "maxLength": 50}),
        "Only this pattern type (ASCII case ignored)",
    );
    let paths = json!({
        "/healthz": operation("Liveness", Who::Anyone, vec![],
            json_ok("Alive", json!({"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}}))),
        "/readyz": {"get": {
            "summary": "Readiness: bus, database, recorder and tasks",
            "security": [],
            "responses": {
                "200": json_ok("Ready", readiness_schema()),
                "503": json_ok("Not ready; reasons says why", readiness_schema()),
            },
        }},
        "/streaming/api/status": operation("The live status (also pushed as streaming_status)", Who::User, vec![],
            json_ok("The status", status_schema())),
        "/streaming/api/openapi.json": operation("This document", Who::Anyone, vec![],
            json_ok("OpenAPI 3.1", json!({"type": "object", "required": ["openapi", "paths"]}))),
        "/streaming/api/verify": operation("The conformance report (admins)", Who::Admin,
            vec![query("format", json!({"type": "string", "enum": ["json", "markdown"]}), "markdown: the same report as Markdown")],
            json_ok("The report", json!({"type": "object"}))),
        "/streaming/api/patterns/{symbol}": history("A symbol's patterns", Who::User,
            vec![symbol_in_path(), pattern_type.clone()], "patterns", "PatternRow",
            merge(json!({"symbol": {"type": "string"}, "pattern_type": nullable("string")}), &hours), (100, 100)),
        "/streaming/api/patterns": history("Every symbol's patterns, or one's", Who::User,
            vec![symbol_in_query("Only this symbol's"), pattern_type], "patterns", "PatternRow",
            merge(json!({"symbol": nullable("string"), "pattern_type": nullable("string")}), &hours), (100, 100)),
        "/streaming/api/indicators/{symbol}": history("A symbol's indicator values", Who::User,
            vec![symbol_in_path(), query("indicator", json!({"type": "string", "maxLength": 50}), "Only this indicator (ASCII case ignored)")],
            "indicators", "IndicatorRow", json!({"symbol": {"type": "string"}, "indicator": nullable("string")}), (50, 50)),
        "/streaming/api/alerts": history("Indicator and critical alerts", Who::User,
            vec![query("alert_type", json!({"type": "string", "maxLength": 50}), "An alert type (e.g. RSI_OVERBOUGHT) or a kind (indicator_alert, critical_alert), ASCII case ignored"),
                 symbol_in_query("Only this symbol's (indicator alerts)")],
            "alerts", "AlertRow", merge(json!({"alert_type": nullable("string")}), &hours), (100, 100)),
        "/streaming/api/health/history": history("Health snapshots", Who::User,
            vec![query("status", json!({"type": "string", "maxLength": 50}), "Only this status (ASCII case ignored)")],
            "health", "HealthRow", json!({}), (100, 1000)),
        "/streaming/api/sessions": history("Streaming sessions, the latest started first", Who::Admin,
            vec![], "sessions", "SessionRow", json!({}), (100, 100)),
        "/streaming/api/market": with_error(operation("The NYSE calendar at an instant", Who::User,
            vec![query("at", json!({"type": "string", "format": "date-time"}), "An ISO 8601 time with its zone (default: now)")],
            json_ok("The market then", reference("MarketTime"))), "400", "at is not an ISO 8601 time in the years the calendar handles"),
        "/streaming/api/market/symbols": operation("Every symbol of the session, with its sparkline", Who::User, vec![],
            json_ok("The symbols", json!({"type": "array", "items": reference("MarketSymbol")}))),
        "/streaming/api/market/candles/{symbol}": with_error(with_error(operation("A symbol's 1-minute candles of the session", Who::User,
            vec![json!({"name": "symbol", "in": "path", "required": true, "schema": {"type": "string"}, "description": "A ticker (any case)"})],
            json_ok("The candles", reference("Candles"))), "400", "Not a ticker"), "404", "No tick of this symbol in the session"),
    });
    market_schemas(&mut schemas);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "TickStock",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The Live Streaming API. Every /streaming/api path is also served under /api/streaming.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session_cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME,
                    "description": "The login session of POST /login"},
                "bearer_token": {"type": "http", "scheme": "bearer",
                    "description": "An API token (tickstock token create, or the admin page)"},
            },
        },
    })
}

/// `operation` also answering `status` with the error shape.
fn with_error(mut operation: Value, status: &str, description: &str) -> Value {
    operation["get"]["responses"][status] = error_response(description);
    operation
}

/// The market routes' shapes (`crate::market`).
fn market_schemas(schemas: &mut Value) {
    let time = json!({"type": "string", "format": "date-time"});
    let price = json!({"type": "number"});
    let counts = json!({"type": "integer", "minimum": 0});
    schemas["MarketTime"] = json!({
        "type": "object",
        "required": ["phase", "holiday", "early_close", "next_open", "next_close", "at", "calendar_known"],
        "properties": {
            "phase": {"type": "string", "enum": ["pre_market", "open", "after_hours", "closed"]},
            "holiday": nullable("string"), "early_close": {"type": "boolean"},
            "next_open": time, "next_close": time, "at": time, "calendar_known": {"type": "boolean"},
        },
    });
    schemas["Candle"] = json!({
        "type": "object",
        "required": ["t", "o", "h", "l", "c", "v"],
        "properties": {"t": time, "o": price, "h": price, "l": price, "c": price, "v": counts},
    });
    schemas["MarketSymbol"] = json!({
        "type": "object",
        "required": ["symbol", "price", "first", "change", "change_pct", "volume", "ticks_per_min", "at", "candle"],
        "properties": {
            "symbol": {"type": "string"}, "price": price, "first": price, "change": price, "change_pct": price,
            "volume": counts, "ticks_per_min": counts, "at": time,
            "candle": {"oneOf": [reference("Candle"), {"type": "null"}]},
            "spark": {"type": "array", "items": price},
        },
    });
    schemas["Candles"] = json!({
        "type": "object",
        "required": ["symbol", "interval_seconds", "session_id", "candles"],
        "properties": {
            "symbol": {"type": "string"}, "interval_seconds": {"const": 60}, "session_id": nullable("string"),
            "candles": {"type": "array", "items": reference("Candle")},
        },
    });
}

/// `fields` with `more` added.
fn merge(mut fields: Value, more: &Value) -> Value {
    if let (Value::Object(fields), Value::Object(more)) = (&mut fields, more) {
        fields.extend(more.clone());
    }
    fields
}
