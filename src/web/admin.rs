//! Admin pages: the users (add, disable, enable, delete, change the role,
//! set a password), the API tokens (create, shown once; revoke), the audit
//! trail of both, and the session history. Every form carries the session's
//! CSRF token. A refused action is shown on its page, with a 4xx: 403 (the
//! CSRF token), 404 (no such user or token), 409 (a guard) or 422 (the
//! input). The actions themselves are [`crate::accounts::admin`]'s, which
//! the CLI uses too.

use askama::Template;
use axum::Form;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::auth::{AuthSession, CurrentUser, csrf};
use super::error::DatabaseUp;
use super::template::render;
use super::{ApiError, AppState};
use crate::accounts::admin::{Actor, Admin};
use crate::accounts::tokens::TokenInfo;
use crate::accounts::{AccountError, Role, User};
use crate::store::accounts::AuditEntry;
use crate::store::history::SessionRow;

/// Sessions shown on the history page.
const SESSION_HISTORY: usize = 100;
/// Audit lines on one page; older ones are a page further.
const AUDIT_PAGE: usize = 50;
/// The roles a form offers, as `Role::as_str` spells them.
const ROLES: &[&str] = &["user", "admin", "super"];

/// Why an action was not done, as its page shows it.
struct Refusal {
    status: StatusCode,
    reason: String,
}

impl Refusal {
    fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
        }
    }
}

/// An action that was not done: refused (shown on the page), or the
/// accounts' store failed (the answer every route that needs it gives).
enum Failure {
    Refused(Refusal),
    Unavailable(Response),
}

impl From<AccountError> for Failure {
    fn from(error: AccountError) -> Self {
        let refused = |status, reason| Failure::Refused(Refusal::new(status, reason));
        match error {
            AccountError::Invalid(reason) => refused(StatusCode::UNPROCESSABLE_ENTITY, reason),
            AccountError::NotFound(reason) => refused(StatusCode::NOT_FOUND, reason),
            AccountError::Refused(reason) => refused(StatusCode::CONFLICT, reason),
            AccountError::Store(error) => {
                Failure::Unavailable(database_unavailable("an admin action failed", &error))
            }
            AccountError::Hashing(error) => {
                tracing::error!("ADMIN: {error}");
                Failure::Unavailable(
                    (StatusCode::INTERNAL_SERVER_ERROR, "password hashing failed").into_response(),
                )
            }
        }
    }
}

/// Runs `action` (a future does nothing until awaited) only when the form
/// echoes the session's CSRF token.
async fn checked<T>(
    session: &Session,
    submitted: &str,
    action: impl Future<Output = Result<T, AccountError>>,
) -> Result<T, Failure> {
    if !csrf::valid(session, submitted).await {
        return Err(Failure::Refused(Refusal::new(
            StatusCode::FORBIDDEN,
            "invalid CSRF token: the form is stale, reload the page and try again",
        )));
    }
    Ok(action.await?)
}

fn as_admin<'a>(state: &'a AppState, admin: &User) -> Admin<'a> {
    state.accounts.admin(Actor::user(admin))
}

/// The cause is logged; the answer is the one every route that needs the
/// database gives (`ApiError::DatabaseUnavailable`).
fn database_unavailable(what: &str, error: &dyn std::fmt::Display) -> Response {
    tracing::error!("ADMIN: {what}: {error}");
    ApiError::DatabaseUnavailable.into_response()
}

fn status_of(refusal: &Option<Refusal>) -> StatusCode {
    refusal.as_ref().map_or(StatusCode::OK, |r| r.status)
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    username: String,
    csrf: String,
    /// The signed-in admin, whose own row offers no disabling, deleting or role change.
    me: i64,
    users: Vec<User>,
    roles: &'static [&'static str],
    error: Option<String>,
}

async fn users_page(
    state: &AppState,
    user: User,
    session: &Session,
    refusal: Option<Refusal>,
) -> Response {
    match state.accounts.list().await {
        Ok(users) => render(
            status_of(&refusal),
            &UsersPage {
                me: user.id,
                username: user.username,
                csrf: csrf::token(session).await,
                users,
                roles: ROLES,
                error: refusal.map(|r| r.reason),
            },
        ),
        Err(error) => database_unavailable("cannot list users", &error),
    }
}

/// Back to the users, or the users page again with the reason.
async fn users_answer(
    state: &AppState,
    admin: User,
    session: &Session,
    done: Result<User, Failure>,
) -> Response {
    match done {
        Ok(_) => Redirect::to("/admin/users").into_response(),
        Err(Failure::Refused(refusal)) => users_page(state, admin, session, Some(refusal)).await,
        Err(Failure::Unavailable(response)) => response,
    }
}

fn role_named(name: &str) -> Result<Role, AccountError> {
    Role::from_name(name).ok_or_else(|| {
        AccountError::Invalid(format!("no role {name:?}: one of {}", ROLES.join(", ")))
    })
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
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
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
    let email = Some(form.email.as_str()).filter(|e| !e.trim().is_empty());
    let action = async {
        let role = role_named(&form.role)?;
        as_admin(&state, &admin)
            .add_user(&form.username, email, &form.password, role)
            .await
    };
    let done = checked(&session, &form.csrf, action).await;
    users_answer(&state, admin, &session, done).await
}

/// A form with nothing but its CSRF token.
#[derive(Deserialize)]
pub struct Confirmed {
    #[serde(default)]
    csrf: String,
}

pub async fn disable_user(
    State(state): State<AppState>,
    _: DatabaseUp,
    CurrentUser(admin): CurrentUser,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<Confirmed>,
) -> Response {
    let done = checked(&session, &form.csrf, as_admin(&state, &admin).disable(id)).await;
    users_answer(&state, admin, &session, done).await
}

pub async fn enable_user(
    State(state): State<AppState>,
    _: DatabaseUp,
    CurrentUser(admin): CurrentUser,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<Confirmed>,
) -> Response {
    let done = checked(&session, &form.csrf, as_admin(&state, &admin).enable(id)).await;
    users_answer(&state, admin, &session, done).await
}

pub async fn delete_user(
    State(state): State<AppState>,
    _: DatabaseUp,
    CurrentUser(admin): CurrentUser,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<Confirmed>,
) -> Response {
    let done = checked(&session, &form.csrf, as_admin(&state, &admin).delete(id)).await;
    users_answer(&state, admin, &session, done).await
}

#[derive(Deserialize)]
pub struct RoleForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    csrf: String,
}

pub async fn set_role(
    State(state): State<AppState>,
    _: DatabaseUp,
    CurrentUser(admin): CurrentUser,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<RoleForm>,
) -> Response {
    let action = async {
        let role = role_named(&form.role)?;
        as_admin(&state, &admin).set_role(id, role).await
    };
    let done = checked(&session, &form.csrf, action).await;
    users_answer(&state, admin, &session, done).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// A new password ends the user's logins; an admin setting their own stays
/// signed in here (the session is bound to the new password).
pub async fn set_password(
    State(state): State<AppState>,
    _: DatabaseUp,
    CurrentUser(admin): CurrentUser,
    mut auth: AuthSession,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<PasswordForm>,
) -> Response {
    let acting = as_admin(&state, &admin);
    let done = checked(
        &session,
        &form.csrf,
        acting.set_password(id, &form.password),
    )
    .await;
    if let Ok(user) = &done
        && user.id == admin.id
        && let Err(error) = auth.login(user).await
    {
        tracing::warn!("ADMIN: cannot keep {} signed in: {error}", user.username);
    }
    users_answer(&state, admin, &session, done).await
}

/// A token just created: the only time it is shown.
struct CreatedToken {
    info: TokenInfo,
    token: String,
    /// The status route at the address the page was asked by, for the curl line.
    status_url: String,
}

#[derive(Template)]
#[template(path = "admin_tokens.html")]
struct TokensPage {
    username: String,
    csrf: String,
    tokens: Vec<TokenInfo>,
    /// Whom a token can be made for: the users not disabled.
    owners: Vec<String>,
    created: Option<CreatedToken>,
    error: Option<String>,
}

async fn tokens_page(
    state: &AppState,
    user: User,
    session: &Session,
    created: Option<CreatedToken>,
    refusal: Option<Refusal>,
) -> Response {
    let (tokens, users) = match (
        state.accounts.list_tokens().await,
        state.accounts.list().await,
    ) {
        (Ok(tokens), Ok(users)) => (tokens, users),
        (Err(error), _) | (_, Err(error)) => {
            return database_unavailable("cannot list tokens", &error);
        }
    };
    let status = match (&created, &refusal) {
        (Some(_), _) => StatusCode::CREATED,
        (None, refusal) => status_of(refusal),
    };
    let shown_once = created.is_some();
    let owners = users
        .into_iter()
        .filter(|u| !u.is_disabled())
        .map(|u| u.username)
        .collect();
    let page = TokensPage {
        username: user.username,
        csrf: csrf::token(session).await,
        tokens,
        owners,
        created,
        error: refusal.map(|r| r.reason),
    };
    let mut response = render(status, &page);
    if shown_once {
        // The token is in this page only: no cache keeps a copy.
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

pub async fn tokens(
    State(state): State<AppState>,
    _: DatabaseUp,
    CurrentUser(user): CurrentUser,
    session: Session,
) -> Response {
    tokens_page(&state, user, &session, None, None).await
}

#[derive(Deserialize)]
pub struct NewToken {
    #[serde(default)]
    owner: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    csrf: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    _: DatabaseUp,
    CurrentUser(admin): CurrentUser,
    session: Session,
    headers: HeaderMap,
    Form(form): Form<NewToken>,
) -> Response {
    let acting = as_admin(&state, &admin);
    let action = acting.create_token(&form.owner, &form.label);
    match checked(&session, &form.csrf, action).await {
        Ok((info, token)) => {
            let host = headers
                .get(header::HOST)
                .and_then(|host| host.to_str().ok())
                .unwrap_or("127.0.0.1:5000");
            let status_url = format!("http://{host}/streaming/api/status");
            let created = CreatedToken {
                info,
                token,
                status_url,
            };
            tokens_page(&state, admin, &session, Some(created), None).await
        }
        Err(Failure::Refused(refusal)) => {
            tokens_page(&state, admin, &session, None, Some(refusal)).await
        }
        Err(Failure::Unavailable(response)) => response,
    }
}

pub async fn revoke_token(
    State(state): State<AppState>,
    _: DatabaseUp,
    CurrentUser(admin): CurrentUser,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<Confirmed>,
) -> Response {
    let acting = as_admin(&state, &admin);
    match checked(&session, &form.csrf, acting.revoke_token(id)).await {
        Ok(_) => Redirect::to("/admin/tokens").into_response(),
        Err(Failure::Refused(refusal)) => {
            tokens_page(&state, admin, &session, None, Some(refusal)).await
        }
        Err(Failure::Unavailable(response)) => response,
    }
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    username: String,
    csrf: String,
    entries: Vec<AuditEntry>,
    /// Whether this is the first page (newest lines).
    newest: bool,
    /// The cursor of the next, older page, when there may be one.
    older: Option<i64>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct AuditQuery {
    /// Lines older than this one (the `older` cursor of the page before).
    before: Option<i64>,
}

pub async fn audit(
    State(state): State<AppState>,
    _: DatabaseUp,
    CurrentUser(user): CurrentUser,
    session: Session,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Response {
    let (before, refusal) = match query {
        Ok(Query(query)) => (query.before, None),
        Err(rejection) => {
            let reason = format!("before is a line number: {}", rejection.body_text());
            (None, Some(Refusal::new(StatusCode::BAD_REQUEST, reason)))
        }
    };
    let entries = match state.accounts.audit(before, AUDIT_PAGE).await {
        Ok(entries) => entries,
        Err(error) => return database_unavailable("cannot read the audit trail", &error),
    };
    let older = (entries.len() == AUDIT_PAGE)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    let page = AuditPage {
        username: user.username,
        csrf: csrf::token(&session).await,
        entries,
        newest: before.is_none(),
        older,
        error: refusal.as_ref().map(|r| r.reason.clone()),
    };
    render(status_of(&refusal), &page)
}

#[derive(Template)]
#[template(path = "admin_sessions.html")]
struct StreamingSessionsPage {
    username: String,
    csrf: String,
    sessions: Vec<SessionRow>,
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
