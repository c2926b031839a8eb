//! Tolerant decoders for the 8 TickStockPL streaming channels (CONTRACT §2).
//!
//! One module per event kind. Every decoder accepts the payload nested under
//! its key or flat at the top level, takes the event kind from `type` or, when
//! that is missing or unknown, from the channel, and keeps unknown fields.

mod channel;
pub mod critical_alert;
pub mod fields;
mod findings;
pub mod health;
pub mod indicator;
pub mod indicator_alert;
pub mod pattern;
pub mod required;
pub mod rules;
pub mod session;
pub mod settings;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use channel::{Channel, MARKET_TICKS};
pub use critical_alert::CriticalAlert;
pub use health::Health;
pub use indicator::Indicator;
pub use indicator_alert::IndicatorAlert;
pub use pattern::{Pattern, PatternBatch};
pub use rules::{Reason, Rules};
pub use session::{SessionStarted, SessionStopped};

use findings::Findings;

/// A JSON object: the envelope, a payload, or passed-through fields.
pub type Object = serde_json::Map<String, Value>;

/// Larger messages are rejected before parsing: the biggest legitimate one, a
/// batch of 50 patterns, is a few tens of kilobytes.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("message of {0} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a JSON object")]
    NotObject,
    #[error("required field `{0}` is missing")]
    Missing(&'static str),
    #[error("field `{field}` {reason}")]
    Invalid { field: &'static str, reason: Reason },
}

impl DecodeError {
    pub fn invalid(field: &'static str, reason: Reason) -> Self {
        Self::Invalid { field, reason }
    }

    /// Why the message was refused, for counting.
    pub fn reason(&self) -> Reason {
        match self {
            Self::TooLarge(_) => Reason::TooLarge,
            Self::NotJson(_) => Reason::NotJson,
            Self::NotObject => Reason::NotObject,
            Self::Missing(_) => Reason::Missing,
            Self::Invalid { reason, .. } => *reason,
        }
    }

    /// The field the decoder tripped on, if the error is about one field.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Missing(field) | Self::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    SessionStarted(SessionStarted),
    SessionStopped(SessionStopped),
    /// Shared: the live state and the recorder keep the same one.
    Health(Arc<Health>),
    Patterns(PatternBatch),
    /// Shared, as health is.
    Indicator(Arc<Indicator>),
    IndicatorAlert(IndicatorAlert),
    CriticalAlert(CriticalAlert),
}

/// The event kinds, named by the `type` values TickStockPL sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SessionStarted,
    SessionStopped,
    Health,
    Pattern,
    PatternsBatch,
    Indicator,
    IndicatorAlert,
    CriticalAlert,
}

impl Kind {
    pub fn from_type(name: &str) -> Option<Self> {
        Some(match name {
            "streaming_session_started" => Self::SessionStarted,
            "streaming_session_stopped" => Self::SessionStopped,
            "streaming_health" => Self::Health,
            "streaming_pattern" => Self::Pattern,
            "streaming_patterns_batch" => Self::PatternsBatch,
            "streaming_indicator" => Self::Indicator,
            "indicator_alert" => Self::IndicatorAlert,
            "critical_alert" => Self::CriticalAlert,
            _ => return None,
        })
    }
}

/// What the envelope around a payload tells every decoder.
#[derive(Debug, Clone, Copy)]
pub struct Envelope {
    /// The top-level `timestamp`, the fallback for a payload without one.
    pub timestamp: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    /// The times this message's timestamps must lie within.
    pub window: rules::Window,
}

impl Envelope {
    /// The event's own time: its payload's, else the envelope's, else arrival.
    pub fn time_of(&self, own: Option<DateTime<Utc>>) -> DateTime<Utc> {
        own.or(self.timestamp).unwrap_or(self.received_at)
    }
}

/// Decodes one message as [`decode_with`] does, accepting any time from
/// 1970 to 9999 ([`Rules::ANY_TIME`]): for events read long after they were
/// sent (recordings, fixtures). The subscriber uses the configured window.
pub fn decode(
    channel: Channel,
    payload: &[u8],
    received_at: DateTime<Utc>,
) -> Result<Event, DecodeError> {
    decode_with(channel, payload, received_at, &Rules::ANY_TIME)
}

/// Decodes one message received on `channel`, refusing what breaks `rules`
/// (see [`rules`]). Health messages in their canonical shapes take a typed
/// path that builds no JSON tree (issue 7's 500,000 health events/s per
/// core); everything else, and any health message that path refuses, the
/// tolerant one.
pub fn decode_with(
    channel: Channel,
    payload: &[u8],
    received_at: DateTime<Utc>,
    rules: &Rules,
) -> Result<Event, DecodeError> {
    decode_noting(channel, payload, received_at, rules, None)
}

/// [`decode_with`], noting in `findings`, when given, how the message
/// measures up against seed 004 (`required::examine`), from the decoder's
/// own reading of it: the typed path's fields, or the tolerant path's tree.
fn decode_noting(
    channel: Channel,
    payload: &[u8],
    received_at: DateTime<Utc>,
    rules: &Rules,
    mut findings: Option<&mut Findings>,
) -> Result<Event, DecodeError> {
    if payload.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge(payload.len()));
    }
    let window = rules.window(received_at);
    if channel == Channel::Health
        && let Some(health) =
            health::decode_canonical(payload, received_at, window, findings.as_deref_mut())
    {
        return Ok(Event::Health(Arc::new(health)));
    }
    decode_tolerant(channel, payload, received_at, window, findings)
}

/// Decodes any shape CONTRACT §2 allows, through a JSON tree, which
/// `findings`, when given, are read from before the decoders take it apart.
fn decode_tolerant(
    channel: Channel,
    payload: &[u8],
    received_at: DateTime<Utc>,
    window: rules::Window,
    findings: Option<&mut Findings>,
) -> Result<Event, DecodeError> {
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    let Value::Object(mut obj) = value else {
        return Err(DecodeError::NotObject);
    };
    if let Some(findings) = findings {
        required::check_fields(channel, &obj, findings);
    }
    let declared = match obj.remove("type") {
        Some(Value::String(name)) => Kind::from_type(&name),
        _ => None,
    };
    let kind = declared.unwrap_or_else(|| channel.default_kind(&obj));
    let envelope = Envelope {
        timestamp: fields::take_timestamp(&mut obj, &["timestamp"], &window)?,
        received_at,
        window,
    };
    Ok(match kind {
        Kind::SessionStarted => Event::SessionStarted(session::decode_started(obj, &envelope)?),
        Kind::SessionStopped => Event::SessionStopped(session::decode_stopped(obj, &envelope)?),
        Kind::Health => Event::Health(Arc::new(health::decode(obj, &envelope)?)),
        Kind::Pattern => Event::Patterns(pattern::decode_single(obj, &envelope)?),
        Kind::PatternsBatch => Event::Patterns(pattern::decode_batch(obj, &envelope)?),
        Kind::Indicator => Event::Indicator(Arc::new(indicator::decode(obj, &envelope)?)),
        Kind::IndicatorAlert => Event::IndicatorAlert(indicator_alert::decode(obj, &envelope)?),
        Kind::CriticalAlert => Event::CriticalAlert(critical_alert::decode(obj, &envelope)?),
    })
}

/// The payload of an event, whether nested under `key` or flat at the top
/// level. Top-level fields beside a nested payload are kept as its extras.
fn payload(mut obj: Object, key: &str) -> Object {
    match obj.remove(key) {
        Some(Value::Object(mut inner)) => {
            for (name, value) in obj {
                inner.entry(name).or_insert(value);
            }
            inner
        }
        Some(other) => {
            // Not a nested payload (e.g. `pattern` holding the pattern's name).
            obj.insert(key.to_owned(), other);
            obj
        }
        None => obj,
    }
}

#[cfg(test)]
pub(crate) mod tests;
