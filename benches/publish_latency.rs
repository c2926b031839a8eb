//! PUBLISH-to-state latency: a real Redis, the real bus subscriber and the real
//! decode-and-apply path. Messages are published at a fixed rate from one
//! connection (Redis keeps their order), so the i-th message received is the
//! i-th sent and its latency is its receive time minus its send time.
//!
//! `cargo bench --bench publish_latency -- [RATE_PER_SEC] [SECONDS]`
//! (defaults 5000 and 10). Uses `REDIS_URL` if set, else starts a
//! `redis-server` of its own on a free port.

mod samples;
mod support;

use support::percentile;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tickstock::bus::Bus;
use tickstock::events::Channel;
use tickstock::state::{Limits, LiveState};
use tickstock::subscriber::Subscriber;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` does not, and
    // then a tiny run only proves the bench still works.
    let benching = support::benching();
    let args: Vec<u64> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let (default_rate, default_seconds) = if benching { (5_000, 10) } else { (200, 1) };
    let rate = args.first().copied().unwrap_or(default_rate).max(1);
    let seconds = args.get(1).copied().unwrap_or(default_seconds).max(1);
    let total = (rate * seconds) as usize;

    // REDIS_URL if set, else a redis-server of its own.
    let own = std::env::var("REDIS_URL")
        .is_err()
        .then(support::OwnRedis::start);
    let url = own.as_ref().map_or_else(
        || std::env::var("REDIS_URL").unwrap_or_default(),
        |r| r.url.clone(),
    );
    let bus = Bus::new(Some(&url)).expect("bus");
    let shutdown = CancellationToken::new();
    let mut subscription = bus.subscribe(&Channel::ALL.map(Channel::name), shutdown.clone());
    let state = Arc::new(LiveState::new(
        subscription.link.clone(),
        Duration::from_secs(30),
        Limits::default(),
    ));
    let mut subscriber = Subscriber::new(state.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !state.link().connected() {
        assert!(Instant::now() < deadline, "could not subscribe to {url}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let health = samples::samples()
        .into_iter()
        .find(|(name, ..)| *name == "health_a")
        .map(|(_, _, message)| message)
        .expect("a health sample")
        // Stamped now: the default rules refuse an event a week old, and a
        // refusal is not the path measured here.
        .replace(
            "2025-10-07T17:35:00.000Z",
            &chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
    let client = redis::Client::open(url.as_str()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");

    let receiver = tokio::spawn(async move {
        let mut received = Vec::with_capacity(total);
        while received.len() < total {
            let next = tokio::time::timeout(Duration::from_secs(5), subscription.messages.recv());
            let Ok(Some(message)) = next.await else { break };
            subscriber.ingest(&message, chrono::Utc::now());
            received.push(Instant::now());
        }
        received
    });

    // Paced by a 1 ms timer: each tick sends the messages now due.
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    let mut sent = Vec::with_capacity(total);
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    while sent.len() < total {
        ticker.tick().await;
        let due =
            ((start.elapsed().as_secs_f64() / interval.as_secs_f64()) as usize + 1).min(total);
        while sent.len() < due {
            sent.push(Instant::now());
            redis::cmd("PUBLISH")
                .arg(Channel::Health.name())
                .arg(&health)
                .exec_async(&mut conn)
                .await
                .expect("PUBLISH");
        }
    }
    let publish_seconds = start.elapsed().as_secs_f64();
    let received = receiver.await.expect("receiver");
    shutdown.cancel();

    let mut latencies: Vec<Duration> = sent
        .iter()
        .zip(&received)
        .map(|(s, r)| r.saturating_duration_since(*s))
        .collect();
    latencies.sort();
    assert_eq!(received.len(), total, "messages were lost");
    println!(
        "publish_latency: {rate} events/s for {seconds} s ({:.0} events/s achieved)",
        total as f64 / publish_seconds
    );
    println!(
        "  sent {total}, received {}, decode errors {}",
        received.len(),
        state.channel(Channel::Health).decode_errors()
    );
    assert_eq!(
        state.channel(Channel::Health).decode_errors(),
        0,
        "every event is applied, none refused"
    );
    if !latencies.is_empty() {
        println!(
            "  PUBLISH-to-state latency: p50 {:?}  p95 {:?}  p99 {:?}  max {:?}",
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.95),
            percentile(&latencies, 0.99),
            latencies[latencies.len() - 1]
        );
    }
}
