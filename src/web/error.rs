//! Errors of the HTTP interface, mapped to responses in one place: a status
//! code and a JSON body `{"error": "..."}` naming the reason.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    /// A parameter is invalid; the text says which and why.
    #[error("{0}")]
    BadRequest(String),
    /// The history store did not answer (e.g. PostgreSQL is down).
    #[error("the history store is unavailable")]
    Unavailable,
    /// Who is logged in cannot be looked up (the session or account store is down).
    #[error("accounts are unavailable")]
    AccountsUnavailable,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unavailable | ApiError::AccountsUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(json!({ "error": self.to_string() }))).into_response()
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
        tracing::warn!("HISTORY: Query failed: {error}");
        ApiError::Unavailable
    }
}
