//! `tickstock simulate` and `tickstock publish` as an operator runs them:
//! the binary against a private Redis, received by the running app. And the
//! mock data of seed 004 (tests/mock_data), checked line by line.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use chrono::Utc;
use common::{ChannelListener, RedisServer, TestApp, WAIT};
use serde_json::{Value, json};
use tickstock::events::{self, Channel, Event, MARKET_TICKS};
use tokio_util::sync::CancellationToken;

/// The binary, with nothing inherited that could change its configuration.
fn tickstock(args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tickstock"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // Away from any .env in the working tree.
        .current_dir(std::env::temp_dir())
        .kill_on_drop(true);
    command
}

async fn run(command: &mut tokio::process::Command) -> Output {
    tokio::time::timeout(WAIT, command.output())
        .await
        .expect("tickstock finishes")
        .expect("tickstock runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn mock_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mock_data");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    files
}

/// Every mock line as (channel, message).
fn mock_lines() -> Vec<(Channel, Value)> {
    mock_files()
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            text.lines()
                .map(|line| {
                    let record: Value = serde_json::from_str(line).unwrap();
                    let channel = Channel::from_name(record["channel"].as_str().unwrap())
                        .expect("one of the 8 channels");
                    (channel, record["message"].clone())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn simulate_and_publish_refuse_to_run_without_redis_url() {
    for args in [&["simulate"][..], &["publish", "events.jsonl"]] {
        let output = run(&mut tickstock(args)).await;
        assert!(!output.status.success(), "{args:?} ran");
        assert!(
            stderr(&output).contains("REDIS_URL"),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[tokio::test]
async fn the_mock_data_is_what_seed_004_asks_for_and_decodes() {
    let lines = mock_lines();
    let mut decoded = Vec::new();
    for (channel, message) in &lines {
        let bytes = message.to_string();
        match events::decode(*channel, bytes.as_bytes(), Utc::now()) {
            Ok(event) => decoded.push(event),
            Err(error) => panic!("{channel}: {error}: {bytes}"),
        }
    }
    let mut patterns = HashSet::new();
    let mut pattern_types = BTreeSet::new();
    let mut alert_types = BTreeMap::<String, usize>::new();
    let mut health_statuses = BTreeSet::new();
    let (mut starts, mut stops, mut critical, mut recoveries) = (0, 0, 0, 0);
    for event in &decoded {
        match event {
            Event::Patterns(batch) => {
                for p in &batch.patterns {
                    patterns.insert(p.metadata["pattern_id"].as_str().unwrap().to_owned());
                    pattern_types.insert(p.pattern_type.clone());
                    assert!(p.bar_data.is_some());
                }
            }
            Event::IndicatorAlert(alert) => {
                *alert_types.entry(alert.alert_type.clone()).or_default() += 1
            }
            Event::Health(health) => {
                health_statuses.insert(health.status.clone());
            }
            Event::SessionStarted(_) => starts += 1,
            Event::SessionStopped(stopped) => {
                stops += 1;
                assert_eq!(stopped.final_status.as_deref(), Some("completed"));
                assert_eq!(stopped.total_patterns, Some(100));
            }
            Event::CriticalAlert(alert) if alert.is_recovery() => recoveries += 1,
            Event::CriticalAlert(_) => critical += 1,
            Event::Indicator(_) => {}
        }
    }
    assert_eq!(patterns.len(), 100, "100 sample patterns");
    assert_eq!(pattern_types.len(), 4, "{pattern_types:?}");
    assert_eq!(
        alert_types.values().sum::<usize>(),
        50,
        "50 indicator alerts"
    );
    assert_eq!(alert_types.len(), 6, "{alert_types:?}");
    let health = lines.iter().filter(|(c, _)| *c == Channel::Health);
    assert_eq!(health.clone().count(), 10, "10 health snapshots");
    assert!(health_statuses.len() >= 5, "{health_statuses:?}");
    assert!(
        health
            .clone()
            .any(|(_, m)| m["health"].get("data_flow").is_some()),
        "shape B"
    );
    assert!(
        health
            .clone()
            .any(|(_, m)| m["health"].get("session_id").is_some()),
        "shape A"
    );
    assert_eq!((starts, stops, critical, recoveries), (1, 1, 1, 1));
    // The session starts first and stops last.
    assert_eq!(
        lines.first().map(|(c, _)| *c),
        Some(Channel::SessionStarted)
    );
    assert_eq!(lines.last().map(|(c, _)| *c), Some(Channel::SessionStopped));
}

#[tokio::test]
async fn publishing_the_mock_data_reaches_the_running_app_without_decode_errors() {
    let redis = RedisServer::start().await;
    let app = TestApp::with_redis(&redis).await;
    app.wait_connected().await;
    let mut expected = BTreeMap::<Channel, u64>::new();
    for (channel, _) in mock_lines() {
        *expected.entry(channel).or_default() += 1;
    }

    let files = mock_files();
    let mut args = vec!["publish"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let output = run(tickstock(&args).env("REDIS_URL", redis.url())).await;
    assert!(output.status.success(), "{}", stderr(&output));
    let total: u64 = expected.values().sum();
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(&format!("Published {total} messages")),
        "{output:?}"
    );

    for (channel, count) in &expected {
        app.wait_messages(channel.name(), *count).await;
    }
    for channel in Channel::ALL {
        let stats = app.state.live.channel(channel);
        assert_eq!(
            stats.messages(),
            expected.get(&channel).copied().unwrap_or(0),
            "{channel}"
        );
        assert_eq!(stats.decode_errors(), 0, "{channel}");
    }
    // The high-confidence copies are shown once: 100 distinct patterns.
    assert_eq!(app.state.live.recent_patterns(1000).len(), 100);
    assert_eq!(app.state.live.recent_alerts(1000).len(), 50 + 2);
    let stopped = app.state.live.last_stopped().expect("the session stopped");
    assert_eq!(stopped.total_patterns, Some(100));
}

#[tokio::test]
async fn a_malformed_line_is_reported_with_its_file_and_line_and_skipped() {
    let redis = RedisServer::start().await;
    let listener = ChannelListener::start(&redis, "tickstock:streaming:health").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let health = json!({"channel": "tickstock:streaming:health",
                        "message": {"type": "streaming_health", "health": {"status": "healthy"}}});
    std::fs::write(
        &file,
        format!("{health}\n{{\"channel\": oops\n\n{health}\n"),
    )
    .unwrap();
    let missing = dir.path().join("missing.jsonl");

    let output = run(
        tickstock(&["publish", file.to_str().unwrap(), missing.to_str().unwrap()])
            .env("REDIS_URL", redis.url()),
    )
    .await;
    assert!(!output.status.success());
    let stderr = stderr(&output);
    assert!(
        stderr.contains(&format!("{}:2: not JSON", file.display())),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}: ", missing.display())),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("Published 2 messages"));
    let received = listener.wait_count(2).await;
    assert!(
        received.iter().all(|m| m.contains("healthy")),
        "{received:?}"
    );
}

#[tokio::test]
async fn simulate_against_redis_feeds_the_running_app_until_market_close() {
    let redis = RedisServer::start().await;
    let app = TestApp::with_redis(&redis).await;
    app.wait_connected().await;
    // TickStock's part: ticks on tickstock:market:ticks.
    let ticks = CancellationToken::new();
    let mut publisher = redis.publisher().await;
    let stop_ticks = ticks.clone();
    tokio::spawn(async move {
        let mut clock = tokio::time::interval(Duration::from_millis(10));
        let mut step: u32 = 0;
        while !stop_ticks.is_cancelled() {
            clock.tick().await;
            step += 1;
            for (symbol, base) in [("AAPL", 227.0), ("MSFT", 512.0)] {
                let price = base + f64::from(step % 17) * 0.05;
                let tick = json!({"type": "market_tick", "symbol": symbol, "price": price, "volume": 100,
                                  "timestamp": Utc::now().timestamp_millis() as f64 / 1e3, "source": "synthetic"});
                publisher.publish(MARKET_TICKS, tick.to_string()).await;
            }
        }
    });
    let _stop_ticks = ticks.drop_guard();

    let mut simulate = tickstock(&[
        "simulate",
        "--scenario",
        "market-close",
        "--duration",
        "1.5",
        "--sim-bar-seconds",
        "0.25",
        "--sim-health-seconds",
        "0.5",
    ]);
    let output = run(simulate.env("REDIS_URL", redis.url())).await;
    assert!(output.status.success(), "{}", stderr(&output));

    app.wait_messages("tickstock:streaming:session_stopped", 1)
        .await;
    let stopped = app.state.live.last_stopped().expect("session_stopped");
    assert_eq!(stopped.final_status.as_deref(), Some("completed"));
    let indicators = app.messages_on("tickstock:indicators:streaming");
    assert!(indicators >= 2 * 6 * 4, "{indicators} indicators");
    assert_eq!(stopped.total_indicators, Some(indicators as i64));
    assert_eq!(app.messages_on("tickstock:streaming:session_started"), 1);
    assert!(app.messages_on("tickstock:streaming:health") >= 3);
    for channel in Channel::ALL {
        assert_eq!(
            app.state.live.channel(channel).decode_errors(),
            0,
            "{channel}"
        );
    }
}
