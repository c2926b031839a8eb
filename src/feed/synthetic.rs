//! The synthetic feed of the embedded default: a random walk per symbol, with
//! plausible prices (a stable starting price per ticker) and round-lot volumes.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::queue::TickQueue;
use super::stats::FeedState;
use super::tick::{DataSource, Tick};

/// Per-tick volatility of the walk: about 0.05 % per step.
const STEP: f64 = 0.0005;

struct Walk {
    symbol: String,
    price: f64,
}

/// A stable, plausible starting price per ticker (between $20 and $620).
fn starting_price(symbol: &str) -> f64 {
    let hash = symbol.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    20.0 + (hash % 60_000) as f64 / 100.0
}

pub async fn run(
    symbols: Vec<String>,
    ticks_per_second: f64,
    queue: Arc<TickQueue>,
    shutdown: CancellationToken,
) {
    let stats = queue.stats();
    if symbols.is_empty() || ticks_per_second <= 0.0 {
        stats.set_state(FeedState::Stopped);
        return;
    }
    let mut walks: Vec<Walk> = symbols
        .into_iter()
        .map(|symbol| Walk {
            price: starting_price(&symbol),
            symbol,
        })
        .collect();
    stats.set_state(FeedState::Connected);
    let started = Instant::now();
    let mut produced: u64 = 0;
    let mut clock = tokio::time::interval(Duration::from_millis(10));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = clock.tick() => {}
        }
        let due = (started.elapsed().as_secs_f64() * ticks_per_second) as u64;
        let mut rng = rand::rng();
        while produced < due {
            let index = rng.random_range(0..walks.len());
            let walk = &mut walks[index];
            // Uniform step with the variance of a normal one of sd STEP.
            let step = (rng.random::<f64>() - 0.5) * 2.0 * STEP * 3f64.sqrt();
            walk.price = (walk.price * (1.0 + step)).max(0.01);
            let price = (walk.price * 100.0).round() / 100.0;
            let volume = 100 * rng.random_range(1..=20);
            let now = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
            queue.push(Tick::new(
                walk.symbol.clone(),
                price,
                volume,
                now,
                DataSource::Synthetic,
            ));
            produced += 1;
        }
    }
    stats.set_state(FeedState::Stopped);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starting_prices_are_stable_and_plausible() {
        assert_eq!(starting_price("AAPL"), starting_price("AAPL"));
        assert_ne!(starting_price("AAPL"), starting_price("MSFT"));
        for symbol in ["AAPL", "BRK.B", "X", "NVDA"] {
            let price = starting_price(symbol);
            assert!((20.0..620.0).contains(&price), "{symbol}: {price}");
        }
    }
}
