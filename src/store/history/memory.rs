//! The embedded default's history: bounded tables in memory with the same
//! natural keys, write rules and ordering as the PostgreSQL tables, so the
//! history API answers the same JSON from either store. Retention trims them
//! by age as well.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use uuid::Uuid;

use super::record::Batch;
use super::rows::{AlertRow, HealthRow, HistoryRow, IndicatorRow, PatternRow, SessionRow};
use super::{
    AlertQuery, Cursor, HealthQuery, HistoryStore, HistoryTable, IndicatorQuery, Page, PageQuery,
    PatternQuery,
};
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

    async fn patterns(&self, query: &PatternQuery) -> Result<Page<PatternRow>, StoreError> {
        let tables = self.tables.lock();
        let rows = tables.patterns.rows().filter(|r| {
            query
                .symbol
                .as_ref()
                .is_none_or(|symbol| r.symbol == *symbol)
                && same_name(&query.pattern_type, &r.pattern_type)
                && query.page.since.is_none_or(|since| r.detected_at >= since)
        });
        Ok(page(rows, &query.page))
    }

    async fn indicators(&self, query: &IndicatorQuery) -> Result<Page<IndicatorRow>, StoreError> {
        let tables = self.tables.lock();
        let rows = tables.indicators.rows().filter(|r| {
            r.symbol == query.symbol
                && same_name(&query.indicator, &r.indicator)
                && query
                    .page
                    .since
                    .is_none_or(|since| r.calculated_at >= since)
        });
        Ok(page(rows, &query.page))
    }

    async fn alerts(&self, query: &AlertQuery) -> Result<Page<AlertRow>, StoreError> {
        let tables = self.tables.lock();
        let rows = tables.alerts.rows().filter(|r| {
            query.page.since.is_none_or(|since| r.triggered_at >= since)
                && query
                    .symbol
                    .as_ref()
                    .is_none_or(|symbol| r.symbol.as_ref() == Some(symbol))
                && query.alert_type.as_ref().is_none_or(|wanted| {
                    r.kind.eq_ignore_ascii_case(wanted)
                        || r.alert_type
                            .as_ref()
                            .is_some_and(|t| t.eq_ignore_ascii_case(wanted))
                })
        });
        Ok(page(rows, &query.page))
    }

    async fn health(&self, query: &HealthQuery) -> Result<Page<HealthRow>, StoreError> {
        let tables = self.tables.lock();
        let rows = tables.health.rows().filter(|r| {
            same_name(&query.status, &r.status)
                && query.page.since.is_none_or(|since| r.measured_at >= since)
        });
        Ok(page(rows, &query.page))
    }

    async fn session_page(&self, query: &PageQuery) -> Result<Page<SessionRow>, StoreError> {
        let tables = self.tables.lock();
        let rows = tables
            .sessions
            .rows()
            .filter(|r| query.since.is_none_or(|since| r.started_at >= since));
        Ok(page(rows, query))
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
        let query = PageQuery {
            limit: 1,
            ..PageQuery::default()
        };
        Ok(page(open, &query).rows.pop())
    }

    async fn delete_before(
        &self,
        table: HistoryTable,
        cutoff: DateTime<Utc>,
        rows: usize,
    ) -> Result<u64, StoreError> {
        let mut tables = self.tables.lock();
        let tables = &mut *tables;
        let deleted = match table {
            HistoryTable::Patterns => tables.patterns.delete(rows, |r| r.detected_at < cutoff),
            HistoryTable::Indicators => {
                tables.indicators.delete(rows, |r| r.calculated_at < cutoff)
            }
            HistoryTable::Health => tables.health.delete(rows, |r| r.measured_at < cutoff),
            HistoryTable::Alerts => tables.alerts.delete(rows, |r| r.triggered_at < cutoff),
            HistoryTable::Sessions => {
                let referenced: HashSet<Uuid> = (tables.patterns.rows().map(|r| r.session_id))
                    .chain(tables.indicators.rows().map(|r| r.session_id))
                    .chain(tables.health.rows().map(|r| r.session_id))
                    .chain(tables.alerts.rows().map(|r| r.session_id))
                    .flatten()
                    .collect();
                tables.sessions.delete(rows, |r| {
                    r.stopped_at.unwrap_or(r.started_at) < cutoff
                        && !referenced.contains(&r.session_id)
                })
            }
        };
        Ok(deleted as u64)
    }
}

/// Whether `name` is the one `wanted` (if any), ignoring ASCII case.
fn same_name(wanted: &Option<String>, name: &str) -> bool {
    wanted
        .as_ref()
        .is_none_or(|wanted| name.eq_ignore_ascii_case(wanted))
}

/// The page of `query` from `rows`, in the order of their positions, which
/// mirrors the SQL `ORDER BY`.
fn page<'a, R: HistoryRow + Clone + 'a>(
    rows: impl Iterator<Item = &'a R>,
    query: &PageQuery,
) -> Page<R> {
    let mut placed: Vec<(Cursor, &R)> = rows
        .map(|row| (row.position(), row))
        .filter(|(position, _)| query.before.as_ref().is_none_or(|before| position > before))
        .collect();
    placed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let rows = placed
        .into_iter()
        .take(query.limit.saturating_add(1))
        .map(|(_, row)| row.clone())
        .collect();
    Page::of(rows, query.limit)
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

    /// Removes at most `limit` rows that are `old`; says how many.
    fn delete(&mut self, limit: usize, old: impl Fn(&R) -> bool) -> usize {
        let doomed: Vec<K> = self
            .rows
            .iter()
            .filter(|(_, row)| old(row))
            .map(|(key, _)| key.clone())
            .take(limit)
            .collect();
        for key in &doomed {
            self.rows.remove(key);
        }
        if !doomed.is_empty() {
            self.inserted.retain(|key| self.rows.contains_key(key));
        }
        doomed.len()
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
