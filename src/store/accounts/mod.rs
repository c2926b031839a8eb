//! Users, API tokens and the audit trail of what admins did to them, as they
//! are stored: in PostgreSQL ([`PostgresAccounts`]) or in memory
//! ([`MemoryAccounts`]), behind [`UserStore`], [`TokenStore`] and [`AuditStore`].
//! What they mean (passwords, lockout, the caches in front, announcing
//! changes) is the accounts module's concern, which uses these and not the
//! other way round.

mod memory;
mod postgres;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use memory::MemoryAccounts;
pub use postgres::PostgresAccounts;

use super::StoreError;
use crate::events::fields::{serialize_opt_timestamp, serialize_timestamp};

/// Both stores refuse a second user of a name or email, ignoring case.
const DUPLICATE_USER: &str = "a user with that name or email exists already";

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
        Self::from_name(value).unwrap_or(Role::User)
    }

    /// The role of that name (as [`Self::as_str`] spells it), if any.
    pub fn from_name(value: &str) -> Option<Self> {
        match value {
            "user" => Some(Role::User),
            "admin" => Some(Role::Admin),
            "super" => Some(Role::Super),
            _ => None,
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
    #[serde(serialize_with = "serialize_timestamp")]
    pub created_at: DateTime<Utc>,
    /// Since when an admin disabled the user: no login, session or token of
    /// theirs counts then.
    #[serde(serialize_with = "serialize_opt_timestamp")]
    pub disabled_at: Option<DateTime<Utc>>,
    /// What a login session is bound to: the password hash, or (memory
    /// accounts, made again at every start) a keyed digest of the password.
    #[serde(skip)]
    session_stamp: String,
}

impl User {
    pub fn session_stamp(&self) -> &str {
        &self.session_stamp
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }

    /// An admin who is not disabled: one who can still manage the others.
    pub fn is_active_admin(&self) -> bool {
        self.role.is_admin() && !self.is_disabled()
    }
}

/// Never shows the hash.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("disabled_at", &self.disabled_at)
            .finish_non_exhaustive()
    }
}

/// A user to add, checked already.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    /// What its login sessions are bound to in memory, where the hash does
    /// not outlive a restart; PostgreSQL binds them to the stored hash.
    pub session_stamp: &'a str,
    pub role: Role,
}

/// A change to one user.
pub enum UserChange<'a> {
    Role(Role),
    /// Disabled since then, or enabled (`None`).
    Disabled(Option<DateTime<Utc>>),
    /// A new password hash. `session_stamp` is what the memory accounts'
    /// sessions are bound to from now on (`None` keeps theirs: the same
    /// password, hashed anew); PostgreSQL binds them to the hash.
    Password {
        hash: &'a str,
        session_stamp: Option<&'a str>,
    },
}

/// One line of the audit trail: who did what to which target, and when.
/// Names are kept as they were, so a deleted user's lines stay readable.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    #[serde(serialize_with = "serialize_timestamp")]
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// An audit line to add; the store gives it its id and time.
pub struct NewAuditEntry<'a> {
    pub actor: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: &'a str,
}

/// What `token list` shows: never the token.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub username: String,
    pub label: String,
    #[serde(serialize_with = "serialize_timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_opt_timestamp")]
    pub last_used_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serialize_opt_timestamp")]
    pub revoked_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// A name or email that a user has already (as name or email, ignoring
    /// case) is a [`StoreError::Conflict`].
    async fn insert_user(&self, user: NewUser<'_>) -> Result<User, StoreError>;

    /// By user name or email, ignoring case.
    async fn user_by_login(&self, login: &str) -> Result<Option<User>, StoreError>;

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError>;

    /// Every user, by id.
    async fn users(&self) -> Result<Vec<User>, StoreError>;

    /// The user as changed, unless there is none of that id.
    async fn update_user(
        &self,
        id: i64,
        change: UserChange<'_>,
    ) -> Result<Option<User>, StoreError>;

    /// Whether a user of that id existed; it is gone now, with its tokens.
    async fn delete_user(&self, id: i64) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Adds a token of `user_id` by its digest; answers its id and creation time.
    async fn insert_token(
        &self,
        user_id: i64,
        label: &str,
        token_hash: &str,
    ) -> Result<(i64, DateTime<Utc>), StoreError>;

    /// The user id of the unrevoked token of that digest, which counts as
    /// used now.
    async fn use_token(&self, token_hash: &str) -> Result<Option<i64>, StoreError>;

    /// Whether an unrevoked token of that id existed; it is revoked now.
    async fn revoke_token(&self, id: i64) -> Result<bool, StoreError>;

    /// Every token, by id.
    async fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record(&self, entry: NewAuditEntry<'_>) -> Result<(), StoreError>;

    /// At most `limit` lines, newest first, older than line `before` when given.
    async fn audit_page(
        &self,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError>;
}
