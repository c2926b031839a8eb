//! The recorder: every session, pattern, indicator, health snapshot and alert
//! received is written to the history store in batches.
//!
//! The live path only hands records over (`Recorder::record`), through a
//! bounded queue that never waits: when `MAX_HELD_ROWS` are already held (the
//! database is away or slow) the new record is dropped and counted. A writer
//! task flushes `BATCH_ROWS` at a time, or `FLUSH_INTERVAL` after the first
//! record of a batch. A batch that cannot be written for want of a database
//! is retried, with backoff, until the database is back; one the database
//! refuses as data is split until each refused record is alone, and those
//! are rejected (counted and logged), so no record stops the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::backoff::Backoff;
use crate::events::Event;
use crate::events::fields::serialize_opt_timestamp;
use crate::state::LiveState;
use crate::store::Store;
use crate::store::current_session::{RedisSessionKey, SessionKeeper};
use crate::store::history::retention::RetentionStats;
use crate::store::history::{Batch, Record};
use crate::supervise::{Restart, Supervisor};

/// Records written per flush (one statement per table).
pub const BATCH_ROWS: usize = 500;
/// The longest a record waits for its batch to fill.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(250);
/// Records held while the database is away (about ten minutes of seed 004's
/// normal load); beyond it new records are dropped and counted.
pub const MAX_HELD_ROWS: usize = 20_000;
/// A write that takes longer has failed (e.g. a connection that went silent).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Retries of a failed batch wait up to this long, with jitter.
const RETRY_BASE: Duration = Duration::from_millis(250);
const RETRY_CAP: Duration = Duration::from_secs(5);
/// Rejected records are logged at most this often.
const REJECTION_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// Rows pending and nothing written for this long: the recorder is not ready.
pub const STALLED_AFTER: Duration = Duration::from_secs(30);
/// At shutdown what is held gets this long to be written.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);
/// A session still open in the history restores the live session at start-up
/// only if it started this recently: sessions last a market day, so an older
/// open row is one whose stop was never received.
const RESTORE_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The live path's handle: cheap to clone, never waits.
#[derive(Clone)]
pub struct Recorder {
    records: mpsc::Sender<Record>,
    stats: Arc<RecorderStats>,
    /// Where starts and stops also go when the history does not keep the
    /// current session (see `store::current_session`).
    current_session: Option<RedisSessionKey>,
}

/// The `recorder` section of `/streaming/api/status` and its metrics.
pub struct RecorderStats {
    store: &'static str,
    pending: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    rejected: AtomicU64,
    retrying: AtomicBool,
    last_error: Mutex<Option<(String, DateTime<Utc>)>>,
    /// The last write, or the end of the last idle wait.
    progressed_at: Mutex<Instant>,
    /// What retention deleted (see `store::history::retention`).
    retention: Arc<RetentionStats>,
}

impl Recorder {
    /// Starts the writer on `tasks`; it stops (after a last flush) on `shutdown`.
    pub fn start(store: Store, tasks: &Supervisor, shutdown: &CancellationToken) -> Self {
        let (sender, receiver) = mpsc::channel(MAX_HELD_ROWS);
        let stats = Arc::new(RecorderStats::new(store.kind()));
        let writer = Writer {
            store,
            records: receiver,
            stats: stats.clone(),
            shutdown: shutdown.clone(),
            rejections: RejectionLog {
                last: None,
                unlogged: 0,
            },
        };
        // Kept across restarts: the records held meanwhile are not lost.
        let writer = Arc::new(tokio::sync::Mutex::new(writer));
        tasks.spawn("recorder", Restart::Always, shutdown.clone(), move || {
            let writer = writer.clone();
            async move { writer.lock().await.run().await }
        });
        Self {
            records: sender,
            stats,
            current_session: None,
        }
    }

    /// Also keeps the current session where `keeper` says, when that is not
    /// the history itself.
    pub fn keeping_session(
        mut self,
        keeper: &SessionKeeper,
        supervisor: &Supervisor,
        shutdown: &CancellationToken,
    ) -> Self {
        if let SessionKeeper::Redis(redis) = keeper {
            self.current_session =
                Some(RedisSessionKey::start(redis.clone(), supervisor, shutdown));
        }
        self
    }

    /// Hands the rows of `event` over to the writer, or counts them as
    /// dropped when `MAX_HELD_ROWS` are already held.
    pub fn record(&self, event: &Event) {
        if let Some(current) = &self.current_session {
            match event {
                Event::SessionStarted(started) => current.started(started),
                Event::SessionStopped(stopped) => current.stopped(stopped),
                _ => {}
            }
        }
        Record::for_each_of(event, |record| {
            // Counted before the hand-over, so the writer never sees it uncounted.
            self.stats.pending.fetch_add(1, Ordering::Relaxed);
            if self.records.try_send(record).is_err() {
                self.stats.pending.fetch_sub(1, Ordering::Relaxed);
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    pub fn stats(&self) -> Arc<RecorderStats> {
        self.stats.clone()
    }
}

/// Restores the live session from where `keeper` keeps it (the history's
/// latest open session, or Redis), if any: TickStock restarted during a
/// session, or another replica saw it start. A failure only means the
/// session shows once its next event arrives.
pub async fn restore_session(keeper: &SessionKeeper, live: &LiveState) {
    let now = Utc::now();
    match keeper.open_session(now - RESTORE_WINDOW).await {
        Ok(Some(started)) => {
            info!(
                "RECORDER: Restored the open session {} (universe {})",
                started.session_id,
                started.universe.as_deref().unwrap_or("unknown")
            );
            live.restore_session(started, now);
        }
        Ok(None) => {}
        Err(error) => warn!("RECORDER: Cannot read the open session: {error}"),
    }
}

struct Writer {
    store: Store,
    records: mpsc::Receiver<Record>,
    stats: Arc<RecorderStats>,
    shutdown: CancellationToken,
    rejections: RejectionLog,
}

/// How a write that fails for want of a database is handled.
#[derive(Clone, Copy)]
enum Retry {
    /// Again, with backoff, until it is written or TickStock stops.
    UntilShutdown,
    /// Not: at shutdown what is held gets until then.
    Never { deadline: Instant },
}

impl Writer {
    async fn run(&mut self) {
        let mut records = Vec::with_capacity(BATCH_ROWS);
        while self.collect(&mut records).await {
            let Some(rejected) = self.write(&records, Retry::UntilShutdown).await else {
                break;
            };
            self.stats.flushed(records.len(), rejected);
            records.clear();
        }
        self.flush_on_shutdown(records).await;
    }

    /// Waits for a record, then gathers more until the batch is full or
    /// `FLUSH_INTERVAL` has passed. False when it is time to stop.
    async fn collect(&mut self, records: &mut Vec<Record>) -> bool {
        tokio::select! {
            biased;
            () = self.shutdown.cancelled() => return false,
            received = self.records.recv_many(records, BATCH_ROWS) => {
                if received == 0 {
                    return false;
                }
            }
        }
        // Idle until now: a stall is counted from here.
        self.stats.progressed();
        let deadline = Instant::now() + FLUSH_INTERVAL;
        while records.len() < BATCH_ROWS {
            let room = BATCH_ROWS - records.len();
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return false,
                () = tokio::time::sleep_until(deadline) => break,
                received = self.records.recv_many(records, room) => {
                    if received == 0 {
                        break;
                    }
                }
            }
        }
        true
    }

    /// Writes `records` and returns how many were rejected, or None when it
    /// gave up (shutdown). A part the database refuses as data (see
    /// `StoreError::is_data_error`) is split in halves until each refused
    /// record is alone; those are rejected, every other row is written.
    async fn write(&mut self, records: &[Record], retry: Retry) -> Option<u64> {
        let mut rejected = 0;
        // Parts still to write, the next one last.
        let mut parts = vec![records];
        while let Some(part) = parts.pop() {
            let batch = Batch::new(part);
            match self.write_batch(&batch, retry).await? {
                Ok(()) => {
                    for rejection in &batch.rejected {
                        self.rejections.log(rejection.table, &rejection.reason);
                    }
                    rejected += batch.rejected.len() as u64;
                }
                Err(_) if part.len() > 1 => {
                    let (first, second) = part.split_at(part.len() / 2);
                    parts.push(second);
                    parts.push(first);
                }
                Err(refused) => {
                    let table = part.first().map_or("history", Record::table);
                    self.rejections.log(table, &refused);
                    rejected += 1;
                }
            }
        }
        Some(rejected)
    }

    /// Writes `batch`: Ok, Err with the database's reason when it refuses the
    /// data, None when it gave up (shutdown).
    async fn write_batch(&self, batch: &Batch, retry: Retry) -> Option<Result<(), String>> {
        if batch.is_empty() {
            return Some(Ok(()));
        }
        let mut backoff = Backoff::new(RETRY_BASE, RETRY_CAP);
        let mut failures = 0u64;
        let dropped_before = self.stats.dropped();
        loop {
            let deadline = match retry {
                Retry::UntilShutdown => Instant::now() + WRITE_TIMEOUT,
                Retry::Never { deadline } => deadline,
            };
            let attempt = tokio::time::timeout_at(deadline, self.store.history().write(batch));
            let result = match retry {
                Retry::UntilShutdown => tokio::select! {
                    biased;
                    () = self.shutdown.cancelled() => return None,
                    result = attempt => result,
                },
                Retry::Never { .. } => attempt.await,
            };
            let error = match result {
                Ok(Ok(())) => {
                    if failures > 0 {
                        info!(
                            "RECORDER: History writes resumed after {failures} failed attempt(s); {} row(s) dropped meanwhile",
                            self.stats.dropped() - dropped_before
                        );
                    }
                    self.stats.progressed();
                    return Some(Ok(()));
                }
                Ok(Err(error)) if error.is_data_error() => return Some(Err(error.to_string())),
                Ok(Err(error)) => error.to_string(),
                Err(_) => match retry {
                    Retry::UntilShutdown => format!("no answer within {WRITE_TIMEOUT:?}"),
                    Retry::Never { .. } => "no answer before shutdown".to_owned(),
                },
            };
            self.stats.failed(error.clone());
            if let Retry::Never { .. } = retry {
                return None;
            }
            if failures == 0 {
                warn!(
                    "RECORDER: Cannot write history ({error}); holding up to {MAX_HELD_ROWS} rows and retrying"
                );
            }
            failures += 1;
            tokio::select! {
                () = self.shutdown.cancelled() => return None,
                () = tokio::time::sleep(backoff.next_delay()) => {}
            }
        }
    }

    /// Gives what is held one last chance within `SHUTDOWN_FLUSH`; what
    /// cannot be written then is counted as dropped.
    async fn flush_on_shutdown(&mut self, mut records: Vec<Record>) {
        self.records.close();
        let retry = Retry::Never {
            deadline: Instant::now() + SHUTDOWN_FLUSH,
        };
        loop {
            while records.len() < BATCH_ROWS {
                match self.records.try_recv() {
                    Ok(record) => records.push(record),
                    Err(_) => break,
                }
            }
            if records.is_empty() {
                return;
            }
            match self.write(&records, retry).await {
                Some(rejected) => {
                    self.stats.flushed(records.len(), rejected);
                    records.clear();
                }
                None => {
                    let lost = records.len() + self.records.len();
                    self.stats.lost(lost);
                    warn!("RECORDER: {lost} row(s) not written before shutdown");
                    return;
                }
            }
        }
    }
}

/// Logs rejected records at most once per `REJECTION_LOG_INTERVAL`, with how
/// many were not logged since: a flood of bad rows must not flood the log.
struct RejectionLog {
    last: Option<Instant>,
    unlogged: u64,
}

impl RejectionLog {
    fn log(&mut self, table: &str, reason: &str) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|last| now.duration_since(last) < REJECTION_LOG_INTERVAL)
        {
            self.unlogged += 1;
            return;
        }
        warn!(
            "RECORDER: Rejected a row of {table}: {reason} ({} more rejected since the last report)",
            self.unlogged
        );
        self.last = Some(now);
        self.unlogged = 0;
    }
}

impl RecorderStats {
    pub fn new(store: &'static str) -> Self {
        Self {
            store,
            pending: AtomicU64::new(0),
            written: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            retrying: AtomicBool::new(false),
            last_error: Mutex::new(None),
            progressed_at: Mutex::new(Instant::now()),
            retention: Arc::default(),
        }
    }

    pub fn retention(&self) -> Arc<RetentionStats> {
        self.retention.clone()
    }

    /// Records handed over and not yet written.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Records written (or found already recorded).
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Records dropped because `MAX_HELD_ROWS` were held, or lost at shutdown.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records that do not fit their table (see `store::history::record`) or
    /// that the database refused as data.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// The error of the last failed write, unless a write succeeded since.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .as_ref()
            .map(|(error, _)| error.clone())
    }

    /// Whether the last write failed and the writer is retrying.
    pub fn retrying(&self) -> bool {
        self.retrying.load(Ordering::Relaxed)
    }

    /// How long rows have been pending with nothing written, once that is
    /// `STALLED_AFTER` or more.
    pub fn stalled_for(&self) -> Option<Duration> {
        let idle = self.progressed_at.lock().elapsed();
        (self.pending() > 0 && idle >= STALLED_AFTER).then_some(idle)
    }

    fn progressed(&self) {
        *self.progressed_at.lock() = Instant::now();
    }

    fn flushed(&self, records: usize, rejected: u64) {
        let records = records as u64;
        self.pending.fetch_sub(records, Ordering::Relaxed);
        self.written
            .fetch_add(records.saturating_sub(rejected), Ordering::Relaxed);
        self.rejected.fetch_add(rejected, Ordering::Relaxed);
        self.retrying.store(false, Ordering::Relaxed);
        *self.last_error.lock() = None;
    }

    fn failed(&self, error: String) {
        *self.last_error.lock() = Some((error, Utc::now()));
        self.retrying.store(true, Ordering::Relaxed);
    }

    fn lost(&self, records: usize) {
        let records = records as u64;
        self.pending.fetch_sub(records, Ordering::Relaxed);
        self.dropped.fetch_add(records, Ordering::Relaxed);
    }
}

impl Serialize for RecorderStats {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            store: &'a str,
            pending: u64,
            written: u64,
            dropped: u64,
            rejected: u64,
            retrying: bool,
            last_error: Option<&'a str>,
            #[serde(serialize_with = "serialize_opt_timestamp")]
            last_error_at: Option<DateTime<Utc>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            retention: Option<&'a RetentionStats>,
        }
        let last_error = self.last_error.lock();
        View {
            store: self.store,
            pending: self.pending(),
            written: self.written(),
            dropped: self.dropped(),
            rejected: self.rejected(),
            retrying: self.retrying(),
            last_error: last_error.as_ref().map(|(error, _)| error.as_str()),
            last_error_at: last_error.as_ref().map(|(_, at)| *at),
            retention: Some(&*self.retention).filter(|r| r.configured()),
        }
        .serialize(s)
    }
}
