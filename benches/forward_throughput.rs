//! Forwarding: a fake Massive server sends trade frames over a real WebSocket,
//! TickStock forwards them, a real Redis subscriber of `tickstock:market:ticks`
//! receives them. Each trade's size carries its sequence number, so every
//! tick's added latency (sent by the fake, received by the subscriber) is
//! measured, and lost ticks are counted.
//!
//! `cargo bench --bench forward_throughput -- [RATE] [SECONDS]`: RATE ticks/s
//! (0 = as fast as possible; default: 10000 then max), SECONDS (default 5).
//! Starts its own redis-server; `cargo test` runs it once at a tiny size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use tickstock::app::Application;
use tickstock::config::Config;
use tickstock::feed::settings::{List, SourceChoice};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

mod support;

use support::{OwnRedis, percentile};

const TRADES_PER_FRAME: usize = 50;

/// Sends `total` trades at `rate` per second (0: as fast as the socket takes
/// them), recording each one's send time by sequence number.
async fn fake_massive(
    listener: TcpListener,
    total: usize,
    rate: u64,
    sent: Arc<Mutex<Vec<Instant>>>,
    go: Arc<tokio::sync::Notify>,
) {
    let Ok((tcp, _)) = listener.accept().await else {
        return;
    };
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    let (mut tx, mut rx) = ws.split();
    let status = |s: &str| {
        Message::text(format!(
            r#"[{{"ev":"status","status":"{s}","message":""}}]"#
        ))
    };
    let _ = tx.send(status("connected")).await;
    let _ = rx.next().await; // auth
    let _ = tx.send(status("auth_success")).await;
    let _ = rx.next().await; // subscribe
    tokio::spawn(async move { while rx.next().await.is_some() {} });
    go.notified().await;
    let start = Instant::now();
    let mut seq = 0usize;
    while seq < total {
        if rate > 0 {
            let due = start + Duration::from_secs_f64(seq as f64 / rate as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let n = TRADES_PER_FRAME.min(total - seq);
        let now_ms = chrono::Utc::now().timestamp_millis();
        let mut frame = String::with_capacity(n * 80);
        frame.push('[');
        for i in 0..n {
            if i > 0 {
                frame.push(',');
            }
            frame.push_str(&format!(
                r#"{{"ev":"T","sym":"AAPL","p":227.41,"s":{},"t":{now_ms},"x":4,"z":3}}"#,
                seq + i + 1
            ));
        }
        frame.push(']');
        {
            let mut sent = sent.lock();
            let at = Instant::now();
            sent.extend(std::iter::repeat_n(at, n));
        }
        if tx.send(Message::text(frame)).await.is_err() {
            return;
        }
        seq += n;
    }
}

async fn run(rate: u64, seconds: u64) {
    let total = if rate == 0 {
        200_000 * seconds as usize
    } else {
        (rate * seconds) as usize
    };
    let redis = OwnRedis::start();
    let url = redis.url.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let ws_url = format!(
        "ws://127.0.0.1:{}/stocks",
        listener.local_addr().expect("addr").port()
    );
    let sent = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let go = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(fake_massive(
        listener,
        total,
        rate,
        sent.clone(),
        go.clone(),
    ));

    // Wait for redis, then subscribe to the ticks.
    let client = redis::Client::open(url.as_str()).expect("url");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut pubsub = loop {
        match client.get_async_pubsub().await {
            Ok(pubsub) => break pubsub,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(error) => panic!("redis: {error}"),
        }
    };
    pubsub
        .subscribe("tickstock:market:ticks")
        .await
        .expect("subscribe");
    let received: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let sink = received.clone();
    tokio::spawn(async move {
        let mut messages = pubsub.into_on_message();
        while let Some(message) = messages.next().await {
            let at = Instant::now();
            let tick: serde_json::Value =
                serde_json::from_slice(message.get_payload_bytes()).unwrap_or_default();
            if let Some(seq) = tick["volume"].as_u64() {
                sink.lock().push((seq, at));
            }
        }
    });

    let app = Application::build({
        let mut config = Config::for_tests();
        config.bus.redis_url = Some(url.into());
        config.feed.data_source = Some(SourceChoice::Massive);
        config.feed.massive_api_key = Some("bench".into());
        config.feed.massive_ws_url = ws_url;
        config.feed.massive_subscriptions = Some("T.AAPL".parse::<List>().expect("list"));
        config
    })
    .await
    .expect("app");
    let feed = app.state().feed.clone();
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    let server = tokio::spawn(app.run_until_stopped(async move { stopped.cancelled().await }));
    while feed.state() != tickstock::feed::FeedState::Connected {
        assert!(Instant::now() < deadline, "the feed did not connect");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    go.notify_one();
    let start = Instant::now();
    let idle_limit = Duration::from_secs(3);
    let mut last_progress = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let count = received.lock().len();
        if count >= total {
            break;
        }
        if count != last_progress.0 {
            last_progress = (count, Instant::now());
        } else if last_progress.1.elapsed() > idle_limit && sent.lock().len() >= total {
            break;
        }
    }
    let received = received.lock().clone();
    let sent = sent.lock().clone();
    let elapsed = received
        .last()
        .map(|(_, at)| at.duration_since(start))
        .unwrap_or_default();
    let mut latencies: Vec<Duration> = received
        .iter()
        .filter_map(|(seq, at)| {
            sent.get(*seq as usize - 1)
                .map(|s| at.saturating_duration_since(*s))
        })
        .collect();
    latencies.sort();
    let label = if rate == 0 {
        "max".to_string()
    } else {
        format!("{rate}/s")
    };
    println!(
        "forward_throughput {label}: sent {}, forwarded {} ({:.0} ticks/s), dropped {} (counted {}), received {}",
        sent.len(),
        feed.ticks_forwarded(),
        received.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        total - received.len(),
        feed.ticks_dropped(),
        received.len()
    );
    if !latencies.is_empty() {
        println!(
            "  added latency fake-send to Redis-receive: p50 {:?}  p99 {:?}  max {:?}",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies[latencies.len() - 1]
        );
    }
    stop.cancel();
    let _ = server.await;
}

#[tokio::main]
async fn main() {
    let benching = support::benching();
    let args: Vec<u64> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    match (args.first(), benching) {
        (Some(rate), _) => run(*rate, args.get(1).copied().unwrap_or(5)).await,
        (None, true) => {
            run(10_000, 5).await;
            run(0, 2).await;
        }
        (None, false) => run(1_000, 1).await,
    }
}
