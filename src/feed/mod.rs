//! The market feed: where ticks come from (Massive, synthetic, replay) and
//! what the status page says about it.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    Massive,
    Synthetic,
    Replay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedState {
    /// No feed runs in this process.
    Disabled,
    /// Another instance holds the Massive lease; this one waits.
    Standby,
    Connecting,
    Connected,
    /// Lost the connection; waiting to reconnect.
    Reconnecting,
    /// Massive refused the key: not retried until the key is fixed.
    AuthFailed,
    Stopped,
}

impl FeedState {
    const ALL: [FeedState; 7] = [
        FeedState::Disabled,
        FeedState::Standby,
        FeedState::Connecting,
        FeedState::Connected,
        FeedState::Reconnecting,
        FeedState::AuthFailed,
        FeedState::Stopped,
    ];
}

/// Counters and state of the feed, shared between the feed, the forwarder
/// and the status route.
#[derive(Debug)]
pub struct FeedStats {
    source: Option<DataSource>,
    state: AtomicU8,
    leader: AtomicBool,
    ticks_received: AtomicU64,
    ticks_forwarded: AtomicU64,
    ticks_dropped: AtomicU64,
}

impl FeedStats {
    pub fn new(source: Option<DataSource>) -> Self {
        Self {
            source,
            state: AtomicU8::new(FeedState::Disabled as u8),
            leader: AtomicBool::new(false),
            ticks_received: AtomicU64::new(0),
            ticks_forwarded: AtomicU64::new(0),
            ticks_dropped: AtomicU64::new(0),
        }
    }

    pub fn source(&self) -> Option<DataSource> {
        self.source
    }

    pub fn state(&self) -> FeedState {
        FeedState::ALL
            .get(usize::from(self.state.load(Ordering::Relaxed)))
            .copied()
            .unwrap_or(FeedState::Disabled)
    }

    pub fn set_state(&self, state: FeedState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    pub fn leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Relaxed);
    }

    pub fn ticks_received(&self) -> u64 {
        self.ticks_received.load(Ordering::Relaxed)
    }

    pub fn ticks_forwarded(&self) -> u64 {
        self.ticks_forwarded.load(Ordering::Relaxed)
    }

    pub fn ticks_dropped(&self) -> u64 {
        self.ticks_dropped.load(Ordering::Relaxed)
    }

    pub fn count_received(&self, n: u64) {
        self.ticks_received.fetch_add(n, Ordering::Relaxed);
    }

    pub fn count_forwarded(&self, n: u64) {
        self.ticks_forwarded.fetch_add(n, Ordering::Relaxed);
    }

    pub fn count_dropped(&self, n: u64) {
        self.ticks_dropped.fetch_add(n, Ordering::Relaxed);
    }
}

impl Serialize for FeedStats {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View {
            source: Option<DataSource>,
            state: FeedState,
            leader: bool,
            ticks_received: u64,
            ticks_forwarded: u64,
            ticks_dropped: u64,
        }
        View {
            source: self.source,
            state: self.state(),
            leader: self.leader(),
            ticks_received: self.ticks_received(),
            ticks_forwarded: self.ticks_forwarded(),
            ticks_dropped: self.ticks_dropped(),
        }
        .serialize(s)
    }
}
