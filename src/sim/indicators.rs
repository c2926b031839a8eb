//! Incremental technical indicators over closing prices.
//!
//! Every indicator takes one closing price per bar through `update` and does a
//! constant amount of work per call: running sums and ring buffers replace any
//! re-scan of history. `update` returns `None` until the indicator's warm-up is
//! complete and the current reading afterwards; `value` reads it without
//! advancing.
//!
//! A non-finite close (NaN or ±infinity) is skipped: the state is left as it
//! was and the previous reading is returned. One bad tick would otherwise
//! poison a running sum for the rest of the session.

/// Fixed-capacity FIFO of the most recent values, stored as a ring buffer.
#[derive(Debug, Clone)]
struct Window {
    values: Vec<f64>,
    capacity: usize,
    /// Index of the oldest value once the window is full.
    oldest: usize,
}

impl Window {
    fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "indicator period must be at least 1");
        Self {
            values: Vec::with_capacity(capacity),
            capacity,
            oldest: 0,
        }
    }

    /// Appends `value`; once full, overwrites and returns the oldest value.
    fn push(&mut self, value: f64) -> Option<f64> {
        if self.values.len() < self.capacity {
            self.values.push(value);
            return None;
        }
        let evicted = std::mem::replace(&mut self.values[self.oldest], value);
        self.oldest = (self.oldest + 1) % self.capacity;
        Some(evicted)
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn is_full(&self) -> bool {
        self.values.len() == self.capacity
    }
}

/// Simple moving average: the arithmetic mean of the last `period` closes.
///
/// Keeps a ring buffer and a running sum, so each update adds the new close
/// and subtracts the evicted one instead of re-summing the window.
#[derive(Debug, Clone)]
pub struct Sma {
    window: Window,
    sum: f64,
}

impl Sma {
    /// # Panics
    /// If `period` is 0.
    pub fn new(period: usize) -> Self {
        Self {
            window: Window::new(period),
            sum: 0.0,
        }
    }

    /// Feeds one close; `Some` from the `period`-th close on.
    pub fn update(&mut self, value: f64) -> Option<f64> {
        if value.is_finite() {
            let evicted = self.window.push(value).unwrap_or(0.0);
            self.sum += value - evicted;
        }
        self.value()
    }

    /// The current average, if the window is full.
    pub fn value(&self) -> Option<f64> {
        self.window
            .is_full()
            .then(|| self.sum / self.window.len() as f64)
    }
}

/// Exponential moving average with smoothing factor `2 / (period + 1)`.
///
/// Seeded with the SMA of the first `period` closes (the StockCharts /
/// TA-Lib convention), so the first reading appears on the `period`-th close
/// and does not depend on whichever close happened to arrive first.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    smoothing: f64,
    /// Closes seen and their sum while the SMA seed is being collected.
    seed_count: usize,
    seed_sum: f64,
    current: Option<f64>,
}

impl Ema {
    /// # Panics
    /// If `period` is 0.
    pub fn new(period: usize) -> Self {
        assert!(period > 0, "indicator period must be at least 1");
        Self {
            period,
            smoothing: 2.0 / (period as f64 + 1.0),
            seed_count: 0,
            seed_sum: 0.0,
            current: None,
        }
    }

    /// Feeds one close; `Some` from the `period`-th close on.
    pub fn update(&mut self, value: f64) -> Option<f64> {
        if !value.is_finite() {
            return self.current;
        }
        self.current = match self.current {
            Some(previous) => Some(previous + self.smoothing * (value - previous)),
            None => {
                self.seed_sum += value;
                self.seed_count += 1;
                (self.seed_count == self.period).then(|| self.seed_sum / self.period as f64)
            }
        };
        self.current
    }

    /// The current average, once seeded.
    pub fn value(&self) -> Option<f64> {
        self.current
    }
}

/// Relative Strength Index with Wilder's smoothing.
///
/// As Wilder defined it: the first average gain and loss are the simple means
/// of the first `period` close-to-close changes, after which
/// `average = (previous * (period - 1) + current) / period`. That needs
/// `period + 1` closes before the first reading. RSI = 100 − 100 / (1 + RS)
/// with RS = average gain / average loss; when the average loss is 0 (which
/// includes a perfectly flat series) RS is unbounded and RSI is 100.
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
    previous_close: Option<f64>,
    /// Changes folded in so far, counted only up to `period`.
    changes_seen: usize,
    /// Sums of gains and losses during warm-up, Wilder averages afterwards.
    average_gain: f64,
    average_loss: f64,
}

impl Rsi {
    /// # Panics
    /// If `period` is 0.
    pub fn new(period: usize) -> Self {
        assert!(period > 0, "indicator period must be at least 1");
        Self {
            period,
            previous_close: None,
            changes_seen: 0,
            average_gain: 0.0,
            average_loss: 0.0,
        }
    }

    /// Feeds one close; `Some` from the `period + 1`-th close on.
    pub fn update(&mut self, value: f64) -> Option<f64> {
        if !value.is_finite() {
            return self.value();
        }
        if let Some(previous) = self.previous_close.replace(value) {
            let change = value - previous;
            let gain = change.max(0.0);
            let loss = (-change).max(0.0);
            let period = self.period as f64;
            if self.changes_seen < self.period {
                self.average_gain += gain;
                self.average_loss += loss;
                self.changes_seen += 1;
                if self.changes_seen == self.period {
                    self.average_gain /= period;
                    self.average_loss /= period;
                }
            } else {
                self.average_gain = (self.average_gain * (period - 1.0) + gain) / period;
                self.average_loss = (self.average_loss * (period - 1.0) + loss) / period;
            }
        }
        self.value()
    }

    /// The current RSI in [0, 100], once warmed up.
    pub fn value(&self) -> Option<f64> {
        if self.changes_seen < self.period {
            return None;
        }
        if self.average_loss == 0.0 {
            return Some(100.0);
        }
        let relative_strength = self.average_gain / self.average_loss;
        Some(100.0 - 100.0 / (1.0 + relative_strength))
    }
}

/// One MACD reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdValue {
    /// EMA(fast) − EMA(slow).
    pub macd: f64,
    /// EMA(signal) of the MACD line.
    pub signal: f64,
    /// MACD line − signal line.
    pub histogram: f64,
}

/// Moving Average Convergence/Divergence (Appel), built from SMA-seeded [`Ema`]s.
///
/// The MACD line exists once both price EMAs do (after `slow` closes when
/// `fast <= slow`); the signal EMA is fed only real MACD-line values, so the
/// first full reading arrives after `slow + signal - 1` closes (34 for
/// 12/26/9), matching StockCharts rather than padding the line with zeros.
#[derive(Debug, Clone)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
    current: Option<MacdValue>,
}

impl Macd {
    /// # Panics
    /// If any period is 0.
    pub fn new(fast: usize, slow: usize, signal: usize) -> Self {
        Self {
            fast: Ema::new(fast),
            slow: Ema::new(slow),
            signal: Ema::new(signal),
            current: None,
        }
    }

    /// Feeds one close; `Some` once the signal line exists.
    pub fn update(&mut self, value: f64) -> Option<MacdValue> {
        if !value.is_finite() {
            return self.current;
        }
        let fast = self.fast.update(value);
        let slow = self.slow.update(value);
        if let (Some(fast), Some(slow)) = (fast, slow) {
            let macd = fast - slow;
            if let Some(signal) = self.signal.update(macd) {
                self.current = Some(MacdValue {
                    macd,
                    signal,
                    histogram: macd - signal,
                });
            }
        }
        self.current
    }

    /// The current reading, once the signal line exists.
    pub fn value(&self) -> Option<MacdValue> {
        self.current
    }
}

/// One Bollinger Bands reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerValue {
    pub upper: f64,
    pub middle: f64,
    pub lower: f64,
}

/// Bollinger Bands: SMA(`period`) ± `k` population standard deviations.
///
/// The deviation divides by `period`, not `period - 1`, as John Bollinger
/// specifies (the window is the whole population being described). Mean and
/// sum of squared deviations are maintained with Welford's update, extended to
/// a sliding window; unlike `Σx² − n·mean²` this does not cancel
/// catastrophically at price levels far from zero, and a constant series gives
/// exactly σ = 0. The variance is clamped at 0 against residual rounding.
#[derive(Debug, Clone)]
pub struct Bollinger {
    window: Window,
    k: f64,
    mean: f64,
    squared_deviations: f64,
}

impl Bollinger {
    /// # Panics
    /// If `period` is 0, or `k` is negative or not finite.
    pub fn new(period: usize, k: f64) -> Self {
        assert!(
            k.is_finite() && k >= 0.0,
            "band width must be finite and non-negative"
        );
        Self {
            window: Window::new(period),
            k,
            mean: 0.0,
            squared_deviations: 0.0,
        }
    }

    /// Feeds one close; `Some` from the `period`-th close on.
    pub fn update(&mut self, value: f64) -> Option<BollingerValue> {
        if value.is_finite() {
            let previous_mean = self.mean;
            match self.window.push(value) {
                None => {
                    let delta = value - previous_mean;
                    self.mean += delta / self.window.len() as f64;
                    self.squared_deviations += delta * (value - self.mean);
                }
                Some(evicted) => {
                    let delta = value - evicted;
                    self.mean += delta / self.window.len() as f64;
                    self.squared_deviations +=
                        delta * ((value - self.mean) + (evicted - previous_mean));
                }
            }
        }
        self.value()
    }

    /// The current bands, if the window is full.
    pub fn value(&self) -> Option<BollingerValue> {
        if !self.window.is_full() {
            return None;
        }
        let variance = (self.squared_deviations / self.window.len() as f64).max(0.0);
        let half_width = self.k * variance.sqrt();
        Some(BollingerValue {
            upper: self.mean + half_width,
            middle: self.mean,
            lower: self.mean - half_width,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAIVE_TOLERANCE: f64 = 1e-9;

    /// Random-walk closes around 100 from a 64-bit LCG (Knuth's MMIX constants).
    fn pseudo_random_closes(count: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        let mut close = 100.0;
        (0..count)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
                close += (unit - 0.5) * 2.0;
                close
            })
            .collect()
    }

    fn mean(values: &[f64]) -> f64 {
        values.iter().sum::<f64>() / values.len() as f64
    }

    /// EMA of `values[..=end]` in closed form: the SMA seed decayed by
    /// `(1 - α)^steps` plus the exponentially weighted later values. Shares no
    /// recurrence with `Ema::update`.
    fn naive_ema(values: &[f64], period: usize, end: usize) -> Option<f64> {
        if end + 1 < period {
            return None;
        }
        let alpha = 2.0 / (period as f64 + 1.0);
        let decay = 1.0 - alpha;
        let steps = end + 1 - period;
        let seed = mean(&values[..period]);
        let weighted_tail: f64 = (period..=end)
            .map(|index| alpha * decay.powi((end - index) as i32) * values[index])
            .sum();
        Some(seed * decay.powi(steps as i32) + weighted_tail)
    }

    /// Wilder's RSI for a whole series, written the way the worked example
    /// reads: list the changes, average the first `period`, then smooth.
    fn straightforward_rsi(closes: &[f64], period: usize) -> Vec<f64> {
        let changes: Vec<f64> = closes.windows(2).map(|pair| pair[1] - pair[0]).collect();
        let gains: Vec<f64> = changes
            .iter()
            .map(|&c| if c > 0.0 { c } else { 0.0 })
            .collect();
        let losses: Vec<f64> = changes
            .iter()
            .map(|&c| if c < 0.0 { -c } else { 0.0 })
            .collect();
        let rsi_of = |gain: f64, loss: f64| {
            if loss == 0.0 {
                100.0
            } else {
                100.0 - 100.0 / (1.0 + gain / loss)
            }
        };
        let mut average_gain = mean(&gains[..period]);
        let mut average_loss = mean(&losses[..period]);
        let mut result = vec![rsi_of(average_gain, average_loss)];
        for index in period..changes.len() {
            let p = period as f64;
            average_gain = (average_gain * (p - 1.0) + gains[index]) / p;
            average_loss = (average_loss * (p - 1.0) + losses[index]) / p;
            result.push(rsi_of(average_gain, average_loss));
        }
        result
    }

    fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "{what}: got {actual}, expected {expected} ± {tolerance}"
        );
    }

    /// Counts leading `None`s and checks nothing after the first `Some` is `None`.
    fn warm_up_length<T>(outputs: &[Option<T>]) -> usize {
        let warm_up = outputs.iter().take_while(|o| o.is_none()).count();
        assert!(outputs[warm_up..].iter().all(Option::is_some));
        warm_up
    }

    /// QQQQ closes from StockCharts ChartSchool's RSI spreadsheet (cs-rsi.xls),
    /// at the four decimals the published RSI column was computed from.
    const STOCKCHARTS_RSI_CLOSES: [f64; 33] = [
        44.3389, 44.0902, 44.1497, 43.6124, 44.3278, 44.8264, 45.0955, 45.4245, 45.8433, 46.0826,
        45.8931, 46.0328, 45.6140, 46.2820, 46.2820, 46.0028, 46.0328, 46.4116, 46.2222, 45.6439,
        46.2122, 46.2521, 45.7137, 46.4515, 45.7835, 45.3548, 44.0288, 44.1783, 44.2181, 44.5672,
        43.4205, 42.6628, 43.1314,
    ];

    /// The RSI(14) column published with those closes, to two decimals.
    const STOCKCHARTS_RSI_14: [f64; 19] = [
        70.53, 66.32, 66.55, 69.41, 66.36, 57.97, 62.93, 63.26, 56.06, 62.38, 54.71, 50.42, 39.99,
        41.46, 41.87, 45.46, 37.30, 33.08, 37.77,
    ];

    #[test]
    fn rsi_matches_stockcharts_worked_example() {
        let mut rsi = Rsi::new(14);
        let outputs: Vec<_> = STOCKCHARTS_RSI_CLOSES
            .iter()
            .map(|&close| rsi.update(close))
            .collect();
        assert_eq!(warm_up_length(&outputs), 14);

        let actual: Vec<f64> = outputs.into_iter().flatten().collect();
        let reference = straightforward_rsi(&STOCKCHARTS_RSI_CLOSES, 14);
        assert_eq!(actual.len(), STOCKCHARTS_RSI_14.len());
        assert_eq!(reference.len(), STOCKCHARTS_RSI_14.len());
        for ((&got, &computed), &published) in
            actual.iter().zip(&reference).zip(&STOCKCHARTS_RSI_14)
        {
            // The published column is rounded to 2 decimals.
            assert_close(got, published, 0.01, "RSI vs published");
            assert_close(got, computed, NAIVE_TOLERANCE, "RSI vs straightforward");
        }
    }

    /// The same example with closes rounded to two decimals, as it is often
    /// quoted. Rounding the inputs moves the first RSI to ≈70.46, so the
    /// published 70.53 does not apply; the reference here is the
    /// straightforward computation on exactly these inputs.
    #[test]
    fn rsi_matches_straightforward_wilder_on_rounded_closes() {
        let closes = [
            44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08, 45.89, 46.03,
            45.61, 46.28, 46.28, 46.00, 46.03, 46.41, 46.22, 45.64, 46.21, 46.25, 45.71, 46.45,
            45.78, 45.35, 44.03, 44.18, 44.22, 44.57, 43.42, 42.66, 43.13,
        ];
        let mut rsi = Rsi::new(14);
        let actual: Vec<f64> = closes.iter().filter_map(|&c| rsi.update(c)).collect();
        let reference = straightforward_rsi(&closes, 14);
        assert_eq!(actual.len(), 19);
        assert_eq!(reference.len(), 19);
        assert_close(actual[0], 70.46, 0.01, "first RSI on rounded closes");
        for (&got, &expected) in actual.iter().zip(&reference) {
            assert_close(got, expected, NAIVE_TOLERANCE, "RSI vs straightforward");
        }
    }

    #[test]
    fn rsi_is_100_without_losses_and_0_without_gains() {
        let mut rising = Rsi::new(3);
        let mut flat = Rsi::new(3);
        let mut falling = Rsi::new(3);
        for step in 0..10 {
            let step = f64::from(step);
            rising.update(100.0 + step);
            flat.update(100.0);
            falling.update(100.0 - step);
        }
        assert_eq!(rising.value(), Some(100.0));
        assert_eq!(flat.value(), Some(100.0));
        assert_eq!(falling.value(), Some(0.0));
    }

    #[test]
    fn sma_matches_naive_window_mean() {
        let closes = pseudo_random_closes(500, 7);
        for period in [1, 2, 5, 20, 50] {
            let mut sma = Sma::new(period);
            for (index, &close) in closes.iter().enumerate() {
                let expected =
                    (index + 1 >= period).then(|| mean(&closes[index + 1 - period..=index]));
                match (sma.update(close), expected) {
                    (Some(got), Some(want)) => assert_close(got, want, NAIVE_TOLERANCE, "SMA"),
                    (got, want) => assert_eq!(got, want, "SMA warm-up at close {index}"),
                }
            }
        }
    }

    #[test]
    fn ema_matches_closed_form() {
        let closes = pseudo_random_closes(300, 11);
        for period in [1, 3, 12, 26] {
            let mut ema = Ema::new(period);
            for (index, &close) in closes.iter().enumerate() {
                match (ema.update(close), naive_ema(&closes, period, index)) {
                    (Some(got), Some(want)) => assert_close(got, want, NAIVE_TOLERANCE, "EMA"),
                    (got, want) => assert_eq!(got, want, "EMA warm-up at close {index}"),
                }
            }
        }
    }

    #[test]
    fn macd_matches_naive_recomputation() {
        let closes = pseudo_random_closes(300, 13);
        let (fast, slow, signal) = (12, 26, 9);
        let mut macd = Macd::new(fast, slow, signal);
        // The MACD line as a plain series, from closed-form EMAs of each prefix.
        let mut macd_line = Vec::new();
        for (index, &close) in closes.iter().enumerate() {
            let got = macd.update(close);
            if let (Some(f), Some(s)) = (
                naive_ema(&closes, fast, index),
                naive_ema(&closes, slow, index),
            ) {
                macd_line.push(f - s);
            }
            let expected = macd_line
                .len()
                .checked_sub(1)
                .and_then(|end| naive_ema(&macd_line, signal, end));
            match (got, expected) {
                (Some(got), Some(want_signal)) => {
                    let want_macd = macd_line[macd_line.len() - 1];
                    assert_close(got.macd, want_macd, NAIVE_TOLERANCE, "MACD line");
                    assert_close(got.signal, want_signal, NAIVE_TOLERANCE, "signal");
                    assert_close(
                        got.histogram,
                        want_macd - want_signal,
                        NAIVE_TOLERANCE,
                        "histogram",
                    );
                }
                (got, want) => assert_eq!(got.is_some(), want.is_some(), "MACD warm-up at {index}"),
            }
        }
    }

    #[test]
    fn bollinger_matches_naive_population_deviation() {
        let closes = pseudo_random_closes(500, 17);
        for (period, k) in [(1, 2.0), (5, 1.5), (20, 2.0)] {
            let mut bands = Bollinger::new(period, k);
            for (index, &close) in closes.iter().enumerate() {
                let got = bands.update(close);
                if index + 1 < period {
                    assert_eq!(got, None, "Bollinger warm-up at close {index}");
                    continue;
                }
                let window = &closes[index + 1 - period..=index];
                let middle = mean(window);
                let variance =
                    window.iter().map(|x| (x - middle).powi(2)).sum::<f64>() / period as f64;
                let sigma = variance.sqrt();
                let Some(got) = got else {
                    panic!("Bollinger missing at close {index}");
                };
                assert_close(got.middle, middle, NAIVE_TOLERANCE, "middle");
                assert_close(got.upper, middle + k * sigma, NAIVE_TOLERANCE, "upper");
                assert_close(got.lower, middle - k * sigma, NAIVE_TOLERANCE, "lower");
            }
        }
    }

    /// SPY closes and Bollinger(20, 2) rows from ChartSchool's cs-bbands.xls,
    /// which uses the population deviation; a sample deviation would be off by
    /// about 0.1 here.
    #[test]
    fn bollinger_matches_stockcharts_worked_example() {
        let closes = [
            86.1557, 89.0867, 88.7829, 90.3228, 89.0671, 91.1453, 89.4397, 89.1750, 86.9302,
            87.6752, 86.9596, 89.4299, 89.3221, 88.7241, 87.4497, 87.2634, 89.4985, 87.9006,
            89.1260, 90.7043, 92.9001, 92.9784,
        ];
        let published = [
            (91.291862, 88.70794, 86.124018),
            (91.949268, 89.04516, 86.141052),
            (92.612595, 89.239745, 85.866895),
        ];
        let mut bands = Bollinger::new(20, 2.0);
        let actual: Vec<_> = closes.iter().filter_map(|&c| bands.update(c)).collect();
        assert_eq!(actual.len(), published.len());
        for (got, &(upper, middle, lower)) in actual.iter().zip(&published) {
            assert_close(got.upper, upper, 1e-5, "published upper");
            assert_close(got.middle, middle, 1e-5, "published middle");
            assert_close(got.lower, lower, 1e-5, "published lower");
        }
    }

    #[test]
    fn bollinger_constant_series_has_zero_width() {
        for level in [0.1, 100.0, 12_345.678_9] {
            let mut bands = Bollinger::new(20, 2.0);
            for _ in 0..100 {
                if let Some(value) = bands.update(level) {
                    assert_eq!(value.upper, value.middle);
                    assert_eq!(value.lower, value.middle);
                    assert_eq!(value.middle, level);
                }
            }
        }
        // A series that turns constant after moving: width decays to ~0, never NaN.
        let mut bands = Bollinger::new(20, 2.0);
        for close in pseudo_random_closes(200, 19) {
            bands.update(close);
        }
        for _ in 0..40 {
            bands.update(101.25);
        }
        let Some(value) = bands.value() else {
            panic!("bands should be warmed up");
        };
        assert!(!value.upper.is_nan() && !value.lower.is_nan());
        assert_close(
            value.upper - value.lower,
            0.0,
            1e-6,
            "width after flat stretch",
        );
    }

    #[test]
    fn warm_up_boundaries() {
        let closes = pseudo_random_closes(60, 23);

        let mut sma = Sma::new(5);
        let outputs: Vec<_> = closes.iter().map(|&c| sma.update(c)).collect();
        assert_eq!(warm_up_length(&outputs), 4);

        let mut ema = Ema::new(5);
        let outputs: Vec<_> = closes.iter().map(|&c| ema.update(c)).collect();
        assert_eq!(warm_up_length(&outputs), 4);

        let mut rsi = Rsi::new(14);
        let outputs: Vec<_> = closes.iter().map(|&c| rsi.update(c)).collect();
        assert_eq!(warm_up_length(&outputs), 14);

        let mut macd = Macd::new(12, 26, 9);
        let outputs: Vec<_> = closes.iter().map(|&c| macd.update(c)).collect();
        assert_eq!(warm_up_length(&outputs), 26 + 9 - 2);

        let mut macd = Macd::new(3, 5, 4);
        let outputs: Vec<_> = closes.iter().map(|&c| macd.update(c)).collect();
        assert_eq!(warm_up_length(&outputs), 5 + 4 - 2);

        let mut bands = Bollinger::new(20, 2.0);
        let outputs: Vec<_> = closes.iter().map(|&c| bands.update(c)).collect();
        assert_eq!(warm_up_length(&outputs), 19);
    }

    #[test]
    fn non_finite_closes_are_skipped() {
        let closes = pseudo_random_closes(80, 29);
        let mut clean = (
            Sma::new(10),
            Ema::new(10),
            Rsi::new(14),
            Macd::new(12, 26, 9),
            Bollinger::new(20, 2.0),
        );
        let mut noisy = clean.clone();
        for (index, &close) in closes.iter().enumerate() {
            if index % 7 == 3 {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let before = noisy.0.value();
                    assert_eq!(noisy.0.update(bad), before);
                    let before = noisy.1.value();
                    assert_eq!(noisy.1.update(bad), before);
                    let before = noisy.2.value();
                    assert_eq!(noisy.2.update(bad), before);
                    let before = noisy.3.value();
                    assert_eq!(noisy.3.update(bad), before);
                    let before = noisy.4.value();
                    assert_eq!(noisy.4.update(bad), before);
                }
            }
            // Skipping leaves the state untouched, so the readings agree exactly.
            assert_eq!(clean.0.update(close), noisy.0.update(close));
            assert_eq!(clean.1.update(close), noisy.1.update(close));
            assert_eq!(clean.2.update(close), noisy.2.update(close));
            assert_eq!(clean.3.update(close), noisy.3.update(close));
            assert_eq!(clean.4.update(close), noisy.4.update(close));
        }
        assert!(
            noisy.3.value().is_some(),
            "sweep should reach MACD readings"
        );
    }

    #[test]
    #[should_panic(expected = "period must be at least 1")]
    fn zero_period_is_rejected() {
        Sma::new(0);
    }
}
