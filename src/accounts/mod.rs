//! Accounts: users with roles, their passwords, API tokens, and the login
//! lockout: the rules. Where they are kept (PostgreSQL, or memory in the
//! embedded default) is `crate::store::accounts`.

pub mod admin;
pub mod cache;
pub mod changes;
pub mod commands;
pub mod lockout;
pub mod password;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use self::cache::{LookupCache, Missed};
use self::changes::{AuthChange, Changes};
use crate::store::accounts::{NewUser, UserChange};
pub use crate::store::accounts::{Role, User};
use crate::store::{Store, StoreError};

impl axum_login::AuthUser for User {
    type Id = i64;

    fn id(&self) -> i64 {
        self.id
    }

    /// A password change ends every session of the user.
    fn session_auth_hash(&self) -> &[u8] {
        self.session_stamp().as_bytes()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// Refused by a guard of the admin actions (see [`admin`]).
    #[error("{0}")]
    Refused(String),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// A conflict (a name or email taken) is the caller's to fix, not an outage.
impl From<StoreError> for AccountError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => AccountError::Invalid(message),
            error => AccountError::Store(error),
        }
    }
}

/// Users looked up are cached this long at most (a login session's own
/// idle expiry): a database outage logs nobody out.
const USER_CACHE_KEEP: Duration = Duration::from_secs(12 * 3600);
const USER_CACHE_MAX: usize = 10_000;

/// User accounts over either store.
#[derive(Clone)]
pub struct Accounts {
    store: Store,
    user_cache: Arc<LookupCache<i64, Option<User>>>,
    token_cache: Arc<tokens::TokenCache>,
    changes: Arc<Changes>,
    /// Keys the memory accounts' session stamps (`SESSION_SECRET`).
    stamp_key: Option<Arc<[u8]>>,
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

impl Accounts {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            user_cache: Arc::new(LookupCache::new(USER_CACHE_MAX, USER_CACHE_KEEP)),
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
                self.user_cache.remove(user_id);
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

    pub async fn create_user(
        &self,
        username: &str,
        email: Option<&str>,
        password: &str,
        role: Role,
    ) -> Result<User, AccountError> {
        let (password_hash, stamp) = self.new_password(username.trim(), password).await?;
        self.insert_user(username, email, password_hash, stamp, role)
            .await
    }

    /// The hash of a new password of `username`, and the memory accounts'
    /// session stamp for it.
    async fn new_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(String, String), AccountError> {
        if password.chars().count() < 8 {
            return Err(AccountError::Invalid(
                "a password has at least 8 characters".into(),
            ));
        }
        let password_hash = hash_password(password.to_owned()).await?;
        let stamp = self.memory_stamp(username, password, &password_hash);
        Ok((password_hash, stamp))
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
        let new = NewUser {
            username,
            email,
            password_hash: &password_hash,
            session_stamp: &memory_stamp,
            role,
        };
        Ok(self.store.users().insert_user(new).await?)
    }

    /// By user name or email, ignoring case.
    pub async fn find_by_login(&self, login: &str) -> Result<Option<User>, AccountError> {
        Ok(self.store.users().user_by_login(login.trim()).await?)
    }

    /// The user of a login session or token, cached in front of the
    /// database (see [`cache`]); none when disabled, which ends every login
    /// of theirs.
    pub async fn get(&self, id: i64) -> Result<Option<User>, AccountError> {
        let lookup = async { Ok(self.store.users().user_by_id(id).await?) };
        let user = self.user_cache.lookup(&id, lookup).await.map_err(missed)?;
        Ok(user.filter(|user| !user.is_disabled()))
    }

    pub async fn list(&self) -> Result<Vec<User>, AccountError> {
        Ok(self.store.users().users().await?)
    }

    /// The user whose name or email and password these are, unless disabled.
    /// A hash carried over from the original application is replaced by
    /// argon2id on success.
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
            password::Verdict::Valid { .. } if user.is_disabled() => Ok(None),
            password::Verdict::Valid { upgrade } => {
                if upgrade {
                    let upgraded = hash_password(password).await?;
                    // The memory accounts' stamp stays: the password is the same.
                    let change = UserChange::Password {
                        hash: &upgraded,
                        session_stamp: None,
                    };
                    let stored = self.store.users().update_user(user.id, change);
                    if let Some(upgraded) = stored.await? {
                        user = upgraded;
                    }
                    // The sessions bound to the old hash end on every replica at once.
                    self.announce(AuthChange::UserChanged { user_id: user.id })
                        .await;
                    tracing::info!(
                        "ACCOUNTS: Upgraded the password hash of {} to argon2id",
                        user.username
                    );
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
        self.admin(admin::Actor::startup())
            .add_user("admin", None, password, Role::Super)
            .await
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_name_or_email_is_refused_as_invalid_not_as_an_outage() {
        let accounts = Accounts::new(Store::memory());
        let first = accounts.import_user("ops", "hash", Role::User).await;
        assert_eq!(first.map(|user| user.id).ok(), Some(1));
        let again = accounts.import_user("OPS", "hash", Role::Admin).await;
        assert!(matches!(again, Err(AccountError::Invalid(_))), "{again:?}");
        assert_eq!(accounts.list().await.map(|users| users.len()).ok(), Some(1));
    }
}
