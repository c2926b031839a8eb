//! Decoding, and decoding plus the live-state update, per event kind, on one core.

mod samples;

use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickstock::bus::{BusMessage, Link};
use tickstock::events::decode;
use tickstock::state::{Limits, LiveState};
use tickstock::subscriber::Subscriber;

fn decoding(c: &mut Criterion) {
    let now = chrono::Utc::now();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    for (name, channel, message) in samples::samples() {
        group.bench_function(name, |b| {
            b.iter(|| decode(channel, std::hint::black_box(message.as_bytes()), now))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("decode_and_apply");
    group.throughput(Throughput::Elements(1));
    for (name, channel, message) in samples::samples() {
        let state = Arc::new(LiveState::new(
            Arc::new(Link::default()),
            std::time::Duration::from_secs(30),
            Limits::default(),
        ));
        let mut subscriber = Subscriber::new(state);
        let message = BusMessage {
            channel: channel.name().into(),
            payload: Bytes::from(message),
        };
        group.bench_function(name, |b| b.iter(|| subscriber.ingest(&message, now)));
    }
    group.finish();
}

criterion_group!(benches, decoding);
criterion_main!(benches);
