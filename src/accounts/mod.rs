//! Accounts: users with roles, their passwords, API tokens, and the login
//! lockout. Stored in PostgreSQL, or in memory in the embedded default.

pub mod cache;
pub mod changes;
pub mod commands;
pub mod lockout;
pub mod password;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use self::cache::{LookupCache, Missed};
use self::changes::{AuthChange, Changes};
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
    /// Everything an admin may do; the bootstrap account.
    Super,
}

impl Role {
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Admin | Role::Super)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
            Role::Super => "super",
        }
    }

    fn parse(value: &str) -> Self {
        match value {
            "admin" => Role::Admin,
            "super" => Role::Super,
            _ => Role::User,
        }
    }
}

#[derive(Clone, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    #[serde(skip)]
    pub password_hash: String,
    pub role: Role,
    #[serde(serialize_with = "crate::events::fields::serialize_timestamp")]
    pub created_at: DateTime<Utc>,
    /// What a login session is bound to: the password hash, or (memory
    /// accounts, made again at every start) a keyed digest of the password.
    #[serde(skip)]
    session_stamp: String,
}

/// Never shows the hash.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl axum_login::AuthUser for User {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    /// A password change ends every session of the user.
    fn session_auth_hash(&self) -> &[u8] {
        self.session_stamp.as_bytes()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl From<sqlx::Error> for AccountError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                AccountError::Invalid("a user with that name or email exists already".into())
            }
            _ => AccountError::Store(StoreError::Database(error)),
        }
    }
}

/// The embedded default's accounts.
#[derive(Default)]
pub struct MemoryAccounts {
    users: Mutex<Vec<User>>,
    pub(crate) tokens: Mutex<Vec<tokens::TokenRecord>>,
}

/// Users looked up are cached this long at most (a login session's own
/// idle expiry): a database outage logs nobody out.
const USER_CACHE_KEEP: Duration = Duration::from_secs(12 * 3600);
const USER_CACHE_MAX: usize = 10_000;

/// User accounts over either store.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    users: Arc<LookupCache<i64, Option<User>>>,
    pub(crate) token_cache: Arc<tokens::TokenCache>,
    changes: Arc<Changes>,
    /// Keys the memory accounts' session stamps (`SESSION_SECRET`).
    stamp_key: Option<Arc<[u8]>>,
}

const USER_COLUMNS: &str = "id, username, email, password_hash, role, created_at";

fn user_from_row(row: &sqlx::postgres::PgRow) -> Result<User, sqlx::Error> {
    let password_hash: String = row.try_get("password_hash")?;
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        session_stamp: password_hash.clone(),
        password_hash,
        role: Role::parse(row.try_get::<&str, _>("role")?),
        created_at: row.try_get("created_at")?,
    })
}

/// A lookup the cache could not answer, as an account error.
fn missed(missed: Missed<AccountError>) -> AccountError {
    match missed {
        Missed::Failed(error) => error,
        Missed::TimedOut | Missed::StoreDown => {
            AccountError::Store(StoreError::Database(sqlx::Error::PoolTimedOut))
        }
    }
}

/// Hashing is slow by design: off the async workers.
async fn hash_password(password: String) -> Result<String, AccountError> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))?
        .map_err(AccountError::Hashing)
}

fn matches_login(user: &User, login: &str) -> bool {
    user.username.eq_ignore_ascii_case(login)
        || user
            .email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(login))
}

impl Accounts {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            users: Arc::new(LookupCache::new(USER_CACHE_MAX, USER_CACHE_KEEP)),
            token_cache: Arc::new(tokens::new_cache()),
            changes: Arc::default(),
            stamp_key: None,
        }
    }

    /// Announces changes to the replicas on `bus` (when it is Redis).
    pub fn announcing_on(mut self, bus: &crate::bus::Bus) -> Self {
        self.changes = Arc::new(Changes::new(Some(bus)));
        self
    }

    /// Memory accounts are made again at every start, each time with a new
    /// password salt; keyed by `secret` their logins survive the restart.
    pub fn with_session_secret(mut self, secret: Option<&str>) -> Self {
        self.stamp_key = secret.map(|s| Arc::from(s.as_bytes()));
        self
    }

    pub fn changes(&self) -> &Changes {
        &self.changes
    }

    /// Drops what is cached about `change`, then tells this process and
    /// the replicas.
    pub async fn announce(&self, change: AuthChange) {
        self.forget(&change);
        self.changes.announce(change).await;
    }

    /// Drops what is cached about `change`.
    pub fn forget(&self, change: &AuthChange) {
        match change {
            AuthChange::LoggedOut { .. } => {}
            AuthChange::TokenRevoked { .. } => self.token_cache.clear(),
            AuthChange::UserChanged { user_id } => {
                self.users.remove(user_id);
                self.token_cache.clear();
            }
        }
    }

    fn memory_stamp(&self, username: &str, password: &str, password_hash: &str) -> String {
        use hmac::{Hmac, Mac};
        let Some(key) = &self.stamp_key else {
            return password_hash.to_owned();
        };
        match Hmac::<sha2::Sha256>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(username.as_bytes());
                mac.update(&[0]);
                mac.update(password.as_bytes());
                hex::encode(mac.finalize().into_bytes())
            }
            Err(_) => password_hash.to_owned(),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub async fn create_user(
        &self,
        username: &str,
        email: Option<&str>,
        password: &str,
        role: Role,
    ) -> Result<User, AccountError> {
        if password.chars().count() < 8 {
            return Err(AccountError::Invalid(
                "a password has at least 8 characters".into(),
            ));
        }
        let password_hash = hash_password(password.to_owned()).await?;
        let stamp = self.memory_stamp(username.trim(), password, &password_hash);
        self.insert_user(username, email, password_hash, stamp, role)
            .await
    }

    /// Adds a user whose hash is already made (the original application's users).
    pub async fn import_user(
        &self,
        username: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<User, AccountError> {
        let hash = password_hash.to_owned();
        self.insert_user(username, None, hash.clone(), hash, role)
            .await
    }

    async fn insert_user(
        &self,
        username: &str,
        email: Option<&str>,
        password_hash: String,
        memory_stamp: String,
        role: Role,
    ) -> Result<User, AccountError> {
        let username = username.trim();
        if username.is_empty() || username.len() > 64 || username.contains(char::is_whitespace) {
            return Err(AccountError::Invalid(
                "a user name is 1 to 64 characters without spaces".into(),
            ));
        }
        let email = email.map(str::trim).filter(|e| !e.is_empty());
        if email.is_some_and(|e| !e.contains('@')) {
            return Err(AccountError::Invalid("that is not an email address".into()));
        }
        match &self.store {
            Store::Postgres(pool) => {
                let row = sqlx::query(&format!(
                    "INSERT INTO users (username, email, password_hash, role) VALUES ($1, $2, $3, $4) RETURNING {USER_COLUMNS}"
                ))
                .bind(username)
                .bind(email)
                .bind(&password_hash)
                .bind(role.as_str())
                .fetch_one(pool)
                .await?;
                Ok(user_from_row(&row)?)
            }
            Store::Memory(memory) => {
                let mut users = memory.accounts.users.lock();
                if users.iter().any(|u| {
                    matches_login(u, username) || email.is_some_and(|e| matches_login(u, e))
                }) {
                    return Err(AccountError::Invalid(
                        "a user with that name or email exists already".into(),
                    ));
                }
                let user = User {
                    id: users.len() as i64 + 1,
                    username: username.to_owned(),
                    email: email.map(str::to_owned),
                    password_hash,
                    role,
                    created_at: Utc::now(),
                    session_stamp: memory_stamp,
                };
                users.push(user.clone());
                Ok(user)
            }
        }
    }

    /// By user name or email, ignoring case.
    pub async fn find_by_login(&self, login: &str) -> Result<Option<User>, AccountError> {
        let login = login.trim();
        self.find_user(
            "lower(username) = lower($1) OR lower(email) = lower($1)",
            login,
            |u| matches_login(u, login),
        )
        .await
    }

    /// The user of a login session or token, cached in front of the
    /// database (see [`cache`]).
    pub async fn get(&self, id: i64) -> Result<Option<User>, AccountError> {
        let lookup = self.find_user("id = $1", id, |u| u.id == id);
        self.users.lookup(&id, lookup).await.map_err(missed)
    }

    /// The first user matching `condition` (SQL, with `value` as `$1`) or,
    /// in memory, `matches`.
    async fn find_user<T>(
        &self,
        condition: &str,
        value: T,
        matches: impl Fn(&User) -> bool,
    ) -> Result<Option<User>, AccountError>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
    {
        match &self.store {
            Store::Postgres(pool) => {
                let row = sqlx::query(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE {condition} ORDER BY id LIMIT 1"
                ))
                .bind(value)
                .fetch_optional(pool)
                .await?;
                Ok(row.as_ref().map(user_from_row).transpose()?)
            }
            Store::Memory(memory) => Ok(memory
                .accounts
                .users
                .lock()
                .iter()
                .find(|u| matches(u))
                .cloned()),
        }
    }

    pub async fn list(&self) -> Result<Vec<User>, AccountError> {
        match &self.store {
            Store::Postgres(pool) => {
                let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
                    .fetch_all(pool)
                    .await?;
                Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
            }
            Store::Memory(memory) => Ok(memory.accounts.users.lock().clone()),
        }
    }

    async fn set_password_hash(&self, id: i64, password_hash: &str) -> Result<(), AccountError> {
        match &self.store {
            Store::Postgres(pool) => {
                sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(id)
                    .execute(pool)
                    .await?;
            }
            Store::Memory(memory) => {
                if let Some(user) = memory.accounts.users.lock().iter_mut().find(|u| u.id == id) {
                    user.password_hash = password_hash.to_owned();
                }
            }
        }
        // The sessions bound to the old hash end on every replica at once.
        self.announce(AuthChange::UserChanged { user_id: id }).await;
        Ok(())
    }

    /// The user whose name or email and password these are. A hash carried
    /// over from the original application is replaced by argon2id on success.
    pub async fn authenticate(
        &self,
        login: &str,
        password: &str,
    ) -> Result<Option<User>, AccountError> {
        let user = self.find_by_login(login).await?;
        let password = password.to_owned();
        let Some(mut user) = user else {
            tokio::task::spawn_blocking(move || password::verify_nothing(&password))
                .await
                .map_err(|e| AccountError::Hashing(e.to_string()))?;
            return Ok(None);
        };
        let stored = user.password_hash.clone();
        let (verdict, password) =
            tokio::task::spawn_blocking(move || (password::verify(&password, &stored), password))
                .await
                .map_err(|e| AccountError::Hashing(e.to_string()))?;
        match verdict {
            password::Verdict::Invalid => Ok(None),
            password::Verdict::Valid { upgrade } => {
                if upgrade {
                    let upgraded = hash_password(password).await?;
                    self.set_password_hash(user.id, &upgraded).await?;
                    tracing::info!(
                        "ACCOUNTS: Upgraded the password hash of {} to argon2id",
                        user.username
                    );
                    if matches!(self.store, Store::Postgres(_)) {
                        user.session_stamp = upgraded.clone();
                    }
                    user.password_hash = upgraded;
                }
                Ok(Some(user))
            }
        }
    }

    /// Creates the bootstrap superuser `admin` when no user exists yet.
    /// Returns the user when one was created.
    pub async fn bootstrap_admin(&self, password: &str) -> Result<Option<User>, AccountError> {
        if !self.list().await?.is_empty() {
            return Ok(None);
        }
        self.create_user("admin", None, password, Role::Super)
            .await
            .map(Some)
    }
}
