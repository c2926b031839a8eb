//! Bars the simulator invents: the unpublished history that warms a new
//! symbol's indicators, and the pattern-rich bars of the high-volume
//! scenario's synthetic universe.

use rand::Rng;

use super::candles::Bar;

/// Per-bar volatility of the warm-up history: about what a liquid stock moves
/// in a minute, and close to what the synthetic feed's short bars move.
const HISTORY_STEP: f64 = 0.001;

/// A plausible past of `bars` bars whose last close is `last_close`, oldest
/// first: a random walk drawn backwards from the price the symbol has now.
pub fn history(last_close: f64, bars: usize, rng: &mut impl Rng) -> Vec<Bar> {
    let mut closes = Vec::with_capacity(bars);
    let mut close = last_close;
    for _ in 0..bars {
        closes.push(close);
        close = round_cents(close * (1.0 + normal_step(rng, HISTORY_STEP)));
    }
    closes.reverse();
    let mut open = close;
    closes
        .into_iter()
        .map(|close| {
            let bar = bar_around(open, close, rng, HISTORY_STEP);
            open = close;
            bar
        })
        .collect()
}

/// One step of a random walk: uniform with the variance of a normal of sd `sd`.
fn normal_step(rng: &mut impl Rng, sd: f64) -> f64 {
    (rng.random::<f64>() - 0.5) * 2.0 * sd * 3f64.sqrt()
}

fn round_cents(price: f64) -> f64 {
    ((price * 100.0).round() / 100.0).max(0.01)
}

/// A bar from `open` to `close` with shadows of up to `wick` of the price.
fn bar_around(open: f64, close: f64, rng: &mut impl Rng, wick: f64) -> Bar {
    let high = open.max(close) * (1.0 + rng.random::<f64>() * wick);
    let low = open.min(close) * (1.0 - rng.random::<f64>() * wick);
    Bar {
        open,
        high: round_cents(high).max(open.max(close)),
        low: round_cents(low).min(open.min(close)),
        close,
        volume: f64::from(rng.random_range(100_u32..5_000) * 100),
    }
}

/// The bar shapes the load generator draws, as shares of all bars.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Doji,
    Hammer,
    Engulfing,
    Trend,
}

/// Chosen so that most bars complete a pattern and trend bars move prices
/// enough for RSI, MACD and band crossings: about 0.87 patterns and 0.23
/// indicator alerts per symbol and bar, so the default 1500 symbols give
/// some 1300 patterns and 350 alerts a bar.
fn draw_shape(rng: &mut impl Rng) -> Shape {
    match rng.random_range(0..100) {
        0..30 => Shape::Doji,
        30..55 => Shape::Hammer,
        55..80 => Shape::Engulfing,
        _ => Shape::Trend,
    }
}

/// One synthetic symbol of the high-volume universe.
#[derive(Debug, Clone)]
struct Walk {
    previous: Bar,
    /// Direction and size of the current trend, as a fraction per trend bar.
    drift: f64,
}

/// The synthetic universe of the high-volume scenario: one bar per symbol per
/// bar interval, shaped so that patterns and alerts come thick and fast.
#[derive(Debug, Clone)]
pub struct LoadUniverse {
    symbols: Vec<std::sync::Arc<str>>,
    walks: Vec<Walk>,
}

/// Per-bar scale of the load bars, as a fraction of the price.
const LOAD_SCALE: f64 = 0.004;

impl LoadUniverse {
    /// `size` symbols named `SIM0001`, `SIM0002`, ... priced from $20 to $520.
    pub fn new(size: usize, rng: &mut impl Rng) -> Self {
        let symbols = (1..=size)
            .map(|i| std::sync::Arc::from(format!("SIM{i:04}")))
            .collect();
        let walks = (0..size)
            .map(|_| {
                let open = round_cents(rng.random_range(20.0..520.0));
                // A first bar with a body, which an engulfing bar can swallow.
                let drift = random_drift(rng);
                let close = round_cents(open * (1.0 + drift));
                Walk {
                    previous: bar_around(open, close, rng, LOAD_SCALE),
                    drift,
                }
            })
            .collect();
        Self { symbols, walks }
    }

    /// Each symbol with the bar its next one follows, for warming up its
    /// analysis.
    pub fn last_bars(&self) -> impl Iterator<Item = (&std::sync::Arc<str>, &Bar)> {
        self.symbols
            .iter()
            .zip(&self.walks)
            .map(|(symbol, walk)| (symbol, &walk.previous))
    }

    /// The next bar of every symbol.
    pub fn next_bars(
        &mut self,
        rng: &mut impl Rng,
    ) -> impl Iterator<Item = (std::sync::Arc<str>, Bar)> {
        let bars: Vec<Bar> = self.walks.iter_mut().map(|walk| walk.next(rng)).collect();
        self.symbols.iter().cloned().zip(bars)
    }
}

fn random_drift(rng: &mut impl Rng) -> f64 {
    let size = rng.random_range(0.5..1.5) * LOAD_SCALE;
    if rng.random_bool(0.5) { size } else { -size }
}

impl Walk {
    fn next(&mut self, rng: &mut impl Rng) -> Bar {
        // Trends turn every 10 bars or so, which is what makes MACD cross.
        if rng.random_bool(0.1) {
            self.drift = random_drift(rng);
        }
        let price = self.previous.close;
        let scale = price * LOAD_SCALE;
        let bar = match draw_shape(rng) {
            Shape::Doji => doji(price, scale, rng),
            Shape::Hammer => hammer(price, scale, rng),
            Shape::Engulfing => engulfing(&self.previous, rng),
            Shape::Trend => {
                let close = round_cents(price * (1.0 + self.drift + normal_step(rng, LOAD_SCALE)));
                bar_around(price, close, rng, LOAD_SCALE / 4.0)
            }
        };
        let bar = in_cents(bar);
        self.previous = bar;
        bar
    }
}

/// Rounding is monotonic, so a valid bar stays valid.
fn in_cents(bar: Bar) -> Bar {
    Bar {
        open: round_cents(bar.open),
        high: round_cents(bar.high),
        low: round_cents(bar.low),
        close: round_cents(bar.close),
        volume: bar.volume,
    }
}

fn doji(price: f64, scale: f64, rng: &mut impl Rng) -> Bar {
    let close = price + scale * rng.random_range(-0.03..0.03);
    Bar {
        open: price,
        high: price.max(close) + scale * rng.random_range(0.3..1.0),
        low: price.min(close) - scale * rng.random_range(0.3..1.0),
        close,
        volume: f64::from(rng.random_range(100_u32..5_000) * 100),
    }
}

/// Small body at the top of a long lower shadow, either colour.
fn hammer(price: f64, scale: f64, rng: &mut impl Rng) -> Bar {
    let range = scale * rng.random_range(1.0..2.0);
    let body = range * rng.random_range(0.12..0.25);
    let high = price + range * 0.02;
    let top = high - range * 0.02;
    let (open, close) = if rng.random_bool(0.5) {
        (top - body, top)
    } else {
        (top, top - body)
    };
    Bar {
        open,
        high,
        low: high - range,
        close,
        volume: f64::from(rng.random_range(100_u32..5_000) * 100),
    }
}

/// A bar of the opposite colour whose body swallows the previous one.
fn engulfing(previous: &Bar, rng: &mut impl Rng) -> Bar {
    let body_top = previous.open.max(previous.close);
    let body_bottom = previous.open.min(previous.close);
    let margin = (previous.high - previous.low).max(0.02) * rng.random_range(0.2..0.6);
    let previous_bullish = previous.close >= previous.open;
    let (open, close) = if previous_bullish {
        (body_top + margin * 0.1, body_bottom - margin)
    } else {
        (body_bottom - margin * 0.1, body_top + margin)
    };
    let wick = margin * 0.2;
    Bar {
        open,
        high: open.max(close) + wick,
        low: (open.min(close) - wick).max(0.01),
        close,
        volume: f64::from(rng.random_range(100_u32..5_000) * 100),
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::sim::analysis::SymbolAnalysis;

    fn is_valid(bar: &Bar) -> bool {
        [bar.open, bar.high, bar.low, bar.close, bar.volume]
            .iter()
            .all(|x| x.is_finite())
            && bar.low <= bar.open.min(bar.close)
            && bar.open.max(bar.close) <= bar.high
            && bar.low > 0.0
    }

    #[test]
    fn history_ends_at_the_current_price_and_is_made_of_valid_bars() {
        let mut rng = StdRng::seed_from_u64(7);
        let bars = history(227.41, 250, &mut rng);
        assert_eq!(bars.len(), 250);
        assert_eq!(bars[249].close, 227.41);
        assert!(bars.iter().all(is_valid), "{bars:?}");
        // Each bar opens at the previous close, as continuous trading does.
        assert!(bars.windows(2).all(|w| w[1].open == w[0].close));
        // A plausible walk: within 15 % of today's price.
        assert!(bars.iter().all(|b| (b.close / 227.41 - 1.0).abs() < 0.15));
    }

    /// What the high-volume scenario promises (1000 patterns and 100 alerts
    /// a bar from 1500 symbols) rests on these yields, with a margin.
    #[test]
    fn load_bars_yield_enough_patterns_and_alerts_for_high_volume() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut universe = LoadUniverse::new(500, &mut rng);
        let mut analyses: Vec<SymbolAnalysis> = universe
            .last_bars()
            .map(|(_, last)| {
                let mut analysis = SymbolAnalysis::new();
                analysis.warm_up(history(last.close, 250, &mut StdRng::seed_from_u64(3)));
                analysis.on_bar(last);
                analysis
            })
            .collect();
        let (mut patterns, mut alerts, mut bars) = (0, 0, 0);
        for _ in 0..20 {
            let next: Vec<_> = universe.next_bars(&mut rng).collect();
            for ((_, bar), analysis) in next.iter().zip(&mut analyses) {
                assert!(is_valid(bar), "{bar:?}");
                let result = analysis.on_bar(bar);
                patterns += result.patterns.len();
                alerts += result.alerts.len();
                bars += 1;
            }
        }
        let per_bar = |n: usize| n as f64 / bars as f64;
        assert!(
            per_bar(patterns) > 0.8,
            "{} patterns/bar",
            per_bar(patterns)
        );
        assert!(per_bar(alerts) > 0.15, "{} alerts/bar", per_bar(alerts));
    }
}
