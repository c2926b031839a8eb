//! `streaming_health`, payload key `health`, in both shapes of CONTRACT §2:
//! shape A (flat metrics, what TickStockPL sends) and shape B (the spec's
//! `data_flow` / `resource_usage` groups). The decoded value carries every
//! metric in both places, so readers of either shape find it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{self, Object, serialize_timestamp};
use super::rules::{self, Reason, Window};
use super::{DecodeError, Envelope, Kind, payload};

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

/// What a health message says, before each metric is put in both shapes.
struct Parts {
    session_id: Option<String>,
    status: String,
    active_symbols: Option<i64>,
    ticks_per_second: Option<f64>,
    patterns_detected: Option<i64>,
    indicators_calculated: Option<i64>,
    cpu_percent: Option<f64>,
    memory_usage_mb: Option<f64>,
    errors_count: Option<i64>,
    uptime_seconds: Option<f64>,
    connection_status: Option<String>,
    data_flow: DataFlow,
    resource_usage: ResourceUsage,
    issues: Vec<Value>,
    timestamp: Option<DateTime<Utc>>,
    extra: Object,
}

impl Parts {
    /// The event, if every value makes sense ([`rules`]): both paths end
    /// here, so they refuse alike.
    fn assemble(self, envelope: &Envelope) -> Result<Health, DecodeError> {
        use rules::{
            MAX_CPU_PERCENT, MAX_MEASURE, MAX_TICKS_PER_SECOND, MAX_UPTIME_SECONDS, opt_amount,
            opt_count,
        };
        let Parts {
            mut data_flow,
            mut resource_usage,
            ..
        } = self;
        data_flow.ticks_per_second = opt_amount(
            "data_flow.ticks_per_second",
            data_flow.ticks_per_second,
            MAX_TICKS_PER_SECOND,
        )?;
        data_flow.bars_per_minute = opt_amount(
            "data_flow.bars_per_minute",
            data_flow.bars_per_minute,
            MAX_MEASURE,
        )?;
        data_flow.processing_lag_ms = opt_amount(
            "data_flow.processing_lag_ms",
            data_flow.processing_lag_ms,
            MAX_MEASURE,
        )?;
        data_flow.extra = rules::passthrough(data_flow.extra);
        resource_usage.cpu_percent = opt_amount(
            "resource_usage.cpu_percent",
            resource_usage.cpu_percent,
            MAX_CPU_PERCENT,
        )?;
        resource_usage.memory_mb = opt_amount(
            "resource_usage.memory_mb",
            resource_usage.memory_mb,
            MAX_MEASURE,
        )?;
        resource_usage.threads_active = opt_count(
            "resource_usage.threads_active",
            resource_usage.threads_active,
        )?;
        resource_usage.extra = rules::passthrough(resource_usage.extra);
        // Carry each metric in both shapes, whichever one it arrived in.
        let ticks_per_second = opt_amount(
            "ticks_per_second",
            self.ticks_per_second,
            MAX_TICKS_PER_SECOND,
        )?
        .or(data_flow.ticks_per_second);
        data_flow.ticks_per_second = ticks_per_second;
        let cpu_percent = opt_amount("cpu_percent", self.cpu_percent, MAX_CPU_PERCENT)?
            .or(resource_usage.cpu_percent);
        resource_usage.cpu_percent = cpu_percent;
        let memory_usage_mb = opt_amount("memory_usage_mb", self.memory_usage_mb, MAX_MEASURE)?
            .or(resource_usage.memory_mb);
        resource_usage.memory_mb = memory_usage_mb;
        let mut issues = self.issues;
        issues.iter_mut().for_each(rules::clean);
        Ok(Health {
            session_id: rules::opt_identifier("session_id", self.session_id)?,
            status: rules::identifier("status", self.status)?,
            active_symbols: opt_count("active_symbols", self.active_symbols)?,
            ticks_per_second,
            patterns_detected: opt_count("patterns_detected", self.patterns_detected)?,
            indicators_calculated: opt_count("indicators_calculated", self.indicators_calculated)?,
            cpu_percent,
            memory_usage_mb,
            errors_count: opt_count("errors_count", self.errors_count)?,
            uptime_seconds: opt_amount("uptime_seconds", self.uptime_seconds, MAX_UPTIME_SECONDS)?,
            connection_status: rules::opt_identifier("connection_status", self.connection_status)?,
            data_flow,
            resource_usage,
            issues,
            timestamp: envelope.time_of(self.timestamp),
            extra: rules::passthrough(self.extra),
        })
    }
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
    let issues = match p.remove("issues") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(single @ Value::String(_)) => vec![single],
        Some(_) => return Err(DecodeError::invalid("issues", Reason::NotArray)),
    };
    let timestamp = fields::take_timestamp(&mut p, &["timestamp"], &envelope.window)?;

    Parts {
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
        timestamp,
        extra: p,
    }
    .assemble(envelope)
}

/// The health message as TickStockPL and seed 004 write it, every field under
/// its own name and of its own JSON type, read without building a JSON tree.
/// Anything else (an alias, a number sent as a string, an unknown field, a
/// duplicate) fails here and goes to the tolerant [`decode`], which gives the
/// same event for what both accept.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CanonicalMessage {
    #[serde(rename = "type")]
    kind: Option<String>,
    health: MapOnly<CanonicalHealth>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CanonicalHealth {
    status: String,
    session_id: Option<String>,
    active_symbols: Option<i64>,
    ticks_per_second: Option<f64>,
    patterns_detected: Option<i64>,
    indicators_calculated: Option<i64>,
    cpu_percent: Option<f64>,
    memory_usage_mb: Option<f64>,
    errors_count: Option<i64>,
    uptime_seconds: Option<f64>,
    connection_status: Option<String>,
    data_flow: Option<MapOnly<CanonicalFlow>>,
    resource_usage: Option<MapOnly<CanonicalUsage>>,
    issues: Option<Vec<Value>>,
    timestamp: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CanonicalFlow {
    ticks_per_second: Option<f64>,
    bars_per_minute: Option<f64>,
    processing_lag_ms: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CanonicalUsage {
    cpu_percent: Option<f64>,
    memory_mb: Option<f64>,
    threads_active: Option<i64>,
}

/// A struct read from a JSON object only. Derived `Deserialize` also takes a
/// struct's fields from an array, in order; the tolerant decoder does not.
struct MapOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MapOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Fields<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(Fields(std::marker::PhantomData))
            .map(MapOnly)
    }
}

/// A canonical health message, or `None` for anything else (the tolerant
/// path then decides).
pub(super) fn decode_canonical(
    message: &[u8],
    received_at: DateTime<Utc>,
    window: Window,
) -> Option<Health> {
    let MapOnly(CanonicalMessage {
        kind,
        health: MapOnly(h),
        timestamp,
    }) = serde_json::from_slice(message).ok()?;
    // Another known `type` is decoded as that kind, by the tolerant path.
    if kind.is_some_and(|k| Kind::from_type(&k).is_some_and(|k| k != Kind::Health)) {
        return None;
    }
    let timestamp_of = |field, t: Option<String>| match t {
        None => Some(None),
        Some(t) => fields::parse_timestamp_text(&t)
            .and_then(|t| window.check(field, t).ok())
            .map(Some),
    };
    let envelope = Envelope {
        timestamp: timestamp_of("timestamp", timestamp)?,
        received_at,
        window,
    };
    let flow = h.data_flow.map(|MapOnly(f)| f).unwrap_or_default();
    let usage = h.resource_usage.map(|MapOnly(u)| u).unwrap_or_default();
    let parts = Parts {
        session_id: h.session_id.and_then(fields::text),
        status: fields::text(h.status)?,
        active_symbols: h.active_symbols,
        ticks_per_second: h.ticks_per_second,
        patterns_detected: h.patterns_detected,
        indicators_calculated: h.indicators_calculated,
        cpu_percent: h.cpu_percent,
        memory_usage_mb: h.memory_usage_mb,
        errors_count: h.errors_count,
        uptime_seconds: h.uptime_seconds,
        connection_status: h.connection_status.and_then(fields::text),
        data_flow: DataFlow {
            ticks_per_second: flow.ticks_per_second,
            bars_per_minute: flow.bars_per_minute,
            processing_lag_ms: flow.processing_lag_ms,
            extra: Object::new(),
        },
        resource_usage: ResourceUsage {
            cpu_percent: usage.cpu_percent,
            memory_mb: usage.memory_mb,
            threads_active: usage.threads_active,
            extra: Object::new(),
        },
        issues: h.issues.unwrap_or_default(),
        timestamp: timestamp_of("timestamp", h.timestamp)?,
        extra: Object::new(),
    };
    parts.assemble(&envelope).ok()
}
