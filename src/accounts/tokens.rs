//! API tokens for scripts: `Authorization: Bearer <token>`. A token is shown
//! once when created; only its SHA-256 is stored. Lookups are cached (see
//! [`super::cache`]) so that bearer requests do not each cost a database
//! round trip and outlast an outage; a revocation clears the cache here and,
//! announced, on every replica.

use std::time::Duration;

use rand::RngCore;
use sha2::{Digest, Sha256};

use super::cache::LookupCache;
use super::changes::AuthChange;
use super::{AccountError, Accounts, User, missed};
pub use crate::store::accounts::TokenInfo;

const PREFIX: &str = "tst_";
/// Lookups are kept this long for a database outage (a login session's idle expiry).
const CACHE_KEEP: Duration = Duration::from_secs(12 * 3600);
const CACHE_MAX: usize = 10_000;
const MAX_LABEL_CHARS: usize = 64;

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
        if user.is_disabled() {
            return Err(AccountError::Invalid(format!(
                "{} is disabled: enable the user first",
                user.username
            )));
        }
        let label = if label.trim().is_empty() {
            "api"
        } else {
            label.trim()
        };
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(AccountError::Invalid(format!(
                "a token label has at most {MAX_LABEL_CHARS} characters"
            )));
        }
        let token = generate();
        let token_hash = digest(&token);
        let (id, created_at) = self
            .store
            .tokens()
            .insert_token(user.id, label, &token_hash)
            .await?;
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
        Ok(self.store.tokens().use_token(digest).await?)
    }

    /// Returns whether a live token of that id existed.
    pub async fn revoke_token(&self, id: i64) -> Result<bool, AccountError> {
        let revoked = self.store.tokens().revoke_token(id).await?;
        if revoked {
            self.announce(AuthChange::TokenRevoked { token_id: id })
                .await;
        }
        Ok(revoked)
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, AccountError> {
        Ok(self.store.tokens().tokens().await?)
    }
}
