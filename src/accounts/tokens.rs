//! API tokens for scripts: `Authorization: Bearer <token>`. A token is shown
//! once when created; only its SHA-256 is stored. Lookups are cached for a few
//! seconds so that bearer requests do not each cost a database round trip;
//! a revocation clears the cache.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{AccountError, Accounts, User};
use crate::events::fields::{serialize_opt_timestamp, serialize_timestamp};
use crate::store::Store;

const PREFIX: &str = "tst_";
const CACHE_FOR: Duration = Duration::from_secs(10);
const CACHE_MAX: usize = 10_000;

#[derive(Debug, Clone)]
pub(crate) struct TokenRecord {
    id: i64,
    user_id: i64,
    label: String,
    token_hash: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
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

#[derive(Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<String, (Option<User>, Instant)>>,
}

impl TokenCache {
    fn get(&self, digest: &str) -> Option<Option<User>> {
        let entries = self.entries.read();
        let (user, at) = entries.get(digest)?;
        (at.elapsed() < CACHE_FOR).then(|| user.clone())
    }

    fn put(&self, digest: String, user: Option<User>) {
        let mut entries = self.entries.write();
        if entries.len() >= CACHE_MAX {
            entries.retain(|_, (_, at)| at.elapsed() < CACHE_FOR);
        }
        entries.insert(digest, (user, Instant::now()));
    }

    fn clear(&self) {
        self.entries.write().clear();
    }
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", hex::encode(bytes))
}

impl Accounts {
    /// A new token for `username`; the returned string is the only copy.
    pub async fn create_token(
        &self,
        username: &str,
        label: &str,
    ) -> Result<(TokenInfo, String), AccountError> {
        let user = self
            .find_by_login(username)
            .await?
            .ok_or_else(|| AccountError::Invalid(format!("no user {username:?}")))?;
        let token = generate();
        let token_hash = digest(&token);
        let label = if label.trim().is_empty() {
            "api"
        } else {
            label.trim()
        };
        let (id, created_at) = match self.store() {
            Store::Postgres(pool) => {
                let row = sqlx::query("INSERT INTO api_tokens (user_id, label, token_hash) VALUES ($1, $2, $3) RETURNING id, created_at")
                    .bind(user.id)
                    .bind(label)
                    .bind(&token_hash)
                    .fetch_one(pool)
                    .await?;
                (row.try_get("id")?, row.try_get("created_at")?)
            }
            Store::Memory(memory) => {
                let mut tokens = memory.accounts.tokens.lock();
                let record = TokenRecord {
                    id: tokens.len() as i64 + 1,
                    user_id: user.id,
                    label: label.to_owned(),
                    token_hash,
                    created_at: Utc::now(),
                    last_used_at: None,
                    revoked_at: None,
                };
                let created = (record.id, record.created_at);
                tokens.push(record);
                created
            }
        };
        let info = TokenInfo {
            id,
            username: user.username,
            label: label.to_owned(),
            created_at,
            last_used_at: None,
            revoked_at: None,
        };
        Ok((info, token))
    }

    /// The user a bearer token belongs to, unless it is unknown or revoked.
    pub async fn user_for_token(&self, token: &str) -> Result<Option<User>, AccountError> {
        if !token.starts_with(PREFIX) {
            return Ok(None);
        }
        let digest = digest(token);
        if let Some(user) = self.token_cache.get(&digest) {
            return Ok(user);
        }
        let user = match self.store() {
            Store::Postgres(pool) => {
                let row = sqlx::query(
                    "UPDATE api_tokens SET last_used_at = NOW() WHERE token_hash = $1 AND revoked_at IS NULL RETURNING user_id",
                )
                .bind(&digest)
                .fetch_optional(pool)
                .await?;
                match row {
                    Some(row) => self.get(row.try_get("user_id")?).await?,
                    None => None,
                }
            }
            Store::Memory(memory) => {
                let user_id = {
                    let mut tokens = memory.accounts.tokens.lock();
                    tokens
                        .iter_mut()
                        .find(|t| t.token_hash == digest && t.revoked_at.is_none())
                        .map(|t| {
                            t.last_used_at = Some(Utc::now());
                            t.user_id
                        })
                };
                match user_id {
                    Some(id) => self.get(id).await?,
                    None => None,
                }
            }
        };
        self.token_cache.put(digest, user.clone());
        Ok(user)
    }

    /// Returns whether a live token of that id existed.
    pub async fn revoke_token(&self, id: i64) -> Result<bool, AccountError> {
        let revoked =
            match self.store() {
                Store::Postgres(pool) => sqlx::query(
                    "UPDATE api_tokens SET revoked_at = NOW() WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
                    == 1,
                Store::Memory(memory) => memory
                    .accounts
                    .tokens
                    .lock()
                    .iter_mut()
                    .find(|t| t.id == id && t.revoked_at.is_none())
                    .map(|t| t.revoked_at = Some(Utc::now()))
                    .is_some(),
            };
        self.token_cache.clear();
        Ok(revoked)
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, AccountError> {
        match self.store() {
            Store::Postgres(pool) => {
                let rows = sqlx::query(
                    "SELECT t.id, u.username, t.label, t.created_at, t.last_used_at, t.revoked_at \
                     FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id",
                )
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(TokenInfo {
                            id: row.try_get("id")?,
                            username: row.try_get("username")?,
                            label: row.try_get("label")?,
                            created_at: row.try_get("created_at")?,
                            last_used_at: row.try_get("last_used_at")?,
                            revoked_at: row.try_get("revoked_at")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()
                    .map_err(AccountError::from)
            }
            Store::Memory(memory) => {
                let tokens = memory.accounts.tokens.lock().clone();
                let users = self.list().await?;
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
    }
}
