//! The HTTP interface (CONTRACT §5). Handlers are small and read cached state
//! only: no request ever waits on the bus or the database.

pub mod access;
mod admin;
mod api;
pub mod auth;
mod error;
mod history;
pub mod identity;
mod inspector;
pub mod limits;
pub mod login_sessions;
mod market;
mod openapi;
mod pages;
mod probes;
pub mod request_log;
pub mod routes;
pub mod settings;
mod template;
mod ws;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::http::{HeaderName, HeaderValue, header};
use axum_login::AuthManagerLayerBuilder;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_sessions::SessionManagerLayer;
use tower_sessions::service::SignedCookie;

pub use error::ApiError;

use crate::accounts::Accounts;
use crate::accounts::lockout::Lockout;
use crate::bus::Bus;
use crate::feed::FeedStats;
use crate::state::LiveState;
use crate::store::{DatabaseStatus, Store};

#[derive(Clone, FromRef)]
pub struct AppState {
    pub live: Arc<LiveState>,
    pub feed: Arc<FeedStats>,
    pub bus: Bus,
    pub store: Store,
    pub database: Arc<DatabaseStatus>,
    pub recorder: Arc<crate::recorder::RecorderStats>,
    pub accounts: Accounts,
    pub lockout: Arc<Lockout>,
    pub login_limits: Arc<limits::LoginLimits>,
    pub login_csrf: Arc<auth::csrf::LoginCsrf>,
    pub hub: Arc<crate::dashboard::Hub>,
    pub conformance: Arc<crate::conformance::Conformance>,
    pub identity: identity::Identity,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub supervisor: Arc<crate::supervise::Supervisor>,
}

/// Pages load nothing from elsewhere and run no inline script.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

pub fn router(
    state: AppState,
    sessions: SessionManagerLayer<login_sessions::LoginSessionStore, SignedCookie>,
) -> Router {
    let auth =
        AuthManagerLayerBuilder::new(auth::Backend::new(state.accounts.clone()), sessions).build();
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    routes::build(&state)
        .fallback(|| async { ApiError::NotFound })
        .layer(auth)
        .layer(axum::middleware::map_response(
            login_sessions::unavailable_not_empty,
        ))
        .layer(header(
            header::CONTENT_SECURITY_POLICY,
            CONTENT_SECURITY_POLICY,
        ))
        .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "same-origin"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            request_log::track,
        ))
        .with_state(state)
}
