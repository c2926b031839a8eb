//! The publisher of the run: hostile messages on the 8 channels through the
//! real redis-server, pipelined, with a known-valid marker every
//! `marker_every` messages. A marker counts as delivered only when Redis
//! answered its PUBLISH with at least one receiver (TickStock's subscriber),
//! so markers sent while TickStock was not subscribed are not expected in
//! the database.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, TimeDelta, Utc};

use crate::mutate::{CRITICAL_ALERTS, MUTATIONS, Mutator, PATTERNS};

/// Messages per pipeline.
const CHUNK: usize = 100;
/// The publisher stays at most this many messages ahead of TickStock's
/// subscriber, and pauses while this many rows wait for the database: it
/// tests hostile input and faults, not the bus's output buffer limit or the
/// recorder's `MAX_HELD_ROWS` (20,000), each of which drops by design. The
/// messages still on their way become rows too: during a database cut those
/// held plus those in flight (about 0.5 rows a message) stay well under it.
const MAX_AHEAD: u64 = 2_000;
const MAX_PENDING_ROWS: u64 = 6_000;

pub const MARKER_COMPONENT: &str = "faults_harness";
pub const MARKER_SYMBOL: &str = "FLTMK";

/// What TickStock has consumed, kept fresh by the run's /metrics poller.
#[derive(Default)]
pub struct Progress {
    pub consumed: AtomicU64,
    pub pending_rows: AtomicU64,
    /// Hostile messages published so far, and whether all are.
    pub published: AtomicU64,
    pub publishing_done: AtomicBool,
}

/// Markers are numbered; a pattern marker's `timestamp` is `base` minus its
/// number in milliseconds, so that each is a distinct row and can be told
/// apart in the database.
pub struct Markers {
    pub base: chrono::DateTime<Utc>,
    next: u64,
    /// Delivered to TickStock (PUBLISH answered >= 1).
    pub critical: BTreeSet<u64>,
    pub patterns: BTreeSet<u64>,
    /// Published but not delivered (TickStock not subscribed) or unknown.
    pub undelivered: u64,
}

impl Markers {
    fn new() -> Self {
        Self {
            base: Utc::now(),
            next: 0,
            critical: BTreeSet::new(),
            patterns: BTreeSet::new(),
            undelivered: 0,
        }
    }

    /// The next marker: its number, channel and message. Even numbers are
    /// critical alerts, odd ones patterns.
    pub fn next(&mut self) -> (u64, &'static str, String) {
        let n = self.next;
        self.next += 1;
        if n.is_multiple_of(2) {
            let message = serde_json::json!({
                "type": "critical_alert",
                "alert": {
                    "severity": "critical",
                    "message": format!("faults marker {n}"),
                    "component": MARKER_COMPONENT,
                    "action_required": "none",
                    "recovery": null,
                    "timestamp": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
                }
            });
            (n, CRITICAL_ALERTS, message.to_string())
        } else {
            let at = self.base - TimeDelta::milliseconds(n as i64);
            let message = serde_json::json!({
                "type": "streaming_pattern",
                "detection": {
                    "symbol": MARKER_SYMBOL,
                    "pattern_type": "Doji",
                    "confidence": 0.85,
                    "timestamp": at.to_rfc3339_opts(SecondsFormat::Millis, true),
                    "timeframe": "1min",
                    "bar_data": {"open": 100.0, "high": 101.0, "low": 99.5, "close": 100.2, "volume": 1000},
                    "metadata": {"faults_marker": n},
                }
            });
            (n, PATTERNS, message.to_string())
        }
    }

    fn delivered(&mut self, n: u64) {
        if n.is_multiple_of(2) {
            self.critical.insert(n);
        } else {
            self.patterns.insert(n);
        }
    }

    pub fn delivered_count(&self) -> usize {
        self.critical.len() + self.patterns.len()
    }
}

pub struct Publisher {
    pub conn: Option<redis::aio::MultiplexedConnection>,
    mutator: Mutator,
    marker_every: u64,
    pub markers: Markers,
    /// Hostile messages published, and those some receiver got.
    pub sent: u64,
    pub delivered: u64,
    pub by_mutation: [u64; MUTATIONS.len()],
    pub bytes: u64,
    pub gave_up_waiting: Vec<String>,
    /// How long it waits for TickStock to catch up before it stops waiting
    /// for good (and says so): longer than a database cut.
    catch_up_limit: Duration,
}

enum Item {
    Hostile(usize),
    Marker(u64),
}

impl Publisher {
    pub fn new(mutator: Mutator, marker_every: u64, catch_up_limit: Duration) -> Self {
        Self {
            conn: None,
            mutator,
            marker_every,
            markers: Markers::new(),
            sent: 0,
            delivered: 0,
            by_mutation: [0; MUTATIONS.len()],
            bytes: 0,
            gave_up_waiting: Vec::new(),
            catch_up_limit,
        }
    }

    /// Publishes one pipeline of up to `CHUNK` messages (at most `left`
    /// hostile ones). An error drops the connection; the caller reconnects.
    pub async fn publish_chunk(&mut self, left: u64) -> Result<(), String> {
        let conn = self.conn.as_mut().ok_or("no Redis connection")?;
        let mut pipe = redis::pipe();
        let mut items = Vec::with_capacity(CHUNK + 1);
        for _ in 0..(CHUNK as u64).min(left) {
            if (self.sent + items.len() as u64).is_multiple_of(self.marker_every) {
                let (n, channel, message) = self.markers.next();
                pipe.cmd("PUBLISH").arg(channel).arg(message);
                items.push(Item::Marker(n));
            }
            let hostile = self.mutator.next_message();
            let class = MUTATIONS
                .iter()
                .position(|m| *m == hostile.mutation)
                .unwrap_or(0);
            self.bytes += hostile.payload.len() as u64;
            pipe.cmd("PUBLISH")
                .arg(hostile.channel)
                .arg(hostile.payload);
            items.push(Item::Hostile(class));
        }
        let receivers: Vec<i64> = match pipe.query_async(conn).await {
            Ok(receivers) => receivers,
            Err(error) => {
                self.conn = None;
                for item in &items {
                    match item {
                        Item::Marker(_) => self.markers.undelivered += 1,
                        Item::Hostile(class) => {
                            self.sent += 1;
                            self.by_mutation[*class] += 1;
                        }
                    }
                }
                return Err(error.to_string());
            }
        };
        for (item, receivers) in items.iter().zip(receivers) {
            match item {
                Item::Marker(n) if receivers > 0 => self.markers.delivered(*n),
                Item::Marker(_) => self.markers.undelivered += 1,
                Item::Hostile(class) => {
                    self.sent += 1;
                    self.by_mutation[*class] += 1;
                    self.delivered += u64::from(receivers > 0);
                }
            }
        }
        Ok(())
    }

    /// Messages of every kind some receiver got.
    pub fn total_delivered(&self) -> u64 {
        self.delivered + self.markers.delivered_count() as u64
    }

    /// Publishes one marker; whether TickStock received it.
    pub async fn publish_marker(&mut self) -> Result<bool, String> {
        let conn = self.conn.as_mut().ok_or("no Redis connection")?;
        let (n, channel, message) = self.markers.next();
        let receivers: redis::RedisResult<i64> = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(message)
            .query_async(conn)
            .await;
        match receivers {
            Ok(r) if r > 0 => {
                self.markers.delivered(n);
                Ok(true)
            }
            Ok(_) => {
                self.markers.undelivered += 1;
                Ok(false)
            }
            Err(error) => {
                self.markers.undelivered += 1;
                self.conn = None;
                Err(error.to_string())
            }
        }
    }

    /// Whether TickStock has caught up enough to publish on; false while it is
    /// too far behind, for up to `catch_up_limit` since `waiting_since`. A wait
    /// that runs out is reported and not repeated for that reason. Asked
    /// again and again without holding the publisher, so the fault driver can
    /// use it meanwhile (to publish a marker during a cut, say).
    pub fn caught_up(
        &mut self,
        progress: &Progress,
        waited_out: &mut [bool; 2],
        waiting_since: Instant,
    ) -> bool {
        let behind = self
            .total_delivered()
            .saturating_sub(progress.consumed.load(Ordering::Relaxed));
        let pending = progress.pending_rows.load(Ordering::Relaxed);
        let reasons = [
            (!waited_out[0] && behind > MAX_AHEAD)
                .then(|| format!("subscriber {behind} messages behind")),
            (!waited_out[1] && pending > MAX_PENDING_ROWS)
                .then(|| format!("recorder holding {pending} rows")),
        ];
        if reasons.iter().all(Option::is_none) {
            return true;
        }
        if waiting_since.elapsed() <= self.catch_up_limit {
            return false;
        }
        for (i, reason) in reasons.into_iter().enumerate() {
            if let Some(reason) = reason {
                waited_out[i] = true;
                self.gave_up_waiting.push(format!(
                    "after {} messages: {reason} for {}s; publishing on regardless",
                    self.sent,
                    self.catch_up_limit.as_secs()
                ));
            }
        }
        true
    }
}

/// A publisher shared by the run's publishing task and the fault driver,
/// which holds it (pausing publication) while it kills Redis.
pub type Shared = Arc<tokio::sync::Mutex<Publisher>>;
