//! `streaming_indicator`, payload key `calculation`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::fields::{self, Object, serialize_timestamp};
use super::{DecodeError, Envelope, payload, rules};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicator {
    pub symbol: String,
    /// `indicator` or `indicator_type`: RSI, SMA, MACD, BB, ...
    pub indicator: String,
    // Absent fields are left out rather than sent as null: indicators are the
    // most numerous event, and every byte goes to every dashboard.
    /// A single-valued indicator's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// A multi-valued indicator's values (MACD: macd/signal/histogram; BB: upper/middle/lower).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<Object>,
    #[serde(serialize_with = "serialize_timestamp")]
    pub timestamp: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeframe: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub metadata: Object,
    #[serde(flatten)]
    pub extra: Object,
}

pub fn decode(obj: Object, envelope: &Envelope) -> Result<Indicator, DecodeError> {
    let mut p = payload(obj, "calculation");
    let symbol = fields::take_symbol(&mut p)?;
    let indicator = fields::require_id(&mut p, &["indicator", "indicator_type", "indicator_name"])?;
    // `value` may itself be an object of values.
    let (value, nested_values) = match p.remove("value") {
        Some(Value::Object(values)) => (None, Some(values)),
        Some(other) => {
            p.insert("value".into(), other);
            (fields::take_f64(&mut p, &["value"])?, None)
        }
        None => (None, None),
    };
    let values = match nested_values {
        Some(values) => Some(values),
        None => fields::take_object(&mut p, "values")?,
    };
    if value.is_none() && values.is_none() {
        return Err(DecodeError::Missing("value"));
    }
    let timestamp =
        fields::take_timestamp(&mut p, &["timestamp", "calculated_at"], &envelope.window)?;
    let metadata = fields::take_object(&mut p, "metadata")?.unwrap_or_default();
    let session_id = fields::take_session_id(&mut p, &metadata)?;
    Ok(Indicator {
        symbol,
        indicator,
        value,
        values: values.map(rules::passthrough),
        timestamp: envelope.time_of(timestamp),
        timeframe: fields::take_id(&mut p, &["timeframe"])?,
        session_id,
        metadata: rules::passthrough(metadata),
        extra: rules::passthrough(p),
    })
}
