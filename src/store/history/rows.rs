//! The rows of the history tables, as stored and as the history API answers
//! them. Both stores keep exactly these values (already rounded and cut to
//! their columns), so PostgreSQL and memory answer the same JSON.
//!
//! `id` and `created_at` are left out on purpose: they differ between the two
//! stores (and between two recorders writing the same rows).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::cursor::Cursor;
use crate::events::fields::{serialize_opt_timestamp, serialize_timestamp};

/// What paging and CSV need of a row of a history table.
pub trait HistoryRow: Serialize {
    /// The table's columns as the API answers them, in order (the CSV header).
    const COLUMNS: &'static [&'static str];
    /// How many parts the natural key has after the time.
    const KEY_LEN: usize;
    /// Its place in the table's order (see [`Cursor`]): the SQL of each
    /// store orders by the same time and key.
    fn position(&self) -> Cursor;
}

fn or_empty(text: &Option<String>) -> String {
    text.clone().unwrap_or_default()
}

/// An alert's message as a key part: its SHA-256 (hex), so that a cursor
/// stays short however long the message (PostgreSQL:
/// `encode(sha256(convert_to(message, 'UTF8')), 'hex')`).
pub fn message_digest(message: &Option<String>) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(message.as_deref().unwrap_or_default()))
}

/// `intraday_patterns`.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PatternRow {
    pub session_id: Option<Uuid>,
    pub symbol: String,
    pub pattern_type: String,
    pub confidence: f64,
    #[serde(serialize_with = "serialize_timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub detected_at: DateTime<Utc>,
    pub timeframe: Option<String>,
    pub bar_open: Option<f64>,
    pub bar_high: Option<f64>,
    pub bar_low: Option<f64>,
    pub bar_close: Option<f64>,
    pub bar_volume: Option<i64>,
    pub metadata: Option<Value>,
}

/// `intraday_indicators`. A multi-valued indicator (MACD, BB) keeps its
/// `values` object in `metadata.values`; `value` holds its primary value.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct IndicatorRow {
    pub session_id: Option<Uuid>,
    pub symbol: String,
    pub indicator: String,
    pub value: f64,
    #[serde(serialize_with = "serialize_timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub calculated_at: DateTime<Utc>,
    pub timeframe: Option<String>,
    pub metadata: Option<Value>,
}

/// `streaming_health_metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct HealthRow {
    pub session_id: Option<Uuid>,
    pub status: String,
    pub active_symbols: Option<i32>,
    pub ticks_per_second: Option<f64>,
    pub bars_per_minute: Option<i32>,
    pub processing_lag_ms: Option<i32>,
    pub cpu_percent: Option<f64>,
    pub memory_mb: Option<i32>,
    pub issues: Option<Value>,
    #[serde(serialize_with = "serialize_timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub measured_at: DateTime<Utc>,
}

/// `streaming_alerts`: `kind` is `indicator_alert` (symbol, alert_type,
/// data) or `critical_alert` (component, message, action_required, recovery).
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AlertRow {
    pub kind: String,
    pub session_id: Option<Uuid>,
    pub symbol: Option<String>,
    pub alert_type: Option<String>,
    pub severity: Option<String>,
    pub message: Option<String>,
    pub component: Option<String>,
    pub action_required: Option<String>,
    pub recovery: Option<String>,
    pub data: Option<Value>,
    #[serde(serialize_with = "serialize_timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub triggered_at: DateTime<Utc>,
}

/// `streaming_sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SessionRow {
    pub session_id: Uuid,
    pub universe: String,
    #[serde(serialize_with = "serialize_timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_opt_timestamp")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub stopped_at: Option<DateTime<Utc>>,
    pub symbol_count: i32,
    pub total_patterns: Option<i32>,
    pub total_indicators: Option<i32>,
    pub final_status: Option<String>,
}

impl HistoryRow for PatternRow {
    const COLUMNS: &'static [&'static str] = &[
        "session_id",
        "symbol",
        "pattern_type",
        "confidence",
        "detected_at",
        "timeframe",
        "bar_open",
        "bar_high",
        "bar_low",
        "bar_close",
        "bar_volume",
        "metadata",
    ];
    const KEY_LEN: usize = 3;
    fn position(&self) -> Cursor {
        let key = vec![
            self.symbol.clone(),
            self.pattern_type.clone(),
            or_empty(&self.timeframe),
        ];
        Cursor::new(self.detected_at, key)
    }
}

impl HistoryRow for IndicatorRow {
    const COLUMNS: &'static [&'static str] = &[
        "session_id",
        "symbol",
        "indicator",
        "value",
        "calculated_at",
        "timeframe",
        "metadata",
    ];
    const KEY_LEN: usize = 3;
    fn position(&self) -> Cursor {
        let key = vec![
            self.symbol.clone(),
            self.indicator.clone(),
            or_empty(&self.timeframe),
        ];
        Cursor::new(self.calculated_at, key)
    }
}

impl HistoryRow for HealthRow {
    const COLUMNS: &'static [&'static str] = &[
        "session_id",
        "status",
        "active_symbols",
        "ticks_per_second",
        "bars_per_minute",
        "processing_lag_ms",
        "cpu_percent",
        "memory_mb",
        "issues",
        "measured_at",
    ];
    const KEY_LEN: usize = 1;
    fn position(&self) -> Cursor {
        let session = self.session_id.unwrap_or_default().to_string();
        Cursor::new(self.measured_at, vec![session])
    }
}

impl HistoryRow for AlertRow {
    const COLUMNS: &'static [&'static str] = &[
        "kind",
        "session_id",
        "symbol",
        "alert_type",
        "severity",
        "message",
        "component",
        "action_required",
        "recovery",
        "data",
        "triggered_at",
    ];
    const KEY_LEN: usize = 5;
    fn position(&self) -> Cursor {
        let key = vec![
            self.kind.clone(),
            or_empty(&self.symbol),
            or_empty(&self.alert_type),
            or_empty(&self.component),
            message_digest(&self.message),
        ];
        Cursor::new(self.triggered_at, key)
    }
}

impl HistoryRow for SessionRow {
    const COLUMNS: &'static [&'static str] = &[
        "session_id",
        "universe",
        "started_at",
        "stopped_at",
        "symbol_count",
        "total_patterns",
        "total_indicators",
        "final_status",
    ];
    const KEY_LEN: usize = 1;
    fn position(&self) -> Cursor {
        Cursor::new(self.started_at, vec![self.session_id.to_string()])
    }
}

/// What a `session_stopped` changes in its session's row.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionStop {
    pub session_id: Uuid,
    pub stopped_at: DateTime<Utc>,
    pub total_patterns: Option<i32>,
    pub total_indicators: Option<i32>,
    pub final_status: Option<String>,
}

/// A session row for events that refer to a session whose start was never
/// recorded (so that their foreign key holds), created only if it is missing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placeholder {
    pub session_id: Uuid,
    /// The earliest time of the events referring to it (for a stop:
    /// `stopped_at - duration_seconds`).
    pub started_at: DateTime<Utc>,
}

/// The universe of a placeholder session, and of a session started without one.
pub const UNKNOWN_UNIVERSE: &str = "unknown";

impl SessionRow {
    pub fn placeholder(placeholder: &Placeholder) -> Self {
        Self {
            session_id: placeholder.session_id,
            universe: UNKNOWN_UNIVERSE.to_owned(),
            started_at: placeholder.started_at,
            stopped_at: None,
            symbol_count: 0,
            // The columns' defaults.
            total_patterns: Some(0),
            total_indicators: Some(0),
            final_status: None,
        }
    }

    /// A started session seen again (or after its placeholder) takes the
    /// start's values; what a stop recorded stays.
    pub fn restart_from(&mut self, started: &SessionRow) {
        self.universe.clone_from(&started.universe);
        self.started_at = started.started_at;
        self.symbol_count = started.symbol_count;
    }

    pub fn stop(&mut self, stop: &SessionStop) {
        self.stopped_at = Some(stop.stopped_at);
        self.total_patterns = stop.total_patterns.or(self.total_patterns);
        self.total_indicators = stop.total_indicators.or(self.total_indicators);
        self.final_status = stop.final_status.clone().or(self.final_status.take());
    }
}
