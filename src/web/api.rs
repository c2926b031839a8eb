//! `/streaming/api/...` (and its `/api/streaming/...` alias).

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/status", get(status))
}

async fn status(State(state): State<AppState>) -> impl IntoResponse {
    let body = state
        .live
        .status_json(chrono::Utc::now(), state.feed.as_ref());
    ([(header::CONTENT_TYPE, "application/json")], body)
}
