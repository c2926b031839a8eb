//! The recorder: every session, pattern, indicator, health snapshot and alert
//! received is written to the history store in batches.
//!
//! The live path only hands records over (`Recorder::record`), through a
//! bounded queue that never waits: when `MAX_HELD_ROWS` are already held (the
//! database is away or slow) the new record is dropped and counted. A writer
//! task flushes `BATCH_ROWS` at a time, or `FLUSH_INTERVAL` after the first
//! record of a batch; a batch that cannot be written is retried, with
//! backoff, until the database is back.

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
use crate::events::fields::serialize_opt_timestamp;
use crate::events::{Event, SessionStarted};
use crate::state::LiveState;
use crate::store::Store;
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
        }
    }

    /// Hands the rows of `event` over to the writer, or counts them as
    /// dropped when `MAX_HELD_ROWS` are already held.
    pub fn record(&self, event: &Event) {
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

/// Restores the live session from the latest open session of the history,
/// if any (TickStock restarted during a session). A failure only means the
/// session shows once its next event arrives.
pub async fn restore_session(store: &Store, live: &LiveState) {
    let now = Utc::now();
    match store.open_session(now - RESTORE_WINDOW).await {
        Ok(Some(row)) => {
            info!(
                "RECORDER: Restored the open session {} (universe {}) from the history",
                row.session_id, row.universe
            );
            let started = SessionStarted {
                session_id: row.session_id.to_string(),
                universe: Some(row.universe),
                started_at: row.started_at,
                symbol_count: Some(i64::from(row.symbol_count)),
                status: "active".into(),
                extra: Default::default(),
            };
            live.restore_session(started, now);
        }
        Ok(None) => {}
        Err(error) => warn!("RECORDER: Cannot read the open session from the history: {error}"),
    }
}

struct Writer {
    store: Store,
    records: mpsc::Receiver<Record>,
    stats: Arc<RecorderStats>,
    shutdown: CancellationToken,
}

impl Writer {
    async fn run(&mut self) {
        let mut records = Vec::with_capacity(BATCH_ROWS);
        while self.collect(&mut records).await {
            let batch = Batch::new(&records);
            if !self.write_until_done(&batch).await {
                break;
            }
            self.stats.flushed(records.len(), batch.rejected);
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

    /// Writes `batch`, retrying until it is written (true) or shutdown (false).
    async fn write_until_done(&self, batch: &Batch) -> bool {
        let mut backoff = Backoff::new(RETRY_BASE, RETRY_CAP);
        let mut failures = 0u64;
        let dropped_before = self.stats.dropped();
        loop {
            let attempt = tokio::time::timeout(WRITE_TIMEOUT, self.store.write_history(batch));
            let error = tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return false,
                result = attempt => match result {
                    Ok(Ok(())) => None,
                    Ok(Err(error)) => Some(error.to_string()),
                    Err(_) => Some(format!("no answer within {WRITE_TIMEOUT:?}")),
                },
            };
            let Some(error) = error else {
                if failures > 0 {
                    info!(
                        "RECORDER: History writes resumed after {failures} failed attempt(s); {} row(s) dropped meanwhile",
                        self.stats.dropped() - dropped_before
                    );
                }
                return true;
            };
            if failures == 0 {
                warn!(
                    "RECORDER: Cannot write history ({error}); holding up to {MAX_HELD_ROWS} rows and retrying"
                );
            }
            failures += 1;
            self.stats.failed(error);
            tokio::select! {
                () = self.shutdown.cancelled() => return false,
                () = tokio::time::sleep(backoff.next_delay()) => {}
            }
        }
    }

    /// Gives what is held one last chance within `SHUTDOWN_FLUSH`; what
    /// cannot be written then is counted as dropped.
    async fn flush_on_shutdown(&mut self, mut records: Vec<Record>) {
        self.records.close();
        let deadline = Instant::now() + SHUTDOWN_FLUSH;
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
            let batch = Batch::new(&records);
            match tokio::time::timeout_at(deadline, self.store.write_history(&batch)).await {
                Ok(Ok(())) => {
                    self.stats.flushed(records.len(), batch.rejected);
                    records.clear();
                }
                _ => {
                    let lost = records.len() + self.records.len();
                    self.stats.lost(lost);
                    warn!("RECORDER: {lost} row(s) not written before shutdown");
                    return;
                }
            }
        }
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
        }
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

    /// Records that do not fit their table (see `store::history::record`).
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Whether the last write failed and the writer is retrying.
    pub fn retrying(&self) -> bool {
        self.retrying.load(Ordering::Relaxed)
    }

    fn flushed(&self, records: usize, rejected: u64) {
        let records = records as u64;
        self.pending.fetch_sub(records, Ordering::Relaxed);
        self.written
            .fetch_add(records - rejected, Ordering::Relaxed);
        self.rejected.fetch_add(rejected, Ordering::Relaxed);
        self.retrying.store(false, Ordering::Relaxed);
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
        }
        .serialize(s)
    }
}
