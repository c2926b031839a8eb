//! The history in PostgreSQL: one transaction per flush, one `INSERT ...
//! SELECT FROM UNNEST(...)` per table, idempotent through the natural-key
//! unique indexes (`ON CONFLICT DO NOTHING`).
//!
//! Numbers travel as `float8` (already rounded to their column's scale, so
//! the cast to `DECIMAL` is exact) and come back the same way. Text is
//! ordered `COLLATE "C"` (byte order), as the memory store orders it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};

use super::record::Batch;
use super::rows::{
    AlertRow, HealthRow, IndicatorRow, PatternRow, Placeholder, SessionRow, SessionStop,
};
use super::{AlertQuery, HistoryStore, IndicatorQuery, PatternQuery};
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

    async fn patterns(&self, query: &PatternQuery) -> Result<Vec<PatternRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {PATTERN_COLUMNS} FROM intraday_patterns
             WHERE symbol = $1 AND ($2::timestamptz IS NULL OR detected_at >= $2)
             ORDER BY detected_at DESC, pattern_type COLLATE \"C\", COALESCE(timeframe, '') COLLATE \"C\"
             LIMIT $3"
        ))
        .bind(&query.symbol)
        .bind(query.since)
        .bind(limit(query.limit))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn indicators(&self, query: &IndicatorQuery) -> Result<Vec<IndicatorRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT session_id, symbol, indicator, value::float8 AS value, calculated_at, timeframe, metadata
             FROM intraday_indicators
             WHERE symbol = $1 AND ($2::text IS NULL OR upper(indicator) = upper($2))
             ORDER BY calculated_at DESC, indicator COLLATE \"C\", COALESCE(timeframe, '') COLLATE \"C\"
             LIMIT $3",
        )
        .bind(&query.symbol)
        .bind(&query.indicator)
        .bind(limit(query.limit))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn alerts(&self, query: &AlertQuery) -> Result<Vec<AlertRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT kind, session_id, symbol, alert_type, severity, message, component, action_required,
                 recovery, data, triggered_at
             FROM streaming_alerts
             WHERE ($1::timestamptz IS NULL OR triggered_at >= $1)
               AND ($2::text IS NULL OR upper(kind) = upper($2) OR upper(alert_type) = upper($2))
             ORDER BY triggered_at DESC, kind COLLATE \"C\", COALESCE(symbol, '') COLLATE \"C\",
                 COALESCE(alert_type, '') COLLATE \"C\", COALESCE(component, '') COLLATE \"C\",
                 COALESCE(message, '') COLLATE \"C\"
             LIMIT $3",
        )
        .bind(query.since)
        .bind(&query.alert_type)
        .bind(limit(query.limit))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn health(&self, rows: usize) -> Result<Vec<HealthRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT session_id, status, active_symbols, ticks_per_second::float8 AS ticks_per_second,
                 bars_per_minute, processing_lag_ms, cpu_percent::float8 AS cpu_percent, memory_mb,
                 issues, measured_at
             FROM streaming_health_metrics
             ORDER BY measured_at DESC, COALESCE(session_id, '00000000-0000-0000-0000-000000000000'::uuid)
             LIMIT $1",
        )
        .bind(limit(rows))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn sessions(&self, rows: usize) -> Result<Vec<SessionRow>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM streaming_sessions
             ORDER BY started_at DESC, session_id LIMIT $1"
        ))
        .bind(limit(rows))
        .fetch_all(&self.pool)
        .await?)
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
}

fn limit(rows: usize) -> i64 {
    i64::try_from(rows).unwrap_or(i64::MAX)
}
