//! How one message measures up against seed 004: the kinds of value seed
//! 004 gives its fields, what can be wrong with a field, and a message's
//! findings. The required fields themselves are listed in `required`, and
//! health's in the health decoder's own field table, which states their
//! kinds too; both read this file.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{DecodeError, fields};

/// The "field" a fault names when the message as a whole is unusable (not
/// JSON, not an object, too large).
pub const WHOLE_MESSAGE: &str = "(message)";

/// The kind of value seed 004 gives a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A non-blank JSON string.
    Text,
    /// A string holding a UUID.
    Uuid,
    /// A string holding an ISO 8601 time.
    Timestamp,
    /// Any JSON number (`70` is a float too).
    Float,
    /// A JSON number without a fraction (`60` or `60.0`).
    Integer,
    Object,
    Array,
    /// A string or `null`, but present (`recovery`, `action_required`).
    TextOrNull,
}

/// What was sent for a field, as far as judging its kind needs: a JSON
/// tree's value, or what a typed decoder read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sent<'a> {
    Absent,
    Null,
    Text(&'a str),
    /// Any JSON number, as `f64` (integers too: a fraction is all that counts).
    Number(f64),
    Bool,
    Array,
    Object,
}

impl<'a> Sent<'a> {
    pub fn of(value: Option<&'a Value>) -> Self {
        match value {
            None => Sent::Absent,
            Some(Value::Null) => Sent::Null,
            Some(Value::String(s)) => Sent::Text(s),
            // Without serde_json's arbitrary precision every number has an f64.
            Some(Value::Number(n)) => Sent::Number(n.as_f64().unwrap_or(f64::NAN)),
            Some(Value::Bool(_)) => Sent::Bool,
            Some(Value::Array(_)) => Sent::Array,
            Some(Value::Object(_)) => Sent::Object,
        }
    }

    /// How it reads in a report when it does not fit `expected`.
    fn describe(self, expected: FieldKind) -> &'static str {
        match (self, expected) {
            (Sent::Text(_), FieldKind::Uuid) => "string that is not a UUID",
            (Sent::Text(_), FieldKind::Timestamp) => "string that is not an ISO 8601 time",
            (Sent::Number(_), FieldKind::Integer) => "number with a fraction",
            (Sent::Text(_), _) => "string",
            (Sent::Number(_), _) => "number",
            (Sent::Bool, _) => "boolean",
            (Sent::Array, _) => "array",
            (Sent::Object, _) => "object",
            (Sent::Null | Sent::Absent, _) => "null",
        }
    }
}

impl FieldKind {
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Text => "string",
            FieldKind::Uuid => "UUID string",
            FieldKind::Timestamp => "ISO 8601 string",
            FieldKind::Float => "float",
            FieldKind::Integer => "integer",
            FieldKind::Object => "object",
            FieldKind::Array => "array",
            FieldKind::TextOrNull => "string or null",
        }
    }

    /// What is wrong with `sent` for this kind, if anything: absent, null or
    /// blank is missing (null is fine for [`FieldKind::TextOrNull`]).
    pub fn judge(self, sent: Sent<'_>) -> Option<Problem> {
        let fits = match (self, sent) {
            (_, Sent::Absent) => return Some(Problem::Missing),
            (FieldKind::TextOrNull, Sent::Null) => true,
            (_, Sent::Null) => return Some(Problem::Missing),
            (kind, Sent::Text(s)) if s.trim().is_empty() && kind != FieldKind::TextOrNull => {
                return Some(Problem::Missing);
            }
            (FieldKind::Text | FieldKind::TextOrNull, Sent::Text(_)) => true,
            (FieldKind::Uuid, Sent::Text(s)) => uuid::Uuid::parse_str(s.trim()).is_ok(),
            (FieldKind::Timestamp, Sent::Text(s)) => {
                // An epoch number inside a string is not ISO 8601 either.
                s.trim().parse::<f64>().is_err() && fields::parse_timestamp_text(s).is_some()
            }
            (FieldKind::Float, Sent::Number(_)) => true,
            (FieldKind::Integer, Sent::Number(x)) => x.fract() == 0.0,
            (FieldKind::Object, Sent::Object) => true,
            (FieldKind::Array, Sent::Array) => true,
            _ => false,
        };
        (!fits).then(|| Problem::WrongKind {
            expected: self.name(),
            found: sent.describe(self),
        })
    }
}

/// What is wrong with one field of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    Missing,
    WrongKind {
        expected: &'static str,
        found: &'static str,
    },
    /// TickStock's decoder refused the message (or a batch element) here.
    Rejected {
        reason: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing => f.write_str("missing"),
            Problem::WrongKind { expected, found } => {
                write!(f, "of the wrong kind ({found}, expected {expected})")
            }
            Problem::Rejected { reason } => write!(f, "rejected by TickStock: {reason}"),
        }
    }
}

/// One required field: its path in the payload (`data_flow.bars_per_minute`)
/// and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Required {
    pub field: &'static str,
    pub kind: FieldKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fault {
    pub field: &'static str,
    #[serde(flatten)]
    pub problem: Problem,
}

/// How one message measures up: each faulty field once, the fields
/// TickStock did not recognise, and the event's own time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    pub faults: Vec<Fault>,
    pub unrecognised: Vec<String>,
    /// The payload's `timestamp` (or a batch's `batch_timestamp`), for latency.
    pub event_time: Option<DateTime<Utc>>,
}

impl Findings {
    pub(super) fn add(&mut self, field: &'static str, problem: Problem) {
        // The first finding on a field stands: the spec check runs first and
        // says more than the decoder's refusal.
        if !self.faults.iter().any(|fault| fault.field == field) {
            self.faults.push(Fault { field, problem });
        }
    }

    pub(super) fn add_rejection(&mut self, error: &DecodeError) {
        let field = error.field().unwrap_or(WHOLE_MESSAGE);
        self.add(
            field,
            Problem::Rejected {
                reason: error.to_string(),
            },
        );
    }
}
