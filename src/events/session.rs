//! `streaming_session_started` and `streaming_session_stopped`, payload key `session`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::fields::{self, Object, serialize_timestamp};
use super::{DecodeError, Envelope, payload, rules};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionStarted {
    pub session_id: String,
    /// `universe`, or `symbol_universe_key` as some producers call it.
    pub universe: Option<String>,
    /// `started_at` or `start_time`; the event's time when neither is sent.
    #[serde(serialize_with = "serialize_timestamp")]
    pub started_at: DateTime<Utc>,
    pub symbol_count: Option<i64>,
    pub status: String,
    #[serde(flatten)]
    pub extra: Object,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionStopped {
    pub session_id: String,
    #[serde(serialize_with = "serialize_timestamp")]
    pub stopped_at: DateTime<Utc>,
    pub duration_seconds: Option<i64>,
    pub total_patterns: Option<i64>,
    pub total_indicators: Option<i64>,
    /// `completed`, `stopped`, `failed`, or whatever else was sent.
    pub final_status: Option<String>,
    #[serde(flatten)]
    pub extra: Object,
}

pub fn decode_started(obj: Object, envelope: &Envelope) -> Result<SessionStarted, DecodeError> {
    let mut p = payload(obj, "session");
    let window = &envelope.window;
    let session_id = fields::require_id(&mut p, &["session_id", "id"])?;
    let universe = fields::take_id(&mut p, &["universe", "symbol_universe_key"])?;
    let started_at = fields::take_timestamp(&mut p, &["started_at", "start_time"], window)?;
    let fallback_time = fields::take_timestamp(&mut p, &["timestamp"], window)?;
    Ok(SessionStarted {
        session_id,
        universe,
        started_at: started_at.unwrap_or_else(|| envelope.time_of(fallback_time)),
        symbol_count: fields::take_count(&mut p, &["symbol_count"])?,
        status: fields::take_id(&mut p, &["status"])?.unwrap_or_else(|| "active".into()),
        extra: rules::passthrough(p),
    })
}

pub fn decode_stopped(obj: Object, envelope: &Envelope) -> Result<SessionStopped, DecodeError> {
    let mut p = payload(obj, "session");
    let window = &envelope.window;
    let session_id = fields::require_id(&mut p, &["session_id", "id"])?;
    let stopped_at = fields::take_timestamp(&mut p, &["stopped_at", "stop_time"], window)?;
    let fallback_time = fields::take_timestamp(&mut p, &["timestamp"], window)?;
    Ok(SessionStopped {
        session_id,
        stopped_at: stopped_at.unwrap_or_else(|| envelope.time_of(fallback_time)),
        duration_seconds: fields::take_count(&mut p, &["duration_seconds"])?,
        total_patterns: fields::take_count(&mut p, &["total_patterns"])?,
        total_indicators: fields::take_count(&mut p, &["total_indicators"])?,
        final_status: fields::take_id(&mut p, &["final_status", "status"])?,
        extra: rules::passthrough(p),
    })
}
