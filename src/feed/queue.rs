//! The bounded queue between a feed's reader and the forwarder: the reader
//! pushes and never waits; when the queue is full the oldest tick is dropped
//! and counted (fresh prices matter more than old ones, and the socket must
//! keep being read).

use std::sync::Arc;

use bytes::Bytes;
use crossbeam_queue::ArrayQueue;
use tokio::sync::Notify;

use super::stats::FeedStats;
use super::tick::Tick;

/// Bounded, and never waits on a push.
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

    /// Ticks waiting for the forwarder.
    pub fn queued(&self) -> usize {
        self.ticks.len()
    }

    /// Completes after the next push (or at once if one came since the last wait).
    pub async fn ready(&self) {
        self.ready.notified().await
    }

    /// Drops the oldest of `held` (a batch that failed, older than anything
    /// queued) so that it and the queue together stay within the capacity.
    pub fn trim_to_capacity(&self, held: &mut Vec<Bytes>) {
        let excess = (held.len() + self.ticks.len()).saturating_sub(self.ticks.capacity());
        if excess > 0 {
            held.drain(..excess.min(held.len()));
            self.stats.count_dropped(excess as u64);
        }
    }

    /// Moves queued ticks, as their wire JSON, into `into` until it holds `batch`.
    pub fn drain(&self, into: &mut Vec<Bytes>, batch: usize) {
        while into.len() < batch {
            match self.ticks.pop() {
                Some(tick) => into.push(tick.to_json()),
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::tick::DataSource;

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
        queue.drain(&mut batch, 16);
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
