//! One text frame from the Massive socket through the parser into the ticks
//! the forwarder publishes: every published tick must be JSON with a finite
//! positive price, a symbol without control characters, and a time near now.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tickstock::feed::DataSource;
use tickstock::feed::massive::protocol::{ServerEvent, parse_frame};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The corpus's trades are dated 2025-10-07 (epoch ms 1759850000000).
    let now = chrono::DateTime::from_timestamp_millis(1_759_850_030_000).unwrap_or_default();
    let (events, _refused) = parse_frame(text, DataSource::Massive, now);
    for event in events {
        if let ServerEvent::Tick(tick) = event {
            let json = tick.to_json();
            let value: serde_json::Value =
                serde_json::from_slice(&json).expect("a published tick is JSON");
            assert!(value["price"].as_f64().is_some_and(|p| p.is_finite() && p > 0.0));
            assert!(value["symbol"].as_str().is_some_and(|s| {
                !s.is_empty() && !s.chars().any(char::is_control)
            }));
            let seconds = value["timestamp"].as_f64().unwrap_or(f64::NAN);
            let now_seconds = now.timestamp() as f64;
            assert!((seconds - now_seconds).abs() <= 86_400.0 + 600.0);
        }
    }
});
