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

/// Ready when the bus (as last seen by the subscriber) and the database are
/// reachable and no long-running task is waiting for its restart.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let bus_up = state.live.link().connected();
    let database_up = state.store.reachable().await;
    let tasks_up = state.supervisor.all_running();
    let ready = bus_up && database_up && tasks_up;
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
        "bus": { "kind": state.bus.kind(), "connected": bus_up },
        "database": { "kind": state.store.kind(), "connected": database_up },
        "tasks": tasks,
    });
    (code, Json(body))
}
