//! The hub: one task turns live-state changes into numbered messages,
//! serialising each once for every client, batches those of a short window
//! into one frame, and keeps the recent frames so that a client reconnecting
//! with its last `seq` gets what it missed.
//!
//! Clients read frames from one bounded broadcast ring: a client that falls a
//! whole ring behind is disconnected (close code 4008) instead of growing
//! memory or slowing the others.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use parking_lot::Mutex;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::messages::{self, Message, Snapshot};
use super::status::{StatusBody, StatusSections};
use crate::feed::FeedStats;
use crate::market::MarketBook;
use crate::recorder::RecorderStats;
use crate::state::{Change, LiveState};

/// The shortest time between two frames.
const BATCH_WINDOW: Duration = Duration::from_millis(10);
/// Most messages in one frame.
const MAX_BATCH: usize = 500;
/// Frames kept for clients that reconnect with their last `seq`.
const HISTORY_FRAMES: usize = 2_048;
/// A `streaming_status` message (the status route's body) this often.
const STATUS_EVERY: Duration = Duration::from_secs(2);
/// At most one `market` message this often, whatever the tick rate: each
/// carries the symbols changed since the last.
const MARKET_EVERY: Duration = Duration::from_millis(500);
/// What the snapshot carries of the recent buffers.
const SNAPSHOT_PATTERNS: usize = 50;
const SNAPSHOT_ALERTS: usize = 50;
const SNAPSHOT_INDICATORS: usize = 200;

pub struct Frame {
    pub first_seq: u64,
    pub last_seq: u64,
    pub text: Utf8Bytes,
}

#[derive(Debug, Default)]
pub struct HubStats {
    pub clients: AtomicU64,
    /// Clients closed with 4008: a whole ring behind, or a write (of the
    /// catch-up, a frame or a ping) blocked for `SEND_TIMEOUT`.
    pub slow_disconnects: AtomicU64,
    /// Live-state changes the hub itself missed (clients were told to resync).
    pub missed_changes: AtomicU64,
    /// Text frames written to clients, and their bytes.
    pub frames_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
}

impl HubStats {
    /// One text frame of `bytes` written to a client.
    pub fn sent(&self, bytes: usize) {
        self.frames_sent.fetch_add(1, Ordering::Relaxed);
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

pub struct Hub {
    live: Arc<LiveState>,
    feed: Arc<FeedStats>,
    recorder: Arc<RecorderStats>,
    market: Arc<MarketBook>,
    frames: broadcast::Sender<Arc<Frame>>,
    history: Mutex<VecDeque<Arc<Frame>>>,
    last_seq: AtomicU64,
    pub stats: HubStats,
    pub shutdown: CancellationToken,
}

impl Hub {
    /// `client_queue`: how far behind a client may fall, in frames, before
    /// it is disconnected.
    pub fn start(
        live: Arc<LiveState>,
        feed: Arc<FeedStats>,
        recorder: Arc<RecorderStats>,
        client_queue: usize,
        tasks: &crate::supervise::Supervisor,
        shutdown: &CancellationToken,
    ) -> Arc<Self> {
        let hub = Arc::new(Self {
            frames: broadcast::channel(client_queue.max(1)).0,
            history: Mutex::new(VecDeque::with_capacity(HISTORY_FRAMES)),
            last_seq: AtomicU64::new(0),
            stats: HubStats::default(),
            shutdown: shutdown.clone(),
            live,
            feed,
            recorder,
            market: Arc::new(MarketBook::new()),
        });
        let supervised = hub.clone();
        tasks.spawn(
            "push_hub",
            crate::supervise::Restart::Always,
            shutdown.clone(),
            move || run(supervised.clone(), supervised.live.subscribe()),
        );
        hub
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Frame>> {
        self.frames.subscribe()
    }

    /// The market book the `market` messages and the snapshot show;
    /// `crate::market::start` feeds it.
    pub fn market(&self) -> &Arc<MarketBook> {
        &self.market
    }

    pub fn last_seq(&self) -> u64 {
        self.last_seq.load(Ordering::Acquire)
    }

    /// The frames after `seq`, if the history still holds every one of them.
    pub fn since(&self, seq: u64) -> Option<Vec<Arc<Frame>>> {
        let history = self.history.lock();
        let last = history.back().map_or(self.last_seq(), |f| f.last_seq);
        if seq > last {
            return None;
        }
        let oldest = history.front().map_or(last + 1, |f| f.first_seq);
        if seq + 1 < oldest {
            return None;
        }
        Some(
            history
                .iter()
                .filter(|f| f.last_seq > seq)
                .cloned()
                .collect(),
        )
    }

    fn sections(&self) -> StatusSections<'_> {
        StatusSections {
            market_feed: &self.feed,
            recorder: &self.recorder,
            market_ticks: self.market.stats(),
        }
    }

    /// The body of `/streaming/api/status`.
    pub fn status_body(&self) -> String {
        super::status_body(&self.live, chrono::Utc::now(), &self.sections())
    }

    /// Everything a new page needs, numbered with the last `seq` it includes.
    pub fn snapshot(&self) -> (u64, Utf8Bytes) {
        let seq = self.last_seq();
        let now = chrono::Utc::now();
        let status = self.live.status_view(now);
        let mut indicators = self.live.latest_indicators();
        indicators.truncate(SNAPSHOT_INDICATORS);
        let text = messages::snapshot(
            seq,
            &Snapshot {
                status: StatusBody::new(&self.live, &status, now, &self.sections()),
                patterns: &self.live.recent_patterns(SNAPSHOT_PATTERNS),
                indicators: &indicators,
                alerts: &self.live.recent_alerts(SNAPSHOT_ALERTS),
                market: &self.market.symbols(now),
            },
        );
        (seq, text.into())
    }

    fn publish(&self, messages: &[Message]) {
        if messages.is_empty() {
            return;
        }
        let first_seq = self.last_seq() + 1;
        let last_seq = first_seq + messages.len() as u64 - 1;
        let frame = Arc::new(Frame {
            first_seq,
            last_seq,
            text: messages::frame(first_seq, messages).into(),
        });
        {
            // History first: a client subscribing now finds the frame in one place or both.
            let mut history = self.history.lock();
            if history.len() == HISTORY_FRAMES {
                history.pop_front();
            }
            history.push_back(frame.clone());
            self.last_seq.store(last_seq, Ordering::Release);
        }
        let _ = self.frames.send(frame);
    }
}

/// Frames go out at most once per `BATCH_WINDOW`: a change after a quiet
/// spell leaves at once; under load, what arrives within a window since the
/// last frame travels together.
async fn run(hub: Arc<Hub>, mut changes: broadcast::Receiver<Change>) {
    let mut status_clock = tokio::time::interval(STATUS_EVERY);
    let mut market_clock = tokio::time::interval(MARKET_EVERY);
    market_clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch: Vec<Message> = Vec::with_capacity(MAX_BATCH);
    let mut last_frame = Instant::now() - BATCH_WINDOW;
    loop {
        // The first message of a frame.
        tokio::select! {
            _ = hub.shutdown.cancelled() => return,
            change = changes.recv() => match receive(&hub, change) {
                Some(message) => batch.push(message),
                None => return,
            },
            _ = status_clock.tick() => batch.push(Message::Status(hub.status_body())),
            _ = market_clock.tick() => match hub.market.take_changes(chrono::Utc::now()) {
                Some(changes) => batch.push(messages::market(&changes)),
                None => continue,
            },
        }
        // Company: whatever is waiting, and what arrives until a window has
        // passed since the last frame.
        let deadline = last_frame + BATCH_WINDOW;
        while batch.len() < MAX_BATCH {
            let change = match changes.try_recv() {
                Err(broadcast::error::TryRecvError::Empty) => {
                    tokio::select! {
                        change = changes.recv() => change,
                        _ = tokio::time::sleep_until(deadline) => break,
                    }
                }
                Ok(change) => Ok(change),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    Err(broadcast::error::RecvError::Lagged(n))
                }
                Err(broadcast::error::TryRecvError::Closed) => {
                    Err(broadcast::error::RecvError::Closed)
                }
            };
            match receive(&hub, change) {
                Some(message) => batch.push(message),
                None => return,
            }
        }
        hub.publish(&batch);
        batch.clear();
        last_frame = Instant::now();
    }
}

/// A change as a message; `None` when the live state is gone.
fn receive(hub: &Hub, change: Result<Change, broadcast::error::RecvError>) -> Option<Message> {
    match change {
        Ok(change) => Some(Message::Change(change)),
        Err(broadcast::error::RecvError::Lagged(missed)) => {
            hub.stats
                .missed_changes
                .fetch_add(missed, Ordering::Relaxed);
            tracing::warn!(
                "PUSH: the hub fell behind by {missed} changes; clients will take a fresh snapshot"
            );
            Some(Message::Resync { missed })
        }
        Err(broadcast::error::RecvError::Closed) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Link;
    use crate::state::Limits;

    fn hub() -> Arc<Hub> {
        let live = Arc::new(LiveState::new(
            Arc::new(Link::default()),
            Duration::from_secs(30),
            Limits::default(),
        ));
        Arc::new(Hub {
            frames: broadcast::channel(4).0,
            history: Mutex::new(VecDeque::new()),
            last_seq: AtomicU64::new(0),
            stats: HubStats::default(),
            shutdown: CancellationToken::new(),
            live,
            feed: Arc::new(FeedStats::new(None)),
            recorder: Arc::new(RecorderStats::new("memory")),
            market: Arc::new(MarketBook::new()),
        })
    }

    fn message(n: u64) -> Message {
        Message::Resync { missed: n }
    }

    #[test]
    fn messages_are_numbered_and_batched_into_one_frame() {
        let hub = hub();
        hub.publish(&[message(1)]);
        hub.publish(&[message(2), message(3)]);
        let frames = hub.since(0).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(
            frames[0].text.as_str(),
            r#"{"seq":1,"event":"resync","data":{"missed":1}}"#
        );
        let batch: serde_json::Value = serde_json::from_str(frames[1].text.as_str()).unwrap();
        assert_eq!(batch[0]["seq"], 2);
        assert_eq!(batch[1]["seq"], 3);
        assert_eq!(hub.last_seq(), 3);
    }

    #[test]
    fn a_market_message_carries_the_symbols_changed_since_the_last() {
        let hub = hub();
        let at = chrono::Utc::now();
        let tick = format!(
            r#"{{"type":"market_tick","symbol":"AAPL","price":227.41,"volume":300,"timestamp":{},"source":"synthetic"}}"#,
            at.timestamp()
        );
        hub.market().apply([tick.as_bytes()], at, None);
        let changes = hub.market().take_changes(at).expect("AAPL changed");
        hub.publish(&[messages::market(&changes)]);
        let frames = hub.since(0).unwrap();
        let message: serde_json::Value = serde_json::from_str(frames[0].text.as_str()).unwrap();
        assert_eq!(message["event"], "market");
        assert_eq!(message["data"]["symbols"][0]["price"], 227.41);
        assert!(hub.market().take_changes(at).is_none(), "taken once");
        let (_, snapshot) = hub.snapshot();
        let snapshot: serde_json::Value = serde_json::from_str(snapshot.as_str()).unwrap();
        let symbols = &snapshot["data"]["market"]["symbols"];
        assert_eq!(symbols[0]["spark"], serde_json::json!([227.41]));
    }

    #[test]
    fn resuming_needs_the_history_to_hold_everything_missed() {
        let hub = hub();
        for n in 0..(HISTORY_FRAMES as u64 + 10) {
            hub.publish(&[message(n)]);
        }
        let last = hub.last_seq();
        assert_eq!(hub.since(last).map(|f| f.len()), Some(0), "up to date");
        assert_eq!(hub.since(last - 5).map(|f| f.len()), Some(5));
        assert!(hub.since(3).is_none(), "too old: a snapshot instead");
        assert!(
            hub.since(last + 100).is_none(),
            "from the future (a restarted server): a snapshot"
        );
    }
}
