//! The history API (CONTRACT §5), served from the history store (PostgreSQL,
//! or memory in the embedded default) with the same JSON either way, and the
//! history page that reads it.
//!
//! Parameters are checked here; an invalid one gets `400 {"error": reason}`.
//! While the database is down every route answers 503 at once (`DatabaseUp`).
//! A `limit` above its maximum is lowered to it; an empty parameter counts
//! as absent; unknown parameters are ignored.
//!
//! Every route pages newest first: its answer carries `next_cursor` (null on
//! the last page), and `before=<next_cursor>` asks for the page after it
//! (see `store::history::Cursor`). `format=csv` answers the same page as CSV:
//! a header row, then one row per record (JSON values as JSON text); the
//! next page's cursor is in the `x-next-cursor` header. A text cell that
//! starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading
//! `'`, so that a spreadsheet never runs it as a formula.

use askama::Template;
use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tower_sessions::Session;

use crate::store::Store;
use crate::store::history::{
    AlertQuery, AlertRow, Cursor, HealthQuery, HealthRow, HistoryRow, IndicatorQuery, IndicatorRow,
    Page, PageQuery, PatternQuery, PatternRow, SessionRow,
};
use crate::web::ApiError;
use crate::web::auth::{CurrentUser, csrf};
use crate::web::error::DatabaseUp;
use crate::web::template::render;

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
/// Longest accepted `indicator` / `alert_type` / `pattern_type` / `status`
/// (their columns' width).
const MAX_NAME_CHARS: usize = 50;
/// Longest ticker (the `symbol` columns' width).
const MAX_TICKER_CHARS: usize = 10;

/// The header that carries a CSV page's `next_cursor`.
const NEXT_CURSOR_HEADER: HeaderName = HeaderName::from_static("x-next-cursor");

/// The query string of every history route, each reading what applies to
/// it; extracted through `Query`, a malformed one answered as a JSON 400.
#[derive(Debug, Deserialize, FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub struct Params {
    limit: Option<String>,
    hours: Option<String>,
    indicator: Option<String>,
    alert_type: Option<String>,
    pattern_type: Option<String>,
    status: Option<String>,
    symbol: Option<String>,
    before: Option<String>,
    format: Option<String>,
}

/// The `{symbol}` of the path, its rejection answered as JSON too.
#[derive(Debug, Deserialize, FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub struct SymbolPath {
    symbol: String,
}

/// How a page is answered.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Json,
    Csv,
}

impl Params {
    /// The paging part: `hours`, `before` (a cursor of rows `R`), `limit`.
    fn page<R: HistoryRow>(&self, rule: Limit) -> Result<(Option<f64>, PageQuery), ApiError> {
        let hours = hours(self.hours.as_deref())?;
        let page = PageQuery {
            since: since(hours, Utc::now()),
            before: before::<R>(self.before.as_deref())?,
            limit: limit(self.limit.as_deref(), rule)?,
        };
        Ok((hours, page))
    }

    fn format(&self) -> Result<Format, ApiError> {
        match given(self.format.as_deref()) {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(other) => Err(ApiError::BadRequest(format!(
                "format must be json or csv, got {}",
                shown(other)
            ))),
        }
    }
}

/// `GET /patterns/{symbol}?hours=&pattern_type=&limit=&before=&format=`
pub async fn patterns(
    State(store): State<Store>,
    _: DatabaseUp,
    SymbolPath { symbol }: SymbolPath,
    params: Params,
) -> Result<Response, ApiError> {
    patterns_of(&store, Some(ticker(&symbol)?), &params).await
}

/// `GET /patterns?symbol=&hours=&pattern_type=&limit=&before=&format=`:
/// every symbol's patterns, or one's.
pub async fn all_patterns(
    State(store): State<Store>,
    _: DatabaseUp,
    params: Params,
) -> Result<Response, ApiError> {
    let symbol = given(params.symbol.as_deref()).map(ticker).transpose()?;
    patterns_of(&store, symbol, &params).await
}

async fn patterns_of(
    store: &Store,
    symbol: Option<String>,
    params: &Params,
) -> Result<Response, ApiError> {
    let format = params.format()?;
    let (hours, page) = params.page::<PatternRow>(PATTERNS_LIMIT)?;
    let query = PatternQuery {
        symbol,
        pattern_type: label("pattern_type", params.pattern_type.as_deref())?,
        page,
    };
    let rows = store.history().patterns(&query).await?;
    let fields = json!({
        "symbol": query.symbol,
        "pattern_type": query.pattern_type,
        "hours": hours,
        "limit": query.page.limit,
    });
    answer(format, "patterns", fields, rows)
}

/// `GET /indicators/{symbol}?indicator=&hours=&limit=&before=&format=`
pub async fn indicators(
    State(store): State<Store>,
    _: DatabaseUp,
    SymbolPath { symbol }: SymbolPath,
    params: Params,
) -> Result<Response, ApiError> {
    let format = params.format()?;
    let (_, page) = params.page::<IndicatorRow>(INDICATORS_LIMIT)?;
    let query = IndicatorQuery {
        symbol: ticker(&symbol)?,
        indicator: name("indicator", params.indicator.as_deref())?,
        page,
    };
    let rows = store.history().indicators(&query).await?;
    let fields = json!({
        "symbol": query.symbol,
        "indicator": query.indicator,
        "limit": query.page.limit,
    });
    answer(format, "indicators", fields, rows)
}

/// `GET /alerts?hours=&alert_type=&symbol=&limit=&before=&format=`:
/// indicator and critical alerts.
pub async fn alerts(
    State(store): State<Store>,
    _: DatabaseUp,
    params: Params,
) -> Result<Response, ApiError> {
    let format = params.format()?;
    let (hours, page) = params.page::<AlertRow>(ALERTS_LIMIT)?;
    let query = AlertQuery {
        symbol: given(params.symbol.as_deref()).map(ticker).transpose()?,
        alert_type: name("alert_type", params.alert_type.as_deref())?,
        page,
    };
    let rows = store.history().alerts(&query).await?;
    let fields = json!({
        "hours": hours,
        "alert_type": query.alert_type,
        "limit": query.page.limit,
    });
    answer(format, "alerts", fields, rows)
}

/// `GET /sessions?hours=&limit=&before=&format=`: sessions, the latest
/// started first.
pub async fn sessions(
    State(store): State<Store>,
    _: DatabaseUp,
    params: Params,
) -> Result<Response, ApiError> {
    let format = params.format()?;
    let (_, page) = params.page::<SessionRow>(SESSIONS_LIMIT)?;
    let rows = store.history().session_page(&page).await?;
    answer(format, "sessions", json!({ "limit": page.limit }), rows)
}

/// `GET /health/history?status=&hours=&limit=&before=&format=`: health
/// snapshots, newest first.
pub async fn health_history(
    State(store): State<Store>,
    _: DatabaseUp,
    params: Params,
) -> Result<Response, ApiError> {
    let format = params.format()?;
    let (_, page) = params.page::<HealthRow>(HEALTH_LIMIT)?;
    let query = HealthQuery {
        status: label("status", params.status.as_deref())?,
        page,
    };
    let rows = store.history().health(&query).await?;
    answer(format, "health", json!({ "limit": query.page.limit }), rows)
}

/// The page as JSON (`fields`, then `count`, the rows under `name`, and
/// `next_cursor`) or as CSV.
fn answer<R: HistoryRow>(
    format: Format,
    name: &str,
    fields: Value,
    page: Page<R>,
) -> Result<Response, ApiError> {
    let next_cursor = page.next.as_ref().map(Cursor::encode);
    if format == Format::Csv {
        let mut response = (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"tickstock-{name}.csv\""),
                ),
            ],
            csv(&page.rows)?,
        )
            .into_response();
        if let Some(cursor) = next_cursor.and_then(|c| HeaderValue::from_str(&c).ok()) {
            response.headers_mut().insert(NEXT_CURSOR_HEADER, cursor);
        }
        return Ok(response);
    }
    let mut body = match fields {
        Value::Object(fields) => fields,
        _ => Map::new(),
    };
    body.insert("count".into(), page.rows.len().into());
    body.insert(name.into(), serialized(&page.rows)?);
    body.insert("next_cursor".into(), next_cursor.into());
    Ok(Json(Value::Object(body)).into_response())
}

fn serialized(value: &impl serde::Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|error| ApiError::Internal(error.to_string()))
}

/// `rows` as CSV: a header row of `R::COLUMNS`, then a row per record.
fn csv<R: HistoryRow>(rows: &[R]) -> Result<String, ApiError> {
    let failed = |error: csv::Error| ApiError::Internal(error.to_string());
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(R::COLUMNS).map_err(failed)?;
    for row in rows {
        let row = serialized(row)?;
        writer
            .write_record(R::COLUMNS.iter().map(|column| cell(&row[*column])))
            .map_err(failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    String::from_utf8(bytes).map_err(|error| ApiError::Internal(error.to_string()))
}

/// A value as a CSV cell: empty for null, JSON text for objects and arrays,
/// text guarded against formula injection.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(text) => unformula(text),
        other => unformula(&other.to_string()),
    }
}

fn unformula(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

#[derive(Template)]
#[template(path = "history.html")]
pub struct HistoryPage {
    pub username: String,
    pub is_admin: bool,
    pub csrf: String,
}

/// `GET /history`: the page; `static/history.js` reads the API above (and
/// presets its filters from `?kind=&symbol=&type=&hours=`).
pub async fn page(CurrentUser(user): CurrentUser, session: Session) -> Response {
    let page = HistoryPage {
        username: user.username,
        is_admin: user.role.is_admin(),
        csrf: csrf::token(&session).await,
    };
    render(StatusCode::OK, &page)
}

/// The cursor `before` names, of rows `R`.
fn before<R: HistoryRow>(raw: Option<&str>) -> Result<Option<Cursor>, ApiError> {
    let Some(raw) = given(raw) else {
        return Ok(None);
    };
    match Cursor::decode(raw, R::KEY_LEN) {
        Some(cursor) => Ok(Some(cursor)),
        None => Err(ApiError::BadRequest(format!(
            "before must be the next_cursor of a page of this route, got {}",
            shown(raw)
        ))),
    }
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

/// A pattern type or status to filter on: printable text, spaces allowed.
fn label(parameter: &str, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(raw) = given(raw) else {
        return Ok(None);
    };
    let valid = raw.chars().count() <= MAX_NAME_CHARS && !raw.chars().any(char::is_control);
    if valid {
        Ok(Some(raw.to_owned()))
    } else {
        Err(ApiError::BadRequest(format!(
            "{parameter} must be 1 to {MAX_NAME_CHARS} printable characters, got {}",
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
    fn cursors_must_be_of_the_route_and_formats_json_or_csv() {
        let cursor = Cursor::new(
            Utc::now(),
            vec!["NVDA".into(), "Doji".into(), "1min".into()],
        );
        let text = cursor.encode();
        let decoded = before::<PatternRow>(Some(&text)).unwrap().unwrap();
        assert_eq!(decoded.key, cursor.key);
        assert_eq!(before::<PatternRow>(Some("")).unwrap(), None);
        assert!(reason(before::<AlertRow>(Some(&text))).starts_with("before must"));
        assert!(reason(before::<PatternRow>(Some("not-a-cursor"))).starts_with("before must"));
        let params = |format: &str| Params {
            format: Some(format.into()),
            ..serde_json::from_value(json!({})).unwrap()
        };
        assert_eq!(params("csv").format().unwrap(), Format::Csv);
        assert_eq!(params("").format().unwrap(), Format::Json);
        assert!(reason(params("xml").format()).starts_with("format must"));
    }

    #[test]
    fn csv_quotes_cells_and_defuses_formulas() {
        assert_eq!(cell(&json!("=HYPERLINK(\"x\")")), "'=HYPERLINK(\"x\")");
        for text in ["+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell(&json!(text)).starts_with('\''), "{text:?}");
        }
        assert_eq!(cell(&json!(-1.5)), "-1.5", "numbers are not formulas");
        assert_eq!(cell(&json!(null)), "");
        assert_eq!(cell(&json!({"a": [1, "b"]})), r#"{"a":[1,"b"]}"#);
        assert_eq!(cell(&json!("plain, \"quoted\"")), "plain, \"quoted\"");
    }

    #[test]
    fn a_long_bad_value_is_shortened_in_the_reason() {
        let long = "Z".repeat(300);
        let reason = reason(ticker(&long));
        assert!(reason.len() < 150, "{reason}");
        assert!(reason.ends_with('…'));
    }
}
