//! Users, tokens and the audit trail in the `users`, `api_tokens` and
//! `audit_log` tables.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::{
    AuditEntry, AuditStore, DUPLICATE_USER, NewAuditEntry, NewUser, Role, TokenInfo, TokenStore,
    User, UserChange, UserStore,
};
use crate::store::StoreError;

pub struct PostgresAccounts {
    pool: PgPool,
}

impl PostgresAccounts {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The first user matching `condition`, with `value` as `$1`.
    async fn find_user<T>(&self, condition: &str, value: T) -> Result<Option<User>, StoreError>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
    {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {condition} ORDER BY id LIMIT 1"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    /// Sets one column of user `id` to `value`; the user as changed.
    async fn set_column<T>(
        &self,
        id: i64,
        column: &str,
        value: T,
    ) -> Result<Option<User>, StoreError>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send,
    {
        let row = sqlx::query(&format!(
            "UPDATE users SET {column} = $1 WHERE id = $2 RETURNING {USER_COLUMNS}"
        ))
        .bind(value)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }
}

const USER_COLUMNS: &str = "id, username, email, password_hash, role, created_at, disabled_at";

/// A session is bound to the stored hash: it changes with the password.
fn user_from_row(row: &PgRow) -> Result<User, sqlx::Error> {
    let password_hash: String = row.try_get("password_hash")?;
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        session_stamp: password_hash.clone(),
        password_hash,
        role: Role::parse(row.try_get::<&str, _>("role")?),
        created_at: row.try_get("created_at")?,
        disabled_at: row.try_get("disabled_at")?,
    })
}

/// The unique indexes on `lower(username)` and `lower(email)` refuse a duplicate.
fn duplicate_user(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(DUPLICATE_USER.into())
        }
        _ => StoreError::Database(error),
    }
}

#[async_trait]
impl UserStore for PostgresAccounts {
    async fn insert_user(&self, new: NewUser<'_>) -> Result<User, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO users (username, email, password_hash, role) VALUES ($1, $2, $3, $4) RETURNING {USER_COLUMNS}"
        ))
        .bind(new.username)
        .bind(new.email)
        .bind(new.password_hash)
        .bind(new.role.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(duplicate_user)?;
        Ok(user_from_row(&row)?)
    }

    async fn user_by_login(&self, login: &str) -> Result<Option<User>, StoreError> {
        self.find_user(
            "lower(username) = lower($1) OR lower(email) = lower($1)",
            login,
        )
        .await
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.find_user("id = $1", id).await
    }

    async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(user_from_row).collect::<Result<_, _>>()?)
    }

    async fn update_user(
        &self,
        id: i64,
        change: UserChange<'_>,
    ) -> Result<Option<User>, StoreError> {
        match change {
            UserChange::Role(role) => self.set_column(id, "role", role.as_str()).await,
            UserChange::Disabled(since) => self.set_column(id, "disabled_at", since).await,
            UserChange::Password { hash, .. } => self.set_column(id, "password_hash", hash).await,
        }
    }

    /// Its tokens go with it (`ON DELETE CASCADE`).
    async fn delete_user(&self, id: i64) -> Result<bool, StoreError> {
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }
}

#[async_trait]
impl TokenStore for PostgresAccounts {
    async fn insert_token(
        &self,
        user_id: i64,
        label: &str,
        token_hash: &str,
    ) -> Result<(i64, DateTime<Utc>), StoreError> {
        let row = sqlx::query(
            "INSERT INTO api_tokens (user_id, label, token_hash) VALUES ($1, $2, $3) RETURNING id, created_at",
        )
        .bind(user_id)
        .bind(label)
        .bind(token_hash)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("id")?, row.try_get("created_at")?))
    }

    async fn use_token(&self, token_hash: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "UPDATE api_tokens SET last_used_at = NOW() WHERE token_hash = $1 AND revoked_at IS NULL RETURNING user_id",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| row.try_get("user_id")).transpose()?)
    }

    async fn revoke_token(&self, id: i64) -> Result<bool, StoreError> {
        let revoked = sqlx::query(
            "UPDATE api_tokens SET revoked_at = NOW() WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(revoked.rows_affected() == 1)
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.id, u.username, t.label, t.created_at, t.last_used_at, t.revoked_at \
             FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let info = |row: &PgRow| {
            Ok(TokenInfo {
                id: row.try_get("id")?,
                username: row.try_get("username")?,
                label: row.try_get("label")?,
                created_at: row.try_get("created_at")?,
                last_used_at: row.try_get("last_used_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        };
        Ok(rows.iter().map(info).collect::<Result<_, sqlx::Error>>()?)
    }
}

#[async_trait]
impl AuditStore for PostgresAccounts {
    async fn record(&self, entry: NewAuditEntry<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (actor, action, target, detail) VALUES ($1, $2, $3, $4)",
        )
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn audit_page(
        &self,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, target, detail FROM audit_log \
             WHERE $1::BIGINT IS NULL OR id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let entry = |row: &PgRow| {
            Ok(AuditEntry {
                id: row.try_get("id")?,
                at: row.try_get("at")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                target: row.try_get("target")?,
                detail: row.try_get("detail")?,
            })
        };
        Ok(rows.iter().map(entry).collect::<Result<_, sqlx::Error>>()?)
    }
}
