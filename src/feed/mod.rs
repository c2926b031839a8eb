//! The market feed: where ticks come from (Massive, synthetic, replay), who
//! runs it (one process across replicas) and what the status page says of it.

pub mod lease;
pub mod massive;
pub mod outage;
pub mod record;
pub mod replay;
pub mod settings;
pub mod synthetic;
pub mod tick;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::massive::MassiveSettings;
use self::replay::ReplaySpeed;
use self::tick::Refusal;
use crate::bus::Bus;
use crate::events::fields::serialize_opt_timestamp;
use crate::forward::{self, TickQueue};
use crate::supervise::{Restart, Supervisor};

/// Where this process's ticks come from.
#[derive(Debug, Clone)]
pub enum Source {
    Massive(MassiveSettings),
    Synthetic {
        symbols: Vec<String>,
        ticks_per_second: f64,
    },
    Replay {
        path: PathBuf,
        speed: ReplaySpeed,
    },
}

impl Source {
    pub fn kind(&self) -> DataSource {
        match self {
            Source::Massive(_) => DataSource::Massive,
            Source::Synthetic { .. } => DataSource::Synthetic,
            Source::Replay { .. } => DataSource::Replay,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FeedSettings {
    /// None: this process produces no ticks.
    pub source: Option<Source>,
    pub queue_capacity: usize,
    /// How long the Massive feed may be down before a critical alert.
    pub outage_grace: Duration,
}

/// Starts the feed and its forwarder, each supervised. With Redis, the feed
/// runs only while this process holds the lease; in-process, it simply runs.
pub fn start(
    settings: FeedSettings,
    bus: &Bus,
    stats: &Arc<FeedStats>,
    tasks: &Arc<Supervisor>,
    shutdown: &CancellationToken,
) {
    let Some(source) = settings.source else {
        return;
    };
    let queue = Arc::new(TickQueue::new(settings.queue_capacity, stats.clone()));
    let (forwarded, bus_out, stop) = (queue.clone(), bus.clone(), shutdown.clone());
    tasks.spawn("forwarder", Restart::Always, shutdown.clone(), move || {
        forward::run(forwarded.clone(), bus_out.clone(), stop.clone())
    });
    if let Source::Massive(_) = &source {
        let (watched, bus_out, stop) = (stats.clone(), bus.clone(), shutdown.clone());
        let grace = settings.outage_grace;
        tasks.spawn(
            "feed_outage_watch",
            Restart::Always,
            shutdown.clone(),
            move || outage::watch(watched.clone(), bus_out.clone(), grace, stop.clone()),
        );
    }
    let feed_tasks = tasks.clone();
    // A source may end by design (a replay's end, a refused key): only a
    // panic restarts it.
    let produce = move |stop: CancellationToken| -> JoinHandle<()> {
        let (queue, source, running) = (queue.clone(), source.clone(), stop.clone());
        feed_tasks.spawn("feed", Restart::OnPanic, stop, move || {
            read(source.clone(), queue.clone(), running.clone())
        })
    };
    match bus {
        Bus::Redis(redis) => {
            let lease = lease::Lease::new(redis.connection());
            let (stats, stop) = (stats.clone(), shutdown.clone());
            tasks.spawn("feed_lease", Restart::Always, shutdown.clone(), move || {
                lease::lead(lease.clone(), produce.clone(), stats.clone(), stop.clone())
            });
        }
        Bus::Memory(_) => {
            stats.set_leader(true);
            produce(shutdown.clone());
        }
    }
}

/// Reads `source` into `queue` until `stop`.
async fn read(source: Source, queue: Arc<TickQueue>, stop: CancellationToken) {
    match source {
        Source::Massive(massive) => massive::run(massive, queue, stop).await,
        Source::Synthetic {
            symbols,
            ticks_per_second,
        } => synthetic::run(symbols, ticks_per_second, queue, stop).await,
        Source::Replay { path, speed } => replay::run(path, speed, queue, stop).await,
    }
}

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
    pub const ALL: [FeedState; 7] = [
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
    /// Elements of the feed refused, per [`Refusal`] in its `ALL` order.
    refused: [AtomicU64; Refusal::ALL.len()],
    /// Epoch milliseconds of the next connection attempt; 0 when none is planned.
    next_attempt_ms: AtomicI64,
    /// Why the feed is not connected, when it is not.
    detail: Mutex<String>,
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
            refused: Default::default(),
            next_attempt_ms: AtomicI64::new(0),
            detail: Mutex::new(String::new()),
        }
    }

    pub fn next_attempt(&self) -> Option<DateTime<Utc>> {
        match self.next_attempt_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => DateTime::from_timestamp_millis(ms),
        }
    }

    pub fn set_next_attempt(&self, at: Option<DateTime<Utc>>) {
        let ms = at.map_or(0, |at| at.timestamp_millis());
        self.next_attempt_ms.store(ms, Ordering::Relaxed);
    }

    pub fn detail(&self) -> String {
        self.detail.lock().clone()
    }

    pub fn set_detail(&self, detail: String) {
        *self.detail.lock() = detail;
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

    /// Elements refused for `reason` so far.
    pub fn refused(&self, reason: Refusal) -> u64 {
        self.refused[reason as usize].load(Ordering::Relaxed)
    }

    pub fn count_refused(&self, refusals: &[Refusal]) {
        for &reason in refusals {
            self.refused[reason as usize].fetch_add(1, Ordering::Relaxed);
        }
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
            elements_refused: std::collections::BTreeMap<&'static str, u64>,
            #[serde(serialize_with = "serialize_opt_timestamp")]
            next_attempt_at: Option<DateTime<Utc>>,
            detail: Option<String>,
        }
        let detail = self.detail();
        View {
            source: self.source,
            state: self.state(),
            leader: self.leader(),
            ticks_received: self.ticks_received(),
            ticks_forwarded: self.ticks_forwarded(),
            ticks_dropped: self.ticks_dropped(),
            elements_refused: Refusal::ALL
                .into_iter()
                .map(|reason| (reason.name(), self.refused(reason)))
                .collect(),
            next_attempt_at: self.next_attempt(),
            detail: (!detail.is_empty()).then_some(detail),
        }
        .serialize(s)
    }
}
