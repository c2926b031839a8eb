//! Every request gets an id: the client's `x-request-id` when it is a sane
//! one (1 to 128 visible ASCII characters), else a fresh UUID v4. The id is
//! returned in the response's `x-request-id` and carried, with the user once
//! a route's guard knows them, by every log line of the request (the span
//! `request`). When it is answered: one access line at `info` (method, the
//! matched route, status, latency) and the HTTP metrics.
//!
//! One middleware rather than tower-http's request-id and trace layers: the
//! former keeps whatever id a client sends, and the latter's callbacks never
//! see the request and its response together, as the metrics' labels need.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::auth::CurrentUser;
use crate::metrics::Metrics;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MAX_REQUEST_ID_BYTES: usize = 128;
/// The route of a request no route matched: the path itself would let a
/// client make up series and log fields.
pub const UNMATCHED: &str = "unmatched";

/// The request log, as `from_fn_with_state` wants it; the outermost layer,
/// so that the status and latency are what the client sees.
pub async fn track(
    State(metrics): State<Arc<Metrics>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id(request.headers());
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!("request", request_id = %id, user = tracing::field::Empty);
    request.extensions_mut().insert(RequestSpan(span.clone()));
    let mut response = next.run(request).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    metrics.http.observe(&method, &route, status, took);
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            route,
            status,
            latency_ms = took.as_secs_f64() * 1000.0,
            "HTTP: Request answered"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// The request's span, for what is learnt of the request on the way in
/// (other spans, e.g. the login layer's, may be current by then).
#[derive(Clone)]
struct RequestSpan(tracing::Span);

/// Names the guard's user in the request's span, as `from_fn` wants it:
/// the layer just inside a route group's guard.
pub async fn name_user(request: Request, next: Next) -> Response {
    let extensions = request.extensions();
    if let (Some(CurrentUser(user)), Some(RequestSpan(span))) = (
        extensions.get::<CurrentUser>(),
        extensions.get::<RequestSpan>(),
    ) {
        span.record("user", user.username.as_str());
    }
    next.run(request).await
}

/// The client's id when it is one to repeat in logs and headers, else a new one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .map(HeaderValue::as_bytes)
        .filter(|id| acceptable(id))
        .and_then(|id| std::str::from_utf8(id).ok())
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

fn acceptable(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_BYTES).contains(&id.len()) && id.iter().all(u8::is_ascii_graphic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_for(value: &[u8]) -> String {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_bytes(value).unwrap());
        request_id(&headers)
    }

    #[test]
    fn a_sane_client_id_is_kept_and_any_other_replaced() {
        assert_eq!(id_for(b"req-42/a:b"), "req-42/a:b");
        let longest = "x".repeat(MAX_REQUEST_ID_BYTES);
        assert_eq!(id_for(longest.as_bytes()), longest);
        for hostile in [
            "x".repeat(MAX_REQUEST_ID_BYTES + 1).as_bytes(),
            b"two words",
            b"tab\there",
            "caf\u{e9}".as_bytes(),
            b"",
        ] {
            let replaced = id_for(hostile);
            let uuid = uuid::Uuid::parse_str(&replaced).expect("a UUID");
            assert_eq!(uuid.get_version_num(), 4, "{hostile:?}");
        }
        let generated = request_id(&HeaderMap::new());
        assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");
    }
}
