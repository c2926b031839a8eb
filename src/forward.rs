//! The tick forwarder: the feed's reader pushes ticks into a bounded queue and
//! never waits; a publisher task drains it in batches and sends them to
//! `tickstock:market:ticks` as pipelined PUBLISH commands. When the queue is
//! full the oldest ticks are dropped and counted: fresh prices matter more than
//! old ones, and the socket must keep being read.
//!
//! While Redis is away a batch that failed is kept and sent again, oldest
//! first, after backoff; together with the queue it holds at most the queue's
//! capacity, so what is lost is exactly the oldest ticks beyond that bound.
//! A pipeline that broke midway may have published part of its batch: the
//! whole batch is sent again, so a subscriber can see a few ticks twice
//! rather than miss them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use crossbeam_queue::ArrayQueue;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::backoff::Backoff;
use crate::bus::Bus;
use crate::events::MARKET_TICKS;
use crate::feed::FeedStats;
use crate::feed::tick::Tick;

/// Ticks per pipelined batch.
const BATCH: usize = 1024;
const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

pub struct TickQueue {
    ticks: ArrayQueue<Tick>,
    ready: Notify,
    stats: Arc<FeedStats>,
}

impl TickQueue {
    pub fn new(capacity: usize, stats: Arc<FeedStats>) -> Self {
        Self {
            ticks: ArrayQueue::new(capacity.max(1)),
            ready: Notify::new(),
            stats,
        }
    }

    /// Never waits: a full queue loses its oldest tick instead.
    pub fn push(&self, tick: Tick) {
        self.stats.count_received(1);
        if self.ticks.force_push(tick).is_some() {
            self.stats.count_dropped(1);
        }
        self.ready.notify_one();
    }

    pub fn stats(&self) -> &FeedStats {
        &self.stats
    }

    /// Drops the oldest of `held` (a batch that failed, older than anything
    /// queued) so that it and the queue together stay within the capacity.
    fn trim_to_capacity(&self, held: &mut Vec<Bytes>) {
        let excess = (held.len() + self.ticks.len()).saturating_sub(self.ticks.capacity());
        if excess > 0 {
            held.drain(..excess.min(held.len()));
            self.stats.count_dropped(excess as u64);
        }
    }

    fn drain(&self, into: &mut Vec<Bytes>) {
        while into.len() < BATCH {
            match self.ticks.pop() {
                Some(tick) => into.push(tick.to_json()),
                None => break,
            }
        }
    }
}

/// Publishes queued ticks until `shutdown`.
pub async fn run(queue: Arc<TickQueue>, bus: Bus, shutdown: CancellationToken) {
    let stats = &queue.stats;
    let mut batch = Vec::with_capacity(BATCH);
    let mut backoff =
        Backoff::new(Duration::from_millis(50), Duration::from_secs(2)).first_at_once();
    let mut summary = Summary::new(stats.ticks_forwarded(), stats.ticks_dropped());
    loop {
        summary.log_if_due(stats);
        if batch.is_empty() {
            queue.drain(&mut batch);
        } else {
            queue.trim_to_capacity(&mut batch);
        }
        if batch.is_empty() {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = queue.ready.notified() => continue,
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
                    queue.ticks.len()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::DataSource;

    fn tick(price: f64) -> Tick {
        Tick::new("X".into(), price, 1, 0.0, DataSource::Synthetic)
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_it() {
        let stats = Arc::new(FeedStats::new(Some(DataSource::Synthetic)));
        let queue = TickQueue::new(2, stats.clone());
        for price in [1.0, 2.0, 3.0] {
            queue.push(tick(price));
        }
        assert_eq!(stats.ticks_received(), 3);
        assert_eq!(stats.ticks_dropped(), 1);
        let mut batch = Vec::new();
        queue.drain(&mut batch);
        let prices: Vec<f64> = batch
            .iter()
            .map(|b| {
                serde_json::from_slice::<serde_json::Value>(b).unwrap()["price"]
                    .as_f64()
                    .unwrap()
            })
            .collect();
        assert_eq!(prices, [2.0, 3.0]);
    }
}
