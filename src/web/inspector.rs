//! The channel inspector page (`/admin/inspector`, fed over the dashboard
//! WebSocket with `?inspect=1`) and seed 004's status report on what this
//! server has received (`GET /streaming/api/verify?format=json|markdown`).

use askama::Template;
use axum::Json;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use tower_sessions::Session;

use super::auth::{CurrentUser, csrf};
use super::template::render;
use super::{ApiError, AppState};
use crate::conformance::inspector::RECENT;
use crate::conformance::report::{Format, Origin, Report};
use crate::conformance::tables::Tables;
use crate::events::Channel;

/// One channel's place on the page.
struct ChannelSlot {
    index: usize,
    name: &'static str,
}

#[derive(Template)]
#[template(path = "admin_inspector.html")]
struct InspectorPage {
    username: String,
    csrf: String,
    recent: usize,
    channels: Vec<ChannelSlot>,
}

pub async fn page(CurrentUser(user): CurrentUser, session: Session) -> Response {
    let page = InspectorPage {
        username: user.username,
        csrf: csrf::token(&session).await,
        recent: RECENT,
        channels: Channel::ALL
            .into_iter()
            .map(|channel| ChannelSlot {
                index: channel.index(),
                name: channel.name(),
            })
            .collect(),
    };
    render(StatusCode::OK, &page)
}

/// `?format=json` (the default) or `markdown`; a bad one is a JSON 400.
#[derive(Debug, Deserialize, FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub struct VerifyParams {
    format: Option<Format>,
}

pub async fn verify(State(state): State<AppState>, params: VerifyParams) -> Response {
    let tables = match state.store.postgres() {
        Some(pool) => Tables::check(pool).await,
        None => Tables::not_checked("no DATABASE_URL, history is kept in memory"),
    };
    let report = Report::build(
        Origin::Server,
        &state.conformance.tally,
        tables,
        state.live.link().reconnects(),
        Utc::now(),
    );
    match params.format.unwrap_or(Format::Json) {
        Format::Json => Json(report).into_response(),
        Format::Markdown => (
            [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
            report.to_markdown(),
        )
            .into_response(),
    }
}
