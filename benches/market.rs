//! What the market book costs: decoding and applying ticks (per tick, in the
//! batches the book's task takes, over 500 symbols), building the conflated
//! `market` message when all 500 changed, and the snapshot's market.
//! At 100,000 ticks/s the per-tick figure times 100,000 is the share of one
//! core the book takes; the message is built twice a second.

use std::hint::black_box;

use bytes::Bytes;
use chrono::Utc;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tickstock::feed::tick::{DataSource, Tick};
use tickstock::market::MarketBook;

const SYMBOLS: usize = 500;
/// The book's task applies up to this many waiting ticks under one lock.
const BATCH: usize = 1_024;

/// A batch of ticks spread over `SYMBOLS` symbols, stamped now.
fn ticks(batch: usize, offset: usize) -> Vec<Bytes> {
    let at = Utc::now().timestamp_millis() as f64 / 1000.0;
    (0..batch)
        .map(|n| {
            let symbol = format!("SYM{}", (n + offset) % SYMBOLS);
            let price = 100.0 + ((n + offset) % 97) as f64 / 8.0;
            Tick::new(symbol, price, 100, at, DataSource::Synthetic).to_json()
        })
        .collect()
}

fn apply(book: &MarketBook, payloads: &[Bytes]) {
    book.apply(
        payloads.iter().map(|payload| payload.as_ref()),
        Utc::now(),
        None,
    );
}

fn market(c: &mut Criterion) {
    let mut group = c.benchmark_group("market");
    let book = MarketBook::new();
    let payloads = ticks(BATCH, 0);
    apply(&book, &payloads);
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("decode_and_apply_batch_500_symbols", |b| {
        b.iter(|| apply(&book, black_box(&payloads)))
    });

    let one = ticks(1, 7);
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode_and_apply_one_tick", |b| {
        b.iter(|| apply(&book, black_box(&one)))
    });

    // Every symbol changed since the last message: the largest a message gets.
    let every_symbol = ticks(SYMBOLS, 0);
    group.bench_function("conflated_message_500_symbols", |b| {
        b.iter_batched(
            || apply(&book, &every_symbol),
            |()| {
                let changes = book.take_changes(Utc::now());
                serde_json::to_string(&changes).map(|text| text.len())
            },
            // Each message takes what its own setup changed.
            BatchSize::PerIteration,
        )
    });

    group.bench_function("snapshot_market_500_symbols", |b| {
        b.iter(|| serde_json::to_string(&book.symbols(Utc::now())).map(|text| text.len()))
    });
    group.finish();
}

criterion_group!(benches, market);
criterion_main!(benches);
