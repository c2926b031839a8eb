//! The market routes: the NYSE calendar at any instant, and the market book
//! (the symbols as the snapshot carries them, a symbol's 1-minute candles).

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use chrono::{DateTime, Datelike, Utc};
use serde::Deserialize;

use crate::dashboard::Hub;
use crate::feed::tick::check_symbol;
use crate::market::{CandlesView, MarketTime, SymbolView, market_at};
use crate::web::ApiError;

/// Longest `at` echoed in an error.
const SHOWN_CHARS: usize = 40;
/// The years `at` may name.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=9999;

/// `?at=`, extracted through `Query`, a malformed query answered as a JSON 400.
#[derive(Debug, Deserialize, FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub struct AtParams {
    at: Option<String>,
}

/// The `{symbol}` of the path, its rejection answered as JSON too.
#[derive(Debug, Deserialize, FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub struct SymbolPath {
    symbol: String,
}

/// `GET /market?at=<ISO 8601>`: the market at `at` (now when absent or empty).
pub async fn calendar(AtParams { at }: AtParams) -> Result<Json<MarketTime>, ApiError> {
    let at = match at.as_deref().map(str::trim) {
        None | Some("") => Utc::now(),
        Some(text) => text
            .parse::<DateTime<Utc>>()
            .ok()
            // Far from chrono's limits, where local time would not exist.
            .filter(|at| YEARS.contains(&at.year()))
            .ok_or_else(|| {
                let shown: String = text.chars().take(SHOWN_CHARS).collect();
                ApiError::BadRequest(format!(
                    "at must be an ISO 8601 time with its zone, in the years {}-{} (e.g. 2026-12-24T15:00:00Z), got {shown:?}",
                    YEARS.start(),
                    YEARS.end()
                ))
            })?,
    };
    Ok(Json(market_at(at)))
}

/// `GET /market/symbols`: every symbol of the session, with its sparkline.
pub async fn symbols(State(hub): State<Arc<Hub>>) -> Json<Vec<SymbolView>> {
    Json(hub.market().symbols(Utc::now()).symbols)
}

/// `GET /market/candles/{symbol}`: the session's 1-minute candles.
pub async fn candles(
    State(hub): State<Arc<Hub>>,
    SymbolPath { symbol }: SymbolPath,
) -> Result<Json<CandlesView>, ApiError> {
    let symbol = symbol.to_ascii_uppercase();
    if check_symbol(&symbol).is_err() {
        let shown: String = symbol.chars().take(SHOWN_CHARS).collect();
        return Err(ApiError::BadRequest(format!(
            "symbol must be a ticker: up to 32 letters, digits, '.', '-', ':' or '/', got {shown:?}"
        )));
    }
    hub.market()
        .candles(&symbol)
        .map(Json)
        .ok_or(ApiError::NotFound)
}
