//! The channel inspector: its messages over `/streaming/ws?inspect=1` (admins
//! only, never to dashboards), and the page in a real headless Chromium
//! showing raw messages beside their decoded form, HTML as text.

mod common;

use std::collections::VecDeque;

use bytes::Bytes;
use common::browser::{ChromeDriver, screenshot_path, sign_in, text_of, wait_text};
use common::{TestApp, WAIT, wait_for};
use fantoccini::Locator;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tickstock::accounts::Role;
use tickstock::config::Config;
use tickstock::events::Channel;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(app: &TestApp, token: &str, query: &str) -> Result<Socket, Error> {
    let url = format!(
        "{}/streaming/ws{query}",
        app.base_url.replace("http://", "ws://")
    );
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .map(|(socket, _)| socket)
}

/// A WebSocket client reading message by message (a frame holds one
/// message, or an array of them).
struct Client {
    socket: Socket,
    pending: VecDeque<Value>,
}

impl Client {
    async fn connect(app: &TestApp, token: &str, query: &str) -> Result<Self, Error> {
        Ok(Self {
            socket: connect(app, token, query).await?,
            pending: VecDeque::new(),
        })
    }

    async fn next(&mut self) -> Value {
        while self.pending.is_empty() {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("a frame in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    match serde_json::from_str::<Value>(&text).expect("JSON") {
                        Value::Array(messages) => self.pending.extend(messages),
                        message => self.pending.push_back(message),
                    }
                }
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
        self.pending.pop_front().unwrap_or_default()
    }

    /// Reads until a message of `event` satisfying `wanted` arrives.
    async fn until(&mut self, event: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        let search = async {
            loop {
                let message = self.next().await;
                if message["event"] == event && wanted(&message["data"]) {
                    return message["data"].clone();
                }
                last = message;
            }
        };
        match tokio::time::timeout(WAIT, search).await {
            Ok(data) => data,
            Err(_) => panic!("no such {event} in {WAIT:?}; last seen: {last}"),
        }
    }
}

async fn publish(app: &TestApp, channel: Channel, message: &str) {
    app.state
        .bus
        .publish(channel.name(), Bytes::from(message.to_owned()))
        .await
        .unwrap();
}

const PATTERN: &str = r#"{"type": "streaming_pattern", "detection": {"symbol": "nvda", "pattern_type": "Doji",
    "confidence": 0.91, "timestamp": "2025-10-07T19:30:00Z", "note": "kept"}}"#;
const HEALTH_WITHOUT_STATUS: &str =
    r#"{"type": "streaming_health", "health": {"active_symbols": 3}}"#;

#[tokio::test]
async fn only_admins_who_ask_get_the_inspector_and_dashboards_never_do() {
    let app = TestApp::spawn(Config::for_tests()).await;
    app.state
        .accounts
        .create_user("viewer", None, "viewer-password", Role::User)
        .await
        .unwrap();
    let (_, viewer) = app
        .state
        .accounts
        .create_token("viewer", "tests")
        .await
        .unwrap();
    match Client::connect(&app, &viewer, "?inspect=1").await {
        Err(Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("a user inspects: {:?}", other.map(|_| ())),
    }
    let mut dashboard = Client::connect(&app, &app.admin_token, "").await.unwrap();
    let mut inspector = Client::connect(&app, &app.admin_token, "?inspect=1")
        .await
        .unwrap();
    let snapshot = inspector.until("inspector_snapshot", |_| true).await;
    let channels = snapshot["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 8);
    assert!(channels.iter().all(|c| c["recent"] == json!([])));
    assert_eq!(channels[2]["counters"]["channel"], Channel::Health.name());

    publish(&app, Channel::PatternsStreaming, PATTERN).await;
    publish(&app, Channel::Health, HEALTH_WITHOUT_STATUS).await;

    let pattern = inspector
        .until("channel_message", |m| {
            m["channel"] == Channel::PatternsStreaming.name()
        })
        .await;
    assert_eq!(pattern["raw"]["text"], PATTERN);
    assert_eq!(pattern["raw"]["truncated"], false);
    let decoded: Value =
        serde_json::from_str(pattern["decoded"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(decoded["patterns"][0]["symbol"], "NVDA");
    assert_eq!(pattern["error"], Value::Null);
    assert_eq!(pattern["unrecognised"], json!(["note"]));
    let faulty: Vec<&str> = pattern["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(
        faulty.contains(&"timeframe") && faulty.contains(&"bar_data.volume"),
        "{faulty:?}"
    );
    assert!(!faulty.contains(&"confidence"), "{faulty:?}");

    let health = inspector
        .until("channel_message", |m| {
            m["channel"] == Channel::Health.name()
        })
        .await;
    assert_eq!(health["decoded"], Value::Null);
    assert_eq!(health["error"]["field"], "status");
    assert_eq!(
        health["error"]["message"],
        "required field `status` is missing"
    );
    let stats = inspector
        .until("channel_stats", |s| s["channels"][2]["decode_errors"] == 1)
        .await;
    assert_eq!(stats["channels"][3]["messages"], 1);
    assert!(stats["channels"][3]["age_seconds"].as_f64().is_some());
    assert_eq!(stats["channels"][0]["last_message_at"], Value::Null);

    // The dashboard got the pattern, and then a status, but none of the above.
    let mut seen = Vec::new();
    while !(seen.iter().any(|e| e == "streaming_pattern")
        && seen.last().is_some_and(|e| e == "streaming_status"))
    {
        let message = dashboard.next().await;
        seen.push(message["event"].as_str().unwrap_or_default().to_owned());
    }
    assert!(
        seen.iter()
            .all(|e| !e.starts_with("channel_") && !e.starts_with("inspector")),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_page_shows_raw_beside_decoded_and_html_as_text() {
    let driver = ChromeDriver::start().await;
    let app = TestApp::spawn(Config::for_tests()).await;
    // Before the page opens: it comes with the snapshot.
    let broken = r#"{"type": "streaming_health", "health": {"active_symbols": "<b>12</b>"}}"#;
    publish(&app, Channel::Health, broken).await;
    app.wait_messages(Channel::Health.name(), 1).await;

    let browser = driver.browser().await;
    sign_in(&browser, &app.base_url, "/admin/inspector").await;
    wait_text(&browser, "#connection", "live").await;
    wait_text(&browser, "#channel-2 pre.raw", broken).await;
    wait_text(
        &browser,
        "#channel-2 .decode-error",
        "required field `status` is missing (field status)",
    )
    .await;
    wait_text(&browser, "#channel-2 .decode-errors", "1").await;

    // Live: a pattern whose name and extra field are HTML.
    let hostile = r#"{"type": "streaming_pattern", "detection": {"symbol": "NVDA",
        "pattern_type": "<img src=x onerror=alert(1)>", "confidence": 0.91, "timestamp": "2025-10-07T19:30:00Z",
        "note": "<script>document.title='pwned'</script>"}}"#;
    publish(&app, Channel::PatternsStreaming, hostile).await;
    wait_text(&browser, "#channel-3 pre.raw", hostile).await;
    let decoded = wait_for("the decoded pattern", WAIT, || async {
        text_of(&browser, "#channel-3 pre.decoded")
            .await
            .filter(|t| t.contains("\"symbol\": \"NVDA\""))
    })
    .await;
    assert!(
        decoded.contains(r#""pattern_type": "<img src=x onerror=alert(1)>""#),
        "{decoded}"
    );
    assert!(
        decoded.contains(r#""note": "<script>document.title='pwned'</script>""#),
        "{decoded}"
    );
    wait_text(
        &browser,
        "#channel-3 li.unrecognised",
        "not recognised by TickStock: note",
    )
    .await;
    let marks = text_of(&browser, "#channel-3 ul.marks").await.unwrap();
    assert!(
        marks.contains("required by seed 004: timeframe missing"),
        "{marks}"
    );
    wait_text(&browser, "#channel-3 .messages", "1").await;
    assert!(
        browser
            .find_all(Locator::Css("ol.recent img, ol.recent script, ol.recent b"))
            .await
            .unwrap()
            .is_empty(),
        "payload HTML became elements"
    );
    assert_ne!(browser.title().await.unwrap(), "pwned");

    let png = browser.screenshot().await.unwrap();
    let path = screenshot_path("inspector.png");
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
    browser.close().await.unwrap();
}
