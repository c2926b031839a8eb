//! Login, logout, lockout, CSRF, roles on every route of the route table,
//! API tokens, and hashes carried over from the original application.

mod common;

use common::TestApp;
use common::postgres::TestDatabase;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use tickstock::accounts::Role;
use tickstock::config::{Config, TEST_ADMIN_PASSWORD};
use tickstock::web::access::{Access, Surface};
use tickstock::web::routes;

/// A browser: keeps cookies, does not follow redirects (so they can be checked).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn csrf_of(html: &str) -> String {
    let start =
        html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[start..start + 64].to_owned()
}

async fn login_form(app: &TestApp, client: &reqwest::Client) -> String {
    let html = client
        .get(format!("{}/login", app.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    csrf_of(&html)
}

async fn sign_in(
    app: &TestApp,
    client: &reqwest::Client,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let csrf = login_form(app, client).await;
    client
        .post(format!("{}/login", app.base_url))
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf", &csrf),
            ("next", "/dashboard"),
        ])
        .send()
        .await
        .unwrap()
}

/// The `Set-Cookie` header of the response that sets cookie `name`.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&prefix))
        .map(str::to_owned)
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    set_cookie(response, "tickstock_session")
}

fn login_form_cookie(response: &reqwest::Response) -> Option<String> {
    set_cookie(response, "tickstock_login_csrf")
}

#[tokio::test]
async fn login_rotates_the_session_and_logout_ends_it_in_memory() {
    login_rotates_the_session_and_logout_ends_it(TestApp::spawn(Config::for_tests()).await).await;
}

#[tokio::test]
async fn login_rotates_the_session_and_logout_ends_it_in_postgres() {
    let db = TestDatabase::create().await;
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.database.database_url = Some(db.url.clone().into());
        config
    })
    .await;
    login_rotates_the_session_and_logout_ends_it(app).await;
}

async fn login_rotates_the_session_and_logout_ends_it(app: TestApp) {
    let client = browser();
    let before = client
        .get(format!("{}/login", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        session_cookie(&before),
        None,
        "an anonymous visit gets no session"
    );
    let form_cookie = login_form_cookie(&before).expect("the login form's CSRF cookie");
    assert!(form_cookie.contains("HttpOnly") && form_cookie.contains("SameSite=Strict"));
    assert!(!form_cookie.contains("Secure"));
    let csrf = csrf_of(&before.text().await.unwrap());

    let response = client
        .post(format!("{}/login", app.base_url))
        .form(&[
            ("username", "ADMIN"),
            ("password", TEST_ADMIN_PASSWORD),
            ("csrf", &csrf),
            ("next", "/dashboard?tab=2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/dashboard?tab=2");
    let signed_in_cookie = session_cookie(&response).expect("a session from the login on");
    assert!(signed_in_cookie.contains("HttpOnly") && signed_in_cookie.contains("SameSite=Lax"));

    let dashboard = client
        .get(format!("{}/dashboard", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), StatusCode::OK);
    let html = dashboard.text().await.unwrap();
    assert!(html.contains("admin"));
    let status = client
        .get(format!("{}/streaming/api/status", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.status(),
        StatusCode::OK,
        "the session cookie works for the API"
    );

    let logout = client
        .post(format!("{}/logout", app.base_url))
        .form(&[("csrf", csrf_of(&html).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    let after = client
        .get(format!("{}/dashboard", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(after.headers()["location"], "/login?next=/dashboard");
}

#[tokio::test]
async fn the_email_works_as_the_username_and_secure_cookies_can_be_required() {
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.login.cookie_secure = true;
        config
    })
    .await;
    app.state
        .accounts
        .create_user(
            "dana",
            Some("Dana@Example.com"),
            "dana-password",
            Role::User,
        )
        .await
        .unwrap();
    let client = browser();
    let response = sign_in(&app, &client, "dana@example.com", "dana-password").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(session_cookie(&response).unwrap().contains("Secure"));
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_look_the_same() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let wrong = sign_in(&app, &browser(), "admin", "not-the-password").await;
    let unknown = sign_in(&app, &browser(), "nobody", "not-the-password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let message = |html: String| {
        html.lines()
            .find(|l| l.contains("class=\"error\""))
            .map(str::to_owned)
    };
    assert_eq!(
        message(wrong.text().await.unwrap()),
        message(unknown.text().await.unwrap())
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_name_whether_or_not_it_exists() {
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.login.login_max_failures = 3;
        config
    })
    .await;
    for name in ["admin", "ghost"] {
        for _ in 0..3 {
            assert_eq!(
                sign_in(&app, &browser(), name, "bad-password")
                    .await
                    .status(),
                StatusCode::UNAUTHORIZED
            );
        }
        let locked = sign_in(&app, &browser(), name, "bad-password").await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "{name}");
        let wait: u64 = locked.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((840..=900).contains(&wait), "{name}: Retry-After {wait}");
        assert!(
            locked
                .text()
                .await
                .unwrap()
                .contains("Too many failed attempts")
        );
    }
    // Even the right password waits out the lock.
    let right = sign_in(&app, &browser(), "admin", TEST_ADMIN_PASSWORD).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn forms_without_their_csrf_token_are_refused() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let client = browser();
    let issued = login_form(&app, &client).await;
    // Another form's token is valid, but not with this browser's cookie.
    let other = login_form(&app, &browser()).await;
    for csrf in [
        "",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "not hex",
        other.as_str(),
    ] {
        let response = client
            .post(format!("{}/login", app.base_url))
            .form(&[
                ("username", "admin"),
                ("password", TEST_ADMIN_PASSWORD),
                ("csrf", csrf),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "csrf {csrf:?}");
    }
    // The right token without the cookie it belongs to.
    let cookieless = browser()
        .post(format!("{}/login", app.base_url))
        .form(&[
            ("username", "admin"),
            ("password", TEST_ADMIN_PASSWORD),
            ("csrf", issued.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cookieless.status(), StatusCode::FORBIDDEN);
    // A cross-site logout does nothing.
    assert_eq!(
        sign_in(&app, &client, "admin", TEST_ADMIN_PASSWORD)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let forged = client
        .post(format!("{}/logout", app.base_url))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let still = client
        .get(format!("{}/dashboard", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status(), StatusCode::OK);
}

fn concrete(path: &str) -> String {
    path.replace("{symbol}", "AAPL")
        .replace("{file}", "style.css")
        .replace("{id}", "1")
}

#[tokio::test]
async fn every_route_of_the_table_answers_401_403_or_200_by_role_in_memory() {
    every_route_of_the_table_answers_401_403_or_200_by_role(
        TestApp::spawn(Config::for_tests()).await,
    )
    .await;
}

#[tokio::test]
async fn every_route_of_the_table_answers_401_403_or_200_by_role_in_postgres() {
    let db = TestDatabase::create().await;
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.database.database_url = Some(db.url.clone().into());
        config
    })
    .await;
    every_route_of_the_table_answers_401_403_or_200_by_role(app).await;
}

async fn every_route_of_the_table_answers_401_403_or_200_by_role(app: TestApp) {
    app.state
        .accounts
        .create_user("viewer", None, "viewer-password", Role::User)
        .await
        .unwrap();
    let (_, user_token) = app
        .state
        .accounts
        .create_token("viewer", "tests")
        .await
        .unwrap();
    let client = browser();
    let mut checked = 0;
    for route in routes::table() {
        for path in routes::paths(&route) {
            let url = format!("{}{}", app.base_url, concrete(&path));
            let call = |token: Option<&str>| {
                let mut request = client.request(route.method.clone(), &url);
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                request.send()
            };
            let anonymous = call(None).await.unwrap();
            let as_user = call(Some(&user_token)).await.unwrap().status();
            let as_admin = call(Some(&app.admin_token)).await.unwrap().status();
            let what = format!("{} {path}", route.method);
            match route.access {
                Access::Public => {
                    assert_ne!(anonymous.status(), StatusCode::UNAUTHORIZED, "{what}")
                }
                _ => match route.surface {
                    Surface::Api => {
                        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{what}");
                        let body: serde_json::Value = anonymous.json().await.unwrap();
                        assert_eq!(body["error"], "login required", "{what}");
                    }
                    Surface::Page => {
                        assert_eq!(anonymous.status(), StatusCode::SEE_OTHER, "{what}");
                        let location = anonymous.headers()["location"].to_str().unwrap().to_owned();
                        assert!(location.starts_with("/login?next="), "{what}: {location}");
                    }
                },
            }
            // Let through means neither 401 nor 403 (the WebSocket route then
            // answers 400 to a GET that is no upgrade).
            let let_through = |code: StatusCode| {
                code != StatusCode::UNAUTHORIZED && code != StatusCode::FORBIDDEN
            };
            match route.access {
                Access::Public => assert!(let_through(as_user) && let_through(as_admin), "{what}"),
                Access::Admin => assert_eq!(as_user, StatusCode::FORBIDDEN, "{what}"),
                Access::User => assert!(let_through(as_user), "{what}: {as_user}"),
            }
            assert!(let_through(as_admin), "{what}: {as_admin}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} routes walked");
}

#[tokio::test]
async fn bearer_tokens_work_until_revoked_and_only_their_hash_is_stored_in_memory() {
    bearer_tokens_work_until_revoked_and_only_their_hash_is_stored(
        TestApp::spawn(Config::for_tests()).await,
    )
    .await;
}

#[tokio::test]
async fn bearer_tokens_work_until_revoked_and_only_their_hash_is_stored_in_postgres() {
    let db = TestDatabase::create().await;
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.database.database_url = Some(db.url.clone().into());
        config
    })
    .await;
    bearer_tokens_work_until_revoked_and_only_their_hash_is_stored(app).await;
}

async fn bearer_tokens_work_until_revoked_and_only_their_hash_is_stored(app: TestApp) {
    let (info, token) = app
        .state
        .accounts
        .create_token("admin", "curl")
        .await
        .unwrap();
    assert!(token.starts_with("tst_") && token.len() > 60);
    assert_eq!(
        app.get_with("/streaming/api/status", Some(&token)).await.0,
        StatusCode::OK
    );
    let (code, body) = app
        .get_with("/streaming/api/status", Some("tst_not-a-token"))
        .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid or revoked API token");

    let listed = app.state.accounts.list_tokens().await.unwrap();
    let listed = serde_json::to_string(&listed).unwrap();
    assert!(
        !listed.contains(&token[4..]),
        "the token itself is never listed"
    );

    assert!(app.state.accounts.revoke_token(info.id).await.unwrap());
    assert_eq!(
        app.get_with("/streaming/api/status", Some(&token)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        !app.state.accounts.revoke_token(info.id).await.unwrap(),
        "revoking twice"
    );
}

/// Made with Python's hashlib exactly as werkzeug does (password "correct horse").
const WERKZEUG: &str = "pbkdf2:sha256:600000$Xq3lN0wQ8sWmZr1T$0307c30f597314246920447d7a68b323d6469f11ee04fd9f65b3cb56a5cf1728";

#[tokio::test]
async fn a_werkzeug_hash_signs_in_once_and_is_upgraded_to_argon2id_in_memory() {
    a_werkzeug_hash_signs_in_once_and_is_upgraded_to_argon2id(
        TestApp::spawn(Config::for_tests()).await,
    )
    .await;
}

#[tokio::test]
async fn a_werkzeug_hash_signs_in_once_and_is_upgraded_to_argon2id_in_postgres() {
    let db = TestDatabase::create().await;
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.database.database_url = Some(db.url.clone().into());
        config
    })
    .await;
    a_werkzeug_hash_signs_in_once_and_is_upgraded_to_argon2id(app).await;
}

async fn a_werkzeug_hash_signs_in_once_and_is_upgraded_to_argon2id(app: TestApp) {
    app.state
        .accounts
        .import_user("legacy", WERKZEUG, Role::User)
        .await
        .unwrap();
    let response = sign_in(&app, &browser(), "legacy", "correct horse").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let user = app
        .state
        .accounts
        .find_by_login("legacy")
        .await
        .unwrap()
        .unwrap();
    assert!(
        user.password_hash.starts_with("$argon2id$"),
        "{}",
        &user.password_hash[..10]
    );
    // The upgraded hash still takes the same password.
    assert_eq!(
        sign_in(&app, &browser(), "legacy", "correct horse")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn anonymous_login_pages_store_no_session_and_the_form_still_signs_in() {
    let db = TestDatabase::create().await;
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.database.database_url = Some(db.url.clone().into());
        config
    })
    .await;
    let pool = db.pool().await;
    let sessions = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM tower_sessions.session")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let visits = 50;
    for _ in 0..visits {
        let page = browser()
            .get(format!("{}/login?next=/dashboard", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(session_cookie(&page), None);
    }
    // A refused attempt stores nothing either.
    let refused = sign_in(&app, &browser(), "admin", "not-the-password").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        sessions().await,
        0,
        "{visits} anonymous visits and a failed login"
    );

    let client = browser();
    let signed_in = sign_in(&app, &client, "admin", TEST_ADMIN_PASSWORD).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(sessions().await, 1, "a session from the login on");
    let dashboard = client
        .get(format!("{}/dashboard", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), StatusCode::OK);
}

/// Posts a login form with a valid CSRF pair; `accept` names the wanted answer.
async fn post_login(
    app: &TestApp,
    fields: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let client = browser();
    let csrf = login_form(app, &client).await;
    let mut request = client
        .post(format!("{}/login", app.base_url))
        .form(&[fields, &[("csrf", csrf.as_str())]].concat());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn overlong_names_passwords_and_bodies_are_refused_before_any_check() {
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.login.login_max_failures = 1;
        config
    })
    .await;
    let longest = "p".repeat(1_024);
    let at_limit = post_login(&app, &[("username", "admin"), ("password", &longest)], &[]).await;
    assert_eq!(
        at_limit.status(),
        StatusCode::UNAUTHORIZED,
        "1,024 bytes are checked"
    );
    // The failure above locked `admin`: names beyond the limit are refused
    // before the lockout is even asked, passwords beyond it before hashing.
    for (name, password) in [
        ("admin", "p".repeat(1_025)),
        ("admin", "é".repeat(513)),
        (&*"n".repeat(257), "short".to_owned()),
    ] {
        let response = post_login(
            &app,
            &[("username", name), ("password", &password)],
            &[("accept", "application/json")],
        )
        .await;
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{} bytes",
            password.len()
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().unwrap().contains("too long"),
            "{body}"
        );
    }
    let form_page = post_login(
        &app,
        &[("username", "admin"), ("password", &"p".repeat(2_000))],
        &[],
    )
    .await;
    assert_eq!(form_page.status(), StatusCode::BAD_REQUEST);
    assert!(form_page.text().await.unwrap().contains("too long"));
    let huge = post_login(
        &app,
        &[("username", "admin"), ("password", &"p".repeat(1 << 20))],
        &[],
    )
    .await;
    assert_eq!(
        huge.status(),
        StatusCode::PAYLOAD_TOO_LARGE,
        "a 1 MB form is not read"
    );
}

#[tokio::test]
async fn each_client_address_has_its_rate_and_forwarded_addresses_count_only_from_trusted_proxies()
{
    let limited = |trusted: Option<&str>| {
        let mut config = Config::for_tests();
        config.login.login_rate_per_address = 3.try_into().unwrap();
        config.login.trusted_proxies = trusted.map(|t| t.parse().unwrap());
        config
    };
    let attempt = |app: &TestApp, name: &'static str, forwarded: &'static str| {
        let app_url = app.base_url.clone();
        async move {
            let client = browser();
            let html = client
                .get(format!("{app_url}/login"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            client
                .post(format!("{app_url}/login"))
                .header("x-forwarded-for", forwarded)
                .header("accept", "application/json")
                .form(&[
                    ("username", name),
                    ("password", "wrong"),
                    ("csrf", &csrf_of(&html)),
                ])
                .send()
                .await
                .unwrap()
        }
    };

    // No trusted proxy: every claimed address is the one socket peer.
    let direct = TestApp::spawn(limited(None)).await;
    for (name, forwarded) in [
        ("a", "198.51.100.1"),
        ("b", "198.51.100.2"),
        ("c", "198.51.100.3"),
    ] {
        assert_eq!(
            attempt(&direct, name, forwarded).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let refused = attempt(&direct, "d", "198.51.100.4").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["retry_after_seconds"], wait);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Too many sign-in attempts")
    );

    // Behind a trusted proxy each forwarded client has its own rate.
    let proxied = TestApp::spawn(limited(Some("127.0.0.1"))).await;
    for _ in 0..3 {
        assert_eq!(
            attempt(&proxied, "a", "198.51.100.1").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt(&proxied, "b", "198.51.100.1").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempt(&proxied, "b", "198.51.100.2").await.status(),
        StatusCode::UNAUTHORIZED,
        "another client behind the same proxy"
    );
}

#[tokio::test]
async fn each_name_has_its_rate_from_every_address() {
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.login.login_rate_per_name = 2.try_into().unwrap();
        config.login.trusted_proxies = Some("127.0.0.0/8".parse().unwrap());
        config
    })
    .await;
    for (i, forwarded) in ["198.51.100.1", "198.51.100.2"].into_iter().enumerate() {
        let response = post_login(
            &app,
            &[("username", "Dana"), ("password", "wrong")],
            &[("x-forwarded-for", forwarded)],
        )
        .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let refused = post_login(
        &app,
        &[("username", "dana "), ("password", "wrong")],
        &[("x-forwarded-for", "198.51.100.3")],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("Too many sign-in attempts"),
        "the form gets the login page"
    );
    assert!(page.contains("name=\"csrf\""), "with a fresh form");
}
