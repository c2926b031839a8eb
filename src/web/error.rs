//! Errors of the HTTP interface, mapped to responses in one place: a status
//! code and a JSON body `{"error": "..."}` naming the reason (and, when a
//! dependency is down, `"reason"` naming which).

use axum::Json;
use axum::extract::FromRequestParts;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    /// A parameter is invalid; the text says which and why.
    #[error("{0}")]
    BadRequest(String),
    /// The database is down, or did not answer.
    #[error("the database is unavailable; try again shortly")]
    DatabaseUnavailable,
    /// Who is logged in cannot be looked up (the session or account store is down).
    #[error("accounts are unavailable")]
    AccountsUnavailable,
    /// A fault of TickStock's own; the cause is logged, not shown.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::DatabaseUnavailable | ApiError::AccountsUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!("HTTP: Internal error: {cause}");
        }
        let body = match self {
            ApiError::DatabaseUnavailable => {
                json!({ "error": self.to_string(), "reason": "database unavailable" })
            }
            _ => json!({ "error": self.to_string() }),
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let ApiError::DatabaseUnavailable = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// The cause is logged, not shown: it may name database internals.
impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        tracing::warn!("DATABASE: Query failed: {error}");
        ApiError::DatabaseUnavailable
    }
}

/// A handler's argument that fails at once, without a query, while the
/// database is known to be down (`Database::watch` keeps the status), so a
/// request that needs it never waits for a connection.
pub struct DatabaseUp;

impl FromRequestParts<AppState> for DatabaseUp {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.database.available() {
            Ok(DatabaseUp)
        } else {
            Err(ApiError::DatabaseUnavailable)
        }
    }
}
