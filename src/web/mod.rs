//! The HTTP interface (CONTRACT §5). Handlers are small and read cached state
//! only: no request ever waits on the bus or the database.

mod api;
mod error;
mod probes;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::bus::Bus;
use crate::feed::FeedStats;
use crate::state::LiveState;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub live: Arc<LiveState>,
    pub feed: Arc<FeedStats>,
    pub bus: Bus,
    pub metrics: Arc<prometheus_client::registry::Registry>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        // The seed spells the prefix both ways; both are served.
        .nest("/streaming/api", api::routes())
        .nest("/api/streaming", api::routes())
        .merge(probes::routes())
        .fallback(|| async { ApiError::NotFound })
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
