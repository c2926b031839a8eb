//! Messages from the bus, all the way through, from a fresh server state each
//! run: the subscriber (decode, conformance, live state), the recorder's rows
//! and their write to the memory history, and the status body the dashboard
//! reads. An input is one or more lines; each line's first byte picks the
//! channel and the rest is the payload, so sequences (a health event that
//! recovers a session, then its stop) are explored too.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use tickstock::bus::{BusMessage, Link};
use tickstock::conformance::Conformance;
use tickstock::dashboard::status_body;
use tickstock::events::rules::Rules;
use tickstock::events::{self, Channel};
use tickstock::state::{Limits, LiveState};
use tickstock::store::Store;
use tickstock::store::history::{Batch, Record};
use tickstock::subscriber::Subscriber;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
});

/// The seeds' examples are dated 2025-10-05: "now" is that day, so the
/// default time window keeps them and still refuses what falls outside it.
static NOW: LazyLock<chrono::DateTime<chrono::Utc>> = LazyLock::new(|| {
    chrono::DateTime::parse_from_rfc3339("2025-10-05T12:00:00Z")
        .expect("a fixed instant")
        .into()
});

fuzz_target!(|data: &[u8]| {
    let now = *NOW;
    let rules = Rules::default();
    let live = Arc::new(LiveState::new(
        Arc::new(Link::default()),
        std::time::Duration::from_secs(30),
        Limits {
            patterns: 20,
            indicators: 20,
            alerts: 20,
            changes: 16,
        },
    ));
    let conformance = Arc::new(Conformance::new(live.clone(), now, rules));
    let mut subscriber = Subscriber::new(live.clone())
        .with_rules(rules)
        .with_conformance(conformance);
    let store = Store::memory();
    for line in data.split(|&byte| byte == b'\n').take(16) {
        let Some((&selector, payload)) = line.split_first() else {
            continue;
        };
        let channel = Channel::ALL[usize::from(selector) % Channel::ALL.len()];
        let message = BusMessage {
            channel: channel.name().into(),
            payload: bytes::Bytes::copy_from_slice(payload),
        };
        subscriber.ingest(&message, now);
        if let Ok(event) = events::decode_with(channel, payload, now, &rules) {
            let mut records = Vec::new();
            Record::for_each_of(&event, |record| records.push(record));
            let written = RUNTIME.block_on(store.write_history(&Batch::new(&records)));
            assert!(written.is_ok(), "the memory history refused a batch");
        }
    }
    let status = status_body(&live, now, &serde_json::json!({}));
    assert!(
        serde_json::from_str::<serde_json::Value>(&status).is_ok(),
        "the status body is not JSON"
    );
});
