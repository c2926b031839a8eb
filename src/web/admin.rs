//! Admin pages: the users (with a form to add one) and the session history.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::auth::{CurrentUser, csrf};
use super::error::DatabaseUp;
use super::template::render;
use super::{ApiError, AppState};
use crate::accounts::{AccountError, Role, User};
use crate::store::history::SessionRow;

/// Sessions shown on the history page.
const SESSION_HISTORY: usize = 100;

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    username: String,
    csrf: String,
    users: Vec<User>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_sessions.html")]
struct StreamingSessionsPage {
    username: String,
    csrf: String,
    sessions: Vec<SessionRow>,
}

async fn users_page(
    state: &AppState,
    user: User,
    session: &Session,
    error: Option<String>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    match state.accounts.list().await {
        Ok(users) => render(
            status,
            &UsersPage {
                username: user.username,
                csrf: csrf::token(session).await,
                users,
                error,
            },
        ),
        Err(error) => database_unavailable("cannot list users", &error),
    }
}

pub async fn users(
    State(state): State<AppState>,
    _: DatabaseUp,
    CurrentUser(user): CurrentUser,
    session: Session,
) -> Response {
    users_page(&state, user, &session, None).await
}

#[derive(Deserialize)]
pub struct NewUser {
    username: String,
    #[serde(default)]
    email: String,
    password: String,
    role: Role,
    #[serde(default)]
    csrf: String,
}

pub async fn add_user(
    State(state): State<AppState>,
    _: DatabaseUp,
    CurrentUser(admin): CurrentUser,
    session: Session,
    Form(form): Form<NewUser>,
) -> Response {
    if !csrf::valid(&session, &form.csrf).await {
        return (StatusCode::FORBIDDEN, "invalid CSRF token").into_response();
    }
    let email = Some(form.email.as_str()).filter(|e| !e.trim().is_empty());
    match state
        .accounts
        .create_user(&form.username, email, &form.password, form.role)
        .await
    {
        Ok(user) => {
            tracing::info!(
                "ADMIN: {} added user {} ({})",
                admin.username,
                user.username,
                user.role.as_str()
            );
            Redirect::to("/admin/users").into_response()
        }
        Err(AccountError::Store(error)) => database_unavailable("cannot add a user", &error),
        Err(error) => users_page(&state, admin, &session, Some(error.to_string())).await,
    }
}

/// The cause is logged; the answer is the one every route that needs the
/// database gives (`ApiError::DatabaseUnavailable`).
fn database_unavailable(what: &str, error: &dyn std::fmt::Display) -> Response {
    tracing::error!("ADMIN: {what}: {error}");
    ApiError::DatabaseUnavailable.into_response()
}

pub async fn sessions(
    State(state): State<AppState>,
    _: DatabaseUp,
    CurrentUser(user): CurrentUser,
    session: Session,
) -> Response {
    match state.store.history().sessions(SESSION_HISTORY).await {
        Ok(sessions) => render(
            StatusCode::OK,
            &StreamingSessionsPage {
                username: user.username,
                csrf: csrf::token(&session).await,
                sessions,
            },
        ),
        Err(error) => database_unavailable("cannot read the session history", &error),
    }
}
