//! The tick forwarder: a publisher task drains the feed's bounded queue
//! (`feed::queue`) in batches and sends them to `tickstock:market:ticks` as
//! pipelined PUBLISH commands.
//!
//! While Redis is away a batch that failed is kept and sent again, oldest
//! first, after backoff; together with the queue it holds at most the queue's
//! capacity, so what is lost is exactly the oldest ticks beyond that bound.
//! A pipeline that broke midway may have published part of its batch: the
//! whole batch is sent again, so a subscriber can see a few ticks twice
//! rather than miss them.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::backoff::Backoff;
use crate::bus::Bus;
use crate::events::MARKET_TICKS;
use crate::feed::queue::TickQueue;
use crate::feed::stats::FeedStats;
use crate::supervise::{Restart, Supervisor};

/// Ticks per pipelined batch.
const BATCH: usize = 1024;
const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// Runs the forwarder of `queue`, supervised, until `shutdown`.
pub fn start(queue: Arc<TickQueue>, bus: &Bus, tasks: &Supervisor, shutdown: &CancellationToken) {
    let (bus, stop) = (bus.clone(), shutdown.clone());
    tasks.spawn("forwarder", Restart::Always, shutdown.clone(), move || {
        run(queue.clone(), bus.clone(), stop.clone())
    });
}

/// Publishes queued ticks until `shutdown`.
pub async fn run(queue: Arc<TickQueue>, bus: Bus, shutdown: CancellationToken) {
    let stats = queue.stats();
    let mut batch = Vec::with_capacity(BATCH);
    let mut backoff =
        Backoff::new(Duration::from_millis(50), Duration::from_secs(2)).first_at_once();
    let mut summary = Summary::new(stats.ticks_forwarded(), stats.ticks_dropped());
    loop {
        summary.log_if_due(stats);
        if batch.is_empty() {
            queue.drain(&mut batch, BATCH);
        } else {
            queue.trim_to_capacity(&mut batch);
        }
        if batch.is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = queue.ready() => continue,
                _ = tokio::time::sleep(SUMMARY_INTERVAL) => continue,
            }
        }
        let sent = batch.len() as u64;
        match bus.publish_batch(MARKET_TICKS, &batch).await {
            Ok(()) => {
                stats.count_forwarded(sent);
                backoff.reset();
                batch.clear();
            }
            Err(error) => {
                // Kept for the next attempt; the first comes at once, since a
                // restarted Redis is usually back by then.
                let delay = backoff.next_delay();
                warn!(
                    "MARKET-DATA-SERVICE: Failed to forward {sent} ticks ({error}); holding them ({} queued), retrying in {delay:?}",
                    queue.queued()
                );
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// A `MARKET-DATA-SERVICE:` line per interval, never one per tick.
struct Summary {
    since: Instant,
    forwarded: u64,
    dropped: u64,
}

impl Summary {
    fn new(forwarded: u64, dropped: u64) -> Self {
        Self {
            since: Instant::now(),
            forwarded,
            dropped,
        }
    }

    fn log_if_due(&mut self, stats: &FeedStats) {
        if self.since.elapsed() < SUMMARY_INTERVAL {
            return;
        }
        let (forwarded, dropped) = (stats.ticks_forwarded(), stats.ticks_dropped());
        info!(
            "MARKET-DATA-SERVICE: Forwarded {} ticks to {MARKET_TICKS} in the last {}s ({} dropped; {} received in total)",
            forwarded - self.forwarded,
            self.since.elapsed().as_secs(),
            dropped - self.dropped,
            stats.ticks_received()
        );
        *self = Self::new(forwarded, dropped);
    }
}
