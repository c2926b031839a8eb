//! One text frame from the Massive socket through the parser into the ticks
//! the forwarder publishes: every published tick must be JSON with a finite
//! price and a symbol.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickstock::feed::DataSource;
use tickstock::feed::massive::protocol::{ServerEvent, parse_frame};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (events, _skipped) = parse_frame(text, DataSource::Massive);
    for event in events {
        if let ServerEvent::Tick(tick) = event {
            let json = tick.to_json();
            let value: serde_json::Value =
                serde_json::from_slice(&json).expect("a published tick is JSON");
            assert!(value["price"].as_f64().is_some_and(f64::is_finite));
            assert!(value["symbol"].as_str().is_some_and(|s| !s.is_empty()));
        }
    }
});
