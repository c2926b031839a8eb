//! Decoding, decoding plus the live-state update, and the subscriber as the
//! server wires it, per event kind, on one core.

mod samples;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickstock::bus::{BusMessage, Link};
use tickstock::conformance::Conformance;
use tickstock::events::{Channel, Rules, decode, decode_with};
use tickstock::feed::{DataSource, FeedStats};
use tickstock::recorder::{Recorder, RecorderStats};
use tickstock::state::{Limits, LiveState};
use tickstock::store::Store;
use tickstock::subscriber::Subscriber;
use tickstock::supervise::Supervisor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Within the default rules' window (7 days old, 1 hour ahead) of every
/// sample's timestamp, so the subscriber accepts them all, whenever it runs.
fn samples_now() -> DateTime<Utc> {
    "2025-10-07T18:00:00Z".parse().expect("a valid time")
}

fn live_state() -> Arc<LiveState> {
    Arc::new(LiveState::new(
        Arc::new(Link::default()),
        std::time::Duration::from_secs(30),
        Limits::default(),
    ))
}

fn bus_message(channel: Channel, message: String) -> BusMessage {
    BusMessage {
        channel: channel.name().into(),
        payload: Bytes::from(message),
    }
}

/// `message`, once it is known to decode under the default rules at `now`:
/// a refused sample would measure the refusal.
fn accepted(message: BusMessage, now: DateTime<Utc>) -> BusMessage {
    let channel = Channel::from_name(&message.channel).expect("a streaming channel");
    let decoded = decode_with(channel, &message.payload, now, &Rules::default());
    assert!(decoded.is_ok(), "{}: {decoded:?}", message.channel);
    message
}

/// The push hub on the live state, as `app.rs` starts it with the default
/// client queue (1,024 frames) and the synthetic feed.
fn start_push_hub(
    live: Arc<LiveState>,
    recorder: Arc<RecorderStats>,
    tasks: &Supervisor,
    shutdown: &CancellationToken,
) -> Arc<tickstock::dashboard::Hub> {
    let feed = Arc::new(FeedStats::new(Some(DataSource::Synthetic)));
    tickstock::dashboard::Hub::start(live, feed, recorder, 1_024, tasks, shutdown)
}

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

    let now = samples_now();
    let mut group = c.benchmark_group("decode_and_apply");
    group.throughput(Throughput::Elements(1));
    for (name, channel, message) in samples::samples() {
        let mut subscriber = Subscriber::new(live_state());
        let message = accepted(bus_message(channel, message), now);
        group.bench_function(name, |b| b.iter(|| subscriber.ingest(&message, now)));
    }
    group.finish();
}

/// The subscriber exactly as `app.rs` wires it for the embedded default:
/// the decoding rules, the recorder (in-memory history), the conformance
/// watch, the publish-to-state latency histogram and the push hub, on a
/// runtime with a worker per core. As in the
/// server, the subscriber runs in a task on one worker and the recorder's
/// writer, the hub and the inspector beside it; the time is the
/// subscriber's, per message.
fn as_wired(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _inside = runtime.enter();
    let now = samples_now();
    let rules = Rules::default();
    let mut group = c.benchmark_group("subscriber_as_wired");
    group.throughput(Throughput::Elements(1));
    for (name, channel, message) in samples::samples() {
        let shutdown = CancellationToken::new();
        let tasks = Supervisor::new(TaskTracker::new());
        let live = live_state();
        let recorder = Recorder::start(Store::memory(), &tasks, &shutdown);
        let recorded = recorder.stats();
        let conformance = Arc::new(Conformance::new(live.clone(), now, rules));
        conformance.start(&tasks, &shutdown);
        let _hub = start_push_hub(live.clone(), recorder.stats(), &tasks, &shutdown);
        let subscriber = Subscriber::new(live)
            .with_rules(rules)
            .with_recorder(recorder)
            .with_conformance(conformance)
            .with_latency(tickstock::metrics::PublishLatency::default());
        let subscriber = Arc::new(Mutex::new(subscriber));
        let message = Arc::new(accepted(bus_message(channel, message), now));
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let (subscriber, message) = (subscriber.clone(), message.clone());
                let timed = runtime.spawn(async move {
                    let mut subscriber = subscriber.lock().unwrap_or_else(PoisonError::into_inner);
                    let start = Instant::now();
                    for _ in 0..iters {
                        subscriber.ingest(&message, now);
                    }
                    start.elapsed()
                });
                runtime.block_on(timed).expect("the subscriber task")
            })
        });
        // The hand-off is measured only if the writer keeps up.
        eprintln!(
            "{name}: the recorder wrote {} rows, dropped {}",
            recorded.written(),
            recorded.dropped()
        );
        shutdown.cancel();
    }
    group.finish();
}

criterion_group!(benches, decoding, as_wired);
criterion_main!(benches);
