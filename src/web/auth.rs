//! Authentication: the axum-login backend over [`Accounts`], the access
//! middleware every protected route sits behind (a session cookie or an
//! `Authorization: Bearer` token; JSON 401/403 for the API, a redirect to the
//! login page for pages), CSRF tokens for forms, and the login/logout handlers
//! (with the limits of [`super::limits`] in front of every password check).

use std::net::SocketAddr;
use std::time::Duration;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use axum_login::AuthnBackend;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use super::access::{Access, Surface};
use super::identity::Credential;
use super::limits::{MAX_LOGIN_BYTES, MAX_PASSWORD_BYTES, Refusal};
use super::template::render;
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

/// CSRF tokens. A signed-in form echoes its session's random token. The
/// login form has no session to keep one in (an anonymous visit stores
/// nothing on the server): it is a signed double submit, a random nonce in
/// a strict cookie and its HMAC under the server's key in the form.
pub mod csrf {
    use axum::http::{HeaderMap, HeaderValue};
    use hmac::{Hmac, Mac};
    use sha2::Sha256;
    use tower_sessions::cookie::{Cookie, SameSite};

    use super::*;

    const KEY: &str = "csrf";
    pub const LOGIN_COOKIE: &str = "tickstock_login_csrf";
    /// A login form stays valid this long, as long as an idle session.
    const LOGIN_FORM_LIFETIME: time::Duration = time::Duration::hours(12);

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

    /// The login form's tokens, signed with a key of their own derived from the session secret.
    pub struct LoginCsrf {
        key: Hmac<Sha256>,
        secure: bool,
    }

    impl LoginCsrf {
        pub fn new(secret: &[u8], secure: bool) -> Self {
            let mut derive = hmac(secret);
            derive.update(b"tickstock login form CSRF");
            Self {
                key: hmac(&derive.finalize().into_bytes()),
                secure,
            }
        }

        /// A fresh nonce cookie (`Set-Cookie`) and the token the form carries.
        pub fn issue(&self) -> (Option<HeaderValue>, String) {
            let nonce: [u8; 32] = rand::random();
            let mut mac = self.key.clone();
            mac.update(&nonce);
            let token = hex::encode(mac.finalize().into_bytes());
            let cookie = Cookie::build((LOGIN_COOKIE, hex::encode(nonce)))
                .path("/login")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(self.secure)
                .max_age(LOGIN_FORM_LIFETIME)
                .build();
            (HeaderValue::try_from(cookie.to_string()).ok(), token)
        }

        /// Whether `submitted` is the signature of the nonce in the request's cookie.
        pub fn valid(&self, headers: &HeaderMap, submitted: &str) -> bool {
            let nonce = headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(Cookie::split_parse)
                .filter_map(Result::ok)
                .find(|cookie| cookie.name() == LOGIN_COOKIE)
                .and_then(|cookie| hex::decode(cookie.value()).ok());
            let (Some(nonce), Ok(signature)) = (nonce, hex::decode(submitted)) else {
                return false;
            };
            let mut mac = self.key.clone();
            mac.update(&nonce);
            mac.verify_slice(&signature).is_ok()
        }
    }

    fn hmac(key: &[u8]) -> Hmac<Sha256> {
        Hmac::new_from_slice(key).expect("HMAC takes keys of any length")
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

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    error: Option<String>,
}

pub async fn login_page(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
) -> Response {
    LoginReply::new(&state, safe_next(query.next.as_deref()), false).page(StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

/// How a login attempt is answered: the login page again (with a fresh
/// form token) or, for a client that asks for JSON, a JSON reason.
struct LoginReply<'a> {
    state: &'a AppState,
    next: &'a str,
    json: bool,
}

impl<'a> LoginReply<'a> {
    fn new(state: &'a AppState, next: &'a str, json: bool) -> Self {
        Self { state, next, json }
    }

    fn page(&self, status: StatusCode, error: Option<&str>) -> Response {
        let (cookie, csrf) = self.state.login_csrf.issue();
        let page = LoginPage {
            csrf,
            next: self.next.to_owned(),
            error: error.map(str::to_owned),
        };
        let mut response = render(status, &page);
        if let Some(cookie) = cookie {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        response
    }

    fn refuse(&self, status: StatusCode, error: &str) -> Response {
        if self.json {
            (status, Json(json!({ "error": error }))).into_response()
        } else {
            self.page(status, Some(error))
        }
    }

    /// 429 with `Retry-After` (whole seconds, at least one).
    fn too_many(&self, wait: Duration, error: &str) -> Response {
        let seconds = wait
            .as_secs()
            .saturating_add(u64::from(wait.subsec_nanos() > 0))
            .max(1);
        let mut response = if self.json {
            let body = json!({ "error": error, "retry_after_seconds": seconds });
            (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response()
        } else {
            self.page(StatusCode::TOO_MANY_REQUESTS, Some(error))
        };
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        response
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    accept.contains("application/json") && !accept.contains("text/html")
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut auth: AuthSession,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let reply = LoginReply::new(
        &state,
        safe_next(form.next.as_deref()),
        wants_json(&headers),
    );
    if form.username.len() > MAX_LOGIN_BYTES || form.password.len() > MAX_PASSWORD_BYTES {
        return reply.refuse(
            StatusCode::BAD_REQUEST,
            &format!(
                "The username (at most {MAX_LOGIN_BYTES} bytes) or the password (at most {MAX_PASSWORD_BYTES} bytes) is too long."
            ),
        );
    }
    if !state.login_csrf.valid(&headers, &form.csrf) {
        return reply.refuse(
            StatusCode::FORBIDDEN,
            "The form expired. Please sign in again.",
        );
    }
    let client = state.login_limits.client_address(peer.ip(), &headers);
    if let Err(refusal) = state.login_limits.admit(client, &form.username).await {
        tracing::debug!("AUTH: login from {client} refused: {refusal:?}");
        let (Refusal::AddressRate { retry_after } | Refusal::NameRate { retry_after }) = refusal;
        return reply.too_many(
            retry_after,
            "Too many sign-in attempts. Please wait and try again.",
        );
    }
    if let Some(wait) = state.lockout.locked_for(&form.username).await {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        return reply.too_many(
            wait,
            &format!("Too many failed attempts. Try again in {minutes} min."),
        );
    }
    let turn = match state.login_limits.hashing().try_enter() {
        Ok(turn) => turn,
        Err(wait) => {
            return reply.too_many(wait, "Sign-in is busy. Please try again in a moment.");
        }
    };
    let accounts = state.accounts.clone();
    let login = form.username.clone();
    let password = form.password;
    let checked = turn
        .run(async move { accounts.authenticate(&login, &password).await })
        .await
        .map_err(|join| AccountError::Hashing(join.to_string()))
        .and_then(|result| result);
    match checked {
        Ok(Some(user)) => {
            // login() gives the session a new id (no session fixation).
            if let Err(error) = auth.login(&user).await {
                tracing::error!("AUTH: login of {} failed: {error}", user.username);
                return reply.refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Sign-in failed. Please try again.",
                );
            }
            state.lockout.record_success(&form.username).await;
            tracing::info!("AUTH: {} signed in", user.username);
            Redirect::to(reply.next).into_response()
        }
        Ok(None) => {
            state.lockout.record_failure(&form.username).await;
            reply.refuse(StatusCode::UNAUTHORIZED, "Invalid username or password.")
        }
        Err(error) => {
            tracing::error!("AUTH: authentication failed: {error}");
            reply.refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is unavailable. Please try again.",
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
        let session = super::login_sessions::digest(&id);
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

    fn with_cookie(cookie: &HeaderValue) -> HeaderMap {
        let pair = cookie.to_str().unwrap().split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, format!("other=1; {pair}").parse().unwrap());
        headers
    }

    #[test]
    fn a_login_form_token_holds_only_with_its_own_cookie_and_key() {
        let forms = csrf::LoginCsrf::new(b"a secret of at least thirty-two bytes", true);
        let (cookie, token) = forms.issue();
        let cookie = cookie.unwrap();
        let text = cookie.to_str().unwrap();
        for attribute in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/login"] {
            assert!(text.contains(attribute), "{text}");
        }
        assert!(forms.valid(&with_cookie(&cookie), &token));
        let (other_cookie, other_token) = forms.issue();
        assert!(!forms.valid(&with_cookie(&other_cookie.unwrap()), &token));
        assert!(!forms.valid(&with_cookie(&cookie), &other_token));
        assert!(!forms.valid(&HeaderMap::new(), &token));
        assert!(!forms.valid(&with_cookie(&cookie), &token[..62]));
        let elsewhere = csrf::LoginCsrf::new(b"another secret of thirty-two bytes", true);
        assert!(
            !elsewhere.valid(&with_cookie(&cookie), &token),
            "another key"
        );
    }

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
