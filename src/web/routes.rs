//! Every route, with who may use it, in one table. The router is built from
//! it, and the access tests walk it: a route cannot be added without saying
//! who may call it.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, get, post};

use super::access::{Access, Surface};
use super::{
    AppState, admin, api, auth, history, inspector, limits, market, openapi, pages, probes, ws,
};

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub surface: Surface,
    handler: MethodRouter<AppState>,
}

/// The seed spells the API prefix both ways; both are served.
pub const API_PREFIX: &str = "/streaming/api";
pub const API_ALIAS: &str = "/api/streaming";

fn route(
    method: Method,
    path: &'static str,
    access: Access,
    surface: Surface,
    handler: MethodRouter<AppState>,
) -> Route {
    Route {
        method,
        path,
        access,
        surface,
        handler,
    }
}

pub fn table() -> Vec<Route> {
    use Access::*;
    use Surface::*;
    vec![
        route(Method::GET, "/", Public, Page, get(pages::root)),
        route(Method::GET, "/login", Public, Page, get(auth::login_page)),
        route(
            Method::POST,
            "/login",
            Public,
            Page,
            post(auth::login).layer(DefaultBodyLimit::max(limits::MAX_LOGIN_BODY_BYTES)),
        ),
        route(Method::POST, "/logout", Public, Page, post(auth::logout)),
        route(
            Method::GET,
            "/static/{file}",
            Public,
            Page,
            get(pages::asset),
        ),
        route(Method::GET, "/healthz", Public, Api, get(probes::healthz)),
        route(Method::GET, "/readyz", Public, Api, get(probes::readyz)),
        route(Method::GET, "/metrics", Public, Api, get(probes::metrics)),
        route(Method::GET, "/dashboard", User, Page, get(pages::dashboard)),
        route(Method::GET, "/history", User, Page, get(history::page)),
        route(Method::GET, "/admin/users", Admin, Page, get(admin::users)),
        route(
            Method::POST,
            "/admin/users",
            Admin,
            Page,
            post(admin::add_user),
        ),
        route(
            Method::POST,
            "/admin/users/{id}/disable",
            Admin,
            Page,
            post(admin::disable_user),
        ),
        route(
            Method::POST,
            "/admin/users/{id}/enable",
            Admin,
            Page,
            post(admin::enable_user),
        ),
        route(
            Method::POST,
            "/admin/users/{id}/delete",
            Admin,
            Page,
            post(admin::delete_user),
        ),
        route(
            Method::POST,
            "/admin/users/{id}/role",
            Admin,
            Page,
            post(admin::set_role),
        ),
        route(
            Method::POST,
            "/admin/users/{id}/password",
            Admin,
            Page,
            post(admin::set_password),
        ),
        route(
            Method::GET,
            "/admin/tokens",
            Admin,
            Page,
            get(admin::tokens),
        ),
        route(
            Method::POST,
            "/admin/tokens",
            Admin,
            Page,
            post(admin::create_token),
        ),
        route(
            Method::POST,
            "/admin/tokens/{id}/revoke",
            Admin,
            Page,
            post(admin::revoke_token),
        ),
        route(Method::GET, "/admin/audit", Admin, Page, get(admin::audit)),
        route(
            Method::GET,
            "/admin/sessions",
            Admin,
            Page,
            get(admin::sessions),
        ),
        route(
            Method::GET,
            "/admin/inspector",
            Admin,
            Page,
            get(inspector::page),
        ),
        route(Method::GET, "/streaming/ws", User, Api, get(ws::upgrade)),
        route(
            Method::GET,
            "/streaming/api/patterns/{symbol}",
            User,
            Api,
            get(history::patterns),
        ),
        route(
            Method::GET,
            "/streaming/api/patterns",
            User,
            Api,
            get(history::all_patterns),
        ),
        route(
            Method::GET,
            "/streaming/api/indicators/{symbol}",
            User,
            Api,
            get(history::indicators),
        ),
        route(
            Method::GET,
            "/streaming/api/alerts",
            User,
            Api,
            get(history::alerts),
        ),
        route(
            Method::GET,
            "/streaming/api/health/history",
            User,
            Api,
            get(history::health_history),
        ),
        route(
            Method::GET,
            "/streaming/api/sessions",
            Admin,
            Api,
            get(history::sessions),
        ),
        route(
            Method::GET,
            "/streaming/api/verify",
            Admin,
            Api,
            get(inspector::verify),
        ),
        // Public: the API's shape, no data (see web/openapi.rs).
        route(
            Method::GET,
            "/streaming/api/openapi.json",
            Public,
            Api,
            get(openapi::openapi),
        ),
        route(
            Method::GET,
            "/streaming/api/status",
            User,
            Api,
            get(api::status),
        ),
        route(
            Method::GET,
            "/streaming/api/market",
            User,
            Api,
            get(market::calendar),
        ),
        route(
            Method::GET,
            "/streaming/api/market/symbols",
            User,
            Api,
            get(market::symbols),
        ),
        route(
            Method::GET,
            "/streaming/api/market/candles/{symbol}",
            User,
            Api,
            get(market::candles),
        ),
    ]
}

/// The paths a route answers on: API routes also under the alias prefix.
pub fn paths(route: &Route) -> Vec<String> {
    match route.path.strip_prefix(API_PREFIX) {
        Some(rest) => vec![route.path.to_owned(), format!("{API_ALIAS}{rest}")],
        None => vec![route.path.to_owned()],
    }
}

pub fn build(state: &AppState) -> Router<AppState> {
    let mut public = Router::new();
    let mut user_api = Router::new();
    let mut admin_api = Router::new();
    let mut user_page = Router::new();
    let mut admin_page = Router::new();
    for route in table() {
        let group = match (route.access, route.surface) {
            (Access::Public, _) => &mut public,
            (Access::User, Surface::Api) => &mut user_api,
            (Access::Admin, Surface::Api) => &mut admin_api,
            (Access::User, Surface::Page) => &mut user_page,
            (Access::Admin, Surface::Page) => &mut admin_page,
        };
        for path in paths(&route) {
            *group = std::mem::take(group).route(&path, route.handler.clone());
        }
    }
    public
        .merge(protect(user_api, state, auth::require::<false, false>))
        .merge(protect(admin_api, state, auth::require::<true, false>))
        .merge(protect(user_page, state, auth::require::<false, true>))
        .merge(protect(admin_page, state, auth::require::<true, true>))
}

/// Puts `guard` in front of every route of `routes`, and the request log's
/// naming of the user it lets in behind it (axum refuses a layer over no
/// routes, so an empty group stays as it is).
pub fn protect<F, Fut>(routes: Router<AppState>, state: &AppState, guard: F) -> Router<AppState>
where
    F: Fn(
            axum::extract::State<AppState>,
            auth::AuthSession,
            axum::extract::Request,
            axum::middleware::Next,
        ) -> Fut
        + Clone
        + Send
        + Sync
        + 'static,
    Fut: std::future::Future<Output = axum::response::Response> + Send + 'static,
{
    if routes.has_routes() {
        routes
            .route_layer(axum::middleware::from_fn(super::request_log::name_user))
            .route_layer(from_fn_with_state(state.clone(), guard))
    } else {
        routes
    }
}
