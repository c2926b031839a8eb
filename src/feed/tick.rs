//! The normalised tick, and its wire shape on `tickstock:market:ticks`
//! (CONTRACT §3): `{"type":"market_tick","symbol":"AAPL","price":227.41,
//! "volume":300,"timestamp":1759850000.123,"source":"massive"}` plus the
//! extra fields an aggregate or a quote carries.

use serde::Serialize;

use super::DataSource;

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
