//! `/streaming/api/status` (and its `/api/streaming/status` alias).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;

/// The same body the dashboard's snapshot carries, so the two always agree.
pub async fn status(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.hub.status_body(),
    )
}
