//! The normalised tick, and its wire shape on `tickstock:market:ticks`
//! (CONTRACT §3): `{"type":"market_tick","symbol":"AAPL","price":227.41,
//! "volume":300,"timestamp":1759850000.123,"source":"massive"}` plus the
//! extra fields an aggregate or a quote carries.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// Prices above this are not stock prices (the dearest share trades below a million).
const MAX_PRICE: f64 = 1e9;
/// Sizes above this are not trade or bar sizes; below it `f64` holds every integer.
const MAX_SIZE: f64 = 1e12;
/// The oldest tick a live feed (or a replay, at its recorded time) plausibly
/// sends: a delayed feed lags by minutes, never by a day.
const PAST_WINDOW: TimeDelta = TimeDelta::hours(24);
/// Clocks disagree a little; a bar's end may be just ahead of ours.
const FUTURE_WINDOW: TimeDelta = TimeDelta::minutes(10);
const MAX_SYMBOL_LEN: usize = 32;

/// Which kind of feed a tick came from (`source` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    Massive,
    Synthetic,
    Replay,
}

/// Why a feed's element was refused instead of becoming a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// Not JSON, a field missing or of the wrong type, a number out of range.
    Malformed,
    /// A price that is not finite and positive, or absurdly large.
    Price,
    /// A size that is negative, not finite, or absurdly large.
    Size,
    /// A time outside the plausible window around now.
    Timestamp,
    /// Not a ticker (empty, too long, control characters, other characters).
    Symbol,
    /// An aggregate whose high is below its low.
    Range,
}

impl Refusal {
    pub const ALL: [Refusal; 6] = [
        Refusal::Malformed,
        Refusal::Price,
        Refusal::Size,
        Refusal::Timestamp,
        Refusal::Symbol,
        Refusal::Range,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Refusal::Malformed => "malformed",
            Refusal::Price => "price",
            Refusal::Size => "size",
            Refusal::Timestamp => "timestamp",
            Refusal::Symbol => "symbol",
            Refusal::Range => "range",
        }
    }
}

/// A ticker as feeds spell them: `AAPL`, `BRK.B`, `X:BTCUSD`, `O:SPY251219C00650000`.
pub fn check_symbol(symbol: &str) -> Result<(), Refusal> {
    let mut chars = symbol.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let rest_well = chars.all(|c| {
        c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | ':' | '/')
    });
    if starts_well && rest_well && symbol.len() <= MAX_SYMBOL_LEN {
        Ok(())
    } else {
        Err(Refusal::Symbol)
    }
}

pub fn check_price(price: f64) -> Result<f64, Refusal> {
    if price.is_finite() && price > 0.0 && price <= MAX_PRICE {
        Ok(price)
    } else {
        Err(Refusal::Price)
    }
}

/// A size, rounded to whole shares; none given is 0.
pub fn check_size(size: Option<f64>) -> Result<u64, Refusal> {
    match size {
        None => Ok(0),
        Some(size) if size.is_finite() && (0.0..=MAX_SIZE).contains(&size) => {
            // In range: the cast is exact.
            Ok(size.round() as u64)
        }
        Some(_) => Err(Refusal::Size),
    }
}

/// Epoch milliseconds to epoch seconds, if within the window around `now`.
pub fn check_time_ms(ms: f64, now: DateTime<Utc>) -> Result<f64, Refusal> {
    let earliest = (now - PAST_WINDOW).timestamp_millis() as f64;
    let latest = (now + FUTURE_WINDOW).timestamp_millis() as f64;
    if ms.is_finite() && (earliest..=latest).contains(&ms) {
        Ok(ms / 1000.0)
    } else {
        Err(Refusal::Timestamp)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tick {
    /// Always `market_tick`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub symbol: String,
    pub price: f64,
    pub volume: u64,
    /// Epoch seconds, with the milliseconds as the fraction.
    pub timestamp: f64,
    pub source: DataSource,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Aggregate>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub quote: Option<Quote>,
}

/// What an `A` / `AM` aggregate adds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Aggregate {
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vwap: Option<f64>,
}

/// What a `Q` quote adds; its `price` is the midpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    pub bid: f64,
    pub ask: f64,
    pub bid_size: u64,
    pub ask_size: u64,
}

impl Tick {
    pub fn new(
        symbol: String,
        price: f64,
        volume: u64,
        timestamp: f64,
        source: DataSource,
    ) -> Self {
        Self {
            kind: "market_tick",
            symbol,
            price,
            volume,
            timestamp,
            source,
            aggregate: None,
            quote: None,
        }
    }

    pub fn to_json(&self) -> bytes::Bytes {
        serde_json::to_vec(self).unwrap_or_default().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickers_are_upper_case_letters_digits_and_few_separators() {
        for good in [
            "AAPL",
            "BRK.B",
            "X:BTCUSD",
            "O:SPY251219C00650000",
            "BF-B",
            "A",
            "C/WS",
        ] {
            assert_eq!(check_symbol(good), Ok(()), "{good}");
        }
        let long = "A".repeat(MAX_SYMBOL_LEN + 1);
        for bad in [
            "",
            "aapl",
            "AA PL",
            "AAPL\0",
            "AA\u{1b}PL",
            "\tAAPL",
            ".A",
            "<script>",
            "ÄPFEL",
            "A;DROP",
            &long,
        ] {
            assert_eq!(check_symbol(bad), Err(Refusal::Symbol), "{bad:?}");
        }
    }

    #[test]
    fn prices_sizes_and_times_outside_their_ranges_are_refused() {
        for bad in [
            0.0,
            -0.01,
            -1e300,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e10,
        ] {
            assert_eq!(check_price(bad), Err(Refusal::Price), "{bad}");
        }
        assert_eq!(check_price(0.0001), Ok(0.0001));
        for bad in [-1.0, -1e-9, f64::NAN, f64::INFINITY, 1e13, 1.8e19] {
            assert_eq!(check_size(Some(bad)), Err(Refusal::Size), "{bad}");
        }
        assert_eq!(check_size(None), Ok(0));
        assert_eq!(check_size(Some(299.6)), Ok(300));
        let now = Utc::now();
        let ms = now.timestamp_millis() as f64;
        assert_eq!(check_time_ms(ms, now), Ok(ms / 1000.0));
        let day = 86_400_000.0;
        for bad in [ms - 2.0 * day, ms + day, -6.2e13, 3.1e15, f64::NAN, 0.0] {
            assert_eq!(check_time_ms(bad, now), Err(Refusal::Timestamp), "{bad}");
        }
    }

    #[test]
    fn serialises_in_the_exact_shape_tickstockpl_consumes() {
        let tick = Tick::new(
            "AAPL".into(),
            227.41,
            300,
            1759850000.123,
            DataSource::Massive,
        );
        assert_eq!(
            String::from_utf8(tick.to_json().to_vec()).unwrap(),
            r#"{"type":"market_tick","symbol":"AAPL","price":227.41,"volume":300,"timestamp":1759850000.123,"source":"massive"}"#
        );
    }
}
