//! The history in PostgreSQL: one transaction per flush, one `INSERT ...
//! SELECT FROM UNNEST(...)` per table, idempotent through the natural-key
//! unique indexes (`ON CONFLICT DO NOTHING`).
//!
//! Numbers travel as `float8` (already rounded to their column's scale, so
//! the cast to `DECIMAL` is exact) and come back the same way. Text is
//! ordered `COLLATE "C"` (byte order), as the memory store orders it; pages
//! follow `cursor`'s order.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, QueryBuilder, Transaction};

use super::record::Batch;
use super::rows::{
    AlertRow, HealthRow, IndicatorRow, PatternRow, Placeholder, SessionRow, SessionStop,
};
use super::{
    AlertQuery, HealthQuery, HistoryStore, HistoryTable, IndicatorQuery, Page, PageQuery,
    PatternQuery,
};
use crate::store::StoreError;

type Tx = Transaction<'static, Postgres>;

pub struct PostgresHistory {
    pool: PgPool,
}

impl PostgresHistory {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// One column of `rows`, to bind as an array.
fn column<R, T>(rows: &[R], field: impl Fn(&R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
}

async fn insert_started(tx: &mut Tx, rows: &[SessionRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    // A start seen again, or after its placeholder, takes the start's values;
    // what a stop recorded stays (`SessionRow::restart_from`).
    sqlx::query(
        "INSERT INTO streaming_sessions (session_id, universe, started_at, symbol_count)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::int4[])
         ON CONFLICT (session_id) DO UPDATE SET universe = EXCLUDED.universe,
             started_at = EXCLUDED.started_at, symbol_count = EXCLUDED.symbol_count",
    )
    .bind(column(rows, |r| r.session_id))
    .bind(column(rows, |r| r.universe.clone()))
    .bind(column(rows, |r| r.started_at))
    .bind(column(rows, |r| r.symbol_count))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_placeholders(tx: &mut Tx, rows: &[Placeholder]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO streaming_sessions (session_id, universe, started_at, symbol_count)
         SELECT id, $3, started_at, 0 FROM UNNEST($1::uuid[], $2::timestamptz[]) AS p (id, started_at)
         ON CONFLICT (session_id) DO NOTHING",
    )
    .bind(column(rows, |r| r.session_id))
    .bind(column(rows, |r| r.started_at))
    .bind(super::rows::UNKNOWN_UNIVERSE)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_patterns(tx: &mut Tx, rows: &[PatternRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO intraday_patterns (session_id, symbol, pattern_type, confidence, detected_at,
             timeframe, bar_open, bar_high, bar_low, bar_close, bar_volume, metadata)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::float8[], $5::timestamptz[],
             $6::text[], $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::int8[],
             $12::jsonb[])
         ON CONFLICT DO NOTHING",
    )
    .bind(column(rows, |r| r.session_id))
    .bind(column(rows, |r| r.symbol.clone()))
    .bind(column(rows, |r| r.pattern_type.clone()))
    .bind(column(rows, |r| r.confidence))
    .bind(column(rows, |r| r.detected_at))
    .bind(column(rows, |r| r.timeframe.clone()))
    .bind(column(rows, |r| r.bar_open))
    .bind(column(rows, |r| r.bar_high))
    .bind(column(rows, |r| r.bar_low))
    .bind(column(rows, |r| r.bar_close))
    .bind(column(rows, |r| r.bar_volume))
    .bind(column(rows, |r| r.metadata.clone()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_indicators(tx: &mut Tx, rows: &[IndicatorRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO intraday_indicators (session_id, symbol, indicator, value, calculated_at,
             timeframe, metadata)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::float8[], $5::timestamptz[],
             $6::text[], $7::jsonb[])
         ON CONFLICT DO NOTHING",
    )
    .bind(column(rows, |r| r.session_id))
    .bind(column(rows, |r| r.symbol.clone()))
    .bind(column(rows, |r| r.indicator.clone()))
    .bind(column(rows, |r| r.value))
    .bind(column(rows, |r| r.calculated_at))
    .bind(column(rows, |r| r.timeframe.clone()))
    .bind(column(rows, |r| r.metadata.clone()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_health(tx: &mut Tx, rows: &[HealthRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO streaming_health_metrics (session_id, status, active_symbols, ticks_per_second,
             bars_per_minute, processing_lag_ms, cpu_percent, memory_mb, issues, measured_at)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::int4[], $4::float8[], $5::int4[],
             $6::int4[], $7::float8[], $8::int4[], $9::jsonb[], $10::timestamptz[])
         ON CONFLICT DO NOTHING",
    )
    .bind(column(rows, |r| r.session_id))
    .bind(column(rows, |r| r.status.clone()))
    .bind(column(rows, |r| r.active_symbols))
    .bind(column(rows, |r| r.ticks_per_second))
    .bind(column(rows, |r| r.bars_per_minute))
    .bind(column(rows, |r| r.processing_lag_ms))
    .bind(column(rows, |r| r.cpu_percent))
    .bind(column(rows, |r| r.memory_mb))
    .bind(column(rows, |r| r.issues.clone()))
    .bind(column(rows, |r| r.measured_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_alerts(tx: &mut Tx, rows: &[AlertRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO streaming_alerts (kind, session_id, symbol, alert_type, severity, message,
             component, action_required, recovery, data, triggered_at)
         SELECT * FROM UNNEST($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[],
             $6::text[], $7::text[], $8::text[], $9::text[], $10::jsonb[], $11::timestamptz[])
         ON CONFLICT DO NOTHING",
    )
    .bind(column(rows, |r| r.kind.clone()))
    .bind(column(rows, |r| r.session_id))
    .bind(column(rows, |r| r.symbol.clone()))
    .bind(column(rows, |r| r.alert_type.clone()))
    .bind(column(rows, |r| r.severity.clone()))
    .bind(column(rows, |r| r.message.clone()))
    .bind(column(rows, |r| r.component.clone()))
    .bind(column(rows, |r| r.action_required.clone()))
    .bind(column(rows, |r| r.recovery.clone()))
    .bind(column(rows, |r| r.data.clone()))
    .bind(column(rows, |r| r.triggered_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn update_stopped(tx: &mut Tx, rows: &[SessionStop]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    // Every stopped session has a row by now (a placeholder if need be). As
    // `SessionRow::stop`: a total or status the stop does not give stays.
    sqlx::query(
        "UPDATE streaming_sessions AS s SET stopped_at = u.stopped_at,
             total_patterns = COALESCE(u.patterns, s.total_patterns),
             total_indicators = COALESCE(u.indicators, s.total_indicators),
             final_status = COALESCE(u.status, s.final_status)
         FROM UNNEST($1::uuid[], $2::timestamptz[], $3::int4[], $4::int4[], $5::text[])
             AS u (id, stopped_at, patterns, indicators, status)
         WHERE s.session_id = u.id",
    )
    .bind(column(rows, |r| r.session_id))
    .bind(column(rows, |r| r.stopped_at))
    .bind(column(rows, |r| r.total_patterns))
    .bind(column(rows, |r| r.total_indicators))
    .bind(column(rows, |r| r.final_status.clone()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

const PATTERN_COLUMNS: &str = "session_id, symbol, pattern_type, confidence::float8 AS confidence,
    detected_at, timeframe, bar_open::float8 AS bar_open, bar_high::float8 AS bar_high,
    bar_low::float8 AS bar_low, bar_close::float8 AS bar_close, bar_volume, metadata";

const SESSION_COLUMNS: &str = "session_id, universe, started_at, stopped_at, symbol_count,
    total_patterns, total_indicators, final_status";

/// A table's newest-first order: its time column, then the expressions of
/// the rest of its natural key as text, compared `COLLATE "C"`. The same
/// parts, in the same order, as its rows' `HistoryRow::position`.
struct Order {
    time: &'static str,
    key: &'static [&'static str],
}

const PATTERN_ORDER: Order = Order {
    time: "detected_at",
    key: &["symbol", "pattern_type", "COALESCE(timeframe, '')"],
};
const INDICATOR_ORDER: Order = Order {
    time: "calculated_at",
    key: &["symbol", "indicator", "COALESCE(timeframe, '')"],
};
const ALERT_ORDER: Order = Order {
    time: "triggered_at",
    key: &[
        "kind",
        "COALESCE(symbol, '')",
        "COALESCE(alert_type, '')",
        "COALESCE(component, '')",
        "encode(sha256(convert_to(COALESCE(message, ''), 'UTF8')), 'hex')",
    ],
};
const HEALTH_ORDER: Order = Order {
    time: "measured_at",
    key: &["COALESCE(session_id, '00000000-0000-0000-0000-000000000000'::uuid)::text"],
};
const SESSION_ORDER: Order = Order {
    time: "started_at",
    key: &["session_id::text"],
};

impl Order {
    /// Appends the page's conditions (after `AND`), its order and its limit:
    /// one row more than the page, to know whether another follows.
    fn page(&self, sql: &mut QueryBuilder<'static, Postgres>, page: &PageQuery) {
        let time = self.time;
        if let Some(since) = page.since {
            sql.push(format!(" AND {time} >= ")).push_bind(since);
        }
        let collated = |key: &[&str]| {
            key.iter()
                .map(|part| format!("{part} COLLATE \"C\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if let Some(cursor) = &page.before {
            // The first bound alone lets the time index start at the cursor.
            sql.push(format!(" AND {time} <= "))
                .push_bind(cursor.at)
                .push(format!(" AND ({time} < "))
                .push_bind(cursor.at)
                .push(format!(" OR ({time} = "))
                .push_bind(cursor.at)
                .push(format!(" AND ({}) > (", collated(self.key)));
            let mut parts = sql.separated(", ");
            for part in &cursor.key {
                parts.push_bind(part.clone());
            }
            sql.push(")))");
        }
        sql.push(format!(" ORDER BY {time} DESC, {}", collated(self.key)))
            .push(" LIMIT ")
            .push_bind(limit(page.limit.saturating_add(1)));
    }
}

/// `SELECT columns FROM table WHERE TRUE`, for conditions to follow.
fn select(columns: &str, table: &str) -> QueryBuilder<'static, Postgres> {
    QueryBuilder::new(format!("SELECT {columns} FROM {table} WHERE TRUE"))
}

/// `AND column = value`, ignoring ASCII case only (as the memory store:
/// under `COLLATE "C"`, `upper` changes ASCII letters alone).
fn same_name(sql: &mut QueryBuilder<'static, Postgres>, column: &str, value: &str) {
    sql.push(format!(" AND upper({column} COLLATE \"C\") = upper("))
        .push_bind(value.to_owned())
        .push(" COLLATE \"C\")");
}

#[async_trait]
impl HistoryStore for PostgresHistory {
    async fn write(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_started(&mut tx, &batch.started).await?;
        insert_placeholders(&mut tx, &batch.placeholders).await?;
        insert_patterns(&mut tx, &batch.patterns).await?;
        insert_indicators(&mut tx, &batch.indicators).await?;
        insert_health(&mut tx, &batch.health).await?;
        insert_alerts(&mut tx, &batch.alerts).await?;
        update_stopped(&mut tx, &batch.stopped).await?;
        Ok(tx.commit().await?)
    }

    async fn patterns(&self, query: &PatternQuery) -> Result<Page<PatternRow>, StoreError> {
        let mut sql = select(PATTERN_COLUMNS, "intraday_patterns");
        if let Some(symbol) = &query.symbol {
            sql.push(" AND symbol = ").push_bind(symbol.clone());
        }
        if let Some(pattern_type) = &query.pattern_type {
            same_name(&mut sql, "pattern_type", pattern_type);
        }
        PATTERN_ORDER.page(&mut sql, &query.page);
        let rows = sql.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::of(rows, query.page.limit))
    }

    async fn indicators(&self, query: &IndicatorQuery) -> Result<Page<IndicatorRow>, StoreError> {
        let mut sql = select(
            "session_id, symbol, indicator, value::float8 AS value, calculated_at, timeframe, metadata",
            "intraday_indicators",
        );
        sql.push(" AND symbol = ").push_bind(query.symbol.clone());
        if let Some(indicator) = &query.indicator {
            same_name(&mut sql, "indicator", indicator);
        }
        INDICATOR_ORDER.page(&mut sql, &query.page);
        let rows = sql.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::of(rows, query.page.limit))
    }

    async fn alerts(&self, query: &AlertQuery) -> Result<Page<AlertRow>, StoreError> {
        let mut sql = select(
            "kind, session_id, symbol, alert_type, severity, message, component, action_required,
                 recovery, data, triggered_at",
            "streaming_alerts",
        );
        if let Some(symbol) = &query.symbol {
            sql.push(" AND symbol = ").push_bind(symbol.clone());
        }
        if let Some(wanted) = &query.alert_type {
            sql.push(" AND (upper(kind) = upper(")
                .push_bind(wanted.clone())
                .push(") OR upper(alert_type COLLATE \"C\") = upper(")
                .push_bind(wanted.clone())
                .push(" COLLATE \"C\"))");
        }
        ALERT_ORDER.page(&mut sql, &query.page);
        let rows = sql.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::of(rows, query.page.limit))
    }

    async fn health(&self, query: &HealthQuery) -> Result<Page<HealthRow>, StoreError> {
        let mut sql = select(
            "session_id, status, active_symbols, ticks_per_second::float8 AS ticks_per_second,
                 bars_per_minute, processing_lag_ms, cpu_percent::float8 AS cpu_percent, memory_mb,
                 issues, measured_at",
            "streaming_health_metrics",
        );
        if let Some(status) = &query.status {
            same_name(&mut sql, "status", status);
        }
        HEALTH_ORDER.page(&mut sql, &query.page);
        let rows = sql.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::of(rows, query.page.limit))
    }

    async fn session_page(&self, query: &PageQuery) -> Result<Page<SessionRow>, StoreError> {
        let mut sql = select(SESSION_COLUMNS, "streaming_sessions");
        SESSION_ORDER.page(&mut sql, query);
        let rows = sql.build_query_as().fetch_all(&self.pool).await?;
        Ok(Page::of(rows, query.limit))
    }

    async fn open_session(
        &self,
        started_since: DateTime<Utc>,
    ) -> Result<Option<SessionRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM streaming_sessions
             WHERE stopped_at IS NULL AND started_at >= $1
             ORDER BY started_at DESC, session_id LIMIT 1"
        ))
        .bind(started_since)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn delete_before(
        &self,
        table: HistoryTable,
        cutoff: DateTime<Utc>,
        rows: usize,
    ) -> Result<u64, StoreError> {
        // One short statement per call, through the pool: the recorder's
        // writes queue behind it for one batch at most.
        let statement = match table {
            HistoryTable::Sessions => {
                // A session row goes once no row refers to it (their rows
                // went first: the foreign keys would refuse otherwise).
                let unreferenced = HistoryTable::ROWS
                    .iter()
                    .map(|t| {
                        format!(
                            "NOT EXISTS (SELECT 1 FROM {} r WHERE r.session_id = s.session_id)",
                            table_name(*t)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" AND ");
                format!(
                    "DELETE FROM streaming_sessions WHERE session_id IN (
                         SELECT s.session_id FROM streaming_sessions s
                         WHERE COALESCE(s.stopped_at, s.started_at) < $1 AND {unreferenced}
                         LIMIT $2)"
                )
            }
            rows_table => {
                let (name, time) = (table_name(rows_table), time_column(rows_table));
                format!(
                    "DELETE FROM {name} WHERE id IN (SELECT id FROM {name} WHERE {time} < $1 LIMIT $2)"
                )
            }
        };
        let done = sqlx::query(&statement)
            .bind(cutoff)
            .bind(limit(rows))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

fn table_name(table: HistoryTable) -> &'static str {
    match table {
        HistoryTable::Patterns => "intraday_patterns",
        HistoryTable::Indicators => "intraday_indicators",
        HistoryTable::Health => "streaming_health_metrics",
        HistoryTable::Alerts => "streaming_alerts",
        HistoryTable::Sessions => "streaming_sessions",
    }
}

fn time_column(table: HistoryTable) -> &'static str {
    match table {
        HistoryTable::Patterns => PATTERN_ORDER.time,
        HistoryTable::Indicators => INDICATOR_ORDER.time,
        HistoryTable::Health => HEALTH_ORDER.time,
        HistoryTable::Alerts => ALERT_ORDER.time,
        HistoryTable::Sessions => SESSION_ORDER.time,
    }
}

fn limit(rows: usize) -> i64 {
    i64::try_from(rows).unwrap_or(i64::MAX)
}
