//! The market feed: where ticks come from (Massive, synthetic, replay), who
//! runs it (one process across replicas) and what the status page says of it.

pub mod lease;
pub mod massive;
pub mod outage;
pub mod queue;
pub mod record;
pub mod replay;
pub mod settings;
pub mod stats;
pub mod synthetic;
pub mod tick;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::massive::MassiveSettings;
use self::queue::TickQueue;
use self::replay::ReplaySpeed;
pub use self::stats::{FeedState, FeedStats};
pub use self::tick::DataSource;
use crate::bus::Bus;
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

/// Starts the feed, supervised; returns the queue it fills (for the
/// forwarder), or `None` when this process produces no ticks. With Redis,
/// the feed runs only while this process holds the lease; in-process, it
/// simply runs.
pub fn start(
    settings: FeedSettings,
    bus: &Bus,
    stats: &Arc<FeedStats>,
    tasks: &Arc<Supervisor>,
    shutdown: &CancellationToken,
) -> Option<Arc<TickQueue>> {
    let source = settings.source?;
    let queue = Arc::new(TickQueue::new(settings.queue_capacity, stats.clone()));
    let filled = queue.clone();
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
    Some(filled)
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
