//! `streaming_health`, payload key `health`, in both shapes of CONTRACT §2:
//! shape A (flat metrics, what TickStockPL sends) and shape B (the spec's
//! `data_flow` / `resource_usage` groups). The decoded value carries every
//! metric in both places, so readers of either shape find it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::fields::{self, Object, serialize_timestamp};
use super::{DecodeError, Envelope, payload};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub session_id: Option<String>,
    /// `healthy`, `degraded`, `warning`, `error`, `critical`, `starting`,
    /// `stopping`, or any other string as sent.
    pub status: String,
    pub active_symbols: Option<i64>,
    pub ticks_per_second: Option<f64>,
    pub patterns_detected: Option<i64>,
    pub indicators_calculated: Option<i64>,
    pub cpu_percent: Option<f64>,
    pub memory_usage_mb: Option<f64>,
    pub errors_count: Option<i64>,
    pub uptime_seconds: Option<f64>,
    pub connection_status: Option<String>,
    pub data_flow: DataFlow,
    pub resource_usage: ResourceUsage,
    pub issues: Vec<Value>,
    #[serde(serialize_with = "serialize_timestamp")]
    pub timestamp: DateTime<Utc>,
    #[serde(flatten)]
    pub extra: Object,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DataFlow {
    pub ticks_per_second: Option<f64>,
    pub bars_per_minute: Option<f64>,
    pub processing_lag_ms: Option<f64>,
    #[serde(flatten)]
    pub extra: Object,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResourceUsage {
    pub cpu_percent: Option<f64>,
    pub memory_mb: Option<f64>,
    pub threads_active: Option<i64>,
    #[serde(flatten)]
    pub extra: Object,
}

pub fn decode(obj: Object, envelope: &Envelope) -> Result<Health, DecodeError> {
    let mut p = payload(obj, "health");
    let status = fields::require_string(&mut p, &["status"])?;

    let mut flow = fields::take_object(&mut p, "data_flow")?.unwrap_or_default();
    let mut data_flow = DataFlow {
        ticks_per_second: fields::take_f64(&mut flow, &["ticks_per_second"])?,
        bars_per_minute: fields::take_f64(&mut flow, &["bars_per_minute"])?,
        processing_lag_ms: fields::take_f64(&mut flow, &["processing_lag_ms"])?,
        extra: Object::new(),
    };
    data_flow.extra = flow;

    let mut usage = fields::take_object(&mut p, "resource_usage")?.unwrap_or_default();
    let mut resource_usage = ResourceUsage {
        cpu_percent: fields::take_f64(&mut usage, &["cpu_percent"])?,
        memory_mb: fields::take_f64(&mut usage, &["memory_mb", "memory_usage_mb"])?,
        threads_active: fields::take_i64(&mut usage, &["threads_active"])?,
        extra: Object::new(),
    };
    resource_usage.extra = usage;

    let ticks_per_second = fields::take_f64(&mut p, &["ticks_per_second"])?;
    let cpu_percent = fields::take_f64(&mut p, &["cpu_percent"])?;
    let memory_usage_mb = fields::take_f64(&mut p, &["memory_usage_mb", "memory_mb"])?;
    // Carry each metric in both shapes, whichever one it arrived in.
    let ticks_per_second = ticks_per_second.or(data_flow.ticks_per_second);
    data_flow.ticks_per_second = ticks_per_second;
    let cpu_percent = cpu_percent.or(resource_usage.cpu_percent);
    resource_usage.cpu_percent = cpu_percent;
    let memory_usage_mb = memory_usage_mb.or(resource_usage.memory_mb);
    resource_usage.memory_mb = memory_usage_mb;

    let issues = match p.remove("issues") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(single @ Value::String(_)) => vec![single],
        Some(_) => return Err(DecodeError::invalid("issues", "is not an array")),
    };
    let timestamp = fields::take_timestamp(&mut p, &["timestamp"])?;

    Ok(Health {
        session_id: fields::take_string(&mut p, &["session_id"])?,
        status,
        active_symbols: fields::take_i64(&mut p, &["active_symbols"])?,
        ticks_per_second,
        patterns_detected: fields::take_i64(&mut p, &["patterns_detected"])?,
        indicators_calculated: fields::take_i64(&mut p, &["indicators_calculated"])?,
        cpu_percent,
        memory_usage_mb,
        errors_count: fields::take_i64(&mut p, &["errors_count"])?,
        uptime_seconds: fields::take_f64(&mut p, &["uptime_seconds"])?,
        connection_status: fields::take_string(&mut p, &["connection_status"])?,
        data_flow,
        resource_usage,
        issues,
        timestamp: envelope.time_of(timestamp),
        extra: p,
    })
}
