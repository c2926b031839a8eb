//! The history API (CONTRACT §5), served from the history store (PostgreSQL,
//! or memory in the embedded default) with the same JSON either way.
//!
//! Parameters are checked here; an invalid one gets `400 {"error": reason}`.
//! While the database is down every route answers 503 at once (`DatabaseUp`).
//! A `limit` above its maximum is lowered to it; an empty parameter counts
//! as absent; unknown parameters are ignored.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::store::Store;
use crate::store::history::{AlertQuery, IndicatorQuery, PatternQuery};
use crate::web::ApiError;
use crate::web::error::DatabaseUp;

/// A route's `limit`: its default and its maximum.
#[derive(Debug, Clone, Copy)]
struct Limit {
    default: usize,
    max: usize,
}

const PATTERNS_LIMIT: Limit = Limit {
    default: 100,
    max: 100,
};
const INDICATORS_LIMIT: Limit = Limit {
    default: 50,
    max: 50,
};
const ALERTS_LIMIT: Limit = Limit {
    default: 100,
    max: 100,
};
const HEALTH_LIMIT: Limit = Limit {
    default: 100,
    max: 1_000,
};
const SESSIONS_LIMIT: Limit = Limit {
    default: 100,
    max: 100,
};

/// `hours` reaches back at most a year.
const MAX_HOURS: f64 = 8_760.0;
/// Longest accepted `indicator` / `alert_type` (their columns' width).
const MAX_NAME_CHARS: usize = 50;
/// Longest ticker (the `symbol` columns' width).
const MAX_TICKER_CHARS: usize = 10;

/// The query string of every history route, each reading what applies to
/// it; extracted through `Query`, a malformed one answered as a JSON 400.
#[derive(Debug, Deserialize, FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub struct Params {
    limit: Option<String>,
    hours: Option<String>,
    indicator: Option<String>,
    alert_type: Option<String>,
}

/// The `{symbol}` of the path, its rejection answered as JSON too.
#[derive(Debug, Deserialize, FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub struct SymbolPath {
    symbol: String,
}

/// `GET /patterns/{symbol}?hours=&limit=`
pub async fn patterns(
    State(store): State<Store>,
    _: DatabaseUp,
    SymbolPath { symbol }: SymbolPath,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let hours = hours(params.hours.as_deref())?;
    let query = PatternQuery {
        symbol: ticker(&symbol)?,
        since: since(hours, Utc::now()),
        limit: limit(params.limit.as_deref(), PATTERNS_LIMIT)?,
    };
    let rows = store.history().patterns(&query).await?;
    Ok(Json(json!({
        "symbol": query.symbol,
        "hours": hours,
        "limit": query.limit,
        "count": rows.len(),
        "patterns": rows,
    })))
}

/// `GET /indicators/{symbol}?indicator=&limit=`
pub async fn indicators(
    State(store): State<Store>,
    _: DatabaseUp,
    SymbolPath { symbol }: SymbolPath,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let query = IndicatorQuery {
        symbol: ticker(&symbol)?,
        indicator: name("indicator", params.indicator.as_deref())?,
        limit: limit(params.limit.as_deref(), INDICATORS_LIMIT)?,
    };
    let rows = store.history().indicators(&query).await?;
    Ok(Json(json!({
        "symbol": query.symbol,
        "indicator": query.indicator,
        "limit": query.limit,
        "count": rows.len(),
        "indicators": rows,
    })))
}

/// `GET /alerts?hours=&alert_type=&limit=`: indicator and critical alerts.
pub async fn alerts(
    State(store): State<Store>,
    _: DatabaseUp,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let hours = hours(params.hours.as_deref())?;
    let query = AlertQuery {
        since: since(hours, Utc::now()),
        alert_type: name("alert_type", params.alert_type.as_deref())?,
        limit: limit(params.limit.as_deref(), ALERTS_LIMIT)?,
    };
    let rows = store.history().alerts(&query).await?;
    Ok(Json(json!({
        "hours": hours,
        "alert_type": query.alert_type,
        "limit": query.limit,
        "count": rows.len(),
        "alerts": rows,
    })))
}

/// `GET /sessions?limit=`: sessions, the latest started first.
pub async fn sessions(
    State(store): State<Store>,
    _: DatabaseUp,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let limit = limit(params.limit.as_deref(), SESSIONS_LIMIT)?;
    let rows = store.history().sessions(limit).await?;
    Ok(Json(json!({
        "limit": limit,
        "count": rows.len(),
        "sessions": rows,
    })))
}

/// `GET /health/history?limit=`: health snapshots, newest first.
pub async fn health_history(
    State(store): State<Store>,
    _: DatabaseUp,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let limit = limit(params.limit.as_deref(), HEALTH_LIMIT)?;
    let rows = store.history().health(limit).await?;
    Ok(Json(json!({
        "limit": limit,
        "count": rows.len(),
        "health": rows,
    })))
}

/// An empty parameter (`?limit=`) is taken as absent.
fn given(raw: Option<&str>) -> Option<&str> {
    raw.filter(|value| !value.is_empty())
}

/// The bad value, quoted and shortened, for a reason that names it.
fn shown(value: &str) -> String {
    let short: String = value.chars().take(20).collect();
    let ellipsis = if short.len() < value.len() { "…" } else { "" };
    format!("{short:?}{ellipsis}")
}

fn limit(raw: Option<&str>, rule: Limit) -> Result<usize, ApiError> {
    let Some(raw) = given(raw) else {
        return Ok(rule.default);
    };
    let all_digits = raw.bytes().all(|b| b.is_ascii_digit());
    match raw.parse::<u64>() {
        Ok(0) => Err(ApiError::BadRequest(format!(
            "limit must be at least 1, got {}",
            shown(raw)
        ))),
        Ok(n) => Ok(usize::try_from(n).unwrap_or(usize::MAX).min(rule.max)),
        // More digits than a u64 holds: still a (huge) positive limit.
        Err(_) if all_digits => Ok(rule.max),
        Err(_) => Err(ApiError::BadRequest(format!(
            "limit must be a whole number from 1 to {} (larger is lowered to {}), got {}",
            rule.max,
            rule.max,
            shown(raw)
        ))),
    }
}

fn hours(raw: Option<&str>) -> Result<Option<f64>, ApiError> {
    let Some(raw) = given(raw) else {
        return Ok(None);
    };
    match raw.parse::<f64>() {
        Ok(h) if h.is_finite() && h > 0.0 && h <= MAX_HOURS => Ok(Some(h)),
        _ => Err(ApiError::BadRequest(format!(
            "hours must be a number greater than 0 and at most {MAX_HOURS}, got {}",
            shown(raw)
        ))),
    }
}

/// The start of the window of the last `hours` before `now`.
fn since(hours: Option<f64>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    hours.map(|h| now - TimeDelta::milliseconds((h * 3_600_000.0).round() as i64))
}

/// A ticker, upper-cased as recorded.
fn ticker(symbol: &str) -> Result<String, ApiError> {
    let valid = (1..=MAX_TICKER_CHARS).contains(&symbol.len())
        && symbol
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b));
    if valid {
        Ok(symbol.to_ascii_uppercase())
    } else {
        Err(ApiError::BadRequest(format!(
            "symbol must be a ticker: 1 to {MAX_TICKER_CHARS} letters, digits, '.', '-' or '_', got {}",
            shown(symbol)
        )))
    }
}

/// An indicator or alert type name to filter on.
fn name(parameter: &str, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(raw) = given(raw) else {
        return Ok(None);
    };
    let valid = raw.len() <= MAX_NAME_CHARS && raw.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(Some(raw.to_owned()))
    } else {
        Err(ApiError::BadRequest(format!(
            "{parameter} must be 1 to {MAX_NAME_CHARS} printable ASCII characters without spaces, got {}",
            shown(raw)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<impl std::fmt::Debug, ApiError>) -> String {
        match result {
            Err(ApiError::BadRequest(reason)) => reason,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn limits_default_are_lowered_to_their_maximum_and_must_be_positive_numbers() {
        assert_eq!(limit(None, PATTERNS_LIMIT).unwrap(), 100);
        assert_eq!(limit(Some(""), INDICATORS_LIMIT).unwrap(), 50);
        assert_eq!(limit(Some("7"), PATTERNS_LIMIT).unwrap(), 7);
        assert_eq!(limit(Some("500"), INDICATORS_LIMIT).unwrap(), 50);
        assert_eq!(
            limit(Some("99999999999999999999999"), HEALTH_LIMIT).unwrap(),
            1000
        );
        assert!(reason(limit(Some("0"), PATTERNS_LIMIT)).contains("at least 1"));
        for bad in ["abc", "-1", "1.5", " 5"] {
            assert!(reason(limit(Some(bad), PATTERNS_LIMIT)).starts_with("limit must"));
        }
    }

    #[test]
    fn hours_must_be_a_positive_number_within_a_year() {
        assert_eq!(hours(Some("0.5")).unwrap(), Some(0.5));
        assert_eq!(hours(None).unwrap(), None);
        for bad in ["-1", "0", "abc", "NaN", "inf", "8761"] {
            assert!(reason(hours(Some(bad))).starts_with("hours must"), "{bad}");
        }
        let now = Utc::now();
        assert_eq!(since(Some(2.0), now), Some(now - TimeDelta::hours(2)));
    }

    #[test]
    fn symbols_must_be_tickers_and_are_upper_cased() {
        assert_eq!(ticker("brk.b").unwrap(), "BRK.B");
        for bad in ["", "NOT A TICKER", "TOOLONGSYMBOL", "AAPL;DROP", "ÄPPLE"] {
            assert!(reason(ticker(bad)).starts_with("symbol must"), "{bad}");
        }
    }

    #[test]
    fn filter_names_are_short_printable_words() {
        assert_eq!(
            name("indicator", Some("RSI")).unwrap().as_deref(),
            Some("RSI")
        );
        assert_eq!(name("indicator", Some("")).unwrap(), None);
        assert!(reason(name("alert_type", Some("a b"))).starts_with("alert_type must"));
        let long = "X".repeat(51);
        assert!(reason(name("indicator", Some(&long))).starts_with("indicator must"));
    }

    #[test]
    fn a_long_bad_value_is_shortened_in_the_reason() {
        let long = "Z".repeat(300);
        let reason = reason(ticker(&long));
        assert!(reason.len() < 150, "{reason}");
        assert!(reason.ends_with('…'));
    }
}
