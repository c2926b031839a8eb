//! The market view end to end: ticks through a real bus (the in-process bus
//! and a real Redis, through the real forwarder) become candles, symbol
//! prices and conflated `market` messages on a real WebSocket; hostile ticks
//! are counted and change nothing; the calendar route answers for holidays,
//! early closes, weekends and DST boundaries.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use common::{RedisServer, TestApp, WAIT, wait_for};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tickstock::config::Config;
use tickstock::events::MARKET_TICKS;
use tickstock::feed::FeedStats;
use tickstock::feed::queue::TickQueue;
use tickstock::feed::tick::{DataSource, Tick};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The start of a minute a few minutes ago: ticks there are in the feed's window.
fn recent_minute() -> DateTime<Utc> {
    let minute = (Utc::now() - TimeDelta::minutes(5)).timestamp() / 60 * 60;
    DateTime::from_timestamp(minute, 0).unwrap()
}

fn tick(symbol: &str, price: f64, volume: u64, at: DateTime<Utc>) -> Tick {
    Tick::new(
        symbol.into(),
        price,
        volume,
        at.timestamp_millis() as f64 / 1000.0,
        DataSource::Synthetic,
    )
}

/// A minute of ticks with a known open (10), high (12.5), low (9), close
/// (11) and volume (165), then one tick of the next minute.
fn known_sequence(symbol: &str) -> Vec<Tick> {
    let minute = recent_minute();
    let second = |s: i64| minute + TimeDelta::milliseconds(s);
    vec![
        tick(symbol, 10.0, 100, second(1_250)),
        tick(symbol, 12.5, 50, second(20_000)),
        tick(symbol, 9.0, 10, second(40_000)),
        tick(symbol, 11.0, 5, second(59_999)),
        tick(symbol, 11.5, 7, second(60_000)),
    ]
}

/// The candles of `symbol` once `count` of them are there.
async fn candles(app: &TestApp, symbol: &str, volume: u64) -> Value {
    wait_for(&format!("{symbol}'s candles"), WAIT, || async {
        let (code, body) = app
            .get(&format!("/streaming/api/market/candles/{symbol}"))
            .await;
        let total: u64 = body["candles"]
            .as_array()
            .map(|candles| candles.iter().filter_map(|c| c["v"].as_u64()).sum())
            .unwrap_or(0);
        (code == 200 && total >= volume).then_some(body)
    })
    .await
}

fn assert_known_candles(body: &Value, symbol: &str) {
    assert_eq!(body["symbol"], symbol);
    assert_eq!(body["interval_seconds"], 60);
    let candles = body["candles"].as_array().expect("candles");
    assert_eq!(candles.len(), 2, "{body}");
    let minute = recent_minute().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(
        candles[0],
        json!({"t": minute, "o": 10.0, "h": 12.5, "l": 9.0, "c": 11.0, "v": 165})
    );
    assert_eq!(candles[1]["o"], 11.5);
    assert_eq!(candles[1]["v"], 7);
}

async fn publish(app: &TestApp, ticks: &[Tick]) {
    let payloads: Vec<Bytes> = ticks.iter().map(Tick::to_json).collect();
    app.state
        .bus
        .publish_batch(MARKET_TICKS, &payloads)
        .await
        .expect("published");
}

/// The real forwarder, publishing what is pushed on its queue to `app`'s bus.
struct Forwarder {
    queue: Arc<TickQueue>,
    stats: Arc<FeedStats>,
    stop: CancellationToken,
}

impl Forwarder {
    fn start(app: &TestApp) -> Self {
        let stats = Arc::new(FeedStats::new(Some(DataSource::Synthetic)));
        let queue = Arc::new(TickQueue::new(10_000, stats.clone()));
        let stop = CancellationToken::new();
        tokio::spawn(tickstock::forward::run(
            queue.clone(),
            app.state.bus.clone(),
            stop.clone(),
        ));
        Self { queue, stats, stop }
    }

    async fn forward(&self, ticks: Vec<Tick>) {
        let target = self.stats.ticks_forwarded() + ticks.len() as u64;
        for tick in ticks {
            self.queue.push(tick);
        }
        wait_for("the ticks forwarded", WAIT, || async {
            (self.stats.ticks_forwarded() >= target).then_some(())
        })
        .await;
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Waits until the market book's own subscription is connected.
async fn wait_market_connected(app: &TestApp) {
    wait_for("the market book to subscribe", WAIT, || async {
        (app.status().await["market_ticks"]["connected"] == true).then_some(())
    })
    .await;
}

async fn connect(app: &TestApp) -> Socket {
    let url = format!("{}/streaming/ws", app.base_url.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    let auth = format!("Bearer {}", app.admin_token);
    request
        .headers_mut()
        .insert("authorization", auth.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
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

/// `symbol`'s entry in a `market` message, if it has one.
fn entry_of<'a>(message: &'a Value, symbol: &str) -> Option<&'a Value> {
    (message["event"] == "market")
        .then(|| message["data"]["symbols"].as_array())
        .flatten()?
        .iter()
        .find(|entry| entry["symbol"] == symbol)
}

#[tokio::test]
async fn a_known_sequence_of_ticks_makes_its_candles_on_the_in_process_bus() {
    let app = TestApp::spawn(Config::for_tests()).await;
    wait_market_connected(&app).await;
    publish(&app, &known_sequence("ZKNOWN")).await;
    assert_known_candles(&candles(&app, "ZKNOWN", 172).await, "ZKNOWN");
    // Lower case is the same ticker.
    let (code, body) = app.get("/streaming/api/market/candles/zknown").await;
    assert_eq!(code, 200, "{body}");
}

#[tokio::test]
async fn a_known_sequence_of_ticks_makes_its_candles_through_redis() {
    let redis = RedisServer::start().await;
    let app = TestApp::with_redis(&redis).await;
    wait_market_connected(&app).await;
    let forwarder = Forwarder::start(&app);
    forwarder.forward(known_sequence("ZREDIS")).await;
    assert_known_candles(&candles(&app, "ZREDIS", 172).await, "ZREDIS");
    let status = app.status().await;
    assert_eq!(status["market_ticks"]["applied"], 5, "{status}");
}

/// Every replica builds the same book from the same channel: two
/// applications on one Redis, one forwarder.
#[tokio::test]
async fn every_replica_shows_the_price_of_the_last_tick_forwarded() {
    let redis = RedisServer::start().await;
    let (first, second) = (
        TestApp::with_redis(&redis).await,
        TestApp::with_redis(&redis).await,
    );
    for app in [&first, &second] {
        wait_market_connected(app).await;
    }
    let mut socket = connect(&second).await;
    let snapshot = next_messages(&mut socket).await;
    assert_eq!(snapshot[0]["event"], "snapshot");
    assert!(snapshot[0]["data"]["market"]["symbols"].is_array());

    let forwarder = Forwarder::start(&first);
    let at = Utc::now();
    let ticks: Vec<_> = (1..=50u32)
        .map(|n| tick("ZLAST", 100.0 + f64::from(n) / 4.0, u64::from(n), at))
        .collect();
    let last = ticks.last().unwrap().price;
    forwarder.forward(ticks).await;

    for app in [&first, &second] {
        let symbols = wait_for("ZLAST in the symbols", WAIT, || async {
            let (code, body) = app.get("/streaming/api/market/symbols").await;
            assert_eq!(code, 200, "{body}");
            let entry = body.as_array()?.iter().find(|e| e["symbol"] == "ZLAST")?;
            (entry["volume"] == 1275).then(|| entry.clone())
        })
        .await;
        assert_eq!(symbols["price"], last);
        assert_eq!(symbols["first"], 100.25);
        assert!(symbols["spark"].is_array());
        assert_eq!(symbols["candle"]["c"], last);
    }
    // The push: its latest entry for the symbol has that price too.
    let pushed = loop {
        let messages = next_messages(&mut socket).await;
        if let Some(entry) = messages.iter().rev().find_map(|m| entry_of(m, "ZLAST"))
            && entry["volume"] == 1275
        {
            break entry.clone();
        }
    };
    assert_eq!(pushed["price"], last);
    assert!(pushed.get("spark").is_none(), "no sparkline in a change");
    // A page that reloads gets it in the snapshot.
    let mut reloaded = connect(&second).await;
    let snapshot = next_messages(&mut reloaded).await;
    let symbols = snapshot[0]["data"]["market"]["symbols"].as_array().unwrap();
    let entry = symbols.iter().find(|e| e["symbol"] == "ZLAST").unwrap();
    assert_eq!(entry["price"], last);
    assert!(entry["spark"].is_array());
}

/// 1,000 ticks of one symbol published at once come as a few messages,
/// at most one per conflation interval since the first.
#[tokio::test]
async fn market_messages_are_conflated() {
    let app = TestApp::spawn(Config::for_tests()).await;
    wait_market_connected(&app).await;
    let mut socket = connect(&app).await;
    assert_eq!(next_messages(&mut socket).await[0]["event"], "snapshot");
    let at = Utc::now();
    let ticks: Vec<_> = (1..=1_000)
        .map(|n| tick("ZFAST", f64::from(n), 1, at))
        .collect();
    let started = std::time::Instant::now();
    publish(&app, &ticks).await;
    let mut messages = 0;
    loop {
        let frame = next_messages(&mut socket).await;
        let entries: Vec<_> = frame.iter().filter_map(|m| entry_of(m, "ZFAST")).collect();
        messages += entries.len();
        if entries.iter().any(|entry| entry["volume"] == 1_000) {
            break;
        }
    }
    let intervals = started.elapsed().as_millis() / 500 + 2;
    assert!(
        messages as u128 <= intervals,
        "{messages} market messages for 1,000 ticks in {:?}",
        started.elapsed()
    );
    assert!(messages < 1_000 / 10, "{messages} messages: not conflated");
}

#[tokio::test]
async fn hostile_ticks_are_counted_and_never_shown() {
    let app = TestApp::spawn(Config::for_tests()).await;
    wait_market_connected(&app).await;
    let at = Utc::now().timestamp_millis() as f64 / 1000.0;
    let hostile = [
        json!({"type": "market_tick", "symbol": "ZA\u{0}B", "price": 1.0, "timestamp": at}),
        json!({"type": "market_tick", "symbol": "<img src=x onerror=alert(1)>", "price": 1.0, "timestamp": at}),
        json!({"type": "market_tick", "symbol": "Z".repeat(10_000), "price": 1.0, "timestamp": at}),
        json!({"type": "market_tick", "symbol": ["ZARR"], "price": 1.0, "timestamp": at}),
        json!({"type": "market_tick", "symbol": "ZHUGE", "price": 1e308, "timestamp": at}),
        json!({"type": "market_tick", "symbol": "ZNEG", "price": -3.0, "timestamp": at}),
        json!({"type": "market_tick", "symbol": "ZSTR", "price": "12", "timestamp": at}),
        json!({"type": "market_tick", "symbol": "ZVOL", "price": 1.0, "volume": 1e300, "timestamp": at}),
        json!({"type": "market_tick", "symbol": "ZTIME", "price": 1.0, "timestamp": "now"}),
        json!({"type": "market_tick", "symbol": "ZOLD", "price": 1.0, "timestamp": 1.0}),
        json!(null),
    ];
    let mut payloads: Vec<Bytes> = hostile.iter().map(|v| v.to_string().into()).collect();
    payloads.push(Bytes::from_static(
        br#"{"symbol":"ZINF","price":1e999,"timestamp":1}"#,
    ));
    payloads.push(Bytes::from_static(b"\xff\xfe not even text"));
    payloads.push(Bytes::from_static(b"{\"symbol\":"));
    let count = payloads.len() as u64;
    app.state
        .bus
        .publish_batch(MARKET_TICKS, &payloads)
        .await
        .unwrap();
    // A good tick after them is still applied.
    publish(&app, &[tick("ZGOOD", 5.0, 1, Utc::now())]).await;
    let status = wait_for("the ticks counted", WAIT, || async {
        let status = app.status().await;
        (status["market_ticks"]["received"] == count + 1).then_some(status)
    })
    .await;
    let stats = &status["market_ticks"];
    assert_eq!(stats["applied"], 1, "{stats}");
    let refused: u64 = stats["refused"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(refused, count, "{stats}");
    assert_eq!(stats["refused"]["symbol"], 2, "{stats}");
    let (_, symbols) = app.get("/streaming/api/market/symbols").await;
    let names: Vec<_> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["symbol"].clone())
        .collect();
    assert_eq!(names, [json!("ZGOOD")]);
}

#[tokio::test]
async fn candles_of_an_unknown_or_invalid_symbol_are_refused_as_json() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let (code, body) = app.get("/streaming/api/market/candles/ZNONE").await;
    assert_eq!(code, 404);
    assert!(body["error"].is_string(), "{body}");
    for bad in ["%3Cscript%3E", "A%00B", &"A".repeat(40), "a%20b"] {
        let (code, body) = app
            .get(&format!("/streaming/api/market/candles/{bad}"))
            .await;
        assert_eq!(code, 400, "{bad}: {body}");
        assert!(body["error"].as_str().unwrap().contains("ticker"), "{body}");
    }
    let (code, _) = app
        .get_anonymous("/streaming/api/market/candles/ZNONE")
        .await;
    assert_eq!(code, 401);
}

async fn market_at(app: &TestApp, at: &str) -> Value {
    let (code, body) = app
        .get(&format!(
            "/streaming/api/market?at={}",
            at.replace('+', "%2B")
        ))
        .await;
    assert_eq!(code, 200, "{at}: {body}");
    body
}

#[tokio::test]
async fn the_market_route_knows_holidays_early_closes_weekends_and_dst() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let christmas = market_at(&app, "2026-12-25T15:00:00Z").await;
    assert_eq!(christmas["phase"], "closed");
    assert_eq!(christmas["holiday"], "Christmas Day");
    assert_eq!(christmas["early_close"], false);
    assert_eq!(christmas["next_open"], "2026-12-28T14:30:00.000Z");
    assert_eq!(christmas["calendar_known"], true);

    // The day after Thanksgiving closes at 13:00 ET (18:00 UTC).
    let black_friday = market_at(&app, "2026-11-27T10:00:00-05:00").await;
    assert_eq!(black_friday["phase"], "open");
    assert_eq!(black_friday["early_close"], true);
    assert_eq!(black_friday["next_close"], "2026-11-27T18:00:00.000Z");
    assert_eq!(black_friday["at"], "2026-11-27T15:00:00.000Z");
    let after = market_at(&app, "2026-11-27T13:30:00-05:00").await;
    assert_eq!(after["phase"], "after_hours");

    let sunday = market_at(&app, "2026-06-07T15:00:00Z").await;
    assert_eq!(sunday["phase"], "closed");
    assert_eq!(sunday["holiday"], Value::Null);
    assert_eq!(sunday["next_open"], "2026-06-08T13:30:00.000Z");

    // DST starts 2026-03-08: the Friday before opens at 14:30 UTC, the
    // Monday after at 13:30 UTC; it ends 2026-11-01.
    let friday = market_at(&app, "2026-03-06T14:29:00Z").await;
    assert_eq!(friday["phase"], "pre_market");
    assert_eq!(friday["next_open"], "2026-03-06T14:30:00.000Z");
    let monday = market_at(&app, "2026-03-09T13:30:00Z").await;
    assert_eq!(monday["phase"], "open");
    assert_eq!(monday["next_close"], "2026-03-09T20:00:00.000Z");
    let autumn = market_at(&app, "2026-10-30T20:30:00Z").await;
    assert_eq!(autumn["phase"], "after_hours");
    assert_eq!(autumn["next_open"], "2026-11-02T14:30:00.000Z");

    let unknown = market_at(&app, "2035-06-04T15:00:00Z").await;
    assert_eq!(unknown["calendar_known"], false);
    assert_eq!(unknown["phase"], "open");

    // Without `at`: now; the status carries the same object.
    let (code, now) = app.get("/api/streaming/market").await;
    assert_eq!(code, 200);
    assert!(now["phase"].is_string() && now["next_open"].is_string());
    assert!(app.status().await["market"]["phase"].is_string());
}

#[tokio::test]
async fn a_malformed_at_is_a_json_400() {
    let app = TestApp::spawn(Config::for_tests()).await;
    for bad in [
        "tomorrow",
        "2026-13-01T00:00:00Z",
        "2026-12-25T15:00:00",
        "%3Cb%3E",
        "%2B262142-12-31T23:59:59Z",
        "-0001-01-01T00:00:00Z",
        "1e400",
    ] {
        let (code, body) = app.get(&format!("/streaming/api/market?at={bad}")).await;
        assert_eq!(code, 400, "{bad}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("ISO 8601"),
            "{body}"
        );
    }
    let (code, _) = app.get_anonymous("/streaming/api/market").await;
    assert_eq!(code, 401);
}

/// The book follows the streaming session: a new one starts it empty.
#[tokio::test]
async fn a_new_session_starts_an_empty_book() {
    let app = TestApp::spawn(Config::for_tests()).await;
    wait_market_connected(&app).await;
    publish(&app, &[tick("ZOLDSESSION", 5.0, 1, Utc::now())]).await;
    candles(&app, "ZOLDSESSION", 1).await;
    let started = json!({"type": "streaming_session_started", "session_id": "market-s-2",
        "start_time": Utc::now().to_rfc3339()});
    app.state
        .bus
        .publish(
            "tickstock:streaming:session_started",
            Bytes::from(started.to_string()),
        )
        .await
        .unwrap();
    let body = wait_for("the book to follow the session", WAIT, || async {
        let (code, body) = app.get("/streaming/api/market/candles/ZOLDSESSION").await;
        (code == 404).then_some(body)
    })
    .await;
    assert!(body["error"].is_string());
    publish(&app, &[tick("ZNEWSESSION", 6.0, 1, Utc::now())]).await;
    let candles = candles(&app, "ZNEWSESSION", 1).await;
    assert_eq!(candles["session_id"], "market-s-2");
}

/// The embedded default: the synthetic feed's ticks on the in-process bus
/// fill the book, whatever session the simulator plays.
#[tokio::test]
async fn the_embedded_default_fills_the_book_from_the_synthetic_feed() {
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.feed.data_source = None;
        config.feed.symbols = "aapl,msft".parse().unwrap();
        config.feed.synthetic_ticks_per_second = 200.0;
        config
    })
    .await;
    let symbols = wait_for("both symbols priced", WAIT, || async {
        let (_, body) = app.get("/streaming/api/market/symbols").await;
        let symbols = body.as_array()?.clone();
        (symbols.len() == 2 && symbols.iter().all(|s| s["price"].as_f64() > Some(0.0)))
            .then_some(symbols)
    })
    .await;
    assert_eq!(symbols[0]["symbol"], "AAPL");
    assert_eq!(symbols[1]["symbol"], "MSFT");
    let (code, candles) = app.get("/streaming/api/market/candles/AAPL").await;
    assert_eq!(code, 200, "{candles}");
    assert!(!candles["candles"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_market_book_runs_supervised_and_shows_in_readiness() {
    let app = TestApp::spawn(Config::for_tests()).await;
    wait_market_connected(&app).await;
    let (code, ready) = app.get("/readyz").await;
    assert_eq!(code, 200, "{ready}");
    assert_eq!(ready["tasks"]["market_book"]["state"], "running", "{ready}");
    assert_eq!(ready["tasks"]["market_book"]["restarts"], 0, "{ready}");
}
