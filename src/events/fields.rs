//! Tolerant readers for the fields of a producer's JSON object.
//!
//! Every reader *removes* the field it reads, so what is left in the map
//! afterwards is exactly the set of fields TickStock did not recognise; those
//! are passed through, their text cleaned (`rules::passthrough`).

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Serializer;
use serde_json::Value;

use super::DecodeError;
pub use super::Object;
use super::rules::{self, Reason, Window};

/// Takes the first present, non-null field among `names`.
fn take_any(obj: &mut Object, names: &[&'static str]) -> Option<(&'static str, Value)> {
    let mut found = None;
    for name in names {
        match obj.remove(*name) {
            Some(Value::Null) | None => {}
            Some(value) if found.is_none() => found = Some((*name, value)),
            // An alias that lost to an earlier name is still a known field.
            Some(_) => {}
        }
    }
    found
}

/// A string field as sent (numbers too: ids sometimes arrive as numbers),
/// trimmed, absent when blank. No class rule is applied: see [`take_id`],
/// [`take_text`].
pub fn take_string(
    obj: &mut Object,
    names: &[&'static str],
) -> Result<Option<String>, DecodeError> {
    match take_any(obj, names) {
        None => Ok(None),
        Some((_, Value::String(s))) => Ok(text(s)),
        Some((_, Value::Number(n))) => Ok(Some(n.to_string())),
        Some((field, _)) => Err(DecodeError::invalid(field, Reason::NotText)),
    }
}

pub fn require_string(obj: &mut Object, names: &[&'static str]) -> Result<String, DecodeError> {
    take_string(obj, names)?.ok_or(DecodeError::Missing(names[0]))
}

/// An identifier or vocabulary word ([`rules::identifier`]), named by its
/// first name.
pub fn take_id(obj: &mut Object, names: &[&'static str]) -> Result<Option<String>, DecodeError> {
    rules::opt_identifier(names[0], take_string(obj, names)?)
}

pub fn require_id(obj: &mut Object, names: &[&'static str]) -> Result<String, DecodeError> {
    take_id(obj, names)?.ok_or(DecodeError::Missing(names[0]))
}

/// Free text ([`rules::free_text`]): control characters removed, then
/// trimmed, absent when blank.
pub fn take_text(obj: &mut Object, names: &[&'static str]) -> Result<Option<String>, DecodeError> {
    match take_any(obj, names) {
        None => Ok(None),
        Some((_, Value::String(s))) => Ok(text(rules::free_text(s))),
        Some((_, Value::Number(n))) => Ok(Some(n.to_string())),
        Some((field, _)) => Err(DecodeError::invalid(field, Reason::NotText)),
    }
}

/// The event's symbol, a ticker ([`rules::ticker`]), upper-cased.
pub fn take_symbol(obj: &mut Object) -> Result<String, DecodeError> {
    let symbol = require_string(obj, &["symbol", "ticker", "sym"])?;
    rules::ticker("symbol", symbol)
}

fn number(field: &'static str, value: Value) -> Result<f64, DecodeError> {
    let parsed = match &value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match parsed {
        Some(x) if x.is_finite() => Ok(x),
        Some(_) => Err(DecodeError::invalid(field, Reason::NotFinite)),
        None => Err(DecodeError::invalid(field, Reason::NotNumber)),
    }
}

pub fn take_f64(obj: &mut Object, names: &[&'static str]) -> Result<Option<f64>, DecodeError> {
    take_any(obj, names)
        .map(|(field, value)| number(field, value))
        .transpose()
}

/// Integers may arrive as floats (`60.0`) or strings (`"60"`); they are
/// rounded. Beyond what an `f64` holds exactly they are out of range.
pub fn take_i64(obj: &mut Object, names: &[&'static str]) -> Result<Option<i64>, DecodeError> {
    match take_any(obj, names) {
        None => Ok(None),
        Some((_, Value::Number(n))) if n.is_i64() => Ok(n.as_i64()),
        Some((field, value)) => {
            let x = number(field, value)?.round();
            if x.abs() < 9.0e15 {
                Ok(Some(x as i64))
            } else {
                Err(DecodeError::invalid(field, Reason::OutOfRange))
            }
        }
    }
}

/// A count ([`rules::count`]), named by its first name.
pub fn take_count(obj: &mut Object, names: &[&'static str]) -> Result<Option<i64>, DecodeError> {
    rules::opt_count(names[0], take_i64(obj, names)?)
}

/// `session_id` at the payload's top level, else inside its `metadata`; an
/// identifier either way.
pub fn take_session_id(obj: &mut Object, metadata: &Object) -> Result<Option<String>, DecodeError> {
    let id = take_string(obj, &["session_id"])?.or_else(|| {
        metadata
            .get("session_id")
            .and_then(Value::as_str)
            .and_then(|s| text(s.to_owned()))
    });
    rules::opt_identifier("session_id", id)
}

pub fn take_object(obj: &mut Object, name: &'static str) -> Result<Option<Object>, DecodeError> {
    match obj.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(_) => Err(DecodeError::invalid(name, Reason::NotObject)),
    }
}

/// A timestamp, within `window`.
pub fn take_timestamp(
    obj: &mut Object,
    names: &[&'static str],
    window: &Window,
) -> Result<Option<DateTime<Utc>>, DecodeError> {
    take_any(obj, names)
        .map(|(field, value)| {
            let t =
                parse_timestamp(&value).ok_or(DecodeError::invalid(field, Reason::NotTimestamp))?;
            window.check(field, t)
        })
        .transpose()
}

/// ISO 8601 (with `Z`, an offset, or none, which means UTC as Python's
/// `utcnow().isoformat()` writes it) or an epoch number in seconds,
/// milliseconds, microseconds or nanoseconds, told apart by magnitude.
pub fn parse_timestamp(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => from_epoch(n.as_f64()?),
        Value::String(s) => parse_timestamp_text(s),
        _ => None,
    }
}

/// A timestamp sent as a string (see [`parse_timestamp`]).
pub fn parse_timestamp_text(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = s.parse::<DateTime<Utc>>() {
        return Some(t);
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    s.parse::<f64>().ok().and_then(from_epoch)
}

/// A string field's value as the readers keep it: trimmed, and absent when
/// blank.
pub fn text(s: String) -> Option<String> {
    let trimmed = s.trim();
    if trimmed.is_empty() {
        None
    } else if trimmed.len() == s.len() {
        Some(s)
    } else {
        Some(trimmed.to_owned())
    }
}

fn from_epoch(x: f64) -> Option<DateTime<Utc>> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    let seconds = if x >= 1e17 {
        x / 1e9
    } else if x >= 1e14 {
        x / 1e6
    } else if x >= 1e11 {
        x / 1e3
    } else {
        x
    };
    let whole = seconds.trunc();
    // Beyond chrono's range (about 262,000 years) either way: no time.
    if whole > 1e13 {
        return None;
    }
    let nanos = ((seconds - whole) * 1e9).round().min(999_999_999.0) as u32;
    DateTime::from_timestamp(whole as i64, nanos)
}

/// Serialises timestamps the way the original did: ISO 8601, UTC, milliseconds.
pub fn serialize_timestamp<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

pub fn serialize_opt_timestamp<S: Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize_timestamp(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_in_every_seen_form_normalise_to_utc() {
        let expected = Utc.with_ymd_and_hms(2025, 10, 5, 9, 30, 0).unwrap();
        for value in [
            json!("2025-10-05T09:30:00.000Z"),
            json!("2025-10-05T09:30:00Z"),
            json!("2025-10-05T05:30:00-04:00"),
            json!("2025-10-05T09:30:00.000000"),
            json!("2025-10-05 09:30:00"),
            json!(1759656600),
            json!(1759656600.0),
            json!(1759656600000_i64),
            json!("1759656600"),
        ] {
            assert_eq!(parse_timestamp(&value), Some(expected), "{value}");
        }
        assert_eq!(parse_timestamp(&json!("yesterday")), None);
        assert_eq!(parse_timestamp(&json!(true)), None);
        assert_eq!(parse_timestamp(&json!(-5)), None);
    }

    #[test]
    fn numbers_may_arrive_as_strings_and_integers_as_floats() {
        let mut obj = json!({"a": "15.2", "b": 60.0, "c": "7", "d": [1]})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(take_f64(&mut obj, &["a"]).unwrap(), Some(15.2));
        assert_eq!(take_i64(&mut obj, &["b"]).unwrap(), Some(60));
        assert_eq!(take_i64(&mut obj, &["c"]).unwrap(), Some(7));
        assert_eq!(
            take_f64(&mut obj, &["d"]).unwrap_err().to_string(),
            "field `d` is not a number"
        );
        assert!(obj.is_empty());
    }

    #[test]
    fn the_first_alias_present_wins_and_all_aliases_are_consumed() {
        let mut obj = json!({"pattern": "Hammer", "pattern_type": "Doji"})
            .as_object()
            .unwrap()
            .clone();
        let name = take_string(&mut obj, &["pattern_type", "pattern", "pattern_name"]).unwrap();
        assert_eq!(name.as_deref(), Some("Doji"));
        assert!(obj.is_empty());
    }
}
