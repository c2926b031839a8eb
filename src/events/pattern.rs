//! `streaming_pattern` (payload key `detection`) and `streaming_patterns_batch`
//! (`patterns[]`, up to 50, with `count` and `batch_timestamp`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::fields::{self, Object, serialize_opt_timestamp, serialize_timestamp};
use super::rules::{self, Reason};
use super::{DecodeError, Envelope, payload};

/// Patterns at or above this confidence are also published on
/// `tickstock:patterns:detected` and marked on the dashboard.
pub const HIGH_CONFIDENCE: f64 = 0.8;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pattern {
    pub symbol: String,
    /// `pattern_type`, `pattern` or `pattern_name`.
    pub pattern_type: String,
    /// 0.0 to 1.0; a percentage (1 to 100) is scaled down.
    pub confidence: f64,
    pub high_confidence: bool,
    #[serde(serialize_with = "serialize_timestamp")]
    pub timestamp: DateTime<Utc>,
    pub timeframe: Option<String>,
    pub bar_data: Option<Bar>,
    pub session_id: Option<String>,
    pub metadata: Object,
    #[serde(flatten)]
    pub extra: Object,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bar {
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub close: Option<f64>,
    pub volume: Option<i64>,
    #[serde(flatten)]
    pub extra: Object,
}

/// One message's patterns: a single detection is a batch of one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatternBatch {
    pub patterns: Vec<Pattern>,
    pub count: usize,
    #[serde(serialize_with = "serialize_opt_timestamp")]
    pub batch_timestamp: Option<DateTime<Utc>>,
    /// Whether the message was a `streaming_patterns_batch`.
    #[serde(skip)]
    pub batched: bool,
    /// Elements of a batch that could not be decoded; the rest are kept.
    #[serde(skip)]
    pub rejected: Vec<DecodeError>,
}

/// What identifies one detection, so that a copy arriving on both pattern
/// channels is kept once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PatternKey {
    Id(String),
    Natural {
        symbol: String,
        pattern_type: String,
        timestamp_ms: i64,
        timeframe: Option<String>,
    },
}

impl Pattern {
    pub fn key(&self) -> PatternKey {
        match self.metadata.get("pattern_id").and_then(Value::as_str) {
            Some(id) => PatternKey::Id(id.to_owned()),
            None => PatternKey::Natural {
                symbol: self.symbol.clone(),
                pattern_type: self.pattern_type.clone(),
                timestamp_ms: self.timestamp.timestamp_millis(),
                timeframe: self.timeframe.clone(),
            },
        }
    }
}

pub fn decode_single(obj: Object, envelope: &Envelope) -> Result<PatternBatch, DecodeError> {
    let mut p = payload(obj, "detection");
    if p.get("pattern").is_some_and(Value::is_object) {
        p = payload(p, "pattern");
    }
    let pattern = decode_pattern(p, envelope)?;
    Ok(PatternBatch {
        patterns: vec![pattern],
        count: 1,
        batch_timestamp: None,
        batched: false,
        rejected: Vec::new(),
    })
}

pub fn decode_batch(mut obj: Object, envelope: &Envelope) -> Result<PatternBatch, DecodeError> {
    let items = match obj.remove("patterns") {
        Some(Value::Array(items)) => items,
        Some(_) => return Err(DecodeError::invalid("patterns", Reason::NotArray)),
        None => return Err(DecodeError::Missing("patterns")),
    };
    let batch_timestamp = fields::take_timestamp(&mut obj, &["batch_timestamp"], &envelope.window)?;
    let element_envelope = Envelope {
        timestamp: batch_timestamp.or(envelope.timestamp),
        ..*envelope
    };
    let mut patterns = Vec::with_capacity(items.len());
    let mut rejected = Vec::new();
    for item in items {
        let decoded = match item {
            Value::Object(element) => decode_pattern(element, &element_envelope),
            _ => Err(DecodeError::invalid("patterns[]", Reason::NotObject)),
        };
        match decoded {
            Ok(pattern) => patterns.push(pattern),
            Err(error) => rejected.push(error),
        }
    }
    if patterns.is_empty() && !rejected.is_empty() {
        return Err(rejected.swap_remove(0));
    }
    Ok(PatternBatch {
        count: patterns.len(),
        patterns,
        batch_timestamp,
        batched: true,
        rejected,
    })
}

fn decode_pattern(mut p: Object, envelope: &Envelope) -> Result<Pattern, DecodeError> {
    let symbol = fields::take_symbol(&mut p)?;
    let pattern_type = fields::require_id(&mut p, &["pattern_type", "pattern", "pattern_name"])?;
    let confidence =
        fields::take_f64(&mut p, &["confidence"])?.ok_or(DecodeError::Missing("confidence"))?;
    let confidence = rules::confidence("confidence", confidence)?;
    let timestamp =
        fields::take_timestamp(&mut p, &["timestamp", "detected_at"], &envelope.window)?;
    let bar_data = fields::take_object(&mut p, "bar_data")?
        .map(|mut bar| -> Result<Bar, DecodeError> {
            let [open, high, low, close] = rules::bar(
                fields::take_f64(&mut bar, &["open"])?,
                fields::take_f64(&mut bar, &["high"])?,
                fields::take_f64(&mut bar, &["low"])?,
                fields::take_f64(&mut bar, &["close"])?,
            )?;
            let volume = fields::take_i64(&mut bar, &["volume"])?
                .map(|v| rules::volume("bar_data.volume", v))
                .transpose()?;
            Ok(Bar {
                open,
                high,
                low,
                close,
                volume,
                extra: rules::passthrough(bar),
            })
        })
        .transpose()?;
    let metadata = fields::take_object(&mut p, "metadata")?.unwrap_or_default();
    let session_id = fields::take_session_id(&mut p, &metadata)?;
    Ok(Pattern {
        symbol,
        pattern_type,
        confidence,
        high_confidence: confidence >= HIGH_CONFIDENCE,
        timestamp: envelope.time_of(timestamp),
        timeframe: fields::take_id(&mut p, &["timeframe"])?,
        bar_data,
        session_id,
        metadata: rules::passthrough(metadata),
        extra: rules::passthrough(p),
    })
}
