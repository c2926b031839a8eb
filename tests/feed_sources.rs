//! The synthetic and replay sources, and recording a live feed for replay.

mod common;

use std::time::Duration;

use common::massive::{Behaviour, Command, FakeMassive, trades_frame};
use common::{ChannelListener, RedisServer, TestApp, WAIT, wait_for};
use serde_json::Value;
use tickstock::config::Config;
use tickstock::feed::replay::ReplaySpeed;
use tickstock::feed::settings::{List, SourceChoice};

async fn forwarded(app: &TestApp) -> u64 {
    app.status().await["market_feed"]["ticks_forwarded"]
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test]
async fn the_synthetic_feed_walks_every_symbol_into_redis_in_the_tick_shape() {
    let redis = RedisServer::start().await;
    let listener = ChannelListener::start(&redis, "tickstock:market:ticks").await;
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.bus.redis_url = Some(redis.url().into());
        config.feed.data_source = Some(SourceChoice::Synthetic);
        config.feed.symbols = "aapl,msft,brk.b".parse::<List>().unwrap();
        config.feed.synthetic_ticks_per_second = 500.0;
        config
    })
    .await;
    let ticks = listener.wait_count(300).await;
    let mut symbols = std::collections::BTreeSet::new();
    for tick in &ticks {
        let tick: Value = serde_json::from_str(tick).unwrap();
        assert_eq!(tick["type"], "market_tick");
        assert_eq!(tick["source"], "synthetic");
        let price = tick["price"].as_f64().unwrap();
        assert!(price > 0.0 && price < 10_000.0, "{tick}");
        assert_eq!(tick["volume"].as_u64().unwrap() % 100, 0, "round lots");
        assert!(tick["timestamp"].as_f64().unwrap() > 1.7e9);
        symbols.insert(tick["symbol"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        symbols.into_iter().collect::<Vec<_>>(),
        ["AAPL", "BRK.B", "MSFT"]
    );
    let feed = app.status().await["market_feed"].clone();
    assert_eq!(
        (feed["source"].as_str(), feed["leader"].as_bool()),
        (Some("synthetic"), Some(true))
    );
}

#[tokio::test]
async fn the_embedded_default_runs_the_synthetic_feed_on_the_in_process_bus() {
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.feed.data_source = None;
        config.feed.synthetic_ticks_per_second = 200.0;
        config
    })
    .await;
    wait_for("synthetic ticks forwarded in-process", WAIT, || async {
        (forwarded(&app).await >= 50).then_some(())
    })
    .await;
    assert_eq!(app.status().await["market_feed"]["source"], "synthetic");
}

#[tokio::test]
async fn a_recorded_live_feed_replays_as_fast_as_possible() {
    let redis = RedisServer::start().await;
    let fake = FakeMassive::start(Behaviour::Accept).await;
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("frames.jsonl");
    let live = TestApp::spawn({
        let mut config = Config::for_tests();
        config.bus.redis_url = Some(redis.url().into());
        config.feed.data_source = Some(SourceChoice::Massive);
        config.feed.massive_api_key = Some("k".into());
        config.feed.massive_ws_url = fake.url.clone();
        config.feed.massive_subscriptions = Some("T.AAPL".parse::<List>().unwrap());
        config.feed.massive_record_file = Some(recording.clone());
        config
    })
    .await;
    wait_for("connected", WAIT, || async {
        (live.status().await["market_feed"]["state"] == "connected").then_some(())
    })
    .await;
    for _ in 0..5 {
        fake.command(Command::Send(trades_frame(20, "AAPL")));
    }
    wait_for("100 ticks forwarded live", WAIT, || async {
        (forwarded(&live).await == 100).then_some(())
    })
    .await;
    // The recorder flushes when caught up: wait for the 5 data frames on disk.
    let frames = wait_for("5 frames recorded", WAIT, || async {
        let text = std::fs::read_to_string(&recording).unwrap_or_default();
        let data: Vec<String> = text
            .lines()
            .filter(|l| l.contains("\\\"ev\\\":\\\"T\\\""))
            .map(str::to_owned)
            .collect();
        (data.len() == 5).then_some(data)
    })
    .await;
    let first: Value = serde_json::from_str(&frames[0]).unwrap();
    assert!(first["at_ms"].as_i64().unwrap() > 1_700_000_000_000);
    drop(live);

    let replay = TestApp::spawn({
        let mut config = Config::for_tests();
        config.feed.data_source = Some(SourceChoice::Replay);
        config.feed.replay_file = Some(recording);
        config.feed.replay_speed = ReplaySpeed::AsFastAsPossible;
        config
    })
    .await;
    let feed = wait_for("the replay to finish", WAIT, || async {
        let feed = replay.status().await["market_feed"].clone();
        (feed["state"] == "stopped").then_some(feed)
    })
    .await;
    assert_eq!(feed["source"], "replay");
    assert_eq!(feed["ticks_received"], 100);
    wait_for(
        "100 replayed ticks forwarded",
        Duration::from_secs(5),
        || async { (forwarded(&replay).await == 100).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn every_long_running_task_is_supervised_and_shown_in_readiness_and_metrics() {
    let redis = RedisServer::start().await;
    let listener = ChannelListener::start(&redis, "tickstock:market:ticks").await;
    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.bus.redis_url = Some(redis.url().into());
        config.feed.data_source = Some(SourceChoice::Synthetic);
        config.feed.synthetic_ticks_per_second = 200.0;
        config
    })
    .await;
    app.wait_connected().await;
    listener.wait_count(1).await;
    let tasks = [
        "recorder",
        "conformance",
        "subscriber",
        "push_hub",
        "forwarder",
        "feed_lease",
        "feed",
    ];
    let (code, ready) = app.get("/readyz").await;
    assert_eq!(code, 200, "{ready}");
    for task in tasks {
        assert_eq!(ready["tasks"][task]["state"], "running", "{task}: {ready}");
        assert_eq!(ready["tasks"][task]["restarts"], 0, "{task}: {ready}");
    }
    let metrics = app.get_text("/metrics").await;
    for task in tasks {
        let restarts = format!("tickstock_task_restarts_total{{task=\"{task}\"}} 0");
        let running = format!("tickstock_task_running{{task=\"{task}\"}} 1");
        assert!(metrics.lines().any(|l| l == restarts), "{restarts}");
        assert!(metrics.lines().any(|l| l == running), "{running}");
    }
}
