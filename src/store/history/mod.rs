//! The streaming history: what the recorder writes and the history API reads,
//! in PostgreSQL or in memory, with the same rows, rules and order either way.

mod memory;
mod postgres;
mod record;
mod rows;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use memory::MemoryHistory;
pub use postgres::PostgresHistory;
pub use record::{Batch, Record, Rejection, SESSION_NAMESPACE, session_uuid};
pub use rows::{AlertRow, HealthRow, IndicatorRow, PatternRow, SessionRow};

use super::StoreError;

/// A symbol's patterns, newest first.
#[derive(Debug, Clone)]
pub struct PatternQuery {
    /// Upper case, as recorded.
    pub symbol: String,
    pub since: Option<DateTime<Utc>>,
    pub limit: usize,
}

/// A symbol's indicator values, newest first.
#[derive(Debug, Clone)]
pub struct IndicatorQuery {
    pub symbol: String,
    /// Only this indicator (compared ignoring ASCII case).
    pub indicator: Option<String>,
    pub limit: usize,
}

/// Alerts of both kinds, newest first.
#[derive(Debug, Clone)]
pub struct AlertQuery {
    pub since: Option<DateTime<Utc>>,
    /// An `alert_type` (e.g. RSI_OVERBOUGHT) or a kind (`indicator_alert`,
    /// `critical_alert`), compared ignoring ASCII case.
    pub alert_type: Option<String>,
    pub limit: usize,
}

/// The history of one store, PostgreSQL ([`PostgresHistory`]) or memory
/// ([`MemoryHistory`]).
#[async_trait]
pub trait HistoryStore: Send + Sync {
    /// Writes one flush of the recorder, all of it or (on error) none of it.
    async fn write(&self, batch: &Batch) -> Result<(), StoreError>;

    async fn patterns(&self, query: &PatternQuery) -> Result<Vec<PatternRow>, StoreError>;

    async fn indicators(&self, query: &IndicatorQuery) -> Result<Vec<IndicatorRow>, StoreError>;

    async fn alerts(&self, query: &AlertQuery) -> Result<Vec<AlertRow>, StoreError>;

    /// Health snapshots, newest first.
    async fn health(&self, limit: usize) -> Result<Vec<HealthRow>, StoreError>;

    /// Sessions, the latest started first.
    async fn sessions(&self, limit: usize) -> Result<Vec<SessionRow>, StoreError>;

    /// The latest session started since `started_since` and not stopped.
    async fn open_session(
        &self,
        started_since: DateTime<Utc>,
    ) -> Result<Option<SessionRow>, StoreError>;
}

#[cfg(test)]
mod tests;
