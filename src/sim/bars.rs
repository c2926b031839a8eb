//! Ticks in, bars out: the `market_tick`s TickStock publishes (CONTRACT §3),
//! read tolerantly, and the OHLCV bar they build.

use serde::Deserialize;

use super::candles::Bar;

/// The fields of a `market_tick` the simulator uses; the rest are ignored.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MarketTick {
    pub symbol: String,
    pub price: f64,
    #[serde(default)]
    pub volume: f64,
    /// Aggregate events (Massive `A`/`AM`) carry their own range.
    #[serde(default)]
    pub high: Option<f64>,
    #[serde(default)]
    pub low: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TickError {
    #[error("not a market tick: {0}")]
    Shape(String),
    #[error("empty symbol")]
    Symbol,
    #[error("price {0} is not a positive number")]
    Price(f64),
    #[error("volume {0} is not a non-negative number")]
    Volume(f64),
}

impl MarketTick {
    /// Parses and checks one tick; symbols are upper-cased.
    pub fn parse(payload: &[u8]) -> Result<Self, TickError> {
        let mut tick: MarketTick =
            serde_json::from_slice(payload).map_err(|e| TickError::Shape(e.to_string()))?;
        tick.symbol = tick.symbol.trim().to_ascii_uppercase();
        if tick.symbol.is_empty() {
            return Err(TickError::Symbol);
        }
        if !(tick.price.is_finite() && tick.price > 0.0) {
            return Err(TickError::Price(tick.price));
        }
        if !(tick.volume.is_finite() && tick.volume >= 0.0) {
            return Err(TickError::Volume(tick.volume));
        }
        Ok(tick)
    }

    /// The tick's range: its own high/low when it is an aggregate whose
    /// range holds its price, else just its price.
    fn range(&self) -> (f64, f64) {
        match (self.high, self.low) {
            (Some(high), Some(low))
                if high.is_finite()
                    && low.is_finite()
                    && low <= self.price
                    && self.price <= high =>
            {
                (high, low)
            }
            _ => (self.price, self.price),
        }
    }
}

/// The bar a first tick opens.
pub fn open_bar(tick: &MarketTick) -> Bar {
    let (high, low) = tick.range();
    Bar {
        open: tick.price,
        high,
        low,
        close: tick.price,
        volume: tick.volume,
    }
}

/// Folds a later tick into a forming bar.
pub fn extend_bar(bar: &mut Bar, tick: &MarketTick) {
    let (high, low) = tick.range();
    bar.high = bar.high.max(high);
    bar.low = bar.low.min(low);
    bar.close = tick.price;
    bar.volume += tick.volume;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(json: &str) -> MarketTick {
        MarketTick::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn reads_the_tick_tickstock_publishes_ignoring_extra_fields() {
        let t = tick(
            r#"{"type":"market_tick","symbol":"aapl","price":227.41,"volume":300,"timestamp":1759850000.123,"source":"massive","vwap":227.3}"#,
        );
        assert_eq!(t.symbol, "AAPL");
        assert_eq!(t.price, 227.41);
        assert_eq!(t.volume, 300.0);
    }

    #[test]
    fn rejects_ticks_it_cannot_use() {
        for (payload, expected) in [
            (r#"{"symbol":"  ","price":1}"#, TickError::Symbol),
            (r#"{"symbol":"A","price":0}"#, TickError::Price(0.0)),
            (r#"{"symbol":"A","price":-3.5}"#, TickError::Price(-3.5)),
            (
                r#"{"symbol":"A","price":1,"volume":-1}"#,
                TickError::Volume(-1.0),
            ),
        ] {
            assert_eq!(MarketTick::parse(payload.as_bytes()), Err(expected));
        }
        for payload in ["not json", "[1]", r#"{"symbol":"A"}"#, r#"{"price":1}"#] {
            assert!(
                matches!(
                    MarketTick::parse(payload.as_bytes()),
                    Err(TickError::Shape(_))
                ),
                "{payload}"
            );
        }
    }

    #[test]
    fn a_bar_is_open_high_low_close_and_summed_volume_of_its_ticks() {
        let mut bar = open_bar(&tick(r#"{"symbol":"A","price":10.0,"volume":100}"#));
        for (price, volume) in [(10.5, 200), (9.8, 100), (10.1, 300)] {
            let json = format!(r#"{{"symbol":"A","price":{price},"volume":{volume}}}"#);
            extend_bar(&mut bar, &tick(&json));
        }
        assert_eq!(
            bar,
            Bar {
                open: 10.0,
                high: 10.5,
                low: 9.8,
                close: 10.1,
                volume: 700.0
            }
        );
    }

    #[test]
    fn aggregate_ticks_widen_the_bar_to_their_own_range() {
        let mut bar = open_bar(&tick(
            r#"{"symbol":"A","price":10.0,"volume":1,"high":10.4,"low":9.9}"#,
        ));
        assert_eq!((bar.high, bar.low), (10.4, 9.9));
        // A range that does not hold the price is ignored.
        extend_bar(
            &mut bar,
            &tick(r#"{"symbol":"A","price":10.2,"volume":1,"high":10.1,"low":9.0}"#),
        );
        assert_eq!((bar.high, bar.low, bar.close), (10.4, 9.9, 10.2));
    }
}
