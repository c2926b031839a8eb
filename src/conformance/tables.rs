//! The 4 tables of seed 004, looked up in PostgreSQL: does each exist, and
//! did it get rows in the last hour? Read only: nothing is created or
//! migrated, so a missing table shows as missing.

use std::time::Duration;

use serde::Serialize;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use super::mark::Mark;

/// Each table, and what makes one of its rows recent. A session counts when
/// it started or stopped within the hour, or is still open.
const TABLES: [(&str, &str); 4] = [
    (
        "streaming_sessions",
        "started_at > now() - interval '1 hour' OR stopped_at > now() - interval '1 hour' OR stopped_at IS NULL",
    ),
    (
        "intraday_patterns",
        "detected_at > now() - interval '1 hour'",
    ),
    (
        "intraday_indicators",
        "calculated_at > now() - interval '1 hour'",
    ),
    (
        "streaming_health_metrics",
        "measured_at > now() - interval '1 hour'",
    ),
];

/// The whole check gives up after this long (a database gone silent).
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Serialize)]
pub struct Tables {
    pub checked: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub tables: Vec<TableRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableRow {
    pub table: &'static str,
    pub status: Mark,
    pub mark: &'static str,
    pub exists: Option<bool>,
    pub rows_last_hour: Option<i64>,
    pub note: String,
}

impl TableRow {
    fn new(table: &'static str, status: Mark, note: String) -> Self {
        Self {
            table,
            status,
            mark: status.mark(),
            exists: None,
            rows_last_hour: None,
            note,
        }
    }
}

impl Tables {
    pub fn not_checked(reason: &str) -> Self {
        Self {
            checked: false,
            reason: Some(reason.to_owned()),
            tables: TABLES
                .iter()
                .map(|(table, _)| {
                    TableRow::new(table, Mark::NotChecked, format!("not checked: {reason}"))
                })
                .collect(),
        }
    }

    /// Connects to `url` (one connection, no migrations) and checks.
    pub async fn check_url(url: &str) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await;
        match pool {
            Ok(pool) => {
                let tables = Self::check(&pool).await;
                pool.close().await;
                tables
            }
            Err(error) => Self::not_checked(&format!("cannot connect to DATABASE_URL ({error})")),
        }
    }

    pub async fn check(pool: &PgPool) -> Self {
        let check = async {
            let mut rows = Vec::with_capacity(TABLES.len());
            for (table, recent) in TABLES {
                rows.push(check_table(pool, table, recent).await);
            }
            rows
        };
        match tokio::time::timeout(CHECK_TIMEOUT, check).await {
            Ok(tables) => Self {
                checked: true,
                reason: None,
                tables,
            },
            Err(_) => Self::not_checked(&format!(
                "the database did not answer within {} s",
                CHECK_TIMEOUT.as_secs()
            )),
        }
    }
}

async fn check_table(pool: &PgPool, table: &'static str, recent: &str) -> TableRow {
    let exists = sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL")
        .bind(table)
        .fetch_one(pool)
        .await;
    let exists = match exists {
        Ok(exists) => exists,
        Err(error) => {
            return TableRow::new(table, Mark::NotChecked, format!("not checked: {error}"));
        }
    };
    if !exists {
        return TableRow {
            exists: Some(false),
            ..TableRow::new(table, Mark::NotImplemented, "does not exist".into())
        };
    }
    // Names from the fixed table above, never from input.
    let count =
        sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table} WHERE {recent}"))
            .fetch_one(pool)
            .await;
    let (status, note, rows_last_hour) = match count {
        Ok(0) => (
            Mark::InProgress,
            "exists, no rows in the last hour".to_owned(),
            Some(0),
        ),
        Ok(1) => (
            Mark::Implemented,
            "exists, 1 row in the last hour".to_owned(),
            Some(1),
        ),
        Ok(n) => (
            Mark::Implemented,
            format!("exists, {n} rows in the last hour"),
            Some(n),
        ),
        Err(error) => (
            Mark::InProgress,
            format!("exists, but its recent rows could not be counted: {error}"),
            None,
        ),
    };
    TableRow {
        exists: Some(true),
        rows_last_hour,
        ..TableRow::new(table, status, note)
    }
}
