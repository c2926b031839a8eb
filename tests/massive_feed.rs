//! The Massive feed against a fake Massive server over a real socket and a
//! real Redis: handshake, subscription, tick forwarding in the exact shape,
//! the reconnect policy, dead sockets, Redis outages, TLS, outage alerts.

mod common;

use std::time::Duration;

use common::massive::{Behaviour, Command, FakeMassive, TestCa, trades_frame};
use common::{ChannelListener, RedisServer, TestApp, WAIT, wait_for};
use serde_json::{Value, json};
use tickstock::config::Config;
use tickstock::feed::settings::{List, SourceChoice};

const TICKS: &str = "tickstock:market:ticks";

fn massive_config(redis: &RedisServer, fake: &FakeMassive, subscriptions: &str) -> Config {
    let mut config = Config::for_tests();
    config.bus.redis_url = Some(redis.url().into());
    config.feed.data_source = Some(SourceChoice::Massive);
    config.feed.massive_api_key = Some("test-key".into());
    config.feed.massive_ws_url = fake.url.clone();
    config.feed.massive_subscriptions = Some(subscriptions.parse::<List>().unwrap());
    config
}

async fn feed_status(app: &TestApp) -> Value {
    app.status().await["market_feed"].clone()
}

async fn wait_feed_state(app: &TestApp, state: &str) -> Value {
    wait_for(&format!("market_feed.state {state}"), WAIT, || async {
        let feed = feed_status(app).await;
        (feed["state"] == state).then_some(feed)
    })
    .await
}

async fn wait_subscribed(fake: &FakeMassive, connection: usize, count: usize) -> Vec<String> {
    wait_for(
        &format!("connection {connection} to subscribe {count} streams"),
        WAIT,
        || async {
            fake.connection(connection)
                .filter(|c| c.subscriptions.len() >= count)
                .map(|c| c.subscriptions)
        },
    )
    .await
}

#[tokio::test]
async fn handshake_subscribe_and_every_event_kind_forwarded_in_the_exact_shape() {
    let redis = RedisServer::start().await;
    let listener = ChannelListener::start(&redis, TICKS).await;
    let fake = FakeMassive::start(Behaviour::Accept).await;
    let app = TestApp::spawn(massive_config(
        &redis,
        &fake,
        "T.AAPL,Q.MSFT,A.BRK.B,AM.NVDA",
    ))
    .await;

    let subscribed = wait_subscribed(&fake, 0, 4).await;
    assert_eq!(subscribed, ["T.AAPL", "Q.MSFT", "A.BRK.B", "AM.NVDA"]);
    assert_eq!(
        fake.connection(0).unwrap().api_key.as_deref(),
        Some("test-key")
    );
    let feed = wait_feed_state(&app, "connected").await;
    assert_eq!(feed["leader"], true);
    assert_eq!(feed["source"], "massive");

    // Times near now: the feed refuses implausible ones.
    let second_ms = chrono::Utc::now().timestamp() * 1000;
    let trade_ms = second_ms + 123;
    fake.command(Command::Send(json!([
        {"ev": "T", "sym": "AAPL", "i": "52983525029461", "x": 4, "p": 227.41, "s": 300, "c": [12, 41], "t": trade_ms, "q": 1, "z": 3},
        {"ev": "Q", "sym": "MSFT", "bx": 4, "bp": 400.10, "bs": 2, "ax": 7, "ap": 400.30, "as": 5, "c": 0, "t": second_ms + 200, "q": 9, "z": 3},
        {"ev": "A", "sym": "BRK.B", "v": 120, "av": 9000, "op": 470.0, "vw": 471.2, "o": 470.5, "c": 471.9, "h": 472.0, "l": 470.1, "a": 471.0, "z": 12, "s": second_ms - 1000, "e": second_ms},
        {"ev": "AM", "sym": "NVDA", "v": 50000, "av": 900000, "op": 180.0, "vw": 181.2, "o": 181.0, "c": 181.5, "h": 182.0, "l": 180.5, "a": 181.0, "z": 40, "s": second_ms - 60_000, "e": second_ms},
        {"ev": "LV", "sym": "IGNORED"}
    ]).to_string()));

    let received = listener.wait_count(4).await;
    assert_eq!(
        received[0],
        format!(
            r#"{{"type":"market_tick","symbol":"AAPL","price":227.41,"volume":300,"timestamp":{},"source":"massive"}}"#,
            json!(trade_ms as f64 / 1000.0)
        )
    );
    let quote: Value = serde_json::from_str(&received[1]).unwrap();
    assert_eq!(
        (quote["type"].clone(), quote["symbol"].clone()),
        (json!("market_tick"), json!("MSFT"))
    );
    assert!((quote["price"].as_f64().unwrap() - 400.2).abs() < 1e-9);
    assert_eq!(
        (quote["bid"].clone(), quote["ask"].clone()),
        (json!(400.10), json!(400.30))
    );
    let second: Value = serde_json::from_str(&received[2]).unwrap();
    assert_eq!(
        second,
        json!({"type": "market_tick", "symbol": "BRK.B", "price": 471.9, "volume": 120,
        "timestamp": (second_ms / 1000) as f64, "source": "massive", "open": 470.5, "high": 472.0, "low": 470.1, "close": 471.9, "vwap": 471.2})
    );
    let minute: Value = serde_json::from_str(&received[3]).unwrap();
    assert_eq!(
        (minute["symbol"].clone(), minute["volume"].clone()),
        (json!("NVDA"), json!(50000))
    );

    let feed = wait_for("4 ticks forwarded", WAIT, || async {
        let feed = feed_status(&app).await;
        (feed["ticks_forwarded"] == 4).then_some(feed)
    })
    .await;
    assert_eq!(feed["ticks_received"], 4);
    assert_eq!(feed["ticks_dropped"], 0);
    assert_eq!(fake.connections(), 1);
}

/// Hostile elements of every class in one frame: each is refused and counted
/// under its reason; the valid ticks around them are forwarded.
#[tokio::test]
async fn hostile_elements_are_refused_by_reason_and_the_valid_ticks_still_flow() {
    let redis = RedisServer::start().await;
    let listener = ChannelListener::start(&redis, TICKS).await;
    let fake = FakeMassive::start(Behaviour::Accept).await;
    let app = TestApp::spawn(massive_config(&redis, &fake, "T.AAPL")).await;
    wait_subscribed(&fake, 0, 1).await;
    wait_feed_state(&app, "connected").await;

    let now = chrono::Utc::now().timestamp_millis();
    let day = 86_400_000_i64;
    let good = |p: f64| json!({"ev": "T", "sym": "AAPL", "p": p, "s": 100, "t": now});
    let frame = json!([
        good(1.0),
        {"ev": "T", "sym": "AAPL", "p": -5.0, "s": 100, "t": now},
        {"ev": "T", "sym": "AAPL", "p": 1.0, "s": -100, "t": now},
        {"ev": "T", "sym": "AAPL", "p": 1.0, "s": 1e30, "t": now},
        {"ev": "T", "sym": "AAPL", "p": 1.0, "s": 100, "t": now - 3 * day},
        {"ev": "T", "sym": "AAPL", "p": 1.0, "s": 100, "t": 253_402_300_800_000_i64},
        {"ev": "T", "sym": "AA\u{0}PL", "p": 1.0, "s": 100, "t": now},
        {"ev": "T", "sym": "drop table", "p": 1.0, "s": 100, "t": now},
        {"ev": "AM", "sym": "NVDA", "o": 10.0, "h": 9.0, "l": 11.0, "c": 10.0, "v": 1, "e": now},
        {"ev": "T", "sym": "AAPL", "p": "1.0", "s": 100, "t": now},
        good(2.0),
    ]);
    fake.command(Command::Send(frame.to_string()));

    let received = listener.wait_count(2).await;
    let prices: Vec<f64> = received
        .iter()
        .map(|t| {
            serde_json::from_str::<Value>(t).unwrap()["price"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(prices, [1.0, 2.0]);
    let feed = wait_for("the refusals counted", WAIT, || async {
        let feed = feed_status(&app).await;
        (feed["elements_refused"]["symbol"] == 2).then_some(feed)
    })
    .await;
    assert_eq!(
        feed["elements_refused"],
        json!({"malformed": 1, "price": 1, "size": 2, "timestamp": 2, "symbol": 2, "range": 1}),
        "{feed}"
    );
    assert_eq!(feed["ticks_received"], 2);
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"tickstock_feed_elements_refused_total{reason="size"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn auth_failed_stops_the_retry_loop_and_is_reported() {
    let redis = RedisServer::start().await;
    let fake = FakeMassive::start(Behaviour::RejectAuth).await;
    let alerts = ChannelListener::start(&redis, "tickstock:alerts:critical").await;
    let app = TestApp::spawn({
        let mut config = massive_config(&redis, &fake, "A.AAPL");
        config.feed.massive_alert_grace_seconds = 1;
        config
    })
    .await;
    let feed = wait_feed_state(&app, "auth_failed").await;
    assert!(
        feed["detail"].as_str().unwrap().contains("auth_failed"),
        "{feed}"
    );
    // The outage alert comes after the grace period: time enough for any
    // retry loop to have shown itself.
    let alert = alerts.wait_count(1).await;
    let alert: Value = serde_json::from_str(&alert[0]).unwrap();
    assert_eq!(alert["alert"]["component"], "massive_websocket");
    assert_eq!(alert["alert"]["severity"], "critical");
    assert!(
        alert["alert"]["action_required"]
            .as_str()
            .unwrap()
            .contains("MASSIVE_API_KEY")
    );
    assert_eq!(fake.connections(), 1, "auth_failed was retried");
    assert_eq!(feed_status(&app).await["state"], "auth_failed");
}

#[tokio::test]
async fn max_connections_backs_off_at_least_a_minute() {
    let redis = RedisServer::start().await;
    let fake = FakeMassive::start(Behaviour::MaxConnections).await;
    let app = TestApp::spawn(massive_config(&redis, &fake, "A.AAPL")).await;
    let feed = wait_feed_state(&app, "reconnecting").await;
    let next = feed["next_attempt_at"].as_str().expect("a planned attempt");
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
    let wait = next.signed_duration_since(chrono::Utc::now());
    assert!(wait >= chrono::Duration::seconds(58), "retries in {wait}");
    assert!(feed["detail"].as_str().unwrap().contains("max_connections"));
    assert_eq!(fake.connections(), 1);
}

#[tokio::test]
async fn a_socket_dropped_without_close_frame_reconnects_and_resubscribes_everything() {
    let redis = RedisServer::start().await;
    let fake = FakeMassive::start(Behaviour::Accept).await;
    let subscriptions: Vec<String> = (0..300)
        .map(|i| format!("AM.S{i}"))
        .chain(["T.BRK.B".into()])
        .collect();
    let app = TestApp::spawn(massive_config(&redis, &fake, &subscriptions.join(","))).await;
    assert_eq!(
        wait_subscribed(&fake, 0, subscriptions.len()).await,
        subscriptions
    );
    wait_feed_state(&app, "connected").await;

    fake.command(Command::Drop);
    let again = wait_subscribed(&fake, 1, subscriptions.len()).await;
    assert_eq!(again, subscriptions, "the whole set is sent again");
    assert_eq!(
        fake.connection(1).unwrap().api_key.as_deref(),
        Some("test-key")
    );
    wait_feed_state(&app, "connected").await;
}

#[tokio::test]
async fn a_silent_dead_socket_is_detected_by_the_read_timeout() {
    let redis = RedisServer::start().await;
    let fake = FakeMassive::start(Behaviour::Accept).await;
    let app = TestApp::spawn({
        let mut config = massive_config(&redis, &fake, "A.AAPL,A.MSFT");
        config.feed.massive_read_timeout_seconds = 3;
        config
    })
    .await;
    wait_subscribed(&fake, 0, 2).await;
    fake.command(Command::Freeze);
    assert_eq!(wait_subscribed(&fake, 1, 2).await, ["A.AAPL", "A.MSFT"]);
    wait_feed_state(&app, "connected").await;
}

#[tokio::test]
async fn redis_stopped_while_ticks_flow_the_socket_is_still_read_and_drops_are_counted() {
    let mut redis = RedisServer::start().await;
    let fake = FakeMassive::start(Behaviour::Accept).await;
    let app = TestApp::spawn({
        let mut config = massive_config(&redis, &fake, "T.AAPL");
        config.feed.feed_queue_capacity = 100;
        config
    })
    .await;
    wait_feed_state(&app, "connected").await;
    fake.command(Command::Stream(Duration::from_millis(5)));
    wait_for("ticks forwarded", WAIT, || async {
        (feed_status(&app).await["ticks_forwarded"].as_u64() > Some(100)).then_some(())
    })
    .await;

    redis.kill();
    let received_at_kill = feed_status(&app).await["ticks_received"].as_u64().unwrap();
    let during = wait_for(
        "drops counted while the socket is still read",
        WAIT,
        || async {
            let feed = feed_status(&app).await;
            let received = feed["ticks_received"].as_u64().unwrap();
            (feed["ticks_dropped"].as_u64() > Some(0) && received > received_at_kill + 1_000)
                .then_some(feed)
        },
    )
    .await;
    assert_eq!(during["state"], "connected", "the Massive socket stayed up");
    assert_eq!(fake.connections(), 1);
    let metrics = app.get_text("/metrics").await;
    let dropped = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tickstock_feed_ticks_dropped_total "))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(dropped > Some(0), "{metrics}");

    redis.restart().await;
    let listener = ChannelListener::start(&redis, TICKS).await;
    let fresh = listener.wait_count(1).await;
    let tick: Value = serde_json::from_str(&fresh[0]).unwrap();
    assert_eq!(
        (tick["type"].clone(), tick["symbol"].clone()),
        (json!("market_tick"), json!("AAPL"))
    );
    assert_eq!(fake.connections(), 1);
}

#[tokio::test]
async fn wss_with_a_test_ca_connects_and_an_unknown_ca_is_refused() {
    let redis = RedisServer::start().await;
    let ca = TestCa::new();
    let fake = FakeMassive::start_tls(Behaviour::Accept, &ca).await;
    let listener = ChannelListener::start(&redis, TICKS).await;

    // Without the CA the certificate is not trusted.
    let untrusting = TestApp::spawn(massive_config(&redis, &fake, "T.AAPL")).await;
    let feed = wait_feed_state(&untrusting, "reconnecting").await;
    assert!(
        feed["detail"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("certificate"),
        "{feed}"
    );
    drop(untrusting);

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let app = TestApp::spawn({
        let mut config = massive_config(&redis, &fake, "T.AAPL");
        config.feed.massive_ca_file = Some(ca_file);
        config
    })
    .await;
    wait_feed_state(&app, "connected").await;
    fake.command(Command::Send(trades_frame(3, "AAPL")));
    assert_eq!(listener.wait_count(3).await.len(), 3);
}

#[tokio::test]
async fn an_outage_longer_than_the_grace_period_raises_a_critical_alert_then_its_recovery() {
    let redis = RedisServer::start().await;
    let port = common::free_port();
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.feed.massive_alert_grace_seconds = 1;
        config.bus.redis_url = Some(redis.url().into());
        config.feed.data_source = Some(SourceChoice::Massive);
        config.feed.massive_api_key = Some("k".into());
        config.feed.massive_ws_url = format!("ws://127.0.0.1:{port}/stocks");
        config
    })
    .await;
    app.wait_connected().await;
    let alerts = wait_for("the outage alert in the live state", WAIT, || async {
        let alerts = app.state.live.recent_alerts(10);
        (!alerts.is_empty()).then_some(alerts)
    })
    .await;
    let alert = serde_json::to_value(alerts[0].as_ref()).unwrap();
    assert_eq!(alert["component"], "massive_websocket");
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .starts_with("Massive WebSocket down for")
    );

    let _fake = FakeMassive::start_on(port, Behaviour::Accept, None).await;
    let recovered = wait_for(
        "the recovery, paired with the alert",
        Duration::from_secs(90),
        || async {
            let alerts = app.state.live.recent_alerts(10);
            let values: Vec<Value> = alerts
                .iter()
                .map(|a| serde_json::to_value(a.as_ref()).unwrap())
                .collect();
            values
                .iter()
                .any(|a| a["recovery"].is_string())
                .then_some(values)
        },
    )
    .await;
    assert_eq!(recovered[0]["severity"], "info");
    assert!(
        recovered[1]["resolved_by"]["recovery"]
            .as_str()
            .unwrap()
            .starts_with("Connection re-established")
    );
}
