//! One feed across replicas: only the holder of a lease key in Redis (SET NX
//! PX, renewed, released on clean shutdown) runs the feed; the others stand by
//! and take over within `TTL + ACQUIRE_EVERY` (7 s) of the holder's death.
//!
//! The holder keeps its feed through a Redis outage (the socket must keep
//! being read, and nobody else can take the key meanwhile) and re-claims a key
//! that a restarted Redis forgot; it stops only when Redis says another
//! instance holds the key. A command that failed is retried at once, then
//! with backoff up to the usual interval, so that the holder re-claims a
//! forgotten key before a standby could take it.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::stats::{FeedState, FeedStats};
use crate::backoff::Backoff;

pub const LEASE_KEY: &str = "tickstock:market_feed:leader";
const TTL: Duration = Duration::from_secs(6);
const RENEW_EVERY: Duration = Duration::from_secs(2);
const ACQUIRE_EVERY: Duration = Duration::from_secs(1);
const RETRY_BASE: Duration = Duration::from_millis(100);

/// The wait before the next lease command: `every` after a success, else
/// the next step of `retry` (at once first), never longer than `every`.
fn next_wait(succeeded: bool, every: Duration, retry: &mut Backoff) -> Duration {
    if succeeded {
        retry.reset();
        every
    } else {
        retry.next_delay().min(every)
    }
}

/// Extends our lease, or takes the key again if it vanished; 0 if another holds it.
const RENEW: &str = "local holder = redis.call('GET', KEYS[1]) \
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end \
if holder == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end \
return 0";
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// Cloned for each restart of [`lead`], keeping the holder's name: a
/// restarted leader takes back its own key at once.
#[derive(Clone)]
pub struct Lease {
    conn: ConnectionManager,
    holder: String,
}

impl Lease {
    pub fn new(conn: ConnectionManager) -> Self {
        let holder = format!("{}-{:08x}", std::process::id(), rand::random::<u32>());
        Self { conn, holder }
    }

    /// Takes the key if it is free or already ours.
    async fn try_acquire(&mut self) -> redis::RedisResult<bool> {
        self.run_script(RENEW, TTL.as_millis() as u64).await
    }

    async fn run_script(&mut self, script: &str, ttl_ms: u64) -> redis::RedisResult<bool> {
        let done: i64 = redis::cmd("EVAL")
            .arg(script)
            .arg(1)
            .arg(LEASE_KEY)
            .arg(&self.holder)
            .arg(ttl_ms)
            .query_async(&mut self.conn)
            .await?;
        Ok(done == 1)
    }
}

/// Runs `produce` (which starts the feed and returns its task) while this
/// process holds the lease; stops it at once when the lease is lost.
pub async fn lead<F>(
    mut lease: Lease,
    produce: F,
    stats: Arc<FeedStats>,
    shutdown: CancellationToken,
) where
    F: Fn(CancellationToken) -> JoinHandle<()>,
{
    let mut retry = Backoff::new(RETRY_BASE, RENEW_EVERY).first_at_once();
    loop {
        stats.set_leader(false);
        stats.set_state(FeedState::Standby);
        loop {
            let reached = match lease.try_acquire().await {
                Ok(true) => break,
                Ok(false) => true,
                Err(error) => {
                    warn!("MARKET-DATA-SERVICE: Cannot reach Redis for the feed lease: {error}");
                    false
                }
            };
            let wait = next_wait(reached, ACQUIRE_EVERY, &mut retry);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
        retry.reset();
        info!(
            "MARKET-DATA-SERVICE: This instance ({}) holds the feed lease and runs the market feed",
            lease.holder
        );
        stats.set_leader(true);
        let feed_stop = shutdown.child_token();
        // A panic below must not leave the feed running without the lease.
        let _stop_feed_on_unwind = feed_stop.clone().drop_guard();
        let feed = produce(feed_stop.clone());
        let mut renewed_at = Instant::now();
        let mut wait = RENEW_EVERY;
        let lost = loop {
            tokio::select! {
                _ = shutdown.cancelled() => break false,
                _ = tokio::time::sleep(wait) => {}
            }
            let renewed = match lease.run_script(RENEW, TTL.as_millis() as u64).await {
                Ok(true) => {
                    renewed_at = Instant::now();
                    true
                }
                Ok(false) => break true,
                Err(error) => {
                    warn!(
                        "MARKET-DATA-SERVICE: Cannot renew the feed lease for {:?} ({error}); keeping the feed",
                        renewed_at.elapsed()
                    );
                    false
                }
            };
            wait = next_wait(renewed, RENEW_EVERY, &mut retry);
        };
        feed_stop.cancel();
        let _ = feed.await;
        if !lost {
            if let Err(error) = lease.run_script(RELEASE, 0).await {
                warn!("MARKET-DATA-SERVICE: Could not release the feed lease: {error}");
            }
            stats.set_leader(false);
            return;
        }
        warn!("MARKET-DATA-SERVICE: Lost the feed lease; standing by");
    }
}
