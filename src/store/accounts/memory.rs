//! The embedded default's users and tokens: nothing survives a restart.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use super::{DUPLICATE_USER, NewUser, TokenInfo, TokenStore, User, UserStore};
use crate::store::StoreError;

#[derive(Default)]
pub struct MemoryAccounts {
    users: Mutex<Vec<User>>,
    tokens: Mutex<Vec<TokenRecord>>,
}

#[derive(Debug, Clone)]
struct TokenRecord {
    id: i64,
    user_id: i64,
    label: String,
    token_hash: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// As PostgreSQL compares them: `lower(username) = lower($1) OR lower(email) = lower($1)`.
fn matches_login(user: &User, login: &str) -> bool {
    user.username.eq_ignore_ascii_case(login)
        || user
            .email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(login))
}

impl MemoryAccounts {
    fn find_user(&self, matches: impl Fn(&User) -> bool) -> Option<User> {
        self.users.lock().iter().find(|u| matches(u)).cloned()
    }
}

#[async_trait]
impl UserStore for MemoryAccounts {
    async fn insert_user(&self, new: NewUser<'_>) -> Result<User, StoreError> {
        let mut users = self.users.lock();
        if users.iter().any(|u| {
            matches_login(u, new.username) || new.email.is_some_and(|e| matches_login(u, e))
        }) {
            return Err(StoreError::Conflict(DUPLICATE_USER.into()));
        }
        let user = User {
            id: users.len() as i64 + 1,
            username: new.username.to_owned(),
            email: new.email.map(str::to_owned),
            password_hash: new.password_hash.to_owned(),
            role: new.role,
            created_at: Utc::now(),
            session_stamp: new.session_stamp.to_owned(),
        };
        users.push(user.clone());
        Ok(user)
    }

    async fn user_by_login(&self, login: &str) -> Result<Option<User>, StoreError> {
        Ok(self.find_user(|u| matches_login(u, login)))
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        Ok(self.find_user(|u| u.id == id))
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        Ok(self.users.lock().clone())
    }

    /// The session stamp stays: it was made from the password, which is the same.
    async fn set_password_hash(
        &self,
        id: i64,
        password_hash: &str,
    ) -> Result<Option<User>, StoreError> {
        Ok(self
            .users
            .lock()
            .iter_mut()
            .find(|u| u.id == id)
            .map(|user| {
                user.password_hash = password_hash.to_owned();
                user.clone()
            }))
    }
}

#[async_trait]
impl TokenStore for MemoryAccounts {
    async fn insert_token(
        &self,
        user_id: i64,
        label: &str,
        token_hash: &str,
    ) -> Result<(i64, DateTime<Utc>), StoreError> {
        let mut tokens = self.tokens.lock();
        let record = TokenRecord {
            id: tokens.len() as i64 + 1,
            user_id,
            label: label.to_owned(),
            token_hash: token_hash.to_owned(),
            created_at: Utc::now(),
            last_used_at: None,
            revoked_at: None,
        };
        let created = (record.id, record.created_at);
        tokens.push(record);
        Ok(created)
    }

    async fn use_token(&self, token_hash: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .tokens
            .lock()
            .iter_mut()
            .find(|t| t.token_hash == token_hash && t.revoked_at.is_none())
            .map(|t| {
                t.last_used_at = Some(Utc::now());
                t.user_id
            }))
    }

    async fn revoke_token(&self, id: i64) -> Result<bool, StoreError> {
        Ok(self
            .tokens
            .lock()
            .iter_mut()
            .find(|t| t.id == id && t.revoked_at.is_none())
            .map(|t| t.revoked_at = Some(Utc::now()))
            .is_some())
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let tokens = self.tokens.lock().clone();
        let users = self.users.lock().clone();
        Ok(tokens
            .into_iter()
            .map(|t| TokenInfo {
                id: t.id,
                username: users
                    .iter()
                    .find(|u| u.id == t.user_id)
                    .map(|u| u.username.clone())
                    .unwrap_or_default(),
                label: t.label,
                created_at: t.created_at,
                last_used_at: t.last_used_at,
                revoked_at: t.revoked_at,
            })
            .collect())
    }
}
