//! Retention (`HISTORY_RETENTION_DAYS`): history rows older than the window
//! are deleted, at start-up and every `RETENTION_INTERVAL`, in statements of
//! at most `RETENTION_BATCH_ROWS` rows with a pause between, so that the
//! recorder's writes never wait behind a long delete.
//!
//! A row is old by its own time (`detected_at`, `calculated_at`,
//! `measured_at`, `triggered_at`); a session by its stop (its start if it
//! never stopped), and only once no row refers to it. The counts of what
//! was deleted show in the status (`recorder.retention`) and the metrics
//! (`tickstock_history_retention_deleted_total{table}`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use parking_lot::Mutex;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::registry::Registry;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::events::fields::serialize_opt_timestamp;
use crate::store::Store;
use crate::supervise::{Restart, Supervisor};

/// Rows deleted per statement.
pub const RETENTION_BATCH_ROWS: usize = 1_000;
/// The pause between two statements.
pub const RETENTION_PAUSE: Duration = Duration::from_millis(200);
/// How often retention runs (and once at start-up).
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3_600);
/// A run that failed (e.g. the database is away) is tried again this soon.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// A table of the history, as retention and its counts name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryTable {
    Patterns,
    Indicators,
    Health,
    Alerts,
    Sessions,
}

impl HistoryTable {
    /// The tables whose rows refer to a session.
    pub const ROWS: [HistoryTable; 4] = [
        HistoryTable::Patterns,
        HistoryTable::Indicators,
        HistoryTable::Health,
        HistoryTable::Alerts,
    ];
    /// In the order retention empties them: sessions last.
    pub const ALL: [HistoryTable; 5] = [
        HistoryTable::Patterns,
        HistoryTable::Indicators,
        HistoryTable::Health,
        HistoryTable::Alerts,
        HistoryTable::Sessions,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HistoryTable::Patterns => "patterns",
            HistoryTable::Indicators => "indicators",
            HistoryTable::Health => "health",
            HistoryTable::Alerts => "alerts",
            HistoryTable::Sessions => "sessions",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What retention did: the `retention` part of the recorder's status.
#[derive(Debug, Default)]
pub struct RetentionStats {
    /// None until retention is started (its days are configured).
    days: Mutex<Option<u32>>,
    deleted: [AtomicU64; 5],
    last_run_at: Mutex<Option<DateTime<Utc>>>,
    last_error: Mutex<Option<String>>,
}

impl RetentionStats {
    pub fn configured(&self) -> bool {
        self.days.lock().is_some()
    }

    /// Rows of `table` deleted since start-up.
    pub fn deleted(&self, table: HistoryTable) -> u64 {
        self.deleted[table.index()].load(Ordering::Relaxed)
    }

    fn count(&self, table: HistoryTable, rows: u64) {
        self.deleted[table.index()].fetch_add(rows, Ordering::Relaxed);
    }
}

impl Serialize for RetentionStats {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Deleted<'a>(&'a RetentionStats);
        impl Serialize for Deleted<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(HistoryTable::ALL.len()))?;
                for table in HistoryTable::ALL {
                    map.serialize_entry(table.name(), &self.0.deleted(table))?;
                }
                map.end()
            }
        }
        #[derive(Serialize)]
        struct View<'a> {
            days: Option<u32>,
            deleted: Deleted<'a>,
            #[serde(serialize_with = "serialize_opt_timestamp")]
            last_run_at: Option<DateTime<Utc>>,
            last_error: Option<String>,
        }
        View {
            days: *self.days.lock(),
            deleted: Deleted(self),
            last_run_at: *self.last_run_at.lock(),
            last_error: self.last_error.lock().clone(),
        }
        .serialize(s)
    }
}

/// Starts retention of `days` (0: keep everything, and nothing runs).
pub fn start(
    store: Store,
    days: u32,
    stats: Arc<RetentionStats>,
    supervisor: &Supervisor,
    shutdown: &CancellationToken,
) {
    *stats.days.lock() = Some(days);
    if days == 0 {
        return;
    }
    let window = TimeDelta::days(i64::from(days));
    let stop = shutdown.clone();
    supervisor.spawn(
        "history_retention",
        Restart::Always,
        shutdown.clone(),
        move || run(store.clone(), window, stats.clone(), stop.clone()),
    );
}

async fn run(
    store: Store,
    window: TimeDelta,
    stats: Arc<RetentionStats>,
    shutdown: CancellationToken,
) {
    loop {
        let wait = match delete_old(&store, Utc::now() - window, &stats, &shutdown).await {
            Ok(()) => {
                *stats.last_error.lock() = None;
                RETENTION_INTERVAL
            }
            Err(error) => {
                tracing::warn!("RETENTION: Cannot delete old history rows: {error}");
                *stats.last_error.lock() = Some(error.to_string());
                RETRY_AFTER
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// Deletes every row from before `cutoff`, batch by batch, counting them.
pub async fn delete_old(
    store: &Store,
    cutoff: DateTime<Utc>,
    stats: &RetentionStats,
    shutdown: &CancellationToken,
) -> Result<(), crate::store::StoreError> {
    for table in HistoryTable::ALL {
        loop {
            let deleted = store
                .history()
                .delete_before(table, cutoff, RETENTION_BATCH_ROWS)
                .await?;
            stats.count(table, deleted);
            if deleted < RETENTION_BATCH_ROWS as u64 {
                break;
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(RETENTION_PAUSE) => {}
            }
        }
    }
    *stats.last_run_at.lock() = Some(Utc::now());
    Ok(())
}

/// Adds `tickstock_history_retention_deleted_total{table}` to `registry`.
pub fn register(registry: &mut Registry, stats: Arc<RetentionStats>) {
    registry.register_collector(Box::new(RetentionCollector(stats)));
}

#[derive(Debug)]
struct RetentionCollector(Arc<RetentionStats>);

impl Collector for RetentionCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let mut family = encoder.encode_descriptor(
            "tickstock_history_retention_deleted",
            "History rows deleted by retention (HISTORY_RETENTION_DAYS), by table",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for table in HistoryTable::ALL {
            let labels = [("table", table.name())];
            let metric = ConstCounter::new(self.0.deleted(table));
            metric.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
