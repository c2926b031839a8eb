//! The market book: per symbol of the streaming session, the last price,
//! the session's first, volume, the tick rate, a sparkline of 10-second
//! closes and 1-minute candles, built from the ticks of
//! `tickstock:market:ticks`.
//!
//! Ticks are decoded (typed, borrowing the symbol) before the book's lock is
//! taken, then a whole batch is applied under it; readers copy what they
//! show and serialise after it is released. Everything is bounded: symbols,
//! candles and sparkline points.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::bus::Link;
use crate::events::fields::serialize_timestamp;
use crate::feed::tick::{Refusal, check_price, check_size, check_symbol, check_time_ms};

/// Most symbols kept in a session; ticks of further ones are refused and counted.
pub const MAX_SYMBOLS: usize = 2_000;
/// 1-minute candles kept per symbol: more than a whole extended-hours day (960).
pub const MAX_CANDLES: usize = 1_000;
/// Sparkline points per symbol: six minutes of 10-second closes.
pub const MAX_SPARK_POINTS: usize = 36;
pub const CANDLE_SECONDS: i64 = 60;
const SPARK_SECONDS: i64 = 10;
/// The tick rate is counted per second over this window.
const RATE_SECONDS: usize = 60;
/// A tick is a couple of hundred bytes; anything much larger is not one.
const MAX_TICK_BYTES: usize = 4_096;

/// The wire tick, as much of it as the book needs (`feed::tick::Tick`).
#[derive(Deserialize)]
struct WireTick<'a> {
    #[serde(borrow)]
    symbol: Cow<'a, str>,
    price: f64,
    #[serde(default)]
    volume: Option<f64>,
    /// Epoch seconds, the milliseconds as the fraction.
    timestamp: f64,
}

/// A tick that passed every check.
struct Checked<'a> {
    symbol: Cow<'a, str>,
    price: f64,
    volume: u64,
    at: DateTime<Utc>,
}

fn decode(payload: &[u8], now: DateTime<Utc>) -> Result<Checked<'_>, Refusal> {
    if payload.len() > MAX_TICK_BYTES {
        return Err(Refusal::Malformed);
    }
    let tick: WireTick<'_> = serde_json::from_slice(payload).map_err(|_| Refusal::Malformed)?;
    check_symbol(&tick.symbol)?;
    let price = check_price(tick.price)?;
    let volume = check_size(tick.volume)?;
    // The feed's own window: the time is plausible, so the milliseconds fit.
    let seconds = check_time_ms(tick.timestamp * 1000.0, now)?;
    let at = DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64)
        .ok_or(Refusal::Timestamp)?;
    Ok(Checked {
        symbol: tick.symbol,
        price,
        volume,
        at,
    })
}

/// One 1-minute candle; `t` is the minute's start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Candle {
    #[serde(serialize_with = "serialize_timestamp")]
    pub t: DateTime<Utc>,
    pub o: f64,
    pub h: f64,
    pub l: f64,
    pub c: f64,
    pub v: u64,
}

impl Candle {
    fn new(t: DateTime<Utc>, price: f64, volume: u64) -> Self {
        Self {
            t,
            o: price,
            h: price,
            l: price,
            c: price,
            v: volume,
        }
    }

    fn add(&mut self, price: f64, volume: u64, in_order: bool) {
        self.h = self.h.max(price);
        self.l = self.l.min(price);
        if in_order {
            self.c = price;
        }
        self.v = self.v.saturating_add(volume);
    }
}

/// The start of the `seconds`-long interval holding `at`.
fn interval_start(at: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
    let start = at.timestamp().div_euclid(seconds) * seconds;
    DateTime::from_timestamp(start, 0).unwrap_or(at)
}

/// Ticks counted per second of arrival over the last `RATE_SECONDS`.
struct Rate {
    counts: [u32; RATE_SECONDS],
    /// The latest second counted.
    last: i64,
}

impl Rate {
    fn new() -> Self {
        Self {
            counts: [0; RATE_SECONDS],
            last: i64::MIN,
        }
    }

    fn slot(second: i64) -> usize {
        // rem_euclid of a positive modulus is in 0..RATE_SECONDS.
        second.rem_euclid(RATE_SECONDS as i64) as usize
    }

    fn count(&mut self, second: i64) {
        if second > self.last {
            let gap = second.saturating_sub(self.last).min(RATE_SECONDS as i64);
            for past in 0..gap {
                self.counts[Self::slot(second - past)] = 0;
            }
            self.last = second;
        } else if second <= self.last.saturating_sub(RATE_SECONDS as i64) {
            // Older than the window (a clock stepped back): not counted.
            return;
        }
        let slot = &mut self.counts[Self::slot(second)];
        *slot = slot.saturating_add(1);
    }

    /// Ticks in the 60 seconds up to `now`.
    fn per_minute(&self, now: i64) -> u64 {
        (0..RATE_SECONDS as i64)
            .map(|back| self.last.saturating_sub(back))
            .filter(|&second| second > now.saturating_sub(RATE_SECONDS as i64))
            .map(|second| u64::from(self.counts[Self::slot(second)]))
            .sum()
    }
}

struct Quote {
    symbol: Arc<str>,
    first: f64,
    price: f64,
    volume: u64,
    at: DateTime<Utc>,
    rate: Rate,
    /// (10-second interval start, last price in it).
    spark: VecDeque<(DateTime<Utc>, f64)>,
    candles: VecDeque<Candle>,
    changed: bool,
}

impl Quote {
    fn new(symbol: Arc<str>, price: f64, at: DateTime<Utc>) -> Self {
        Self {
            symbol,
            first: price,
            price,
            volume: 0,
            at,
            rate: Rate::new(),
            spark: VecDeque::with_capacity(MAX_SPARK_POINTS),
            candles: VecDeque::new(),
            changed: false,
        }
    }

    fn add(&mut self, tick: &Checked<'_>, received_second: i64) {
        self.price = tick.price;
        self.volume = self.volume.saturating_add(tick.volume);
        self.at = tick.at;
        self.rate.count(received_second);
        let minute = interval_start(tick.at, CANDLE_SECONDS);
        match self.candles.back_mut() {
            Some(last) if last.t == minute => last.add(tick.price, tick.volume, true),
            Some(last) if last.t > minute => {
                // Late: it still counts in its own minute, if that is kept.
                if let Some(candle) = self.candles.iter_mut().rev().find(|c| c.t == minute) {
                    candle.add(tick.price, tick.volume, false);
                }
            }
            _ => {
                if self.candles.len() == MAX_CANDLES {
                    self.candles.pop_front();
                }
                self.candles
                    .push_back(Candle::new(minute, tick.price, tick.volume));
            }
        }
        let ten_seconds = interval_start(tick.at, SPARK_SECONDS);
        match self.spark.back_mut() {
            Some((t, close)) if *t == ten_seconds => *close = tick.price,
            Some((t, _)) if *t > ten_seconds => {}
            _ => {
                if self.spark.len() == MAX_SPARK_POINTS {
                    self.spark.pop_front();
                }
                self.spark.push_back((ten_seconds, tick.price));
            }
        }
    }

    fn view(&self, now_second: i64, spark: bool) -> SymbolView {
        let change = self.price - self.first;
        SymbolView {
            symbol: self.symbol.clone(),
            price: self.price,
            first: self.first,
            change,
            // `first` passed `check_price`: it is positive.
            change_pct: change / self.first * 100.0,
            volume: self.volume,
            ticks_per_min: self.rate.per_minute(now_second),
            at: self.at,
            candle: self.candles.back().copied(),
            spark: spark.then(|| self.spark.iter().map(|&(_, close)| close).collect()),
        }
    }
}

/// A symbol as the page shows it: in `market` messages, the snapshot and
/// `/streaming/api/market/symbols` (those two with `spark`).
#[derive(Debug, Clone, Serialize)]
pub struct SymbolView {
    pub symbol: Arc<str>,
    pub price: f64,
    pub first: f64,
    pub change: f64,
    pub change_pct: f64,
    pub volume: u64,
    pub ticks_per_min: u64,
    #[serde(serialize_with = "serialize_timestamp")]
    pub at: DateTime<Utc>,
    /// The current minute's candle.
    pub candle: Option<Candle>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spark: Option<Vec<f64>>,
}

/// `data` of the `market` message, and the snapshot's `market`.
#[derive(Debug, Serialize)]
pub struct MarketView {
    /// The session the symbols belong to (null before any).
    pub session_id: Option<String>,
    pub symbols: Vec<SymbolView>,
}

/// The body of `/streaming/api/market/candles/{symbol}`.
#[derive(Debug, Serialize)]
pub struct CandlesView {
    pub symbol: Arc<str>,
    pub interval_seconds: i64,
    pub session_id: Option<String>,
    pub candles: Vec<Candle>,
}

#[derive(Default)]
struct Inner {
    session_id: Option<String>,
    index: HashMap<Arc<str>, usize>,
    quotes: Vec<Quote>,
    /// Indexes of the quotes changed since the last `take_changes`.
    changed: Vec<usize>,
}

impl Inner {
    fn reset(&mut self, session_id: &str) {
        *self = Inner {
            session_id: Some(session_id.to_owned()),
            ..Inner::default()
        };
    }

    fn apply(&mut self, tick: &Checked<'_>, received_second: i64) -> Result<(), Refusal> {
        let at = match self.index.get(tick.symbol.as_ref()) {
            Some(&at) => at,
            None if self.quotes.len() >= MAX_SYMBOLS => return Err(Refusal::Symbol),
            None => {
                let symbol: Arc<str> = tick.symbol.as_ref().into();
                self.index.insert(symbol.clone(), self.quotes.len());
                self.quotes.push(Quote::new(symbol, tick.price, tick.at));
                self.quotes.len() - 1
            }
        };
        let quote = &mut self.quotes[at];
        quote.add(tick, received_second);
        if !quote.changed {
            quote.changed = true;
            self.changed.push(at);
        }
        Ok(())
    }
}

/// The book's counters, read without its lock.
#[derive(Debug, Default)]
pub struct MarketStats {
    received: AtomicU64,
    applied: AtomicU64,
    /// Refused ticks per [`Refusal`] in its `ALL` order.
    refused: [AtomicU64; Refusal::ALL.len()],
    /// Ticks of symbols beyond `MAX_SYMBOLS` (also counted as `symbol`).
    over_symbol_limit: AtomicU64,
    symbols: AtomicU64,
    /// The subscription the ticks come on, once the book follows one.
    link: OnceLock<Arc<Link>>,
}

impl MarketStats {
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    pub fn refused(&self, reason: Refusal) -> u64 {
        let at = Refusal::ALL.iter().position(|&r| r == reason).unwrap_or(0);
        self.refused[at].load(Ordering::Relaxed)
    }

    fn refuse(&self, reason: Refusal) {
        if let Some(at) = Refusal::ALL.iter().position(|&r| r == reason) {
            self.refused[at].fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// `market_ticks` of the status: what the book made of the ticks.
impl Serialize for MarketStats {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Refused<'a>(&'a MarketStats);
        impl Serialize for Refused<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(Refusal::ALL.len()))?;
                for reason in Refusal::ALL {
                    map.serialize_entry(reason.name(), &self.0.refused(reason))?;
                }
                map.end()
            }
        }
        let link = self.link.get();
        let mut map = s.serialize_map(Some(7))?;
        map.serialize_entry("connected", &link.is_some_and(|l| l.connected()))?;
        // Ticks the bus delivered that the book fell too far behind to see.
        map.serialize_entry("dropped", &link.map_or(0, |l| l.dropped()))?;
        map.serialize_entry("received", &self.received())?;
        map.serialize_entry("applied", &self.applied())?;
        map.serialize_entry("refused", &Refused(self))?;
        map.serialize_entry(
            "over_symbol_limit",
            &self.over_symbol_limit.load(Ordering::Relaxed),
        )?;
        map.serialize_entry("symbols", &self.symbols.load(Ordering::Relaxed))?;
        map.end()
    }
}

#[derive(Default)]
pub struct MarketBook {
    inner: Mutex<Inner>,
    stats: MarketStats,
}

impl MarketBook {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> &MarketStats {
        &self.stats
    }

    /// Shows the state of the subscription the ticks come on in the stats.
    pub fn follow_link(&self, link: Arc<Link>) {
        let _ = self.stats.link.set(link);
    }

    /// Applies a batch of tick payloads received at `now`, under one lock.
    /// `session_id` is the streaming session now known: a different one
    /// than the book's empties the book first (its ticks start a new session).
    pub fn apply<'a>(
        &self,
        payloads: impl IntoIterator<Item = &'a [u8]>,
        now: DateTime<Utc>,
        session_id: Option<&str>,
    ) {
        let mut ticks = Vec::new();
        for payload in payloads {
            self.stats.received.fetch_add(1, Ordering::Relaxed);
            match decode(payload, now) {
                Ok(tick) => ticks.push(tick),
                Err(reason) => self.stats.refuse(reason),
            }
        }
        let second = now.timestamp();
        let mut inner = self.inner.lock();
        if let Some(id) = session_id
            && inner.session_id.as_deref() != Some(id)
        {
            inner.reset(id);
        }
        let mut applied = 0;
        for tick in &ticks {
            match inner.apply(tick, second) {
                Ok(()) => applied += 1,
                Err(reason) => {
                    self.stats.refuse(reason);
                    self.stats.over_symbol_limit.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        self.stats
            .symbols
            .store(inner.quotes.len() as u64, Ordering::Relaxed);
        drop(inner);
        self.stats.applied.fetch_add(applied, Ordering::Relaxed);
    }

    /// The symbols changed since the last call (no sparkline), or `None`.
    pub fn take_changes(&self, now: DateTime<Utc>) -> Option<MarketView> {
        let second = now.timestamp();
        let mut inner = self.inner.lock();
        if inner.changed.is_empty() {
            return None;
        }
        let changed = std::mem::take(&mut inner.changed);
        let mut symbols = Vec::with_capacity(changed.len());
        for at in changed {
            if let Some(quote) = inner.quotes.get_mut(at) {
                quote.changed = false;
                symbols.push(quote.view(second, false));
            }
        }
        Some(MarketView {
            session_id: inner.session_id.clone(),
            symbols,
        })
    }

    /// Every symbol, with its sparkline, in alphabetical order.
    pub fn symbols(&self, now: DateTime<Utc>) -> MarketView {
        let second = now.timestamp();
        let (session_id, mut symbols) = {
            let inner = self.inner.lock();
            let symbols: Vec<_> = inner.quotes.iter().map(|q| q.view(second, true)).collect();
            (inner.session_id.clone(), symbols)
        };
        symbols.sort_unstable_by(|a, b| a.symbol.cmp(&b.symbol));
        MarketView {
            session_id,
            symbols,
        }
    }

    /// The session's candles of `symbol`, oldest first; `None` for a symbol
    /// without ticks.
    pub fn candles(&self, symbol: &str) -> Option<CandlesView> {
        let inner = self.inner.lock();
        let quote = inner.quotes.get(*inner.index.get(symbol)?)?;
        Some(CandlesView {
            symbol: quote.symbol.clone(),
            interval_seconds: CANDLE_SECONDS,
            session_id: inner.session_id.clone(),
            candles: quote.candles.iter().copied().collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn now() -> DateTime<Utc> {
        "2026-03-10T14:00:30Z".parse().unwrap()
    }

    fn tick(symbol: &str, price: f64, volume: u64, at: &str) -> Vec<u8> {
        let at: DateTime<Utc> = at.parse().unwrap();
        json!({"type": "market_tick", "symbol": symbol, "price": price, "volume": volume,
               "timestamp": at.timestamp_millis() as f64 / 1000.0, "source": "synthetic"})
        .to_string()
        .into_bytes()
    }

    fn apply(book: &MarketBook, ticks: &[Vec<u8>]) {
        book.apply(ticks.iter().map(Vec::as_slice), now(), None);
    }

    #[test]
    fn ticks_make_candles_by_minute_with_open_high_low_close_and_volume() {
        let book = MarketBook::new();
        apply(
            &book,
            &[
                tick("AAPL", 10.0, 100, "2026-03-10T14:00:01.250Z"),
                tick("AAPL", 12.5, 50, "2026-03-10T14:00:20Z"),
                tick("AAPL", 9.0, 10, "2026-03-10T14:00:40Z"),
                tick("AAPL", 11.0, 5, "2026-03-10T14:00:59.999Z"),
                tick("AAPL", 11.5, 7, "2026-03-10T14:01:00Z"),
            ],
        );
        let candles = book.candles("AAPL").expect("AAPL has candles");
        assert_eq!(candles.candles.len(), 2);
        let first = candles.candles[0];
        assert_eq!(
            (first.o, first.h, first.l, first.c, first.v),
            (10.0, 12.5, 9.0, 11.0, 165)
        );
        assert_eq!(
            first.t,
            "2026-03-10T14:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        let second = candles.candles[1];
        assert_eq!((second.o, second.c, second.v), (11.5, 11.5, 7));
        let view = &book.symbols(now()).symbols[0];
        assert_eq!((view.price, view.first, view.volume), (11.5, 10.0, 172));
        assert_eq!(view.ticks_per_min, 5);
        assert!((view.change - 1.5).abs() < 1e-9);
        assert!((view.change_pct - 15.0).abs() < 1e-9);
        assert_eq!(
            view.spark.as_deref(),
            Some(&[10.0, 12.5, 9.0, 11.0, 11.5][..])
        );
    }

    #[test]
    fn a_late_tick_counts_in_its_minute_without_moving_its_close() {
        let book = MarketBook::new();
        apply(
            &book,
            &[
                tick("MSFT", 10.0, 1, "2026-03-10T14:00:10Z"),
                tick("MSFT", 11.0, 1, "2026-03-10T14:01:10Z"),
                tick("MSFT", 20.0, 3, "2026-03-10T14:00:50Z"),
            ],
        );
        let candles = book.candles("MSFT").unwrap().candles;
        assert_eq!((candles[0].h, candles[0].c, candles[0].v), (20.0, 10.0, 4));
        assert_eq!(
            book.symbols(now()).symbols[0].price,
            20.0,
            "the last arrived"
        );
    }

    #[test]
    fn changes_are_taken_once_and_a_new_session_empties_the_book() {
        let book = MarketBook::new();
        apply(&book, &[tick("AAPL", 10.0, 1, "2026-03-10T14:00:00Z")]);
        let changes = book.take_changes(now()).expect("AAPL changed");
        assert_eq!(changes.symbols.len(), 1);
        assert!(book.take_changes(now()).is_none(), "nothing new");
        book.apply(std::iter::empty(), now(), Some("s-2"));
        assert!(book.candles("AAPL").is_none());
        assert_eq!(book.symbols(now()).session_id.as_deref(), Some("s-2"));
        book.apply(std::iter::empty(), now(), None);
        assert_eq!(
            book.symbols(now()).session_id.as_deref(),
            Some("s-2"),
            "kept after its stop"
        );
    }

    #[test]
    fn the_rate_counts_the_last_minute_of_arrivals() {
        let mut rate = Rate::new();
        for second in [100, 100, 130, 159] {
            rate.count(second);
        }
        assert_eq!(rate.per_minute(159), 4);
        assert_eq!(rate.per_minute(160), 2, "second 100 left the window");
        assert_eq!(rate.per_minute(1_000), 0);
        rate.count(1_000);
        assert_eq!(rate.per_minute(1_000), 1, "old seconds were cleared");
        rate.count(990);
        assert_eq!(
            rate.per_minute(1_000),
            2,
            "a late arrival inside the window"
        );
    }

    #[test]
    fn hostile_ticks_are_counted_and_change_nothing() {
        let book = MarketBook::new();
        let at = now().timestamp() as f64;
        let hostile: Vec<Vec<u8>> = [
            json!({"symbol": "AA\u{0}PL", "price": 1.0, "timestamp": at}),
            json!({"symbol": "<b>X</b>", "price": 1.0, "timestamp": at}),
            json!({"symbol": "A".repeat(33), "price": 1.0, "timestamp": at}),
            json!({"symbol": 7, "price": 1.0, "timestamp": at}),
            json!({"symbol": "AAPL", "price": "1.0", "timestamp": at}),
            json!({"symbol": "AAPL", "price": 1e300, "timestamp": at}),
            json!({"symbol": "AAPL", "price": -1.0, "timestamp": at}),
            json!({"symbol": "AAPL", "price": 1.0, "volume": -5, "timestamp": at}),
            json!({"symbol": "AAPL", "price": 1.0, "volume": 1e30, "timestamp": at}),
            json!({"symbol": "AAPL", "price": 1.0, "timestamp": 1e300}),
            json!({"symbol": "AAPL", "price": 1.0}),
            json!([1, 2, 3]),
        ]
        .iter()
        .map(|v| v.to_string().into_bytes())
        .chain([
            br#"{"symbol":"AAPL","price":1e400,"timestamp":1}"#.to_vec(),
            b"not json".to_vec(),
            vec![0xff, 0xfe],
            format!(
                r#"{{"symbol":"AAPL","price":1,"timestamp":{at},"pad":"{}"}}"#,
                "x".repeat(5000)
            )
            .into_bytes(),
        ])
        .collect();
        apply(&book, &hostile);
        let stats = book.stats();
        assert_eq!(stats.received(), hostile.len() as u64);
        assert_eq!(stats.applied(), 0);
        let refused: u64 = Refusal::ALL.iter().map(|&r| stats.refused(r)).sum();
        assert_eq!(refused, hostile.len() as u64);
        assert_eq!(stats.refused(Refusal::Symbol), 3);
        assert!(book.symbols(now()).symbols.is_empty());
        let status: Value = serde_json::to_value(stats).unwrap();
        assert_eq!(status["refused"]["price"], 2);
    }

    #[test]
    fn symbols_candles_and_points_are_bounded() {
        let book = MarketBook::new();
        let ticks: Vec<_> = (0..MAX_SYMBOLS + 5)
            .map(|n| tick(&format!("S{n}"), 1.0, 1, "2026-03-10T14:00:00Z"))
            .collect();
        apply(&book, &ticks);
        assert_eq!(book.symbols(now()).symbols.len(), MAX_SYMBOLS);
        assert_eq!(book.stats().refused(Refusal::Symbol), 5);

        let book = MarketBook::new();
        let start = now() - chrono::Duration::hours(20);
        let ticks: Vec<_> = (0..(MAX_CANDLES as i64 + 10))
            .map(|minute| {
                let at = start + chrono::Duration::minutes(minute);
                tick("AAPL", 1.0, 1, &at.to_rfc3339())
            })
            .collect();
        apply(&book, &ticks);
        assert_eq!(book.candles("AAPL").unwrap().candles.len(), MAX_CANDLES);
        let view = &book.symbols(now()).symbols[0];
        assert_eq!(view.spark.as_ref().map(Vec::len), Some(MAX_SPARK_POINTS));
    }

    #[test]
    fn a_symbol_serialises_with_iso_times_and_integer_volume() {
        let book = MarketBook::new();
        apply(
            &book,
            &[tick("AAPL", 227.41, 300, "2026-03-10T14:00:05.123Z")],
        );
        let changes = serde_json::to_string(&book.take_changes(now()).unwrap()).unwrap();
        assert_eq!(
            changes,
            r#"{"session_id":null,"symbols":[{"symbol":"AAPL","price":227.41,"first":227.41,"change":0.0,"change_pct":0.0,"volume":300,"ticks_per_min":1,"at":"2026-03-10T14:00:05.123Z","candle":{"t":"2026-03-10T14:00:00.000Z","o":227.41,"h":227.41,"l":227.41,"c":227.41,"v":300}}]}"#
        );
    }
}
