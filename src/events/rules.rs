//! What a decoded value must be to make sense, beyond its JSON kind. This is
//! the one statement of those rules: every decoder applies them through the
//! functions here, and both health paths (typed and tolerant) through the
//! same assembly. A value that breaks one is refused with a [`Reason`], so
//! refusals can be counted by cause.
//!
//! Strings are of two classes:
//! - identifiers and vocabulary (ids, status, severity, component, pattern,
//!   indicator and alert names, timeframe, universe, direction): a control
//!   character (NUL included) refuses the message, since stripping could make
//!   two ids one;
//! - free text (alert messages, `action_required`, `recovery`, `issues`, and
//!   every string kept as passed-through JSON: extras, `metadata`, `values`):
//!   control characters other than tab and newline are removed, since they
//!   carry no meaning there and break storage (PostgreSQL refuses NUL) and
//!   display.
//!
//! Symbols must be tickers ([`ticker`]).

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::{DecodeError, Object};

/// Why a message (or one element of a batch) was refused. A closed set, so
/// refusals can be counted per reason (status, metrics, log, inspector).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    TooLarge,
    NotJson,
    NotObject,
    Missing,
    NotText,
    NotNumber,
    NotFinite,
    NotArray,
    NotTimestamp,
    OutOfRange,
    Negative,
    NotFraction,
    HighBelowLow,
    OutsideHighLow,
    TooOld,
    InFuture,
    ControlCharacter,
    NotTicker,
}

impl Reason {
    pub const ALL: [Reason; 18] = [
        Reason::TooLarge,
        Reason::NotJson,
        Reason::NotObject,
        Reason::Missing,
        Reason::NotText,
        Reason::NotNumber,
        Reason::NotFinite,
        Reason::NotArray,
        Reason::NotTimestamp,
        Reason::OutOfRange,
        Reason::Negative,
        Reason::NotFraction,
        Reason::HighBelowLow,
        Reason::OutsideHighLow,
        Reason::TooOld,
        Reason::InFuture,
        Reason::ControlCharacter,
        Reason::NotTicker,
    ];

    pub const fn index(self) -> usize {
        self as usize
    }

    /// The reason's name in the status, the metrics and the log.
    pub const fn label(self) -> &'static str {
        match self {
            Reason::TooLarge => "too_large",
            Reason::NotJson => "not_json",
            Reason::NotObject => "not_object",
            Reason::Missing => "missing",
            Reason::NotText => "not_text",
            Reason::NotNumber => "not_number",
            Reason::NotFinite => "not_finite",
            Reason::NotArray => "not_array",
            Reason::NotTimestamp => "not_timestamp",
            Reason::OutOfRange => "out_of_range",
            Reason::Negative => "negative",
            Reason::NotFraction => "not_fraction",
            Reason::HighBelowLow => "high_below_low",
            Reason::OutsideHighLow => "outside_high_low",
            Reason::TooOld => "too_old",
            Reason::InFuture => "in_future",
            Reason::ControlCharacter => "control_character",
            Reason::NotTicker => "not_ticker",
        }
    }
}

/// How a field's refusal reads after its name (`field `x` is negative`).
impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::TooLarge => "is over the size limit",
            Reason::NotJson => "is not JSON",
            Reason::NotObject => "is not an object",
            Reason::Missing => "is missing",
            Reason::NotText => "is not a string",
            Reason::NotNumber => "is not a number",
            Reason::NotFinite => "is not a finite number",
            Reason::NotArray => "is not an array",
            Reason::NotTimestamp => "is not a timestamp",
            Reason::OutOfRange => "is out of range",
            Reason::Negative => "is negative",
            Reason::NotFraction => "is not between 0 and 1",
            Reason::HighBelowLow => "is below `low`",
            Reason::OutsideHighLow => "is outside `low`..`high`",
            Reason::TooOld => "is older than the accepted window (EVENT_MAX_AGE_SECONDS)",
            Reason::InFuture => {
                "is further ahead than the accepted window (EVENT_MAX_FUTURE_SECONDS)"
            }
            Reason::ControlCharacter => "contains a control character",
            Reason::NotTicker => "is not a ticker symbol",
        })
    }
}

/// The part of the rules that depends on configuration: how far an event's
/// own time may lie from its arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub max_age: TimeDelta,
    pub max_future: TimeDelta,
}

impl Rules {
    pub const DEFAULT_MAX_AGE_SECONDS: u64 = 7 * 86_400;
    pub const DEFAULT_MAX_FUTURE_SECONDS: u64 = 3_600;

    /// No window beyond what every reader of the times can hold (years
    /// 1970 to 9999): for events decoded long after they were sent.
    pub const ANY_TIME: Rules = Rules {
        max_age: TimeDelta::MAX,
        max_future: TimeDelta::MAX,
    };

    pub fn new(max_age: std::time::Duration, max_future: std::time::Duration) -> Self {
        let delta = |d| TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX);
        Self {
            max_age: delta(max_age),
            max_future: delta(max_future),
        }
    }

    /// The times accepted for a message received at `received_at`.
    pub fn window(&self, received_at: DateTime<Utc>) -> Window {
        let earliest = received_at
            .checked_sub_signed(self.max_age)
            .map_or(EARLIEST, |t| t.max(EARLIEST));
        let latest = received_at
            .checked_add_signed(self.max_future)
            .map_or(LATEST, |t| t.min(LATEST));
        Window { earliest, latest }
    }
}

impl Default for Rules {
    fn default() -> Self {
        Self::new(
            std::time::Duration::from_secs(Self::DEFAULT_MAX_AGE_SECONDS),
            std::time::Duration::from_secs(Self::DEFAULT_MAX_FUTURE_SECONDS),
        )
    }
}

/// Epoch numbers cannot say earlier; no streaming event is.
const EARLIEST: DateTime<Utc> = DateTime::UNIX_EPOCH;
/// The last instant with a four-digit year (ISO 8601 without extension,
/// PostgreSQL, JavaScript's `Date`).
const LATEST: DateTime<Utc> = match DateTime::from_timestamp(253_402_300_799, 999_999_999) {
    Some(t) => t,
    None => DateTime::UNIX_EPOCH,
};

/// The times one message's timestamps must lie within, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    earliest: DateTime<Utc>,
    latest: DateTime<Utc>,
}

impl Window {
    pub fn check(
        &self,
        field: &'static str,
        t: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, DecodeError> {
        if t < self.earliest {
            Err(DecodeError::invalid(field, Reason::TooOld))
        } else if t > self.latest {
            Err(DecodeError::invalid(field, Reason::InFuture))
        } else {
            Ok(t)
        }
    }
}

/// The most of anything counted (symbols, patterns, errors, threads, a
/// session's seconds): PostgreSQL's `INTEGER`, which records them.
pub const MAX_COUNT: i64 = i32::MAX as i64;
/// Prices: what `DECIMAL(12,2)` holds.
pub const MAX_PRICE: f64 = 9_999_999_999.99;
/// Ticks per second: what `DECIMAL(10,2)` holds.
pub const MAX_TICKS_PER_SECOND: f64 = 99_999_999.99;
/// CPU percent: 0 to 100 of the machine in seed 004, up to 100 per core for a
/// process on several cores (a thousand cores at most). The history's
/// `DECIMAL(5,2)` column records NULL beyond 999.99; the live view keeps it.
pub const MAX_CPU_PERCENT: f64 = 100_000.0;
/// Bars per minute, lag in milliseconds (24 days), memory in MB:
/// PostgreSQL's `INTEGER`.
pub const MAX_MEASURE: f64 = i32::MAX as f64;
/// Uptime: ten years.
pub const MAX_UPTIME_SECONDS: f64 = 10.0 * 365.25 * 86_400.0;
/// Characters in a ticker.
pub const MAX_TICKER_CHARS: usize = 15;

/// A count: 0 to [`MAX_COUNT`].
pub fn count(field: &'static str, n: i64) -> Result<i64, DecodeError> {
    match n {
        n if n < 0 => Err(DecodeError::invalid(field, Reason::Negative)),
        n if n > MAX_COUNT => Err(DecodeError::invalid(field, Reason::OutOfRange)),
        n => Ok(n),
    }
}

/// A traded volume: any non-negative integer (`BIGINT`).
pub fn volume(field: &'static str, n: i64) -> Result<i64, DecodeError> {
    if n < 0 {
        Err(DecodeError::invalid(field, Reason::Negative))
    } else {
        Ok(n)
    }
}

/// A measured quantity (a price, a rate, a lag, a share): 0 to `max`; `-0`
/// is 0.
pub fn amount(field: &'static str, x: f64, max: f64) -> Result<f64, DecodeError> {
    if x.is_nan() {
        Err(DecodeError::invalid(field, Reason::NotFinite))
    } else if x < 0.0 {
        Err(DecodeError::invalid(field, Reason::Negative))
    } else if x > max {
        Err(DecodeError::invalid(field, Reason::OutOfRange))
    } else {
        Ok(x + 0.0)
    }
}

/// `amount` of an optional value.
pub fn opt_amount(
    field: &'static str,
    x: Option<f64>,
    max: f64,
) -> Result<Option<f64>, DecodeError> {
    x.map(|x| amount(field, x, max)).transpose()
}

/// `count` of an optional value.
pub fn opt_count(field: &'static str, n: Option<i64>) -> Result<Option<i64>, DecodeError> {
    n.map(|n| count(field, n)).transpose()
}

/// A pattern's confidence, 0.0 to 1.0; a percentage (above 1, up to 100) is
/// scaled down.
pub fn confidence(field: &'static str, c: f64) -> Result<f64, DecodeError> {
    match c {
        c if (0.0..=1.0).contains(&c) => Ok(c + 0.0),
        c if c > 1.0 && c <= 100.0 => Ok(c / 100.0),
        _ => Err(DecodeError::invalid(field, Reason::NotFraction)),
    }
}

/// One bar's prices, each named by its path: every one a price, `high` not
/// below `low`, `open` and `close` within them (where sent).
pub fn bar(
    open: Option<f64>,
    high: Option<f64>,
    low: Option<f64>,
    close: Option<f64>,
) -> Result<[Option<f64>; 4], DecodeError> {
    let open = opt_amount("bar_data.open", open, MAX_PRICE)?;
    let high = opt_amount("bar_data.high", high, MAX_PRICE)?;
    let low = opt_amount("bar_data.low", low, MAX_PRICE)?;
    let close = opt_amount("bar_data.close", close, MAX_PRICE)?;
    if let (Some(high), Some(low)) = (high, low)
        && high < low
    {
        return Err(DecodeError::invalid("bar_data.high", Reason::HighBelowLow));
    }
    for (field, price) in [("bar_data.open", open), ("bar_data.close", close)] {
        let below = low.zip(price).is_some_and(|(low, p)| p < low);
        let above = high.zip(price).is_some_and(|(high, p)| p > high);
        if below || above {
            return Err(DecodeError::invalid(field, Reason::OutsideHighLow));
        }
    }
    Ok([open, high, low, close])
}

/// An identifier or a word of a vocabulary: refused with a control character.
pub fn identifier(field: &'static str, s: String) -> Result<String, DecodeError> {
    if s.chars().any(char::is_control) {
        Err(DecodeError::invalid(field, Reason::ControlCharacter))
    } else {
        Ok(s)
    }
}

/// `identifier` of an optional value.
pub fn opt_identifier(
    field: &'static str,
    s: Option<String>,
) -> Result<Option<String>, DecodeError> {
    s.map(|s| identifier(field, s)).transpose()
}

/// A ticker, upper-cased: 1 to [`MAX_TICKER_CHARS`] of `A-Z 0-9 . - / ^`
/// with at least one letter or digit (`BRK.B`, `BF-B`, `^GSPC`, `SIM0001`).
pub fn ticker(field: &'static str, s: String) -> Result<String, DecodeError> {
    let symbol = s.to_ascii_uppercase();
    let fits = (1..=MAX_TICKER_CHARS).contains(&symbol.len())
        && symbol
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b".-/^".contains(&b))
        && symbol.bytes().any(|b| b.is_ascii_alphanumeric());
    if fits {
        Ok(symbol)
    } else {
        Err(DecodeError::invalid(field, Reason::NotTicker))
    }
}

fn is_stripped(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// Free text without its control characters (tab and newline stay).
pub fn free_text(s: String) -> String {
    if s.chars().any(is_stripped) {
        s.chars().filter(|c| !is_stripped(*c)).collect()
    } else {
        s
    }
}

/// Passed-through JSON with free-text strings and keys, at every depth.
pub fn passthrough(obj: Object) -> Object {
    let mut obj = if obj.keys().any(|k| k.chars().any(is_stripped)) {
        obj.into_iter().map(|(k, v)| (free_text(k), v)).collect()
    } else {
        obj
    };
    obj.values_mut().for_each(clean);
    obj
}

/// One passed-through JSON value, cleaned as [`passthrough`] does.
pub fn clean(value: &mut Value) {
    match value {
        Value::String(s) => {
            if s.chars().any(is_stripped) {
                *s = free_text(std::mem::take(s));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(clean),
        Value::Object(obj) => *obj = passthrough(std::mem::take(obj)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn tickers_are_what_exchanges_list() {
        for good in ["AAPL", "brk.b", "BF-B", "^GSPC", "SIM0001", "EUR/USD", "A"] {
            assert!(ticker("symbol", good.into()).is_ok(), "{good}");
        }
        for bad in [
            "",
            "AAPL\0",
            "A B",
            "ÄPFEL",
            "...",
            "TOOLONGFORATICKER",
            "<b>",
            "A_B",
        ] {
            assert_eq!(
                ticker("symbol", bad.into()).unwrap_err(),
                DecodeError::invalid("symbol", Reason::NotTicker),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn free_text_loses_control_characters_identifiers_are_refused() {
        assert_eq!(free_text("a\0b\u{7}c\nd\te\u{9b}".into()), "abc\nd\te");
        assert_eq!(
            identifier("component", "feed\0".into())
                .unwrap_err()
                .to_string(),
            "field `component` contains a control character"
        );
        let mut value = serde_json::json!({"k\u{0}ey": ["x\u{0}", {"y": "\u{1b}[31mred"}], "n": 1});
        clean(&mut value);
        assert_eq!(
            value,
            serde_json::json!({"key": ["x", {"y": "[31mred"}], "n": 1})
        );
    }

    #[test]
    fn the_window_is_relative_to_arrival_and_bounded_absolutely() {
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let window = Rules::default().window(now);
        assert!(window.check("t", now - TimeDelta::days(7)).is_ok());
        assert!(window.check("t", now + TimeDelta::hours(1)).is_ok());
        let old = window.check("t", now - TimeDelta::days(8)).unwrap_err();
        assert_eq!(old.reason(), Reason::TooOld);
        let ahead = window.check("t", now + TimeDelta::minutes(61)).unwrap_err();
        assert_eq!(ahead.reason(), Reason::InFuture);
        let any = Rules::ANY_TIME.window(now);
        assert!(any.check("t", EARLIEST).is_ok() && any.check("t", LATEST).is_ok());
        let year_10000 = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            any.check("t", year_10000).unwrap_err().reason(),
            Reason::InFuture
        );
        let before_1970 = Utc.with_ymd_and_hms(1969, 12, 31, 0, 0, 0).unwrap();
        assert_eq!(
            any.check("t", before_1970).unwrap_err().reason(),
            Reason::TooOld
        );
    }

    #[test]
    fn bars_must_be_consistent() {
        assert!(bar(Some(1.0), Some(2.0), Some(0.5), Some(1.5)).is_ok());
        assert!(bar(None, Some(2.0), None, None).is_ok());
        let cases = [
            (
                bar(Some(1.0), Some(0.5), Some(2.0), None),
                "bar_data.high",
                Reason::HighBelowLow,
            ),
            (
                bar(Some(3.0), Some(2.0), Some(1.0), None),
                "bar_data.open",
                Reason::OutsideHighLow,
            ),
            (
                bar(None, Some(2.0), Some(1.0), Some(0.5)),
                "bar_data.close",
                Reason::OutsideHighLow,
            ),
            (
                bar(Some(-1.0), None, None, None),
                "bar_data.open",
                Reason::Negative,
            ),
            (
                bar(None, None, Some(1e11), None),
                "bar_data.low",
                Reason::OutOfRange,
            ),
        ];
        for (result, field, reason) in cases {
            assert_eq!(result.unwrap_err(), DecodeError::invalid(field, reason));
        }
        assert_eq!(amount("x", -0.0, 1.0).map(f64::is_sign_positive), Ok(true));
    }

    #[test]
    fn labels_are_unique_and_indexes_dense() {
        let labels: std::collections::HashSet<_> = Reason::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), Reason::ALL.len());
        for (i, reason) in Reason::ALL.into_iter().enumerate() {
            assert_eq!(reason.index(), i);
        }
    }
}
