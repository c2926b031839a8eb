//! Server-rendered pages (askama) and the static assets, compiled into the
//! binary so the pages work offline and from any working directory.

use std::sync::LazyLock;

use askama::Template;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use tower_sessions::Session;

use super::auth::{CurrentUser, csrf};
use super::template::render;

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub username: String,
    pub is_admin: bool,
    pub csrf: String,
}

pub async fn root() -> Redirect {
    Redirect::to("/dashboard")
}

pub async fn dashboard(CurrentUser(user): CurrentUser, session: Session) -> Response {
    let page = DashboardPage {
        username: user.username,
        is_admin: user.role.is_admin(),
        csrf: csrf::token(&session).await,
    };
    render(StatusCode::OK, &page)
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// (name, content type, bytes)
const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", CSS, include_str!("../../static/style.css")),
    ("settings.js", JS, include_str!("../../static/settings.js")),
    ("live.js", JS, include_str!("../../static/live.js")),
    ("format.js", JS, include_str!("../../static/format.js")),
    (
        "dashboard.js",
        JS,
        include_str!("../../static/dashboard.js"),
    ),
    ("symbol.js", JS, include_str!("../../static/symbol.js")),
    (
        "inspector.js",
        JS,
        include_str!("../../static/inspector.js"),
    ),
    ("history.js", JS, include_str!("../../static/history.js")),
    (
        "inspector.css",
        CSS,
        include_str!("../../static/inspector.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../static/favicon.svg"),
    ),
    // TradingView Lightweight Charts 4.2.3 from npm, with its licence and notice.
    (
        "lightweight-charts.standalone.production.js",
        JS,
        include_str!("../../static/lightweight-charts.standalone.production.js"),
    ),
    (
        "lightweight-charts.LICENSE",
        TEXT,
        include_str!("../../static/lightweight-charts.LICENSE"),
    ),
    (
        "lightweight-charts.NOTICE",
        TEXT,
        include_str!("../../static/lightweight-charts.NOTICE"),
    ),
];

/// An asset ready to serve: its bytes, gzipped, and the ETag of each.
struct Prepared {
    content_type: &'static str,
    body: &'static str,
    gzip: bytes::Bytes,
    etag: HeaderValue,
    gzip_etag: HeaderValue,
}

/// Every asset, compressed once, at the first request for any of them.
static PREPARED: LazyLock<Vec<(&'static str, Prepared)>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|&(name, content_type, body)| (name, prepare(content_type, body)))
        .collect()
});

fn prepare(content_type: &'static str, body: &'static str) -> Prepared {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to memory cannot fail; should it, the asset is served uncompressed.
    let gzip = encoder
        .write_all(body.as_bytes())
        .and_then(|()| encoder.finish())
        .unwrap_or_default();
    let hash = hex::encode(&Sha256::digest(body.as_bytes())[..16]);
    // Hex digits and quotes are always a valid header value.
    let tag = |suffix: &str| {
        HeaderValue::from_str(&format!("\"{hash}{suffix}\""))
            .unwrap_or(HeaderValue::from_static("\"\""))
    };
    Prepared {
        content_type,
        body,
        etag: tag(""),
        gzip_etag: tag("-gz"),
        gzip: gzip.into(),
    }
}

/// Whether `Accept-Encoding` allows gzip (`gzip` or `*`, with a q above 0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Whether `If-None-Match` names `etag` (weakly compared) or is `*`.
fn not_modified(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some((_, asset)) = PREPARED.iter().find(|(name, _)| *name == file) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let gzip = !asset.gzip.is_empty() && accepts_gzip(&headers);
    let etag = if gzip { &asset.gzip_etag } else { &asset.etag };
    let common = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ),
        (header::VARY, HeaderValue::from_static("Accept-Encoding")),
        (header::ETAG, etag.clone()),
    ];
    if not_modified(&headers, etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let content_type = (
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if gzip {
        (
            common,
            [
                content_type,
                (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
            ],
            asset.gzip.clone(),
        )
            .into_response()
    } else {
        (common, [content_type], asset.body).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(name, HeaderValue::from_static(value));
        map
    }

    #[test]
    fn gzip_is_accepted_unless_refused_with_q_0() {
        let accepts = |value| accepts_gzip(&headers(header::ACCEPT_ENCODING, value));
        assert!(accepts("gzip"));
        assert!(accepts("br, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("br, deflate"));
        assert!(!accepts("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn if_none_match_names_the_tag_weakly_or_is_a_star() {
        let tag = HeaderValue::from_static("\"abc\"");
        let matches = |value| not_modified(&headers(header::IF_NONE_MATCH, value), &tag);
        assert!(matches("\"abc\""));
        assert!(matches("\"x\", W/\"abc\""));
        assert!(matches("*"));
        assert!(!matches("\"abcd\""));
        assert!(!not_modified(&HeaderMap::new(), &tag));
    }

    #[test]
    fn every_asset_is_prepared_with_a_distinct_tag_per_encoding() {
        for (name, asset) in PREPARED.iter() {
            assert!(!asset.gzip.is_empty(), "{name}");
            assert_ne!(asset.etag, asset.gzip_etag, "{name}");
        }
    }
}
