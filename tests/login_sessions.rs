//! Who is logged in stays right through faults: a PostgreSQL outage (through
//! a TCP proxy the test cuts) logs nobody out and fails what it must with
//! 503 JSON at once; without PostgreSQL, Redis keeps the login sessions
//! across a restart and for another replica.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::login::Browser;
use common::postgres::TestDatabase;
use common::proxy::TcpProxy;
use common::{RedisServer, TestApp, WAIT, wait_for};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tickstock::config::{Config, TEST_ADMIN_PASSWORD};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SECRET: &str = "a-session-secret-of-at-least-32-characters";
/// "At once": no request waits out the database's connect timeout (5 s).
const AT_ONCE: Duration = Duration::from_secs(2);

async fn app_on(database_url: String) -> TestApp {
    TestApp::spawn({
        let mut config = Config::for_tests();
        config.database.database_url = Some(database_url.into());
        config.login.session_secret = Some(SECRET.into());
        config
    })
    .await
}

/// GET `path` as `browser`, or with `token`; the status, the body as JSON
/// (`Null` when it is not JSON) and how long it took.
async fn timed_get(browser: &Browser, path: &str, token: Option<&str>) -> (u16, Value, Duration) {
    let started = Instant::now();
    let mut request = browser.client.get(format!("{}{path}", browser.base_url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("a response");
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("a body");
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, json, started.elapsed())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(browser: &Browser) -> Socket {
    let url = format!(
        "{}/streaming/ws",
        browser.base_url.replace("http://", "ws://")
    );
    let mut request = url.into_client_request().unwrap();
    let cookie = browser.cookie().parse().unwrap();
    request.headers_mut().insert("cookie", cookie);
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// Reads until a message of `event` arrives, skipping others.
async fn until_event(socket: &mut Socket, event: &str) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame");
        let Some(Ok(Message::Text(text))) = frame else {
            assert!(matches!(frame, Some(Ok(_))), "socket ended: {frame:?}");
            continue;
        };
        let messages = match serde_json::from_str::<Value>(&text).unwrap() {
            Value::Array(messages) => messages,
            message => vec![message],
        };
        if let Some(found) = messages.into_iter().find(|m| m["event"] == event) {
            return found;
        }
    }
}

#[tokio::test]
async fn a_database_outage_logs_nobody_out_and_what_fails_answers_503_json_at_once() {
    let db = TestDatabase::create().await;
    let proxy = TcpProxy::start(db.server_address()).await;
    let app = app_on(db.url_via(proxy.port)).await;
    let browser = Browser::new(&app.base_url);
    browser.sign_in("admin", TEST_ADMIN_PASSWORD).await;
    let token = app.admin_token.clone();
    for credential in [None, Some(token.as_str())] {
        let (status, _, _) = timed_get(&browser, "/streaming/api/status", credential).await;
        assert_eq!(status, 200);
    }
    let mut open_socket = socket(&browser).await;
    until_event(&mut open_socket, "snapshot").await;

    proxy.cut();
    // Past the caches' freshness: each lookup now finds the database gone.
    let outage = Instant::now();
    let mut requests = 0;
    let mut slowest = Duration::ZERO;
    while outage.elapsed() < Duration::from_secs(5) {
        for (path, credential) in [
            ("/streaming/api/status", None),
            ("/streaming/api/status", Some(token.as_str())),
            ("/dashboard", None),
        ] {
            let started = Instant::now();
            let response = match credential {
                Some(token) => browser
                    .client
                    .get(format!("{}{path}", app.base_url))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap(),
                None => browser.get(path).await,
            };
            assert_eq!(
                response.status(),
                200,
                "{path} {credential:?} during the outage"
            );
            let took = started.elapsed();
            assert!(took < AT_ONCE, "{path} took {took:?}");
            slowest = slowest.max(took);
            requests += 1;
        }
    }
    assert!(requests > 3);
    println!("during the outage: {requests} logged-in requests, the slowest {slowest:?}");
    // A new socket opens, and the open one still streams live data.
    let mut new_socket = socket(&browser).await;
    until_event(&mut new_socket, "snapshot").await;
    let pattern = json!({"type": "streaming_pattern", "detection": {"symbol": "OUTG",
        "pattern_type": "Doji", "confidence": 0.9, "timestamp": chrono::Utc::now().to_rfc3339()}});
    app.state
        .bus
        .publish(
            "tickstock:patterns:streaming",
            Bytes::from(pattern.to_string()),
        )
        .await
        .unwrap();
    for socket in [&mut open_socket, &mut new_socket] {
        let event = until_event(socket, "streaming_pattern").await;
        assert_eq!(event["data"]["symbol"], "OUTG");
    }

    // A replica that never saw this login cannot know it while the database
    // is away: it says so with 503 JSON, at once, for the cookie and the token.
    let replica_proxy = TcpProxy::start(db.server_address()).await;
    let replica = app_on(db.url_via(replica_proxy.port)).await;
    replica_proxy.cut();
    let stranger = browser.same_cookies_to(&replica.base_url);
    for credential in [None, Some(token.as_str())] {
        for _ in 0..3 {
            let (status, body, took) =
                timed_get(&stranger, "/streaming/api/status", credential).await;
            assert_eq!(status, 503, "{credential:?}: {body}");
            assert_eq!(body["error"], "accounts are unavailable", "{credential:?}");
            assert!(took < AT_ONCE, "{credential:?} took {took:?}");
            println!("an unseen login during the outage: {status} in {took:?}");
        }
    }
    replica_proxy.restore();
    wait_for("the replica to know the login", WAIT, || async {
        let (status, _, _) = timed_get(&stranger, "/streaming/api/status", None).await;
        (status == 200).then_some(())
    })
    .await;
    proxy.restore();
}

#[tokio::test]
async fn without_a_database_redis_keeps_logins_across_a_restart_and_for_other_replicas() {
    let redis = RedisServer::start().await;
    let config = || {
        let mut config = Config::for_tests();
        config.bus.redis_url = Some(redis.url().into());
        config.login.session_secret = Some(SECRET.into());
        config
    };
    let first = TestApp::spawn(config()).await;
    let browser = Browser::new(&first.base_url);
    browser.sign_in("admin", TEST_ADMIN_PASSWORD).await;
    assert_eq!(browser.get("/streaming/api/status").await.status(), 200);

    let replica = TestApp::spawn(config()).await;
    let on_replica = browser.same_cookies_to(&replica.base_url);
    assert_eq!(on_replica.get("/streaming/api/status").await.status(), 200);

    drop(first);
    let restarted = TestApp::spawn(config()).await;
    let after_restart = browser.same_cookies_to(&restarted.base_url);
    assert_eq!(
        after_restart.get("/streaming/api/status").await.status(),
        200
    );

    // A logout through one ends the login on the others.
    on_replica.logout().await;
    wait_for(
        "the logout to reach the restarted replica",
        Duration::from_secs(5),
        || async {
            let status = after_restart.get("/streaming/api/status").await.status();
            (status == 401).then_some(())
        },
    )
    .await;
}
