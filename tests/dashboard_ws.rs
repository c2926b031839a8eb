//! `/streaming/ws` with a real WebSocket client: login, the snapshot, live
//! events in order, resuming after a reconnect, a slow client dropped with a
//! close code while a fast one keeps receiving everything, the Origin check,
//! and sockets closed with 4401 when their login ends.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::login::Browser;
use common::postgres::TestDatabase;
use common::{TestApp, WAIT, wait_for};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tickstock::config::Config;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error, Message};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, token: Option<&str>, query: &str) -> Result<Socket, Error> {
    let headers = token.map(|token| ("authorization", format!("Bearer {token}")));
    connect_with(app, headers.as_slice(), query).await
}

async fn connect_with(
    app: &TestApp,
    headers: &[(&'static str, String)],
    query: &str,
) -> Result<Socket, Error> {
    let url = format!(
        "{}/streaming/ws{query}",
        app.base_url.replace("http://", "ws://")
    );
    let mut request = url.into_client_request()?;
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

/// A client on a thin link: a small, fixed receive buffer (no autotuning).
async fn connect_thin(app: &TestApp) -> Socket {
    let url = format!("{}/streaming/ws", app.base_url.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    let auth = format!("Bearer {}", app.admin_token);
    request
        .headers_mut()
        .insert("authorization", auth.parse().unwrap());
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(64 * 1024).unwrap();
    let address = app.base_url.trim_start_matches("http://").parse().unwrap();
    let stream = socket.connect(address).await.unwrap();
    let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap()
        .0
}

/// The next messages of a frame (a frame is one message or an array of them).
async fn next_messages(socket: &mut Socket) -> Vec<Value> {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame in time");
        match frame {
            Some(Ok(Message::Text(text))) => {
                return match serde_json::from_str::<Value>(&text).expect("JSON") {
                    Value::Array(messages) => messages,
                    message => vec![message],
                };
            }
            Some(Ok(_)) => continue,
            other => panic!("socket ended: {other:?}"),
        }
    }
}

/// Reads until a message of `event` arrives; returns it (and skips others).
async fn until_event(socket: &mut Socket, event: &str) -> Value {
    loop {
        for message in next_messages(socket).await {
            if message["event"] == event {
                return message;
            }
        }
    }
}

async fn publish(app: &TestApp, channel: &str, message: Value) {
    app.state
        .bus
        .publish(channel, Bytes::from(message.to_string()))
        .await
        .unwrap();
}

/// A distinct detection: `second` seconds after 10:00 on 2025-10-05.
fn pattern(symbol: &str, second: u32, padding: usize) -> Value {
    let base = chrono::DateTime::parse_from_rfc3339("2025-10-05T10:00:00Z").unwrap();
    let timestamp = base + chrono::Duration::seconds(i64::from(second));
    json!({"type": "streaming_pattern", "detection": {"symbol": symbol, "pattern_type": "Doji", "confidence": 0.9,
        "timestamp": timestamp.to_rfc3339(), "note": "x".repeat(padding)}})
}

#[tokio::test]
async fn login_is_required() {
    let app = TestApp::spawn(Config::for_tests()).await;
    match connect(&app, None, "").await {
        Err(Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("connected without a login: {:?}", other.map(|_| ())),
    }
    match connect(&app, Some("tst_wrong"), "").await {
        Err(Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("connected with a wrong token: {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn a_snapshot_then_live_events_in_order() {
    let app = TestApp::spawn(Config::for_tests()).await;
    publish(
        &app,
        "tickstock:streaming:health",
        json!({"health": {"session_id": "s-1", "status": "healthy", "ticks_per_second": 9.5}}),
    )
    .await;
    app.wait_messages("tickstock:streaming:health", 1).await;

    let mut socket = connect(&app, Some(&app.admin_token), "").await.unwrap();
    let snapshot = next_messages(&mut socket).await.remove(0);
    assert_eq!(snapshot["event"], "snapshot");
    assert_eq!(snapshot["data"]["status"]["status"], "online");
    assert_eq!(snapshot["data"]["status"]["session"]["session_id"], "s-1");
    assert_eq!(
        snapshot["data"]["status"]["health"]["data_flow"]["ticks_per_second"],
        9.5
    );
    let mut last_seq = snapshot["seq"].as_u64().unwrap();

    publish(&app, "tickstock:patterns:streaming", pattern("NVDA", 1, 0)).await;
    publish(
        &app,
        "tickstock:indicators:streaming",
        json!({"symbol": "NVDA", "indicator": "RSI", "value": 71}),
    )
    .await;
    publish(
        &app,
        "tickstock:alerts:indicators",
        json!({"symbol": "NVDA", "alert_type": "RSI_OVERBOUGHT"}),
    )
    .await;
    publish(
        &app,
        "tickstock:alerts:critical",
        json!({"alert": {"severity": "critical", "message": "down", "component": "x"}}),
    )
    .await;
    publish(
        &app,
        "tickstock:streaming:session_stopped",
        json!({"session": {"session_id": "s-1"}}),
    )
    .await;

    let mut seen = Vec::new();
    while seen.len() < 5 {
        for message in next_messages(&mut socket).await {
            let seq = message["seq"].as_u64().unwrap();
            assert_eq!(seq, last_seq + 1, "seq increases by one");
            last_seq = seq;
            if message["event"] != "streaming_status" {
                seen.push(message);
            }
        }
    }
    let events: Vec<&str> = seen.iter().map(|m| m["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        [
            "streaming_pattern",
            "streaming_indicator",
            "indicator_alert",
            "critical_alert",
            "streaming_session"
        ]
    );
    assert_eq!(seen[0]["data"]["symbol"], "NVDA");
    assert_eq!(seen[1]["data"]["value"], 71.0);
    assert_eq!(seen[4]["data"]["state"], "stopped");
}

#[tokio::test]
async fn a_reconnect_with_the_last_seq_gets_what_it_missed_or_a_fresh_snapshot() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let mut socket = connect(&app, Some(&app.admin_token), "").await.unwrap();
    next_messages(&mut socket).await;
    publish(&app, "tickstock:patterns:streaming", pattern("AAA", 1, 0)).await;
    let first = until_event(&mut socket, "streaming_pattern").await;
    let seen_upto = first["seq"].as_u64().unwrap();
    drop(socket);

    for minute in 2..5 {
        publish(
            &app,
            "tickstock:patterns:streaming",
            pattern("BBB", minute, 0),
        )
        .await;
    }
    app.wait_messages("tickstock:patterns:streaming", 4).await;
    wait_for("the hub to number them", WAIT, || async {
        (app.state.hub.last_seq() >= seen_upto + 3).then_some(())
    })
    .await;

    let mut resumed = connect(
        &app,
        Some(&app.admin_token),
        &format!("?last_seq={seen_upto}"),
    )
    .await
    .unwrap();
    let mut missed = Vec::new();
    while missed.len() < 3 {
        for message in next_messages(&mut resumed).await {
            assert_ne!(message["event"], "snapshot", "resumed, not re-snapshotted");
            if message["event"] == "streaming_pattern" {
                missed.push(message);
            }
        }
    }
    let seqs: Vec<u64> = missed.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]) && seqs[0] > seen_upto,
        "{seqs:?}"
    );
    let timestamps: Vec<&str> = missed
        .iter()
        .map(|m| m["data"]["timestamp"].as_str().unwrap())
        .collect();
    assert_eq!(
        timestamps,
        [
            "2025-10-05T10:00:02.000Z",
            "2025-10-05T10:00:03.000Z",
            "2025-10-05T10:00:04.000Z"
        ]
    );

    // From a seq the server never issued (e.g. before a restart): a snapshot.
    let mut fresh = connect(&app, Some(&app.admin_token), "?last_seq=999999999")
        .await
        .unwrap();
    assert_eq!(next_messages(&mut fresh).await[0]["event"], "snapshot");
}

#[tokio::test]
async fn a_slow_client_is_closed_with_4008_while_a_fast_one_receives_everything() {
    const QUEUE: usize = 8;
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.server.push_client_queue_frames = QUEUE;
        config
    })
    .await;
    let mut fast = connect(&app, Some(&app.admin_token), "").await.unwrap();
    let start = next_messages(&mut fast).await[0]["seq"].as_u64().unwrap();
    let mut slow = connect_thin(&app).await;
    next_messages(&mut slow).await;

    // Large events paced a little apart, each a frame of its own: together
    // more than the socket buffers between the server and the slow client hold.
    const EVENTS: u32 = 40;
    let publisher = {
        let bus = app.state.bus.clone();
        tokio::spawn(async move {
            for second in 0..EVENTS {
                let message = pattern("SLOW", second, 300_000).to_string();
                bus.publish("tickstock:patterns:streaming", Bytes::from(message))
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        })
    };
    // The slow client reads, but far slower than frames come.
    let slow_reader = tokio::spawn(async move {
        let mut frames = 0;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            match tokio::time::timeout(WAIT, slow.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => return (frames, frame),
                Ok(Some(Ok(_))) => frames += 1,
                other => panic!("the slow client ended without a close frame: {other:?}"),
            }
        }
    });

    let mut patterns = 0;
    let mut last_seq = start;
    while patterns < EVENTS {
        for message in next_messages(&mut fast).await {
            let seq = message["seq"].as_u64().unwrap();
            assert_eq!(seq, last_seq + 1, "the fast client misses nothing");
            last_seq = seq;
            if message["event"] == "streaming_pattern"
                || message["event"] == "streaming_patterns_batch"
            {
                patterns += message["data"]["count"].as_u64().unwrap_or(1) as u32;
            }
        }
    }
    publisher.await.unwrap();
    assert_eq!(patterns, EVENTS);

    let (frames_read, close) = slow_reader.await.unwrap();
    let close = close.expect("a close frame with a code");
    assert_eq!(close.code, CloseCode::Library(4008));
    assert!(close.reason.contains("slow consumer"), "{}", close.reason);
    assert!(
        frames_read < EVENTS as usize,
        "it was dropped before it caught up"
    );
    assert!(
        app.state
            .hub
            .stats
            .slow_disconnects
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

/// The handshake's refusal: its status and JSON body.
fn refusal(result: Result<Socket, Error>) -> (u16, Value) {
    match result {
        Err(Error::Http(response)) => {
            let body = response.body().as_deref().unwrap_or_default();
            (
                response.status().as_u16(),
                serde_json::from_slice(body).expect("a JSON body"),
            )
        }
        other => panic!("the handshake was accepted: {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn a_page_of_another_origin_cannot_open_the_socket() {
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.server.allowed_origins = "https://Dash.Example/".parse().unwrap();
        config
    })
    .await;
    let browser = Browser::new(&app.base_url);
    browser
        .sign_in("admin", tickstock::config::TEST_ADMIN_PASSWORD)
        .await;
    let cookie = ("cookie", browser.cookie());
    let bearer = ("authorization", format!("Bearer {}", app.admin_token));
    let port: u16 = app.base_url.rsplit(':').next().unwrap().parse().unwrap();
    let other_port = format!("http://127.0.0.1:{}", port.wrapping_add(1));
    let foreign = [
        "http://evil.example",
        "null",
        "https://dash.example.evil",
        "http://dash.example",
        other_port.as_str(),
        "http://127.0.0.1.evil.example",
    ];
    for origin in foreign {
        for credential in [&cookie, &bearer] {
            let headers = [credential.clone(), ("origin", origin.to_owned())];
            let (status, body) = refusal(connect_with(&app, &headers, "").await);
            assert_eq!(status, 403, "{origin}");
            assert_eq!(body["error"], "origin not allowed", "{origin}");
        }
    }
    // Its own origin, an allowed one, and none at all (a script).
    for origin in [
        Some(app.base_url.clone()),
        Some("https://dash.example".into()),
        None,
    ] {
        let mut headers = vec![cookie.clone()];
        headers.extend(origin.clone().map(|origin| ("origin", origin)));
        let mut socket = connect_with(&app, &headers, "")
            .await
            .unwrap_or_else(|e| panic!("{origin:?} refused: {e}"));
        assert_eq!(next_messages(&mut socket).await[0]["event"], "snapshot");
    }
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

const LOGIN_ENDED: u16 = 4401;
/// The promise: a socket is closed this soon after its login ends.
const CLOSED_WITHIN: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_socket_is_closed_with_4401_at_logout_and_at_token_revocation() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let browser = Browser::new(&app.base_url);
    browser
        .sign_in("admin", tickstock::config::TEST_ADMIN_PASSWORD)
        .await;
    let mut by_cookie = connect_with(&app, &[("cookie", browser.cookie())], "")
        .await
        .unwrap();
    let (token_info, token) = app
        .state
        .accounts
        .create_token("admin", "revoked-soon")
        .await
        .unwrap();
    let mut by_token = connect(&app, Some(&token), "").await.unwrap();
    let mut bystander = connect(&app, Some(&app.admin_token), "").await.unwrap();
    for socket in [&mut by_cookie, &mut by_token, &mut bystander] {
        next_messages(socket).await;
    }

    browser.logout().await;
    assert_eq!(close_code(&mut by_cookie, CLOSED_WITHIN).await, LOGIN_ENDED);

    assert!(
        app.state
            .accounts
            .revoke_token(token_info.id)
            .await
            .unwrap()
    );
    assert_eq!(close_code(&mut by_token, CLOSED_WITHIN).await, LOGIN_ENDED);
    match connect(&app, Some(&token), "").await {
        Err(Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("a revoked token connected: {:?}", other.map(|_| ())),
    }

    // Another login's socket is untouched: it still gets live events.
    publish(&app, "tickstock:patterns:streaming", pattern("LIVE", 1, 0)).await;
    assert_eq!(
        until_event(&mut bystander, "streaming_pattern").await["data"]["symbol"],
        "LIVE"
    );
}

#[tokio::test]
async fn a_socket_is_closed_with_4401_when_its_user_changes_role_or_is_removed() {
    let db = TestDatabase::create().await;
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.database.database_url = Some(db.url.clone().into());
        config
    })
    .await;
    let accounts = &app.state.accounts;
    for name in ["carol", "dave"] {
        accounts
            .create_user(
                name,
                None,
                "a-long-password",
                tickstock::accounts::Role::Admin,
            )
            .await
            .unwrap();
    }
    let (_, carol) = accounts.create_token("carol", "api").await.unwrap();
    let (_, dave) = accounts.create_token("dave", "api").await.unwrap();
    let mut carol_socket = connect(&app, Some(&carol), "").await.unwrap();
    let mut dave_socket = connect(&app, Some(&dave), "").await.unwrap();
    next_messages(&mut carol_socket).await;
    next_messages(&mut dave_socket).await;

    // Changed behind TickStock's back, in SQL: only the periodic check sees it.
    let pool = db.pool().await;
    sqlx::query("UPDATE users SET role = 'user' WHERE username = 'carol'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        close_code(&mut carol_socket, CLOSED_WITHIN).await,
        LOGIN_ENDED
    );
    sqlx::query("DELETE FROM users WHERE username = 'dave'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        close_code(&mut dave_socket, CLOSED_WITHIN).await,
        LOGIN_ENDED
    );
}
