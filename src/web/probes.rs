//! Liveness, readiness and metrics, for load balancers, orchestrators and Prometheus.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::AppState;

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        crate::metrics::render(&state.metrics),
    )
}

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when the bus (as last seen by the subscriber) and the database (as
/// last seen by its watcher) are reachable, the migrations have run, and the
/// recorder is not stalled (rows pending, nothing written for
/// `recorder::STALLED_AFTER`), and no long-running task is waiting for its
/// restart. Waits on nothing.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let bus_up = state.live.link().connected();
    let database = &state.database;
    let stalled_for = state.recorder.stalled_for();
    let mut reasons = Vec::new();
    if !bus_up {
        reasons.push("bus not connected".to_owned());
    }
    if !database.connected() {
        reasons.push("database not connected".to_owned());
    } else if !database.migrated() {
        reasons.push("database not migrated".to_owned());
    }
    if let Some(stalled) = stalled_for {
        reasons.push(format!(
            "recorder has written nothing for {}s with {} row(s) pending",
            stalled.as_secs(),
            state.recorder.pending()
        ));
    }
    if !state.supervisor.all_running() {
        reasons.push("a task is restarting".to_owned());
    }
    let ready = reasons.is_empty();
    let tasks: serde_json::Map<String, Value> = state
        .supervisor
        .tasks()
        .iter()
        .map(|task| (task.name().to_owned(), json!(task.as_ref())))
        .collect();
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "ready": ready,
        "reasons": reasons,
        "bus": { "kind": state.bus.kind(), "connected": bus_up },
        "database": {
            "kind": state.store.kind(),
            "connected": database.connected(),
            "migrated": database.migrated(),
        },
        "recorder": {
            "stalled": stalled_for.is_some(),
            "pending": state.recorder.pending(),
            "last_error": state.recorder.last_error(),
        },
        "tasks": tasks,
    });
    (code, Json(body))
}
