//! Persistence: PostgreSQL in production (`DATABASE_URL`), bounded in-memory
//! buffers in the embedded default. Each domain (users, tokens and the audit
//! trail in [`accounts`], the streaming [`history`]) has one trait and an
//! implementation of each kind; [`Store`] picks the kind once, and every
//! query answers the same either way.

pub mod accounts;
pub mod current_session;
pub mod history;
pub mod settings;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use self::accounts::{AuditStore, MemoryAccounts, PostgresAccounts, TokenStore, UserStore};
use self::history::{HistoryStore, MemoryHistory, PostgresHistory};
use crate::backoff::Backoff;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Conflict(String),
    #[error("DATABASE_URL is not a PostgreSQL URL")]
    InvalidUrl,
    #[error("no answer within {0:?}")]
    Timeout(Duration),
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

/// Every store domain in one deployment's backend: PostgreSQL
/// (`DATABASE_URL`) or memory, chosen once, here.
#[derive(Clone)]
pub struct Store {
    /// The database, for what only it has (the login sessions' table, the
    /// check of its tables); `None` in the embedded default.
    postgres: Option<PgPool>,
    users: Arc<dyn UserStore>,
    tokens: Arc<dyn TokenStore>,
    audit: Arc<dyn AuditStore>,
    history: Arc<dyn HistoryStore>,
}

impl Store {
    /// A store on the database at `database_url` that connects lazily: nothing
    /// here waits for the database. `Database::watch` connects, migrates and
    /// then keeps its status.
    pub fn lazy(database_url: &str) -> Result<(Self, Database), StoreError> {
        // The URL was checked by the configuration; its text is never echoed
        // (it may hold a password).
        let options = database_url
            .parse::<PgConnectOptions>()
            .map_err(|_| StoreError::InvalidUrl)?;
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options.clone());
        let database = Database {
            pool: pool.clone(),
            options,
            status: Arc::new(DatabaseStatus::default()),
        };
        let accounts = Arc::new(PostgresAccounts::new(pool.clone()));
        let store = Store {
            postgres: Some(pool.clone()),
            users: accounts.clone(),
            tokens: accounts.clone(),
            audit: accounts,
            history: Arc::new(PostgresHistory::new(pool)),
        };
        Ok((store, database))
    }

    /// Connects and runs the migrations now, or says why it cannot (the CLI).
    pub async fn connect(database_url: &str) -> Result<Self, StoreError> {
        let (store, database) = Self::lazy(database_url)?;
        database.prepare().await?;
        Ok(store)
    }

    /// The embedded default's store: nothing survives a restart.
    pub fn memory() -> Self {
        let accounts = Arc::new(MemoryAccounts::default());
        Store {
            postgres: None,
            users: accounts.clone(),
            tokens: accounts.clone(),
            audit: accounts,
            history: Arc::new(MemoryHistory::default()),
        }
    }

    pub fn kind(&self) -> &'static str {
        if self.postgres.is_some() {
            "postgres"
        } else {
            "memory"
        }
    }

    /// The database's pool, unless the store is in memory.
    pub fn postgres(&self) -> Option<&PgPool> {
        self.postgres.as_ref()
    }

    pub fn users(&self) -> &dyn UserStore {
        &*self.users
    }

    pub fn tokens(&self) -> &dyn TokenStore {
        &*self.tokens
    }

    pub fn audit(&self) -> &dyn AuditStore {
        &*self.audit
    }

    pub fn history(&self) -> &dyn HistoryStore {
        &*self.history
    }
}

/// A request waits at most this long for a database connection. Once the
/// watcher has seen the database go, requests do not wait at all.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// A connection attempt of the watcher's own gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the watcher checks a database that is up, and how long it waits.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// Reconnection attempts wait up to this long, with jitter.
const RETRY_BASE: Duration = Duration::from_millis(250);
const RETRY_CAP: Duration = Duration::from_secs(10);

/// What is known of the database, kept by `Database::watch` and read by
/// readiness and by the routes that need the database, which never wait on it.
/// Unknown until the first attempt: not connected.
#[derive(Debug, Default)]
pub struct DatabaseStatus {
    connected: AtomicBool,
    migrated: AtomicBool,
}

impl DatabaseStatus {
    /// The status of the memory store: always there.
    pub fn memory() -> Arc<Self> {
        Arc::new(Self {
            connected: AtomicBool::new(true),
            migrated: AtomicBool::new(true),
        })
    }

    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub fn migrated(&self) -> bool {
        self.migrated.load(Ordering::Relaxed)
    }

    /// Whether a query may be sent now.
    pub fn available(&self) -> bool {
        self.connected() && self.migrated()
    }
}

/// The PostgreSQL behind a PostgreSQL `Store`, for connecting, migrating and
/// watching it.
pub struct Database {
    pool: PgPool,
    options: PgConnectOptions,
    status: Arc<DatabaseStatus>,
}

impl Database {
    pub fn status(&self) -> Arc<DatabaseStatus> {
        self.status.clone()
    }

    /// One attempt: a connection of its own (so that a failure says why,
    /// e.g. connection refused, where the pool only says it timed out), then
    /// the migrations unless they ran already.
    pub async fn prepare(&self) -> Result<(), StoreError> {
        let connection =
            tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&self.options))
                .await
                .map_err(|_| StoreError::Timeout(CONNECT_TIMEOUT))??;
        // Closing politely is a courtesy: it proved the database answers.
        let _ = connection.close().await;
        self.status.connected.store(true, Ordering::Relaxed);
        if !self.status.migrated() {
            sqlx::migrate!("./migrations").run(&self.pool).await?;
            self.status.migrated.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Keeps the status until `shutdown`. Until the database is migrated,
    /// `prepare` is retried with backoff, the cause logged (at warn when it
    /// changes), and `on_ready` runs once after; then the database is checked
    /// every `CHECK_INTERVAL`, and a lost one is reconnected to the same way.
    pub async fn watch<F, Fut>(self, on_ready: F, shutdown: CancellationToken)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut on_ready = (!self.status.available()).then_some(on_ready);
        let mut backoff = Backoff::new(RETRY_BASE, RETRY_CAP);
        let mut last_cause: Option<String> = None;
        loop {
            let wait = if self.status.available() {
                if self.check().await {
                    CHECK_INTERVAL
                } else {
                    self.status.connected.store(false, Ordering::Relaxed);
                    backoff.reset();
                    Duration::ZERO
                }
            } else {
                match self.prepare().await {
                    Ok(()) => {
                        if last_cause.take().is_some() {
                            tracing::info!("DATABASE: Connected (migrations applied)");
                        }
                        if let Some(on_ready) = on_ready.take() {
                            on_ready().await;
                        }
                        CHECK_INTERVAL
                    }
                    Err(error) => {
                        self.status.connected.store(false, Ordering::Relaxed);
                        let cause = error.to_string();
                        if last_cause.as_ref() != Some(&cause) {
                            tracing::warn!(
                                "DATABASE: Unavailable ({cause}); routes that need it answer 503, retrying"
                            );
                        } else {
                            tracing::debug!("DATABASE: Still unavailable ({cause})");
                        }
                        last_cause = Some(cause);
                        backoff.next_delay()
                    }
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Whether the database answers through the pool now.
    async fn check(&self) -> bool {
        tokio::time::timeout(CHECK_TIMEOUT, sqlx::query("SELECT 1").execute(&self.pool))
            .await
            .is_ok_and(|result| result.is_ok())
    }
}
