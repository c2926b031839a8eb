//! API tokens for scripts: `Authorization: Bearer <token>`. A token is shown
//! once when created; only its SHA-256 is stored. Lookups are cached (see
//! [`super::cache`]) so that bearer requests do not each cost a database
//! round trip and outlast an outage; a revocation clears the cache here and,
//! announced, on every replica.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::cache::LookupCache;
use super::changes::AuthChange;
use super::{AccountError, Accounts, User, missed};
use crate::events::fields::{serialize_opt_timestamp, serialize_timestamp};
use crate::store::Store;

const PREFIX: &str = "tst_";
/// Lookups are kept this long for a database outage (a login session's idle expiry).
const CACHE_KEEP: Duration = Duration::from_secs(12 * 3600);
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

/// Token digest to the user id it stands for (`None`: unknown or revoked).
pub type TokenCache = LookupCache<String, Option<i64>>;

pub(crate) fn new_cache() -> TokenCache {
    LookupCache::new(CACHE_MAX, CACHE_KEEP)
}

/// What identifies a token everywhere but in its owner's hands.
pub fn digest(token: &str) -> String {
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
        self.user_for_token_digest(&digest(token)).await
    }

    /// As [`Self::user_for_token`], by the token's [`digest`]; both lookups
    /// cached in front of the database.
    pub async fn user_for_token_digest(&self, digest: &str) -> Result<Option<User>, AccountError> {
        let key = digest.to_owned();
        let user_id = self
            .token_cache
            .lookup(&key, self.token_user_id(digest))
            .await
            .map_err(missed)?;
        match user_id {
            Some(id) => self.get(id).await,
            None => Ok(None),
        }
    }

    async fn token_user_id(&self, digest: &str) -> Result<Option<i64>, AccountError> {
        Ok(match self.store() {
            Store::Postgres(pool) => {
                let row = sqlx::query(
                    "UPDATE api_tokens SET last_used_at = NOW() WHERE token_hash = $1 AND revoked_at IS NULL RETURNING user_id",
                )
                .bind(digest)
                .fetch_optional(pool)
                .await?;
                row.map(|row| row.try_get("user_id")).transpose()?
            }
            Store::Memory(memory) => memory
                .accounts
                .tokens
                .lock()
                .iter_mut()
                .find(|t| t.token_hash == digest && t.revoked_at.is_none())
                .map(|t| {
                    t.last_used_at = Some(Utc::now());
                    t.user_id
                }),
        })
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
        if revoked {
            self.announce(AuthChange::TokenRevoked { token_id: id })
                .await;
        }
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
