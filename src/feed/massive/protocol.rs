//! The Massive (formerly Polygon.io) WebSocket protocol: server frames are JSON
//! arrays batching events; `T` trades, `Q` quotes, `A` / `AM` aggregates, and
//! `status` messages. Times are epoch milliseconds. Unknown `ev` values are
//! ignored.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::feed::DataSource;
use crate::feed::tick::{Aggregate, Quote, Tick};

/// One message of the client, serialised as Massive expects it.
pub fn auth(key: &str) -> String {
    serde_json::json!({ "action": "auth", "params": key }).to_string()
}

/// Most parameters a single subscribe message carries; Massive rejects
/// messages of 1 MB or more, and this keeps each one far below that.
const MAX_SUBSCRIBE_BYTES: usize = 64 * 1024;

/// `{"action":"subscribe","params":"AM.AAPL,AM.MSFT"}` messages covering every
/// subscription, split so that each stays small. Tickers such as `BRK.B` are
/// kept whole: the list is split on commas only.
pub fn subscribe_messages<'a>(subscriptions: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut messages = Vec::new();
    let mut params = String::new();
    for subscription in subscriptions {
        if !params.is_empty() && params.len() + 1 + subscription.len() > MAX_SUBSCRIBE_BYTES {
            messages.push(serde_json::json!({"action": "subscribe", "params": params}).to_string());
            params.clear();
        }
        if !params.is_empty() {
            params.push(',');
        }
        params.push_str(subscription);
    }
    if !params.is_empty() {
        messages.push(serde_json::json!({"action": "subscribe", "params": params}).to_string());
    }
    messages
}

/// What a server frame contains, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    Tick(Tick),
    Status { status: String, message: String },
}

#[derive(Deserialize)]
#[serde(tag = "ev")]
enum Wire {
    #[serde(rename = "T")]
    Trade {
        sym: String,
        p: f64,
        s: Option<f64>,
        t: f64,
    },
    #[serde(rename = "Q")]
    Quote {
        sym: String,
        bp: f64,
        ap: f64,
        bs: Option<f64>,
        #[serde(rename = "as")]
        ask_size: Option<f64>,
        t: f64,
    },
    #[serde(rename = "A", alias = "AM")]
    Aggregate {
        sym: String,
        o: f64,
        h: f64,
        l: f64,
        c: f64,
        v: Option<f64>,
        vw: Option<f64>,
        e: f64,
    },
    #[serde(rename = "status")]
    Status {
        status: String,
        #[serde(default)]
        message: String,
    },
    #[serde(other)]
    Unknown,
}

fn size(x: Option<f64>) -> u64 {
    x.filter(|v| v.is_finite() && *v > 0.0)
        .map_or(0, |v| v.round() as u64)
}

/// Decodes one text frame. Elements that are not events TickStock knows, or
/// that are malformed, are skipped and counted in the returned `skipped`.
pub fn parse_frame(text: &str, source: DataSource) -> (Vec<ServerEvent>, usize) {
    let elements: Vec<&RawValue> = match serde_json::from_str::<Vec<&RawValue>>(text) {
        Ok(elements) => elements,
        // A single object instead of an array: treat it as a batch of one.
        Err(_) => match serde_json::from_str::<&RawValue>(text) {
            Ok(single) => vec![single],
            Err(_) => return (Vec::new(), 1),
        },
    };
    let mut events = Vec::with_capacity(elements.len());
    let mut skipped = 0;
    for element in elements {
        let event = match serde_json::from_str::<Wire>(element.get()) {
            Ok(Wire::Trade { sym, p, s, t }) => {
                ServerEvent::Tick(Tick::new(sym, p, size(s), t / 1000.0, source))
            }
            Ok(Wire::Quote {
                sym,
                bp,
                ap,
                bs,
                ask_size,
                t,
            }) => {
                let mut tick = Tick::new(sym, (bp + ap) / 2.0, 0, t / 1000.0, source);
                tick.quote = Some(Quote {
                    bid: bp,
                    ask: ap,
                    bid_size: size(bs),
                    ask_size: size(ask_size),
                });
                ServerEvent::Tick(tick)
            }
            Ok(Wire::Aggregate {
                sym,
                o,
                h,
                l,
                c,
                v,
                vw,
                e,
            }) => {
                let mut tick = Tick::new(sym, c, size(v), e / 1000.0, source);
                tick.aggregate = Some(Aggregate {
                    open: o,
                    high: h,
                    low: l,
                    close: c,
                    vwap: vw,
                });
                ServerEvent::Tick(tick)
            }
            Ok(Wire::Status { status, message }) => ServerEvent::Status { status, message },
            Ok(Wire::Unknown) => continue,
            Err(_) => {
                skipped += 1;
                continue;
            }
        };
        events.push(event);
    }
    (events, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trades_quotes_and_aggregates_become_ticks() {
        let frame = r#"[
            {"ev":"T","sym":"AAPL","i":"1","x":4,"p":227.41,"s":300,"c":[12],"t":1759850000123,"q":9,"z":3},
            {"ev":"Q","sym":"MSFT","bx":4,"bp":400.1,"bs":2,"ax":7,"ap":400.3,"as":5,"c":0,"t":1759850000200,"q":1,"z":3},
            {"ev":"AM","sym":"BRK.B","v":1200,"av":90000,"op":470,"vw":471.2,"o":470.5,"c":471.9,"h":472,"l":470.1,"a":471,"z":12,"s":1759849940000,"e":1759850000000},
            {"ev":"XA","pair":"BTC-USD"},
            {"ev":"T","sym":"BAD"}
        ]"#;
        let (events, skipped) = parse_frame(frame, DataSource::Massive);
        assert_eq!(skipped, 1);
        let ServerEvent::Tick(trade) = &events[0] else {
            panic!()
        };
        assert_eq!(
            String::from_utf8(trade.to_json().to_vec()).unwrap(),
            r#"{"type":"market_tick","symbol":"AAPL","price":227.41,"volume":300,"timestamp":1759850000.123,"source":"massive"}"#
        );
        let ServerEvent::Tick(quote) = &events[1] else {
            panic!()
        };
        assert!((quote.price - 400.2).abs() < 1e-9);
        assert_eq!(quote.quote.as_ref().unwrap().ask_size, 5);
        let ServerEvent::Tick(minute) = &events[2] else {
            panic!()
        };
        assert_eq!(minute.symbol, "BRK.B");
        assert_eq!(minute.volume, 1200);
        assert_eq!(minute.timestamp, 1759850000.0);
        assert_eq!(minute.aggregate.as_ref().unwrap().vwap, Some(471.2));
        assert_eq!(events.len(), 3);
    }

    #[test]
    fn status_frames_and_garbage() {
        let (events, _) = parse_frame(
            r#"[{"ev":"status","status":"auth_success","message":"authenticated"}]"#,
            DataSource::Massive,
        );
        assert_eq!(
            events,
            [ServerEvent::Status {
                status: "auth_success".into(),
                message: "authenticated".into()
            }]
        );
        assert_eq!(
            parse_frame("not json", DataSource::Massive),
            (Vec::new(), 1)
        );
    }

    #[test]
    fn subscriptions_split_on_commas_only_and_stay_small() {
        let many: Vec<String> = (0..20_000).map(|i| format!("AM.T{i:05}.B")).collect();
        let messages = subscribe_messages(&many);
        assert!(messages.len() > 1);
        let mut seen = Vec::new();
        for message in &messages {
            assert!(message.len() < MAX_SUBSCRIBE_BYTES + 64);
            let value: serde_json::Value = serde_json::from_str(message).unwrap();
            assert_eq!(value["action"], "subscribe");
            seen.extend(
                value["params"]
                    .as_str()
                    .unwrap()
                    .split(',')
                    .map(str::to_owned),
            );
        }
        assert_eq!(seen, many);
    }
}
