//! The feed side of a Redis outage, against a real redis-server killed and
//! restarted: the forwarder holds the outage's ticks (up to its capacity) and
//! publishes them in order when Redis is back, and the subscriber is back
//! within moments of Redis answering again.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{ChannelListener, RedisServer, WAIT, wait_for};
use tickstock::bus::Bus;
use tickstock::events::MARKET_TICKS;
use tickstock::feed::queue::TickQueue;
use tickstock::feed::tick::Tick;
use tickstock::feed::{DataSource, FeedStats};
use tickstock::forward;
use tokio_util::sync::CancellationToken;

const GATE_PASSWORD: &str = "gate";

/// A redis-server restarted on a dead one's port that refuses every
/// unauthenticated command until [`GatedRedis::open`]: the test's listener
/// subscribes first, so nothing the forwarder publishes can pass it by.
struct GatedRedis {
    child: Child,
    port: u16,
}

impl GatedRedis {
    async fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--requirepass", GATE_PASSWORD])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let gated = Self { child, port };
        common::wait_answering(&gated.url(), "the gated redis-server to answer").await;
        gated
    }

    fn url(&self) -> String {
        format!("redis://:{GATE_PASSWORD}@127.0.0.1:{}/", self.port)
    }

    /// Waits until a PUBLISH of the forwarder has been refused: the held
    /// batch has failed against this server once.
    async fn wait_refused_publish(&self) {
        let client = redis::Client::open(self.url()).expect("redis url");
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        wait_for("a refused PUBLISH", WAIT, || {
            let mut conn = conn.clone();
            async move {
                let info: String = redis::cmd("INFO")
                    .arg("commandstats")
                    .query_async(&mut conn)
                    .await
                    .ok()?;
                let publish = info.lines().find(|l| l.starts_with("cmdstat_publish:"))?;
                let rejected = publish
                    .split(',')
                    .find_map(|f| f.strip_prefix("rejected_calls="))?;
                (rejected.trim().parse::<u64>().ok()? > 0).then_some(())
            }
        })
        .await;
    }

    /// Lets every client in.
    async fn open(&self) {
        let client = redis::Client::open(self.url()).expect("redis url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("requirepass")
            .arg("")
            .exec_async(&mut conn)
            .await
            .expect("CONFIG SET requirepass");
    }
}

impl Drop for GatedRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Subscribes to the ticks on the gated server, before it is opened.
async fn listen(gated: &GatedRedis) -> ChannelListener {
    ChannelListener::start_at(&gated.url(), MARKET_TICKS).await
}

fn numbered(n: u64) -> Tick {
    Tick::new("SEQ".into(), 1.0, n, 1_759_850_000.0, DataSource::Synthetic)
}

fn volumes(messages: &[String]) -> Vec<u64> {
    messages
        .iter()
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(m).expect("a tick")["volume"]
                .as_u64()
                .expect("a volume")
        })
        .collect()
}

struct Forwarder {
    queue: Arc<TickQueue>,
    stats: Arc<FeedStats>,
    stop: CancellationToken,
}

impl Forwarder {
    /// A forwarder on `redis` that has published a first tick.
    async fn connected(redis: &RedisServer, capacity: usize) -> Self {
        let stats = Arc::new(FeedStats::new(Some(DataSource::Synthetic)));
        let queue = Arc::new(TickQueue::new(capacity, stats.clone()));
        let stop = CancellationToken::new();
        let bus = Bus::new(Some(&redis.url())).expect("a bus");
        tokio::spawn(forward::run(queue.clone(), bus, stop.clone()));
        let forwarder = Self { queue, stats, stop };
        forwarder.queue.push(numbered(0));
        forwarder.wait_forwarded(1).await;
        forwarder
    }

    async fn wait_forwarded(&self, count: u64) {
        wait_for(&format!("{count} ticks forwarded"), WAIT, || async {
            (self.stats.ticks_forwarded() >= count).then_some(())
        })
        .await;
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_of_a_redis_outage_are_held_and_published_in_order_when_it_is_back() {
    let mut redis = RedisServer::start().await;
    let forwarder = Forwarder::connected(&redis, 65_536).await;

    redis.kill();
    let outage: Vec<u64> = (1..=3_000).collect();
    for &n in &outage {
        forwarder.queue.push(numbered(n));
    }
    let gated = GatedRedis::start(redis.port).await;
    let listener = listen(&gated).await;
    gated.wait_refused_publish().await;
    gated.open().await;

    let received = listener.wait_count(outage.len()).await;
    assert_eq!(
        volumes(&received),
        outage,
        "every tick of the outage, in order"
    );
    forwarder.wait_forwarded(1 + outage.len() as u64).await;
    assert_eq!(forwarder.stats.ticks_dropped(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_capacity_exactly_the_oldest_ticks_are_dropped_and_counted() {
    let capacity = 100u64;
    let mut redis = RedisServer::start().await;
    let forwarder = Forwarder::connected(&redis, capacity as usize).await;

    redis.kill();
    let sent = 1_000u64;
    for n in 1..=sent {
        forwarder.queue.push(numbered(n));
    }
    // A batch taken before the last pushes is trimmed at its next attempt.
    wait_for("the overflow to be counted", WAIT, || async {
        (forwarder.stats.ticks_dropped() == sent - capacity).then_some(())
    })
    .await;
    let gated = GatedRedis::start(redis.port).await;
    let listener = listen(&gated).await;
    gated.wait_refused_publish().await;
    gated.open().await;

    let received = listener.wait_count(capacity as usize).await;
    let newest: Vec<u64> = (sent - capacity + 1..=sent).collect();
    assert_eq!(volumes(&received), newest, "the newest ticks, in order");
    forwarder.wait_forwarded(1 + capacity).await;
    assert_eq!(forwarder.stats.ticks_dropped(), sent - capacity);
    assert_eq!(forwarder.stats.ticks_received(), 1 + sent);
}

/// Redis restarted several times in a row: each time the subscriber receives
/// again within moments of Redis answering (before, the backoff kept growing
/// across restarts and reached 5 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_each_redis_restart_the_subscriber_is_back_at_once() {
    const CHANNEL: &str = "tickstock:test:restart";
    let mut redis = RedisServer::start().await;
    let bus = Bus::new(Some(&redis.url())).expect("a bus");
    let stop = CancellationToken::new();
    let mut subscription = bus.subscribe(&[CHANNEL], stop.clone());
    let link = subscription.link.clone();
    wait_for("the subscriber to connect", WAIT, || async {
        link.connected().then_some(())
    })
    .await;

    let mut gaps = Vec::new();
    for restart in 1..=6u64 {
        redis.restart().await;
        let answering = tokio::time::Instant::now();
        let mut publisher = redis.publisher().await;
        // Published until one arrives: what was published before the
        // resubscribe is lost, as pub/sub loses it.
        let delivered = async {
            loop {
                publisher.publish(CHANNEL, restart.to_string()).await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        };
        let expected = restart.to_string();
        let first = async {
            // Skips what the previous round published after it was drained.
            while let Some(message) = subscription.messages.recv().await {
                if message.payload.as_ref() == expected.as_bytes() {
                    return;
                }
            }
            panic!("the subscription closed");
        };
        tokio::select! {
            _ = delivered => unreachable!(),
            arrived = tokio::time::timeout(WAIT, first) => arrived.expect("a delivery"),
        }
        gaps.push(answering.elapsed());
        assert_eq!(link.reconnects(), restart);
    }
    println!("Redis answering again -> first delivery, per restart: {gaps:?}");
    for gap in &gaps {
        assert!(*gap < Duration::from_secs(1), "{gaps:?}");
    }
    stop.cancel();
}

/// The feed's holder re-claims the lease key a restarted Redis forgot, under
/// the same name, and keeps its feed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_holder_re_claims_its_key_after_a_redis_restart() {
    use tickstock::feed::lease::LEASE_KEY;
    let mut redis = RedisServer::start().await;
    let app = common::TestApp::spawn({
        let mut config = tickstock::config::Config::for_tests();
        config.bus.redis_url = Some(redis.url().into());
        config.feed.data_source = Some(tickstock::feed::settings::SourceChoice::Synthetic);
        config.feed.synthetic_ticks_per_second = 50.0;
        config
    })
    .await;
    let url = redis.url();
    let holder = || async {
        let client = redis::Client::open(url.as_str()).ok()?;
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("GET")
            .arg(LEASE_KEY)
            .query_async::<Option<String>>(&mut conn)
            .await
            .ok()
            .flatten()
    };
    let first = wait_for("the lease to be taken", WAIT, holder).await;

    redis.restart().await;
    let answering = tokio::time::Instant::now();
    let again = wait_for("the lease to be re-claimed", WAIT, holder).await;
    println!(
        "Redis answering again -> lease re-claimed: {:?}",
        answering.elapsed()
    );
    assert_eq!(again, first, "the same holder");
    assert!(app.state.feed.leader());
    let forwarded = app.state.feed.ticks_forwarded();
    wait_for("ticks forwarded after the restart", WAIT, || async {
        (app.state.feed.ticks_forwarded() > forwarded).then_some(())
    })
    .await;
}
