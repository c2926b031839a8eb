//! The embedded default's history: bounded tables in memory with the same
//! natural keys, write rules and ordering as the PostgreSQL tables, so the
//! history API answers the same JSON from either store.

use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use uuid::Uuid;

use super::record::Batch;
use super::rows::{AlertRow, HealthRow, IndicatorRow, PatternRow, SessionRow};
use super::{AlertQuery, HistoryStore, IndicatorQuery, PatternQuery};
use crate::store::StoreError;

/// Rows kept per table; beyond it the oldest recorded are forgotten.
pub const MEMORY_LIMITS: Limits = Limits {
    sessions: 1_000,
    patterns: 20_000,
    indicators: 50_000,
    health: 10_000,
    alerts: 10_000,
};

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub sessions: usize,
    pub patterns: usize,
    pub indicators: usize,
    pub health: usize,
    pub alerts: usize,
}

pub struct MemoryHistory {
    tables: Mutex<Tables>,
}

impl Default for MemoryHistory {
    fn default() -> Self {
        Self::with_limits(MEMORY_LIMITS)
    }
}

struct Tables {
    sessions: Table<Uuid, SessionRow>,
    patterns: Table<PatternKey, PatternRow>,
    indicators: Table<IndicatorKey, IndicatorRow>,
    health: Table<HealthKey, HealthRow>,
    alerts: Table<AlertKey, AlertRow>,
}

/// The natural keys of the unique indexes (a NULL text counts as '').
type PatternKey = (String, String, DateTime<Utc>, String);
type IndicatorKey = (String, String, DateTime<Utc>, String);
type HealthKey = (DateTime<Utc>, Uuid);
type AlertKey = (String, DateTime<Utc>, [String; 4]);

fn or_empty(text: &Option<String>) -> String {
    text.clone().unwrap_or_default()
}

impl MemoryHistory {
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            tables: Mutex::new(Tables {
                sessions: Table::new(limits.sessions),
                patterns: Table::new(limits.patterns),
                indicators: Table::new(limits.indicators),
                health: Table::new(limits.health),
                alerts: Table::new(limits.alerts),
            }),
        }
    }
}

#[async_trait]
impl HistoryStore for MemoryHistory {
    /// Applies a batch as the PostgreSQL store's transaction does.
    async fn write(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut tables = self.tables.lock();
        let tables = &mut *tables;
        for started in &batch.started {
            match tables.sessions.get_mut(&started.session_id) {
                Some(row) => row.restart_from(started),
                None => tables.sessions.insert(started.session_id, started.clone()),
            }
        }
        for placeholder in &batch.placeholders {
            if tables.sessions.get_mut(&placeholder.session_id).is_none() {
                let row = SessionRow::placeholder(placeholder);
                tables.sessions.insert(placeholder.session_id, row);
            }
        }
        for row in &batch.patterns {
            let key = (
                row.symbol.clone(),
                row.pattern_type.clone(),
                row.detected_at,
                or_empty(&row.timeframe),
            );
            tables.patterns.insert_if_absent(key, row);
        }
        for row in &batch.indicators {
            let key = (
                row.symbol.clone(),
                row.indicator.clone(),
                row.calculated_at,
                or_empty(&row.timeframe),
            );
            tables.indicators.insert_if_absent(key, row);
        }
        for row in &batch.health {
            let key = (row.measured_at, row.session_id.unwrap_or_default());
            tables.health.insert_if_absent(key, row);
        }
        for row in &batch.alerts {
            let key = (
                row.kind.clone(),
                row.triggered_at,
                [&row.symbol, &row.alert_type, &row.component, &row.message].map(or_empty),
            );
            tables.alerts.insert_if_absent(key, row);
        }
        // Every stopped session has a row by now, a placeholder if need be.
        for stop in &batch.stopped {
            if let Some(row) = tables.sessions.get_mut(&stop.session_id) {
                row.stop(stop);
            }
        }
        Ok(())
    }

    async fn patterns(&self, query: &PatternQuery) -> Result<Vec<PatternRow>, StoreError> {
        let tables = self.tables.lock();
        let rows = tables.patterns.rows().filter(|r| {
            r.symbol == query.symbol && query.since.is_none_or(|since| r.detected_at >= since)
        });
        Ok(newest_first(rows, query.limit, |a, b| {
            b.detected_at
                .cmp(&a.detected_at)
                .then_with(|| a.pattern_type.cmp(&b.pattern_type))
                .then_with(|| or_empty(&a.timeframe).cmp(&or_empty(&b.timeframe)))
        }))
    }

    async fn indicators(&self, query: &IndicatorQuery) -> Result<Vec<IndicatorRow>, StoreError> {
        let tables = self.tables.lock();
        let rows = tables.indicators.rows().filter(|r| {
            r.symbol == query.symbol
                && query
                    .indicator
                    .as_ref()
                    .is_none_or(|name| r.indicator.eq_ignore_ascii_case(name))
        });
        Ok(newest_first(rows, query.limit, |a, b| {
            b.calculated_at
                .cmp(&a.calculated_at)
                .then_with(|| a.indicator.cmp(&b.indicator))
                .then_with(|| or_empty(&a.timeframe).cmp(&or_empty(&b.timeframe)))
        }))
    }

    async fn alerts(&self, query: &AlertQuery) -> Result<Vec<AlertRow>, StoreError> {
        let tables = self.tables.lock();
        let rows = tables.alerts.rows().filter(|r| {
            query.since.is_none_or(|since| r.triggered_at >= since)
                && query.alert_type.as_ref().is_none_or(|wanted| {
                    r.kind.eq_ignore_ascii_case(wanted)
                        || r.alert_type
                            .as_ref()
                            .is_some_and(|t| t.eq_ignore_ascii_case(wanted))
                })
        });
        Ok(newest_first(rows, query.limit, |a, b| {
            let rest = |r: &AlertRow| {
                (
                    r.kind.clone(),
                    [&r.symbol, &r.alert_type, &r.component, &r.message].map(or_empty),
                )
            };
            b.triggered_at
                .cmp(&a.triggered_at)
                .then_with(|| rest(a).cmp(&rest(b)))
        }))
    }

    async fn health(&self, limit: usize) -> Result<Vec<HealthRow>, StoreError> {
        let tables = self.tables.lock();
        Ok(newest_first(tables.health.rows(), limit, |a, b| {
            b.measured_at.cmp(&a.measured_at).then_with(|| {
                let session = |r: &HealthRow| r.session_id.unwrap_or_default();
                session(a).cmp(&session(b))
            })
        }))
    }

    async fn sessions(&self, limit: usize) -> Result<Vec<SessionRow>, StoreError> {
        let tables = self.tables.lock();
        Ok(newest_first(tables.sessions.rows(), limit, session_order))
    }

    async fn open_session(
        &self,
        started_since: DateTime<Utc>,
    ) -> Result<Option<SessionRow>, StoreError> {
        let tables = self.tables.lock();
        let open = tables
            .sessions
            .rows()
            .filter(|r| r.stopped_at.is_none() && r.started_at >= started_since);
        Ok(newest_first(open, 1, session_order).pop())
    }
}

fn session_order(a: &SessionRow, b: &SessionRow) -> Ordering {
    b.started_at
        .cmp(&a.started_at)
        .then_with(|| a.session_id.cmp(&b.session_id))
}

/// The first `limit` rows in `order` (which mirrors the SQL `ORDER BY`).
fn newest_first<'a, R: Clone + 'a>(
    rows: impl Iterator<Item = &'a R>,
    limit: usize,
    order: impl Fn(&R, &R) -> Ordering,
) -> Vec<R> {
    let mut selected: Vec<&R> = rows.collect();
    selected.sort_unstable_by(|a, b| order(a, b));
    selected.into_iter().take(limit).cloned().collect()
}

/// Rows by key, forgetting the oldest inserted beyond `capacity`.
struct Table<K, R> {
    rows: HashMap<K, R>,
    inserted: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, R: Clone> Table<K, R> {
    fn new(capacity: usize) -> Self {
        Self {
            rows: HashMap::new(),
            inserted: VecDeque::new(),
            capacity,
        }
    }

    fn rows(&self) -> impl Iterator<Item = &R> {
        self.rows.values()
    }

    fn get_mut(&mut self, key: &K) -> Option<&mut R> {
        self.rows.get_mut(key)
    }

    fn insert_if_absent(&mut self, key: K, row: &R) {
        if !self.rows.contains_key(&key) {
            self.insert(key, row.clone());
        }
    }

    fn insert(&mut self, key: K, row: R) {
        self.inserted.push_back(key.clone());
        self.rows.insert(key, row);
        while self.inserted.len() > self.capacity {
            if let Some(oldest) = self.inserted.pop_front() {
                self.rows.remove(&oldest);
            }
        }
    }
}
