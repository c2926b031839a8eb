//! Users and API tokens as they are stored: in PostgreSQL ([`PostgresAccounts`])
//! or in memory ([`MemoryAccounts`]), behind [`UserStore`] and [`TokenStore`].
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
    #[serde(serialize_with = "serialize_timestamp")]
    pub created_at: DateTime<Utc>,
    /// What a login session is bound to: the password hash, or (memory
    /// accounts, made again at every start) a keyed digest of the password.
    #[serde(skip)]
    session_stamp: String,
}

impl User {
    pub fn session_stamp(&self) -> &str {
        &self.session_stamp
    }
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

    /// The user as stored now, unless there is none of that id.
    async fn set_password_hash(
        &self,
        id: i64,
        password_hash: &str,
    ) -> Result<Option<User>, StoreError>;
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
