//! Persistence: PostgreSQL in production (`DATABASE_URL`), bounded in-memory
//! buffers in the embedded default. One `Store`, two implementations; every
//! query answers the same JSON either way.

pub mod history;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Conflict(String),
}

impl StoreError {
    /// Whether the database refused the data itself, so that writing the same
    /// rows again fails again: SQLSTATE class 22 (data exception), 23
    /// (integrity constraint violation) or 54 (program limit exceeded, e.g. an
    /// index row too large), or a value that cannot be encoded at all.
    pub fn is_data_error(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(error)) => {
                error.code().is_some_and(|code| {
                    ["22", "23", "54"]
                        .iter()
                        .any(|class| code.starts_with(class))
                })
            }
            StoreError::Database(sqlx::Error::Encode(_)) => true,
            _ => false,
        }
    }
}

#[derive(Clone)]
pub enum Store {
    Postgres(PgPool),
    Memory(Arc<MemoryStore>),
}

/// The embedded default's store: nothing survives a restart.
#[derive(Default)]
pub struct MemoryStore {
    pub accounts: crate::accounts::MemoryAccounts,
    pub history: history::MemoryHistory,
}

impl Store {
    /// Connects and runs the migrations; never waits more than a few seconds
    /// for a connection, so a database that is down fails start-up clearly.
    pub async fn connect(database_url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .connect(database_url)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store::Postgres(pool))
    }

    pub fn memory() -> Self {
        Store::Memory(Arc::default())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Store::Postgres(_) => "postgres",
            Store::Memory(_) => "memory",
        }
    }

    /// Whether the database answers now (readiness); the memory store always does.
    pub async fn reachable(&self) -> bool {
        match self {
            Store::Postgres(pool) => tokio::time::timeout(
                Duration::from_secs(1),
                sqlx::query("SELECT 1").execute(pool),
            )
            .await
            .is_ok_and(|r| r.is_ok()),
            Store::Memory(_) => true,
        }
    }
}
