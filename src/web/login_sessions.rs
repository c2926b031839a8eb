//! Login sessions (tower-sessions): in PostgreSQL when there is one, else in
//! Redis when there is one (so a restart or another replica keeps them), else
//! in memory (lost at restart). A shared store is cached in memory in front
//! (see [`crate::accounts::cache`]): an outage of it logs nobody out who was
//! seen lately. Cookies are HttpOnly, SameSite=Lax, signed, and Secure when
//! `COOKIE_SECURE` is set.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};
use tower_sessions::cookie::{Key, SameSite};
use tower_sessions::service::SignedCookie;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion};
use tower_sessions::{Expiry, MemoryStore, SessionManagerLayer, SessionStore};
use tower_sessions_sqlx_store::PostgresStore;

use crate::accounts::cache::{LookupCache, Missed};
use crate::bus::Bus;
use crate::store::Store;

pub const COOKIE_NAME: &str = "tickstock_session";
/// A session ends after this much inactivity.
const IDLE_EXPIRY: time::Duration = time::Duration::hours(12);
const CACHE_KEEP: Duration = Duration::from_secs(12 * 3600);
const CACHE_MAX: usize = 10_000;
const REDIS_KEY_PREFIX: &str = "tickstock:session:";

/// How a login session is named outside the process (its id is a credential).
pub fn digest(id: &Id) -> String {
    hex::encode(Sha256::digest(id.to_string().as_bytes()))
}

/// The login sessions of one deployment, wherever they live (chosen once,
/// in [`LoginSessionStore::new`]).
#[derive(Clone)]
pub struct LoginSessionStore {
    store: Arc<dyn SessionStore>,
    kind: &'static str,
    /// The cache in front of a shared store; memory needs none.
    cache: Option<Arc<SessionCache>>,
    /// PostgreSQL's table, swept by a task (Redis and memory expire sessions
    /// themselves).
    table: Option<PostgresStore>,
}

/// Sessions by [`digest`] of their id.
type SessionCache = LookupCache<String, Option<Record>>;

impl std::fmt::Debug for LoginSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LoginSessionStore")
            .field(&self.kind)
            .finish()
    }
}

impl LoginSessionStore {
    /// PostgreSQL when `store` is, else Redis when `bus` is, else memory.
    pub fn new(store: &Store, bus: &Bus) -> Self {
        match (store.postgres(), bus) {
            (Some(pool), _) => {
                // Its table comes from the migrations.
                let table = PostgresStore::new(pool.clone());
                Self::shared(table.clone(), "postgres", Some(table))
            }
            (None, Bus::Redis(redis)) => {
                let redis = RedisLoginSessions {
                    redis: redis.connection(),
                };
                Self::shared(redis, "redis", None)
            }
            (None, Bus::Memory(_)) => Self::memory(),
        }
    }

    /// Sessions in this process only, lost at restart.
    pub fn memory() -> Self {
        Self {
            store: Arc::new(MemoryStore::default()),
            kind: "memory",
            cache: None,
            table: None,
        }
    }

    fn shared(store: impl SessionStore, kind: &'static str, table: Option<PostgresStore>) -> Self {
        let cache = Arc::new(LookupCache::new(CACHE_MAX, CACHE_KEEP));
        Self {
            store: Arc::new(Cached {
                store,
                cache: cache.clone(),
            }),
            kind,
            cache: Some(cache),
            table,
        }
    }

    /// Where logins are kept, for the log.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Drops a session another replica ended from this process's cache.
    pub fn forget(&self, session_digest: &str) {
        if let Some(cache) = &self.cache {
            cache.remove(&session_digest.to_owned());
        }
    }

    /// Deletes expired sessions every minute (memory and Redis expire them themselves).
    pub async fn delete_expired(self, shutdown: tokio_util::sync::CancellationToken) {
        if let Some(table) = self.table {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = table.continuously_delete_expired(tokio::time::Duration::from_secs(60)) => {}
            }
        }
    }
}

#[async_trait]
impl SessionStore for LoginSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.store.create(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.store.save(record).await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        self.store.load(id).await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.store.delete(id).await
    }
}

/// A shared store (PostgreSQL or Redis) with this process's cache in front.
struct Cached<S> {
    store: S,
    cache: Arc<SessionCache>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Cached<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Cached").field(&self.store).finish()
    }
}

fn unavailable(missed: Missed<session_store::Error>) -> session_store::Error {
    match missed {
        Missed::Failed(error) => error,
        Missed::TimedOut | Missed::StoreDown => {
            session_store::Error::Backend("the session store is unavailable".into())
        }
    }
}

/// Only a session that has not expired counts, cached or not.
fn live(record: Record) -> Option<Record> {
    (record.expiry_date > time::OffsetDateTime::now_utc()).then_some(record)
}

#[async_trait]
impl<S: SessionStore> SessionStore for Cached<S> {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        self.store.create(record).await?;
        self.cache.put(digest(&record.id), Some(record.clone()));
        Ok(())
    }

    /// A session already known survives a failed write: it is kept in this
    /// process's cache until the store answers again.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let key = digest(&record.id);
        let known = self.cache.contains(&key);
        self.cache.put(key, Some(record.clone()));
        match self.store.save(record).await {
            Err(error) if known => {
                tracing::warn!("AUTH: session kept in memory only: {error}");
                Ok(())
            }
            result => result,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let record = self
            .cache
            .lookup(&digest(id), self.store.load(id))
            .await
            .map_err(unavailable)?;
        Ok(record.and_then(live))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.cache.remove(&digest(id));
        self.store.delete(id).await
    }
}

/// Sessions in Redis, one key each, expiring with the session.
#[derive(Clone)]
pub struct RedisLoginSessions {
    redis: ConnectionManager,
}

impl std::fmt::Debug for RedisLoginSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisLoginSessions")
    }
}

fn backend(error: redis::RedisError) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

impl RedisLoginSessions {
    fn key(id: &Id) -> String {
        format!("{REDIS_KEY_PREFIX}{id}")
    }

    /// Writes `record`; only when no session has its id when `only_new`.
    async fn write(&self, record: &Record, only_new: bool) -> session_store::Result<bool> {
        let payload =
            serde_json::to_vec(record).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let expires_at_ms = record.expiry_date.unix_timestamp_nanos() / 1_000_000;
        let expires_at_ms = u64::try_from(expires_at_ms)
            .map_err(|_| session_store::Error::Encode("expiry before 1970".into()))?;
        let mut command = redis::cmd("SET");
        command
            .arg(Self::key(&record.id))
            .arg(payload)
            .arg("PXAT")
            .arg(expires_at_ms);
        if only_new {
            command.arg("NX");
        }
        let mut redis = self.redis.clone();
        let written: Option<String> = command.query_async(&mut redis).await.map_err(backend)?;
        Ok(written.is_some())
    }
}

#[async_trait]
impl SessionStore for RedisLoginSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A new id until it is one nobody has (a collision is astronomically rare).
        while !self.write(record, true).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        self.write(record, false).await.map(|_| ())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let mut redis = self.redis.clone();
        let payload: Option<Vec<u8>> = redis.get(Self::key(id)).await.map_err(backend)?;
        payload
            .map(|payload| {
                serde_json::from_slice(&payload)
                    .map_err(|e| session_store::Error::Decode(e.to_string()))
            })
            .transpose()
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let mut redis = self.redis.clone();
        let _: i64 = redis.del(Self::key(id)).await.map_err(backend)?;
        Ok(())
    }
}

/// The session and login layers answer a bare 500 when the session store or
/// the user lookup fails; that means "unavailable", and the API says so in
/// JSON. Every response of TickStock's own has a content type.
pub async fn unavailable_not_empty(response: Response) -> Response {
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR
        && !response.headers().contains_key(header::CONTENT_TYPE)
    {
        return crate::web::ApiError::AccountsUnavailable.into_response();
    }
    response
}

/// `secret` signs the cookies; any length, stretched to the 64 bytes the key needs.
pub fn layer(
    backend: LoginSessionStore,
    secret: &[u8],
    secure: bool,
) -> SessionManagerLayer<LoginSessionStore, SignedCookie> {
    use sha2::Sha512;
    let key = Key::from(Sha512::digest(secret).as_slice());
    SessionManagerLayer::new(backend)
        .with_name(COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(IDLE_EXPIRY))
        .with_signed(key)
}
