//! Authentication: the axum-login backend over [`Accounts`], the access
//! middleware every protected route sits behind (a session cookie or an
//! `Authorization: Bearer` token; JSON 401/403 for the API, a redirect to the
//! login page for pages), CSRF tokens for forms, and the login/logout handlers.

use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use axum_login::AuthnBackend;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use super::identity::Credential;
use super::pages::{self, LoginPage};
use super::routes::{Access, Surface};
use super::{ApiError, AppState};
use crate::accounts::changes::AuthChange;
use crate::accounts::{AccountError, Accounts, User, tokens};

#[derive(Clone)]
pub struct Backend {
    accounts: Accounts,
}

impl Backend {
    pub fn new(accounts: Accounts) -> Self {
        Self { accounts }
    }
}

#[derive(Clone)]
pub struct Credentials {
    pub login: String,
    pub password: String,
}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = AccountError;

    async fn authenticate(&self, credentials: Credentials) -> Result<Option<User>, AccountError> {
        self.accounts
            .authenticate(&credentials.login, &credentials.password)
            .await
    }

    async fn get_user(&self, id: &i64) -> Result<Option<User>, AccountError> {
        self.accounts.get(*id).await
    }
}

pub type AuthSession = axum_login::AuthSession<Backend>;

/// The authenticated user of a request, placed by the access middleware.
#[derive(Clone)]
pub struct CurrentUser(pub User);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = StatusCode;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or(StatusCode::UNAUTHORIZED)
    }
}

fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn refuse(status: StatusCode, surface: Surface, message: &str, request: &Request) -> Response {
    match (surface, status) {
        (Surface::Page, StatusCode::UNAUTHORIZED) => {
            let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
            let next: String = url_encode(target);
            Redirect::to(&format!("/login?next={next}")).into_response()
        }
        _ => (status, Json(json!({ "error": message }))).into_response(),
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Lets the request through when its user may use a route of `access`.
async fn guard(
    state: &AppState,
    auth: AuthSession,
    mut request: Request,
    next: Next,
    access: Access,
    surface: Surface,
) -> Response {
    let (user, credential) = match bearer(&request) {
        Some(token) => match state.accounts.user_for_token(token).await {
            Ok(Some(user)) => (user, Credential::Token(tokens::digest(token))),
            Ok(None) => {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    Surface::Api,
                    "invalid or revoked API token",
                    &request,
                );
            }
            Err(error) => {
                tracing::warn!("AUTH: token lookup failed: {error}");
                return ApiError::AccountsUnavailable.into_response();
            }
        },
        None => match (auth.user, auth.session.id()) {
            (Some(user), Some(id)) => (user, Credential::Session(id)),
            _ => {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    surface,
                    "login required",
                    &request,
                );
            }
        },
    };
    if access == Access::Admin && !user.role.is_admin() {
        return refuse(
            StatusCode::FORBIDDEN,
            surface,
            "admin role required",
            &request,
        );
    }
    request.extensions_mut().insert(CurrentUser(user));
    request.extensions_mut().insert(credential);
    next.run(request).await
}

/// The access middleware for a group of routes, as `from_fn_with_state`
/// wants it: admins only when `ADMIN`, answering as a page when `PAGE`.
pub async fn require<const ADMIN: bool, const PAGE: bool>(
    State(state): State<AppState>,
    auth: AuthSession,
    request: Request,
    next: Next,
) -> Response {
    let access = if ADMIN { Access::Admin } else { Access::User };
    let surface = if PAGE { Surface::Page } else { Surface::Api };
    guard(&state, auth, request, next, access, surface).await
}

/// CSRF tokens: one random token per session, echoed by every form.
pub mod csrf {
    use super::*;

    const KEY: &str = "csrf";

    pub async fn token(session: &Session) -> String {
        if let Ok(Some(token)) = session.get::<String>(KEY).await {
            return token;
        }
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let token = hex::encode(bytes);
        if let Err(error) = session.insert(KEY, &token).await {
            tracing::warn!("AUTH: cannot store the CSRF token: {error}");
        }
        token
    }

    pub async fn valid(session: &Session, submitted: &str) -> bool {
        match session.get::<String>(KEY).await {
            Ok(Some(expected)) => {
                expected.len() == submitted.len()
                    && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
            }
            _ => false,
        }
    }
}

/// Where to go after login: only a path on this site.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path
        }
        _ => "/dashboard",
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_page(session: Session, Query(query): Query<LoginQuery>) -> Response {
    let page = LoginPage {
        csrf: csrf::token(&session).await,
        next: safe_next(query.next.as_deref()).to_owned(),
        error: None,
    };
    pages::render(StatusCode::OK, &page)
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    mut auth: AuthSession,
    session: Session,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref()).to_owned();
    let again = |status: StatusCode, error: &str, csrf: String| {
        let page = LoginPage {
            csrf,
            next: next.clone(),
            error: Some(error.to_owned()),
        };
        pages::render(status, &page)
    };
    if !csrf::valid(&session, &form.csrf).await {
        return again(
            StatusCode::FORBIDDEN,
            "The form expired. Please sign in again.",
            csrf::token(&session).await,
        );
    }
    let csrf = csrf::token(&session).await;
    if let Some(wait) = state.lockout.locked_for(&form.username) {
        let minutes = wait.as_secs().div_ceil(60);
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed attempts. Try again in {minutes} min."),
            csrf,
        );
    }
    let credentials = Credentials {
        login: form.username.clone(),
        password: form.password,
    };
    match auth.authenticate(credentials).await {
        Ok(Some(user)) => {
            // login() gives the session a new id (no session fixation).
            if let Err(error) = auth.login(&user).await {
                tracing::error!("AUTH: login of {} failed: {error}", user.username);
                return again(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Sign-in failed. Please try again.",
                    csrf,
                );
            }
            state.lockout.record_success(&form.username);
            tracing::info!("AUTH: {} signed in", user.username);
            Redirect::to(&next).into_response()
        }
        Ok(None) => {
            state.lockout.record_failure(&form.username);
            again(
                StatusCode::UNAUTHORIZED,
                "Invalid username or password.",
                csrf,
            )
        }
        Err(error) => {
            tracing::error!("AUTH: authentication failed: {error}");
            again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable. Please try again.",
                csrf,
            )
        }
    }
}

#[derive(Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    mut auth: AuthSession,
    session: Session,
    Form(form): Form<LogoutForm>,
) -> Response {
    if !csrf::valid(&session, &form.csrf).await {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({ "error": "invalid CSRF token" })),
        )
            .into_response();
    }
    let ended = session.id();
    if let Err(error) = auth.logout().await {
        tracing::error!("AUTH: logout failed: {error}");
    }
    if let Some(id) = ended {
        let session = super::sessions::digest(&id);
        state
            .accounts
            .announce(AuthChange::LoggedOut { session })
            .await;
    }
    Redirect::to("/login").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/dashboard?x=1")), "/dashboard?x=1");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "dashboard",
        ] {
            assert_eq!(safe_next(Some(bad)), "/dashboard", "{bad}");
        }
        assert_eq!(safe_next(None), "/dashboard");
        assert_eq!(url_encode("/a b?c=d&e"), "/a%20b%3Fc%3Dd%26e");
    }
}
