//! The Massive (formerly Polygon.io) WebSocket protocol: server frames are JSON
//! arrays batching events; `T` trades, `Q` quotes, `A` / `AM` aggregates, and
//! `status` messages. Times are epoch milliseconds. Unknown `ev` values are
//! ignored.

use serde::Deserialize;
use serde_json::value::RawValue;

use chrono::{DateTime, Utc};

use crate::feed::tick::{
    Aggregate, DataSource, Quote, Refusal, Tick, check_price, check_size, check_symbol,
    check_time_ms,
};

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

/// Decodes one text frame. Events TickStock does not know are ignored; an
/// element that is malformed or holds values that make no sense is refused
/// with its reason, and the rest of the frame is kept. Times are checked
/// against `now` (a replay passes the time the frame was recorded).
pub fn parse_frame(
    text: &str,
    source: DataSource,
    now: DateTime<Utc>,
) -> (Vec<ServerEvent>, Vec<Refusal>) {
    let elements: Vec<&RawValue> = match serde_json::from_str::<Vec<&RawValue>>(text) {
        Ok(elements) => elements,
        // A single object instead of an array: treat it as a batch of one.
        Err(_) => match serde_json::from_str::<&RawValue>(text) {
            Ok(single) => vec![single],
            Err(_) => return (Vec::new(), vec![Refusal::Malformed]),
        },
    };
    let mut events = Vec::with_capacity(elements.len());
    let mut refused = Vec::new();
    for element in elements {
        let wire = match serde_json::from_str::<Wire>(element.get()) {
            Ok(Wire::Unknown) => continue,
            Ok(wire) => wire,
            Err(_) => {
                refused.push(Refusal::Malformed);
                continue;
            }
        };
        match event(wire, source, now) {
            Ok(event) => events.push(event),
            Err(refusal) => refused.push(refusal),
        }
    }
    (events, refused)
}

fn event(wire: Wire, source: DataSource, now: DateTime<Utc>) -> Result<ServerEvent, Refusal> {
    let tick = match wire {
        Wire::Trade { sym, p, s, t } => {
            check_symbol(&sym)?;
            Tick::new(
                sym,
                check_price(p)?,
                check_size(s)?,
                check_time_ms(t, now)?,
                source,
            )
        }
        Wire::Quote {
            sym,
            bp,
            ap,
            bs,
            ask_size,
            t,
        } => {
            check_symbol(&sym)?;
            let (bid, ask) = (check_price(bp)?, check_price(ap)?);
            let mut tick = Tick::new(sym, (bid + ask) / 2.0, 0, check_time_ms(t, now)?, source);
            tick.quote = Some(Quote {
                bid,
                ask,
                bid_size: check_size(bs)?,
                ask_size: check_size(ask_size)?,
            });
            tick
        }
        Wire::Aggregate {
            sym,
            o,
            h,
            l,
            c,
            v,
            vw,
            e,
        } => {
            check_symbol(&sym)?;
            let (open, high, low, close) = (
                check_price(o)?,
                check_price(h)?,
                check_price(l)?,
                check_price(c)?,
            );
            if high < low {
                return Err(Refusal::Range);
            }
            let vwap = vw.map(check_price).transpose()?;
            let mut tick = Tick::new(sym, close, check_size(v)?, check_time_ms(e, now)?, source);
            tick.aggregate = Some(Aggregate {
                open,
                high,
                low,
                close,
                vwap,
            });
            tick
        }
        Wire::Status { status, message } => return Ok(ServerEvent::Status { status, message }),
        Wire::Unknown => return Err(Refusal::Malformed),
    };
    Ok(ServerEvent::Tick(tick))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The time of the frames below.
    fn then() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_759_850_000_500).unwrap()
    }

    #[test]
    fn trades_quotes_and_aggregates_become_ticks() {
        let frame = r#"[
            {"ev":"T","sym":"AAPL","i":"1","x":4,"p":227.41,"s":300,"c":[12],"t":1759850000123,"q":9,"z":3},
            {"ev":"Q","sym":"MSFT","bx":4,"bp":400.1,"bs":2,"ax":7,"ap":400.3,"as":5,"c":0,"t":1759850000200,"q":1,"z":3},
            {"ev":"AM","sym":"BRK.B","v":1200,"av":90000,"op":470,"vw":471.2,"o":470.5,"c":471.9,"h":472,"l":470.1,"a":471,"z":12,"s":1759849940000,"e":1759850000000},
            {"ev":"XA","pair":"BTC-USD"},
            {"ev":"T","sym":"BAD"}
        ]"#;
        let (events, refused) = parse_frame(frame, DataSource::Massive, then());
        assert_eq!(refused, [Refusal::Malformed]);
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
            then(),
        );
        assert_eq!(
            events,
            [ServerEvent::Status {
                status: "auth_success".into(),
                message: "authenticated".into()
            }]
        );
        assert_eq!(
            parse_frame("not json", DataSource::Massive, then()),
            (Vec::new(), vec![Refusal::Malformed])
        );
    }

    /// One good trade around each hostile element: the hostile one is
    /// refused with its reason, the good ones are kept, nothing panics.
    #[test]
    fn hostile_values_are_refused_by_class_and_the_rest_of_the_frame_kept() {
        let t = 1_759_850_000_123_i64;
        let trade = |sym: &str, p: &str, s: &str, t: &str| {
            format!(r#"{{"ev":"T","sym":{sym},"p":{p},"s":{s},"t":{t}}}"#)
        };
        let aggregate = |o: &str, h: &str, l: &str, c: &str| {
            format!(r#"{{"ev":"AM","sym":"NVDA","o":{o},"h":{h},"l":{l},"c":{c},"v":10,"e":{t}}}"#)
        };
        let day = 86_400_000_i64;
        let classes = [
            (
                Refusal::Price,
                trade(r#""A""#, "-227.41", "1", &t.to_string()),
            ),
            (Refusal::Price, trade(r#""A""#, "0", "1", &t.to_string())),
            (
                Refusal::Price,
                trade(r#""A""#, "1e300", "1", &t.to_string()),
            ),
            (
                Refusal::Malformed,
                trade(r#""A""#, "1e400", "1", &t.to_string()),
            ),
            (
                Refusal::Malformed,
                trade(r#""A""#, r#""NaN""#, "1", &t.to_string()),
            ),
            (Refusal::Size, trade(r#""A""#, "1", "-300", &t.to_string())),
            (Refusal::Size, trade(r#""A""#, "1", "1e19", &t.to_string())),
            (
                Refusal::Size,
                trade(r#""A""#, "1", "18446744073709551616", &t.to_string()),
            ),
            (
                Refusal::Timestamp,
                trade(r#""A""#, "1", "1", &(t - 2 * day).to_string()),
            ),
            (
                Refusal::Timestamp,
                trade(r#""A""#, "1", "1", &(t + day).to_string()),
            ),
            (
                Refusal::Timestamp,
                trade(r#""A""#, "1", "1", "-62135596800000"),
            ),
            (
                Refusal::Timestamp,
                trade(r#""A""#, "1", "1", "3155695200000000"),
            ),
            (Refusal::Timestamp, trade(r#""A""#, "1", "1", "1e300")),
            (
                Refusal::Symbol,
                trade(r#""AA\u0000PL""#, "1", "1", &t.to_string()),
            ),
            (
                Refusal::Symbol,
                trade(r#""AA\nPL""#, "1", "1", &t.to_string()),
            ),
            (Refusal::Symbol, trade(r#""""#, "1", "1", &t.to_string())),
            (
                Refusal::Symbol,
                trade(r#""<img src=x>""#, "1", "1", &t.to_string()),
            ),
            (
                Refusal::Symbol,
                trade(
                    &format!(r#""{}""#, "A".repeat(100)),
                    "1",
                    "1",
                    &t.to_string(),
                ),
            ),
            (Refusal::Malformed, trade("42", "1", "1", &t.to_string())),
            (Refusal::Range, aggregate("10", "9", "11", "10")),
            (Refusal::Price, aggregate("10", "12", "-1", "10")),
            (
                Refusal::Price,
                format!(r#"{{"ev":"Q","sym":"A","bp":0,"ap":1,"bs":1,"as":1,"t":{t}}}"#),
            ),
            (
                Refusal::Size,
                format!(r#"{{"ev":"Q","sym":"A","bp":1,"ap":1.1,"bs":-5,"as":1,"t":{t}}}"#),
            ),
        ];
        let good = trade(r#""AAPL""#, "227.41", "300", &t.to_string());
        for (reason, hostile) in &classes {
            let frame = format!("[{good},{hostile},{good}]");
            let (events, refused) = parse_frame(&frame, DataSource::Massive, then());
            assert_eq!(refused, [*reason], "{hostile}");
            assert_eq!(events.len(), 2, "{hostile}");
            assert!(
                events
                    .iter()
                    .all(|e| matches!(e, ServerEvent::Tick(t) if t.symbol == "AAPL")),
                "{hostile}"
            );
        }
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
