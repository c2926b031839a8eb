//! The streaming history: what the recorder writes and the history API reads,
//! in PostgreSQL or in memory, with the same rows, rules and order either way.

mod cursor;
mod memory;
mod postgres;
mod record;
pub mod retention;
mod rows;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use cursor::Cursor;
pub use memory::MemoryHistory;
pub use postgres::PostgresHistory;
pub use record::{Batch, Record, Rejection, SESSION_NAMESPACE, session_uuid};
pub use retention::HistoryTable;
pub use rows::{AlertRow, HealthRow, HistoryRow, IndicatorRow, PatternRow, SessionRow};

use super::StoreError;

/// Which rows of a table, newest first: those at or after `since`, after
/// `before` (the previous page's `next`), at most `limit` of them.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    pub since: Option<DateTime<Utc>>,
    pub before: Option<Cursor>,
    pub limit: usize,
}

/// Rows of one page, and where the next page starts (None: this is the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<R> {
    pub rows: Vec<R>,
    pub next: Option<Cursor>,
}

impl<R: HistoryRow> Page<R> {
    /// The page of `limit` rows from `rows`, read in order and holding one
    /// more than `limit` if another page follows.
    pub fn of(mut rows: Vec<R>, limit: usize) -> Self {
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(HistoryRow::position)
        } else {
            None
        };
        Self { rows, next }
    }
}

/// Patterns, newest first.
#[derive(Debug, Clone, Default)]
pub struct PatternQuery {
    /// Upper case, as recorded; None: every symbol.
    pub symbol: Option<String>,
    /// Only this pattern type (compared ignoring ASCII case).
    pub pattern_type: Option<String>,
    pub page: PageQuery,
}

/// A symbol's indicator values, newest first.
#[derive(Debug, Clone, Default)]
pub struct IndicatorQuery {
    pub symbol: String,
    /// Only this indicator (compared ignoring ASCII case).
    pub indicator: Option<String>,
    pub page: PageQuery,
}

/// Alerts of both kinds, newest first.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    /// Only this symbol's (indicator alerts).
    pub symbol: Option<String>,
    /// An `alert_type` (e.g. RSI_OVERBOUGHT) or a kind (`indicator_alert`,
    /// `critical_alert`), compared ignoring ASCII case.
    pub alert_type: Option<String>,
    pub page: PageQuery,
}

/// Health snapshots, newest first.
#[derive(Debug, Clone, Default)]
pub struct HealthQuery {
    /// Only this status (compared ignoring ASCII case).
    pub status: Option<String>,
    pub page: PageQuery,
}

/// The history of one store, PostgreSQL ([`PostgresHistory`]) or memory
/// ([`MemoryHistory`]).
#[async_trait]
pub trait HistoryStore: Send + Sync {
    /// Writes one flush of the recorder, all of it or (on error) none of it.
    async fn write(&self, batch: &Batch) -> Result<(), StoreError>;

    async fn patterns(&self, query: &PatternQuery) -> Result<Page<PatternRow>, StoreError>;

    async fn indicators(&self, query: &IndicatorQuery) -> Result<Page<IndicatorRow>, StoreError>;

    async fn alerts(&self, query: &AlertQuery) -> Result<Page<AlertRow>, StoreError>;

    async fn health(&self, query: &HealthQuery) -> Result<Page<HealthRow>, StoreError>;

    /// Sessions, the latest started first (`since`: started since).
    async fn session_page(&self, query: &PageQuery) -> Result<Page<SessionRow>, StoreError>;

    /// The latest `limit` sessions.
    async fn sessions(&self, limit: usize) -> Result<Vec<SessionRow>, StoreError> {
        let query = PageQuery {
            limit,
            ..PageQuery::default()
        };
        Ok(self.session_page(&query).await?.rows)
    }

    /// The latest session started since `started_since` and not stopped.
    async fn open_session(
        &self,
        started_since: DateTime<Utc>,
    ) -> Result<Option<SessionRow>, StoreError>;

    /// Deletes at most `rows` rows of `table` from before `cutoff` and says
    /// how many it deleted (see `retention` for which rows).
    async fn delete_before(
        &self,
        table: HistoryTable,
        cutoff: DateTime<Utc>,
        rows: usize,
    ) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests;
