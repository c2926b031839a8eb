//! Server-rendered pages (askama) and the static assets, compiled into the
//! binary so the pages work offline and from any working directory.

use askama::Template;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
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

/// (name, content type, bytes)
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../static/style.css"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/live.js"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/dashboard.js"),
    ),
    (
        "inspector.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/inspector.js"),
    ),
    (
        "history.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/history.js"),
    ),
    (
        "inspector.css",
        "text/css; charset=utf-8",
        include_str!("../../static/inspector.css"),
    ),
];

pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, ..)| *name == file) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
