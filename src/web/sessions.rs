//! Login sessions (tower-sessions): in PostgreSQL in production, in memory in
//! the embedded default. Cookies are HttpOnly, SameSite=Lax, signed, and
//! Secure when `COOKIE_SECURE` is set.

use async_trait::async_trait;
use tower_sessions::cookie::{Key, SameSite};
use tower_sessions::service::SignedCookie;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion};
use tower_sessions::{Expiry, MemoryStore, SessionManagerLayer, SessionStore};
use tower_sessions_sqlx_store::PostgresStore;

use crate::store::Store;

pub const COOKIE_NAME: &str = "tickstock_session";
/// A session ends after this much inactivity.
const IDLE_EXPIRY: time::Duration = time::Duration::hours(12);

/// One session store type for both deployments.
#[derive(Debug, Clone)]
pub enum SessionBackend {
    Postgres(PostgresStore),
    Memory(MemoryStore),
}

#[async_trait]
impl SessionStore for SessionBackend {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        match self {
            Self::Postgres(store) => store.create(record).await,
            Self::Memory(store) => store.create(record).await,
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        match self {
            Self::Postgres(store) => store.save(record).await,
            Self::Memory(store) => store.save(record).await,
        }
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        match self {
            Self::Postgres(store) => store.load(id).await,
            Self::Memory(store) => store.load(id).await,
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        match self {
            Self::Postgres(store) => store.delete(id).await,
            Self::Memory(store) => store.delete(id).await,
        }
    }
}

impl SessionBackend {
    /// The store for `store` (its PostgreSQL table comes from the migrations).
    pub async fn new(store: &Store) -> Result<Self, sqlx::Error> {
        Ok(match store {
            Store::Postgres(pool) => Self::Postgres(PostgresStore::new(pool.clone())),
            Store::Memory(_) => Self::Memory(MemoryStore::default()),
        })
    }

    /// Deletes expired sessions every minute (the memory store expires them itself).
    pub async fn delete_expired(self, shutdown: tokio_util::sync::CancellationToken) {
        if let Self::Postgres(store) = self {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = store.continuously_delete_expired(tokio::time::Duration::from_secs(60)) => {}
            }
        }
    }
}

/// `secret` signs the cookies; any length, stretched to the 64 bytes the key needs.
pub fn layer(
    backend: SessionBackend,
    secret: &[u8],
    secure: bool,
) -> SessionManagerLayer<SessionBackend, SignedCookie> {
    use sha2::{Digest, Sha512};
    let key = Key::from(Sha512::digest(secret).as_slice());
    SessionManagerLayer::new(backend)
        .with_name(COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_expiry(Expiry::OnInactivity(IDLE_EXPIRY))
        .with_signed(key)
}
