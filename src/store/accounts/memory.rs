//! The embedded default's users, tokens and audit trail: nothing survives a
//! restart.

use std::collections::VecDeque;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use super::{
    AuditEntry, AuditStore, DUPLICATE_USER, NewAuditEntry, NewUser, TokenInfo, TokenStore, User,
    UserChange, UserStore,
};
use crate::store::StoreError;

/// The newest audit lines kept; older ones are dropped.
const AUDIT_KEPT: usize = 10_000;

#[derive(Default)]
pub struct MemoryAccounts {
    users: Mutex<Vec<User>>,
    tokens: Mutex<Vec<TokenRecord>>,
    audit: Mutex<VecDeque<AuditEntry>>,
    /// The last ids given, as a sequence would: never given twice.
    last_ids: Mutex<LastIds>,
}

#[derive(Default)]
struct LastIds {
    user: i64,
    token: i64,
    audit: i64,
}

impl LastIds {
    fn next(id: &mut i64) -> i64 {
        *id = id.saturating_add(1);
        *id
    }
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
            id: LastIds::next(&mut self.last_ids.lock().user),
            username: new.username.to_owned(),
            email: new.email.map(str::to_owned),
            password_hash: new.password_hash.to_owned(),
            role: new.role,
            created_at: Utc::now(),
            disabled_at: None,
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

    async fn update_user(
        &self,
        id: i64,
        change: UserChange<'_>,
    ) -> Result<Option<User>, StoreError> {
        let mut users = self.users.lock();
        let Some(user) = users.iter_mut().find(|u| u.id == id) else {
            return Ok(None);
        };
        match change {
            UserChange::Role(role) => user.role = role,
            UserChange::Disabled(since) => user.disabled_at = since,
            UserChange::Password {
                hash,
                session_stamp,
            } => {
                user.password_hash = hash.to_owned();
                if let Some(stamp) = session_stamp {
                    user.session_stamp = stamp.to_owned();
                }
            }
        }
        Ok(Some(user.clone()))
    }

    /// Its tokens go with it, as PostgreSQL's `ON DELETE CASCADE` does.
    async fn delete_user(&self, id: i64) -> Result<bool, StoreError> {
        let mut users = self.users.lock();
        let before = users.len();
        users.retain(|u| u.id != id);
        let deleted = users.len() < before;
        drop(users);
        if deleted {
            self.tokens.lock().retain(|t| t.user_id != id);
        }
        Ok(deleted)
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
            id: LastIds::next(&mut self.last_ids.lock().token),
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

#[async_trait]
impl AuditStore for MemoryAccounts {
    async fn record(&self, entry: NewAuditEntry<'_>) -> Result<(), StoreError> {
        let entry = AuditEntry {
            id: LastIds::next(&mut self.last_ids.lock().audit),
            at: Utc::now(),
            actor: entry.actor.to_owned(),
            action: entry.action.to_owned(),
            target: entry.target.to_owned(),
            detail: entry.detail.to_owned(),
        };
        let mut audit = self.audit.lock();
        if audit.len() >= AUDIT_KEPT {
            audit.pop_front();
        }
        audit.push_back(entry);
        Ok(())
    }

    async fn audit_page(
        &self,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self
            .audit
            .lock()
            .iter()
            .rev()
            .filter(|entry| before.is_none_or(|before| entry.id < before))
            .take(limit)
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> String {
        format!("user{n}")
    }

    #[tokio::test]
    async fn the_audit_pages_newest_first_and_keeps_the_newest() {
        let accounts = MemoryAccounts::default();
        for n in 0..AUDIT_KEPT + 5 {
            let target = entry(n);
            let line = NewAuditEntry {
                actor: "cli",
                action: "user.add",
                target: &target,
                detail: "",
            };
            accounts.record(line).await.unwrap();
        }
        let first = accounts.audit_page(None, 3).await.unwrap();
        let targets: Vec<_> = first.iter().map(|e| e.target.clone()).collect();
        let newest = AUDIT_KEPT + 4;
        assert_eq!(
            targets,
            [entry(newest), entry(newest - 1), entry(newest - 2)]
        );
        let next = accounts.audit_page(Some(first[2].id), 1).await.unwrap();
        assert_eq!(next[0].target, entry(newest - 3));
        let all = accounts.audit_page(None, usize::MAX).await.unwrap();
        assert_eq!(all.len(), AUDIT_KEPT);
        assert_eq!(all.last().map(|e| e.target.clone()), Some(entry(5)));
    }

    #[tokio::test]
    async fn a_deleted_user_takes_its_tokens_and_its_id_is_not_given_again() {
        let accounts = MemoryAccounts::default();
        let new = |username| NewUser {
            username,
            email: None,
            password_hash: "hash",
            session_stamp: "stamp",
            role: super::super::Role::User,
        };
        let first = accounts.insert_user(new("one")).await.unwrap();
        accounts
            .insert_token(first.id, "api", "digest")
            .await
            .unwrap();
        let second = accounts.insert_user(new("two")).await.unwrap();
        assert!(accounts.delete_user(first.id).await.unwrap());
        assert!(!accounts.delete_user(first.id).await.unwrap());
        assert_eq!(accounts.use_token("digest").await.unwrap(), None);
        assert!(accounts.tokens().await.unwrap().is_empty());
        let third = accounts.insert_user(new("three")).await.unwrap();
        assert!(third.id > second.id, "{} after {}", third.id, second.id);
    }
}
