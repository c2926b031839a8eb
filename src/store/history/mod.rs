//! The streaming history: what the recorder writes and the history API reads,
//! in PostgreSQL or in memory, with the same rows, rules and order either way.

mod memory;
mod postgres;
mod record;
mod rows;

use chrono::{DateTime, Utc};

pub use memory::MemoryHistory;
pub use record::{Batch, Record, Rejection, SESSION_NAMESPACE, session_uuid};
pub use rows::{AlertRow, HealthRow, IndicatorRow, PatternRow, SessionRow};

use super::{Store, StoreError};

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

impl Store {
    /// Writes one flush of the recorder, all of it or (on error) none of it.
    pub async fn write_history(&self, batch: &Batch) -> Result<(), StoreError> {
        match self {
            Store::Postgres(pool) => Ok(postgres::write(pool, batch).await?),
            Store::Memory(memory) => {
                memory.history.write(batch);
                Ok(())
            }
        }
    }

    pub async fn patterns(&self, query: &PatternQuery) -> Result<Vec<PatternRow>, StoreError> {
        match self {
            Store::Postgres(pool) => Ok(postgres::patterns(pool, query).await?),
            Store::Memory(memory) => Ok(memory.history.patterns(query)),
        }
    }

    pub async fn indicators(
        &self,
        query: &IndicatorQuery,
    ) -> Result<Vec<IndicatorRow>, StoreError> {
        match self {
            Store::Postgres(pool) => Ok(postgres::indicators(pool, query).await?),
            Store::Memory(memory) => Ok(memory.history.indicators(query)),
        }
    }

    pub async fn alerts(&self, query: &AlertQuery) -> Result<Vec<AlertRow>, StoreError> {
        match self {
            Store::Postgres(pool) => Ok(postgres::alerts(pool, query).await?),
            Store::Memory(memory) => Ok(memory.history.alerts(query)),
        }
    }

    /// Health snapshots, newest first.
    pub async fn health_history(&self, limit: usize) -> Result<Vec<HealthRow>, StoreError> {
        match self {
            Store::Postgres(pool) => Ok(postgres::health(pool, limit).await?),
            Store::Memory(memory) => Ok(memory.history.health(limit)),
        }
    }

    /// Sessions, the latest started first.
    pub async fn sessions(&self, limit: usize) -> Result<Vec<SessionRow>, StoreError> {
        match self {
            Store::Postgres(pool) => Ok(postgres::sessions(pool, limit).await?),
            Store::Memory(memory) => Ok(memory.history.sessions(limit)),
        }
    }

    /// The latest session started since `started_since` and not stopped.
    pub async fn open_session(
        &self,
        started_since: DateTime<Utc>,
    ) -> Result<Option<SessionRow>, StoreError> {
        match self {
            Store::Postgres(pool) => Ok(postgres::open_session(pool, started_since).await?),
            Store::Memory(memory) => Ok(memory.history.open_session(started_since)),
        }
    }
}

#[cfg(test)]
mod tests;
