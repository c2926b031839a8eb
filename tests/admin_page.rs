//! The admin pages in a real headless Chromium: every action on users and
//! API tokens, each one in the audit trail; a token made in the page used
//! as curl would until it is revoked; a disabled user's login and open
//! socket ended (4401); forms without their CSRF token, bad input and the
//! guards refused with a reason on the page. In memory (the embedded
//! default) and, for tokens, the audit trail and the CLI, in PostgreSQL.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::browser::{ChromeDriver, screenshot_path, sign_in, text_of};
use common::login::{Browser, csrf_of};
use common::postgres::TestDatabase;
use common::{TestApp, WAIT, wait_for};
use fantoccini::{Client, Locator};
use futures_util::StreamExt;
use tickstock::accounts::admin::Actor;
use tickstock::config::{Config, TEST_ADMIN_PASSWORD};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const LOGIN_ENDED: u16 = 4401;
/// The promise: a socket is closed this soon after its login ends.
const CLOSED_WITHIN: Duration = Duration::from_secs(5);
const VIEWER_PASSWORD: &str = "viewer-password-1";

fn postgres_config(db: &TestDatabase) -> Config {
    let mut config = Config::for_tests();
    config.database.database_url = Some(db.url.clone().into());
    config
}

async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

async fn type_into(browser: &Client, css: &str, text: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .send_keys(text)
        .await
        .unwrap();
}

/// Waits until the text of `css` satisfies `check`; returns it.
async fn wait_until(browser: &Client, css: &str, check: impl Fn(&str) -> bool) -> String {
    wait_for(&format!("{css} to change"), WAIT, || async {
        text_of(browser, css).await.filter(|text| check(text))
    })
    .await
}

async fn screenshot(browser: &Client, name: &str) {
    let path = screenshot_path(name);
    std::fs::write(&path, browser.screenshot().await.unwrap()).unwrap();
    println!("screenshot: {}", path.display());
}

/// The audit page's lines as (actor, action, target, detail), newest first.
async fn audit_lines(browser: &Client, base_url: &str) -> Vec<[String; 4]> {
    browser
        .goto(&format!("{base_url}/admin/audit"))
        .await
        .unwrap();
    let mut lines = Vec::new();
    for row in browser
        .find_all(Locator::Css("#audit tbody tr"))
        .await
        .unwrap()
    {
        let mut line: [String; 4] = Default::default();
        for (cell, class) in line.iter_mut().zip(["actor", "action", "target", "detail"]) {
            let found = row.find(Locator::Css(&format!(".{class}"))).await;
            *cell = match found {
                Ok(element) => element.text().await.unwrap(),
                Err(_) => String::new(),
            };
        }
        lines.push(line);
    }
    lines
}

fn line(actor: &str, action: &str, target: &str) -> [String; 3] {
    [actor.into(), action.into(), target.into()]
}

fn without_detail(lines: &[[String; 4]]) -> Vec<[String; 3]> {
    lines
        .iter()
        .map(|[actor, action, target, _]| [actor.clone(), action.clone(), target.clone()])
        .collect()
}

/// A WebSocket of a browser signed in as someone, by its session cookie.
async fn socket_of(app: &TestApp, login: &Browser) -> Socket {
    let url = format!("{}/streaming/ws", app.base_url.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", login.cookie().parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    // The snapshot: the socket is served.
    let first = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
    assert!(matches!(first, Some(Ok(Message::Text(_)))), "{first:?}");
    socket
}

/// Reads until the server closes; returns the close code.
async fn close_code(socket: &mut Socket, within: Duration) -> u16 {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => return frame.code.into(),
            Ok(Some(Ok(_))) => continue,
            Ok(other) => panic!("the socket ended without a close code: {other:?}"),
            Err(_) => panic!("not closed within {within:?}"),
        }
    }
}

/// GET `/streaming/api/status` as curl does with a token.
async fn status_with(app: &TestApp, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/streaming/api/status", app.base_url))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Creates a token in the page (for `owner`, labelled `label`); the token shown.
async fn create_token_in_page(
    browser: &Client,
    base_url: &str,
    owner: &str,
    label: &str,
) -> String {
    browser
        .goto(&format!("{base_url}/admin/tokens"))
        .await
        .unwrap();
    browser
        .find(Locator::Css("#create-token select[name=owner]"))
        .await
        .unwrap()
        .select_by_value(owner)
        .await
        .unwrap();
    type_into(browser, "#create-token input[name=label]", label).await;
    click(browser, "#create-token button[type=submit]").await;
    let token = wait_until(browser, "#new-token", |t| t.starts_with("tst_")).await;
    let curl = text_of(browser, "#curl-line").await.unwrap();
    assert!(
        curl.contains(&format!("Authorization: Bearer {token}"))
            && curl.contains("/streaming/api/status"),
        "{curl}"
    );
    token
}

/// Revokes token `id` in the page.
async fn revoke_in_page(browser: &Client, base_url: &str, id: i64) {
    browser
        .goto(&format!("{base_url}/admin/tokens"))
        .await
        .unwrap();
    click(browser, &format!("#token-{id} form.revoke button")).await;
    wait_until(browser, &format!("#token-{id} .revoked"), |t| t != "—").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_action_works_in_chromium_and_is_audited_in_memory() {
    let driver = ChromeDriver::start().await;
    let app = TestApp::spawn(Config::for_tests()).await;
    let base = app.base_url.clone();
    let browser = driver.browser().await;
    sign_in(&browser, &base, "/admin/users").await;

    // Add a user.
    type_into(&browser, "#add-user input[name=username]", "viewer").await;
    type_into(&browser, "#add-user input[name=password]", VIEWER_PASSWORD).await;
    click(&browser, "#add-user button[type=submit]").await;
    let viewer = wait_for("viewer to be listed", WAIT, || async {
        app.state.accounts.find_by_login("viewer").await.ok()?
    })
    .await;
    let row = format!("#user-{}", viewer.id);
    assert_eq!(
        wait_until(&browser, &format!("{row} .username"), |_| true).await,
        "viewer"
    );

    // Change the role, twice.
    for role in ["admin", "user"] {
        browser
            .find(Locator::Css(&format!("{row} form.set-role select")))
            .await
            .unwrap()
            .select_by_value(role)
            .await
            .unwrap();
        click(&browser, &format!("{row} form.set-role button")).await;
        wait_until(&browser, &format!("{row} .role"), |t| t == role).await;
    }

    // Disable: no new login, and the open socket of the viewer closes with 4401.
    let login = Browser::new(&base);
    login.sign_in("viewer", VIEWER_PASSWORD).await;
    let mut socket = socket_of(&app, &login).await;
    click(&browser, &format!("{row} form.disable button")).await;
    wait_until(&browser, &format!("{row} .state"), |t| {
        t.starts_with("disabled since")
    })
    .await;
    assert_eq!(close_code(&mut socket, CLOSED_WITHIN).await, LOGIN_ENDED);
    let dashboard = login.get("/dashboard").await;
    assert_eq!(dashboard.status(), 303, "the session ended");
    assert_eq!(
        Browser::new(&base)
            .try_sign_in("viewer", VIEWER_PASSWORD)
            .await,
        401,
        "a disabled user cannot sign in"
    );
    screenshot(&browser, "admin_users.png").await;

    // Enable, then a new password.
    click(&browser, &format!("{row} form.enable button")).await;
    wait_until(&browser, &format!("{row} .state"), |t| t == "active").await;
    let login = Browser::new(&base);
    login.sign_in("viewer", VIEWER_PASSWORD).await;
    let mut socket = socket_of(&app, &login).await;
    click(&browser, &format!("{row} details.more summary")).await;
    type_into(
        &browser,
        &format!("{row} form.set-password input[name=password]"),
        "a-new-viewer-password",
    )
    .await;
    click(&browser, &format!("{row} form.set-password button")).await;
    assert_eq!(close_code(&mut socket, CLOSED_WITHIN).await, LOGIN_ENDED);
    let again = Browser::new(&base);
    assert_eq!(again.try_sign_in("viewer", VIEWER_PASSWORD).await, 401);
    again.sign_in("viewer", "a-new-viewer-password").await;

    // A token made in the page works as curl sends it, until revoked there.
    let token = create_token_in_page(&browser, &base, "viewer", "curl").await;
    screenshot(&browser, "admin_token_created.png").await;
    assert_eq!(status_with(&app, &token).await, 200);
    let id = app
        .state
        .accounts
        .list_tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.label == "curl")
        .expect("the token listed")
        .id;
    browser.goto(&format!("{base}/admin/tokens")).await.unwrap();
    assert!(
        text_of(&browser, "#tokens").await.unwrap().contains("curl"),
        "listed"
    );
    assert!(
        !browser.source().await.unwrap().contains(&token),
        "the token is shown only once"
    );
    revoke_in_page(&browser, &base, id).await;
    assert_eq!(status_with(&app, &token).await, 401);
    screenshot(&browser, "admin_tokens.png").await;

    // Delete.
    browser.goto(&format!("{base}/admin/users")).await.unwrap();
    click(&browser, &format!("{row} details.more summary")).await;
    click(&browser, &format!("{row} form.delete button")).await;
    wait_for("viewer to be gone", WAIT, || async {
        let users = text_of(&browser, "#users").await?;
        (!users.contains("viewer")).then_some(())
    })
    .await;
    assert!(
        app.state
            .accounts
            .find_by_login("viewer")
            .await
            .unwrap()
            .is_none()
    );

    let lines = audit_lines(&browser, &base).await;
    screenshot(&browser, "admin_audit.png").await;
    let token_target = format!("token {id} (curl)");
    assert_eq!(
        without_detail(&lines),
        [
            line("admin", "user.delete", "viewer"),
            line("admin", "token.revoke", &token_target),
            line("admin", "token.create", &token_target),
            line("admin", "user.password", "viewer"),
            line("admin", "user.enable", "viewer"),
            line("admin", "user.disable", "viewer"),
            line("admin", "user.role", "viewer"),
            line("admin", "user.role", "viewer"),
            line("admin", "user.add", "viewer"),
            line("startup", "user.add", "admin"),
        ]
    );
    assert_eq!(lines[6][3], "admin -> user");
    assert_eq!(lines[7][3], "user -> admin");
    assert_eq!(lines[2][3], "owner viewer");
    browser.close().await.unwrap();
}

#[tokio::test]
async fn forms_without_their_csrf_token_bad_input_and_the_guards_are_refused_on_the_page() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let accounts = &app.state.accounts;
    let viewer = accounts
        .admin(Actor::cli())
        .add_user(
            "viewer",
            None,
            VIEWER_PASSWORD,
            tickstock::accounts::Role::User,
        )
        .await
        .unwrap();
    let admin = accounts.find_by_login("admin").await.unwrap().unwrap();
    let page = Browser::new(&app.base_url);
    page.sign_in("admin", TEST_ADMIN_PASSWORD).await;
    let csrf = csrf_of(&page.text("/admin/users").await);
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let request = page
            .client
            .post(format!("{}{path}", app.base_url))
            .form(&form);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let refusal = |html: &str| {
        let start = html.find("id=\"refusal\">").expect("a reason on the page") + 13;
        html[start..].split('<').next().unwrap().to_owned()
    };

    // No CSRF token, or another one: nothing happens.
    let forms: [(String, Vec<(&'static str, String)>); 5] = [
        (format!("/admin/users/{}/disable", viewer.id), vec![]),
        (
            format!("/admin/users/{}/delete", viewer.id),
            vec![("csrf", "0".repeat(64))],
        ),
        (
            format!("/admin/users/{}/role", viewer.id),
            vec![("role", "admin".into())],
        ),
        (
            format!("/admin/users/{}/password", viewer.id),
            vec![("password", "another-password".into())],
        ),
        (
            "/admin/tokens".into(),
            vec![("owner", "viewer".into()), ("label", "x".into())],
        ),
    ];
    for (path, form) in forms {
        let (status, html) = post(path.clone(), form).await;
        assert_eq!(status, 403, "{path}");
        assert!(refusal(&html).contains("CSRF"), "{path}");
    }
    let (status, _) = post("/admin/tokens/1/revoke".into(), vec![]).await;
    assert_eq!(status, 403);
    let unchanged = accounts.find_by_login("viewer").await.unwrap().unwrap();
    assert_eq!(unchanged.role, tickstock::accounts::Role::User);
    assert!(!unchanged.is_disabled());
    assert!(
        accounts
            .list_tokens()
            .await
            .unwrap()
            .iter()
            .all(|t| t.username != "viewer")
    );
    assert_eq!(
        app.state.accounts.audit(None, 10).await.unwrap().len(),
        2,
        "the two users added, nothing else"
    );

    // Bad input, and the guards.
    let with_csrf = |mut form: Vec<(&'static str, String)>| {
        form.push(("csrf", csrf.clone()));
        form
    };
    let cases = [
        (
            format!("/admin/users/{}/role", viewer.id),
            with_csrf(vec![("role", "emperor".into())]),
            422,
            "no role \"emperor\"",
        ),
        (
            format!("/admin/users/{}/password", viewer.id),
            with_csrf(vec![("password", "short".into())]),
            422,
            "at least 8 characters",
        ),
        (
            "/admin/users".into(),
            with_csrf(vec![
                ("username", "VIEWER".into()),
                ("password", "long-enough-password".into()),
                ("role", "user".into()),
            ]),
            422,
            "exists already",
        ),
        (
            "/admin/tokens".into(),
            with_csrf(vec![("owner", "nobody".into()), ("label", "x".into())]),
            422,
            "no user \"nobody\"",
        ),
        (
            "/admin/users/999/enable".into(),
            with_csrf(vec![]),
            404,
            "no user with id 999",
        ),
        (
            "/admin/tokens/999/revoke".into(),
            with_csrf(vec![]),
            404,
            "no live token with id 999",
        ),
        (
            format!("/admin/users/{}/disable", admin.id),
            with_csrf(vec![]),
            409,
            "you cannot disable yourself",
        ),
        (
            format!("/admin/users/{}/delete", admin.id),
            with_csrf(vec![]),
            409,
            "you cannot delete yourself",
        ),
        (
            format!("/admin/users/{}/role", admin.id),
            with_csrf(vec![("role", "user".into())]),
            409,
            "you cannot change the role of yourself",
        ),
    ];
    for (path, form, expected, reason) in cases {
        let (status, html) = post(path.clone(), form).await;
        assert_eq!(status, expected, "{path}: {html}");
        let shown = refusal(&html);
        assert!(
            shown.contains(&reason.replace('"', "&#34;")),
            "{path}: {shown}"
        );
    }
    let me = accounts.find_by_login("admin").await.unwrap().unwrap();
    assert!(me.is_active_admin() && me.role == admin.role);
    let bad_cursor = page.get("/admin/audit?before=yesterday").await;
    assert_eq!(bad_cursor.status(), 400);
    assert!(refusal(&bad_cursor.text().await.unwrap()).contains("before"));
    assert_eq!(
        app.state.accounts.audit(None, 10).await.unwrap().len(),
        2,
        "refusals are not recorded"
    );

    // An admin's own new password: the other logins end, this one stays.
    let elsewhere = Browser::new(&app.base_url);
    elsewhere.sign_in("admin", TEST_ADMIN_PASSWORD).await;
    let (status, _) = post(
        format!("/admin/users/{}/password", admin.id),
        with_csrf(vec![("password", "a-new-admin-password".into())]),
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(
        page.get("/admin/users").await.status(),
        200,
        "still signed in"
    );
    assert_eq!(
        elsewhere.get("/admin/users").await.status(),
        303,
        "signed out"
    );
    assert_eq!(
        Browser::new(&app.base_url)
            .try_sign_in("admin", TEST_ADMIN_PASSWORD)
            .await,
        401
    );
}

#[tokio::test]
async fn the_audit_page_is_newest_first_and_pages_past_its_bound_in_memory() {
    the_audit_page_is_newest_first_and_pages_past_its_bound(Config::for_tests()).await;
}

#[tokio::test]
async fn the_audit_page_is_newest_first_and_pages_past_its_bound_in_postgres() {
    let db = TestDatabase::create().await;
    the_audit_page_is_newest_first_and_pages_past_its_bound(postgres_config(&db)).await;
}

async fn the_audit_page_is_newest_first_and_pages_past_its_bound(config: Config) {
    let app = TestApp::spawn(config).await;
    let cli = app.state.accounts.admin(Actor::cli());
    for n in 0..120 {
        cli.create_token("admin", &format!("t{n}")).await.unwrap();
    }
    let page = Browser::new(&app.base_url);
    page.sign_in("admin", TEST_ADMIN_PASSWORD).await;
    let mut path = "/admin/audit".to_owned();
    let mut labels = Vec::new();
    let mut pages = 0;
    loop {
        let html = page.text(&path).await;
        let rows = html.matches("<tr id=\"audit-").count();
        assert!(rows <= 50, "bounded: {rows}");
        labels.extend(
            html.split("class=\"target\">token ")
                .skip(1)
                .filter_map(|rest| rest.split(['(', ')']).nth(1).map(str::to_owned)),
        );
        pages += 1;
        match html.split("href=\"/admin/audit?before=").nth(1) {
            Some(rest) => path = format!("/admin/audit?before={}", rest.split('"').next().unwrap()),
            None => break,
        }
    }
    assert_eq!(pages, 3, "121 lines (with the start-up's) in pages of 50");
    let expected: Vec<String> = (0..120).rev().map(|n| format!("t{n}")).collect();
    assert_eq!(labels, expected, "newest first, none twice, none left out");
}

/// The token and audit path against PostgreSQL, with the CLI's actions in
/// the same trail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_made_and_revoked_in_the_page_and_cli_actions_are_audited_in_postgres() {
    let db = TestDatabase::create().await;
    let app = TestApp::spawn(postgres_config(&db)).await;
    let base = app.base_url.clone();

    let cli = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tickstock"))
            .args(args)
            .env("DATABASE_URL", &db.url)
            .env_remove("REDIS_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    cli(
        &["user", "add", "grafana", "--password-stdin"],
        "grafana-password\n",
    );
    cli(&["user", "role", "grafana", "admin"], "");
    cli(&["user", "disable", "grafana"], "");
    cli(&["user", "enable", "grafana"], "");
    cli(
        &["user", "password", "grafana", "--password-stdin"],
        "grafana-password-2\n",
    );

    let driver = ChromeDriver::start().await;
    let browser = driver.browser().await;
    sign_in(&browser, &base, "/admin/tokens").await;
    let token = create_token_in_page(&browser, &base, "grafana", "dashboards").await;
    assert_eq!(status_with(&app, &token).await, 200);
    let pool = db.pool().await;
    let (id, stored): (i64, String) =
        sqlx::query_as("SELECT id, token_hash FROM api_tokens WHERE label = 'dashboards'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored, tickstock::accounts::tokens::digest(&token));
    assert!(!stored.contains(&token));
    browser.goto(&format!("{base}/admin/tokens")).await.unwrap();
    wait_until(&browser, &format!("#token-{id} .last-used"), |t| {
        t != "never"
    })
    .await;
    revoke_in_page(&browser, &base, id).await;
    assert_eq!(status_with(&app, &token).await, 401);
    cli(&["user", "delete", "grafana"], "");

    let lines = audit_lines(&browser, &base).await;
    let target = format!("token {id} (dashboards)");
    assert_eq!(
        without_detail(&lines),
        [
            line("cli", "user.delete", "grafana"),
            line("admin", "token.revoke", &target),
            line("admin", "token.create", &target),
            line("cli", "user.password", "grafana"),
            line("cli", "user.enable", "grafana"),
            line("cli", "user.disable", "grafana"),
            line("cli", "user.role", "grafana"),
            line("cli", "user.add", "grafana"),
            line("startup", "user.add", "admin"),
        ]
    );
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 9);
    screenshot(&browser, "admin_audit_postgres.png").await;
    browser.close().await.unwrap();
}
