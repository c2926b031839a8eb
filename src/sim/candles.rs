//! Candlestick pattern detection on 1-minute bars.
//!
//! [`detect`] looks at the shape of one bar (and, for two-bar patterns, the bar
//! before it). It judges shape only: whether a hammer follows a downtrend, say,
//! is left to the caller, who has the price history.
//!
//! A bar is *valid* when all five fields are finite, `low <= open, close <= high`,
//! and the range `high - low` is finite and positive. Anything else, including a
//! zero-range bar, detects nothing. Single-bar rules are evaluated on
//! proportions of the range, which keeps them scale-free and free of overflow.

/// Pattern name reported for a [Doji](detect#doji).
pub const DOJI: &str = "Doji";
/// Pattern name reported for a [Hammer](detect#hammer).
pub const HAMMER: &str = "Hammer";
/// Pattern name reported for a [Bullish Engulfing](detect#engulfing) pair.
pub const BULLISH_ENGULFING: &str = "Bullish Engulfing";
/// Pattern name reported for a [Bearish Engulfing](detect#engulfing) pair.
pub const BEARISH_ENGULFING: &str = "Bearish Engulfing";

const DOJI_MAX_BODY: f64 = 0.10;
const DOJI_MIN_CONFIDENCE: f64 = 0.60;
const DOJI_MAX_CONFIDENCE: f64 = 0.99;

const HAMMER_MAX_BODY: f64 = 1.0 / 3.0;
const HAMMER_MIN_LOWER_SHADOW_PER_BODY: f64 = 2.0;
const HAMMER_MAX_UPPER_SHADOW_PER_BODY: f64 = 0.25;
/// Upper shadow always tolerated, as a fraction of the range, so a hammer with
/// a near-zero body is not required to close at the exact high.
const HAMMER_UPPER_SHADOW_ALLOWANCE: f64 = 0.05;

/// One OHLCV bar (1 minute in TickStock).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// A pattern found by [`detect`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// One of [`DOJI`], [`HAMMER`], [`BULLISH_ENGULFING`], [`BEARISH_ENGULFING`].
    pub pattern: &'static str,
    /// In [0.5, 1.0]; higher means a more textbook example of the pattern.
    pub confidence: f64,
}

/// A valid bar's body and shadows as fractions of its range; each is in
/// [0, 1] and together they sum to 1 (up to rounding).
#[derive(Debug, Clone, Copy)]
struct Proportions {
    body: f64,
    upper_shadow: f64,
    lower_shadow: f64,
}

impl Proportions {
    fn of(bar: &Bar) -> Option<Self> {
        let fields = [bar.open, bar.high, bar.low, bar.close, bar.volume];
        let within_range = |price: f64| bar.low <= price && price <= bar.high;
        if !fields.iter().all(|field| field.is_finite())
            || !within_range(bar.open)
            || !within_range(bar.close)
        {
            return None;
        }
        // Finite prices can still span more than f64::MAX.
        let range = bar.high - bar.low;
        if !(range.is_finite() && range > 0.0) {
            return None;
        }
        let body_top = bar.open.max(bar.close);
        let body_bottom = bar.open.min(bar.close);
        Some(Self {
            body: (body_top - body_bottom) / range,
            upper_shadow: (bar.high - body_top) / range,
            lower_shadow: (body_bottom - bar.low) / range,
        })
    }
}

/// Detects the patterns `bar` completes, given the bar before it if any.
///
/// Results come in the order Doji, Hammer, engulfing; the rules are
/// independent, so one bar can match several.
///
/// # Doji
/// Body ≤ 10% of the range. Confidence falls linearly from 0.99 for
/// `open == close` to 0.60 for a body of exactly 10%.
///
/// # Hammer
/// All of, with body and shadows measured as fractions of the range:
/// - body ≤ 1/3;
/// - lower shadow ≥ 2 × body;
/// - upper shadow ≤ max(0.25 × body, 0.05).
///
/// The shadow rules already cap the body at 4/13 of the range; the 1/3
/// limit is kept explicit as the textbook definition and as a guard should
/// they be loosened. They also put the body in the upper part of the range:
/// its bottom is at least ~61% of the way up. Either colour counts. Confidence is the lower
/// shadow's share of the range, which these rules bound to [0.61, 1.0].
///
/// A near-zero body at the top of a long lower shadow (a "dragonfly doji")
/// meets both the Doji and Hammer rules and is reported as both: it is a
/// hammer-family signal, and hiding either reading would lose information.
///
/// # Engulfing
/// Bullish: `previous` is bearish (`close < open`), `bar` is bullish
/// (`close > open`), `bar.open <= previous.close`, `bar.close >= previous.open`,
/// and `bar`'s body is strictly larger. Bearish is the mirror image. Confidence
/// is `0.5 + 0.5 × (1 − previous body / current body)`: just over 0.5 for a
/// body barely larger, 0.75 at twice the size, approaching 1.0 beyond. A
/// missing or invalid `previous` detects neither.
#[must_use]
pub fn detect(previous: Option<&Bar>, bar: &Bar) -> Vec<Detection> {
    let Some(proportions) = Proportions::of(bar) else {
        return Vec::new();
    };
    let previous = previous.filter(|previous| Proportions::of(previous).is_some());
    [
        doji(&proportions),
        hammer(&proportions),
        previous.and_then(|previous| engulfing(previous, bar)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn doji(bar: &Proportions) -> Option<Detection> {
    (bar.body <= DOJI_MAX_BODY).then(|| {
        let spread = DOJI_MAX_CONFIDENCE - DOJI_MIN_CONFIDENCE;
        Detection {
            pattern: DOJI,
            confidence: DOJI_MAX_CONFIDENCE - spread * (bar.body / DOJI_MAX_BODY),
        }
    })
}

fn hammer(bar: &Proportions) -> Option<Detection> {
    let upper_shadow_limit =
        (HAMMER_MAX_UPPER_SHADOW_PER_BODY * bar.body).max(HAMMER_UPPER_SHADOW_ALLOWANCE);
    let is_hammer = bar.body <= HAMMER_MAX_BODY
        && bar.lower_shadow >= HAMMER_MIN_LOWER_SHADOW_PER_BODY * bar.body
        && bar.upper_shadow <= upper_shadow_limit;
    is_hammer.then_some(Detection {
        pattern: HAMMER,
        confidence: bar.lower_shadow,
    })
}

/// Both bars must already be known valid.
fn engulfing(previous: &Bar, bar: &Bar) -> Option<Detection> {
    let previous_body = (previous.close - previous.open).abs();
    let body = (bar.close - bar.open).abs();
    let bullish = previous.close < previous.open
        && bar.close > bar.open
        && bar.open <= previous.close
        && bar.close >= previous.open;
    let bearish = previous.close > previous.open
        && bar.close < bar.open
        && bar.open >= previous.close
        && bar.close <= previous.open;
    let pattern = match (bullish, bearish) {
        (true, _) => BULLISH_ENGULFING,
        (_, true) => BEARISH_ENGULFING,
        _ => return None,
    };
    // The colour checks make previous_body > 0, so the ratio is finite.
    (body > previous_body).then(|| Detection {
        pattern,
        confidence: 0.5 + 0.5 * (1.0 - previous_body / body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(open: f64, high: f64, low: f64, close: f64) -> Bar {
        Bar {
            open,
            high,
            low,
            close,
            volume: 1_000.0,
        }
    }

    fn patterns(detections: &[Detection]) -> Vec<&'static str> {
        detections.iter().map(|d| d.pattern).collect()
    }

    fn confidence_of(detections: &[Detection], pattern: &str) -> f64 {
        match detections.iter().find(|d| d.pattern == pattern) {
            Some(detection) => detection.confidence,
            None => panic!("{pattern} not detected in {detections:?}"),
        }
    }

    #[test]
    fn doji_is_detected_with_confidence_falling_as_body_grows() {
        let perfect = detect(None, &bar(100.0, 101.0, 99.0, 100.0));
        assert_eq!(patterns(&perfect), [DOJI]);
        assert!((confidence_of(&perfect, DOJI) - 0.99).abs() < 1e-12);

        let small_body = detect(None, &bar(100.0, 101.0, 99.0, 100.05));
        assert_eq!(patterns(&small_body), [DOJI]);

        // Body 1 on range 10: exactly 10%, the inclusive edge.
        let edge = detect(None, &bar(104.0, 110.0, 100.0, 105.0));
        assert_eq!(patterns(&edge), [DOJI]);
        assert!((confidence_of(&edge, DOJI) - 0.60).abs() < 1e-12);

        assert!(confidence_of(&perfect, DOJI) > confidence_of(&small_body, DOJI));
        assert!(confidence_of(&small_body, DOJI) > confidence_of(&edge, DOJI));
    }

    #[test]
    fn body_of_fifteen_percent_is_not_doji() {
        assert!(detect(None, &bar(100.0, 101.0, 99.0, 100.3)).is_empty());
        assert!(detect(None, &bar(100.3, 101.0, 99.0, 100.0)).is_empty());
    }

    #[test]
    fn hammer_is_detected() {
        // Range 5, body 0.7 (14%), lower shadow 4.2, upper shadow 0.1.
        for (open, close) in [(99.2, 99.9), (99.9, 99.2)] {
            let detections = detect(None, &bar(open, 100.0, 95.0, close));
            assert_eq!(patterns(&detections), [HAMMER]);
            assert!((confidence_of(&detections, HAMMER) - 0.84).abs() < 1e-9);
        }
        // Largest body the rules allow: body 4/13, upper 1/13, lower 8/13.
        let widest = detect(None, &bar(8.0, 13.0, 0.0, 12.0));
        assert_eq!(patterns(&widest), [HAMMER]);
        assert!((confidence_of(&widest, HAMMER) - 8.0 / 13.0).abs() < 1e-12);
    }

    #[test]
    fn shapes_resembling_a_hammer_are_not_hammers() {
        let not_hammers = [
            // Long lower shadow but the body is 68% of the range.
            bar(96.5, 100.0, 95.0, 99.9),
            // Body 32% and upper shadow 6%, but lower shadow 3.1 < 2 × 1.6.
            bar(98.1, 100.0, 95.0, 99.7),
            // Small body (12%), long lower shadow, but a 28% upper shadow.
            bar(98.0, 100.0, 95.0, 98.6),
            // Small body at the bottom of the range (inverted hammer).
            bar(95.1, 100.0, 95.0, 95.8),
        ];
        for candidate in not_hammers {
            let detections = detect(None, &candidate);
            assert!(
                !patterns(&detections).contains(&HAMMER),
                "{candidate:?} gave {detections:?}"
            );
        }
    }

    #[test]
    fn dragonfly_doji_is_both_doji_and_hammer() {
        let detections = detect(None, &bar(100.0, 100.0, 95.0, 100.0));
        assert_eq!(patterns(&detections), [DOJI, HAMMER]);
        assert!((confidence_of(&detections, HAMMER) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bullish_engulfing_is_detected_and_grows_with_relative_size() {
        let previous = bar(101.0, 101.5, 99.5, 100.0);
        // Body 1.7 engulfing body 1.0.
        let detections = detect(Some(&previous), &bar(99.8, 101.8, 99.6, 101.5));
        assert_eq!(patterns(&detections), [BULLISH_ENGULFING]);
        let modest = confidence_of(&detections, BULLISH_ENGULFING);
        assert!((modest - (0.5 + 0.5 * (1.0 - 1.0 / 1.7))).abs() < 1e-9);

        let detections = detect(Some(&previous), &bar(99.0, 103.2, 98.8, 103.0));
        let strong = confidence_of(&detections, BULLISH_ENGULFING);
        assert!(strong > modest);

        // Opening exactly at the previous close still engulfs when larger.
        let detections = detect(Some(&previous), &bar(100.0, 101.6, 99.9, 101.1));
        assert_eq!(patterns(&detections), [BULLISH_ENGULFING]);
    }

    #[test]
    fn bearish_engulfing_is_detected() {
        let previous = bar(100.0, 101.5, 99.5, 101.0);
        let detections = detect(Some(&previous), &bar(101.2, 101.4, 99.2, 99.5));
        assert_eq!(patterns(&detections), [BEARISH_ENGULFING]);
        let confidence = confidence_of(&detections, BEARISH_ENGULFING);
        assert!((confidence - (0.5 + 0.5 * (1.0 - 1.0 / 1.7))).abs() < 1e-9);
    }

    #[test]
    fn near_misses_are_not_engulfing() {
        let bearish = bar(101.0, 101.5, 99.5, 100.0);
        let bullish = bar(100.0, 101.5, 99.5, 101.0);
        let cases = [
            // Opens above the previous close: bodies only overlap.
            (bearish, bar(100.2, 101.8, 100.1, 101.5)),
            // Closes below the previous open: bodies only overlap.
            (bearish, bar(99.8, 101.0, 99.6, 100.9)),
            // Previous bar is the same colour.
            (bullish, bar(99.8, 101.8, 99.6, 101.5)),
            (bearish, bar(101.2, 101.4, 99.2, 99.5)),
            // Identical body span, not strictly larger.
            (bearish, bar(100.0, 101.2, 99.8, 101.0)),
            (bullish, bar(101.0, 101.2, 99.8, 100.0)),
            // Mirror partial overlap.
            (bullish, bar(100.8, 101.0, 99.2, 99.5)),
        ];
        for (previous, current) in cases {
            let detections = detect(Some(&previous), &current);
            let found = patterns(&detections);
            assert!(
                !found.contains(&BULLISH_ENGULFING) && !found.contains(&BEARISH_ENGULFING),
                "{previous:?} then {current:?} gave {detections:?}"
            );
        }
    }

    #[test]
    fn engulfing_needs_a_valid_previous_bar() {
        let current = bar(99.8, 101.8, 99.6, 101.5);
        assert!(detect(None, &current).is_empty());
        let invalid_previous = [
            bar(101.0, f64::NAN, 99.5, 100.0),
            bar(101.0, 99.5, 101.5, 100.0),
        ];
        for previous in invalid_previous {
            assert!(detect(Some(&previous), &current).is_empty());
        }
        // An invalid previous bar does not hide single-bar patterns.
        let doji = bar(100.0, 101.0, 99.0, 100.0);
        assert_eq!(patterns(&detect(Some(&invalid_previous[0]), &doji)), [DOJI]);
    }

    #[test]
    fn zero_range_and_invalid_bars_detect_nothing() {
        let previous = bar(101.0, 101.5, 99.5, 100.0);
        let invalid = [
            bar(100.0, 100.0, 100.0, 100.0),
            bar(100.0, 99.0, 101.0, 100.0),
            bar(100.0, 101.0, 99.0, 102.0),
            bar(98.0, 101.0, 99.0, 100.0),
            bar(f64::NAN, 101.0, 99.0, 100.0),
            bar(100.0, f64::INFINITY, 99.0, 100.0),
            bar(100.0, 101.0, f64::NEG_INFINITY, 100.0),
            Bar {
                volume: f64::NAN,
                ..bar(100.0, 101.0, 99.0, 100.0)
            },
            // Finite prices whose range overflows to infinity.
            bar(-f64::MAX, f64::MAX, -f64::MAX, f64::MAX),
        ];
        for candidate in invalid {
            assert!(detect(None, &candidate).is_empty(), "{candidate:?}");
            assert!(
                detect(Some(&previous), &candidate).is_empty(),
                "{candidate:?}"
            );
        }
    }

    #[test]
    fn extreme_finite_bars_stay_finite() {
        let tiny = f64::from_bits(1); // smallest subnormal
        let extremes = [
            bar(0.0, tiny, 0.0, 0.0),
            bar(0.0, tiny, 0.0, tiny),
            bar(f64::MAX, f64::MAX, f64::MAX / 2.0, f64::MAX),
            bar(
                -f64::MAX / 2.0,
                f64::MAX / 2.0,
                -f64::MAX / 2.0,
                f64::MAX / 2.0,
            ),
        ];
        for previous in extremes {
            for current in extremes {
                for detection in detect(Some(&previous), &current) {
                    assert!((0.5..=1.0).contains(&detection.confidence), "{detection:?}");
                }
            }
        }
    }

    /// 64-bit LCG (Knuth's MMIX constants) yielding uniform values in [0, 1).
    struct Lcg(u64);

    impl Lcg {
        fn next_unit(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }

        /// A price in `[low, low + range]`, at either end 10% of the time each.
        fn next_price(&mut self, low: f64, range: f64) -> f64 {
            match (self.next_unit() * 10.0) as u32 {
                0 => low,
                1 => low + range,
                _ => low + self.next_unit() * range,
            }
        }

        /// A bar of random shape; some prices snap to the extremes or to
        /// each other so that every pattern and edge case comes up.
        fn next_bar(&mut self) -> Bar {
            let scale = [1e-6, 1.0, 100.0, 1e9][(self.next_unit() * 4.0) as usize];
            let low = self.next_unit() * scale;
            let range = if self.next_unit() < 0.05 {
                0.0
            } else {
                self.next_unit() * scale * 0.1
            };
            let open = self.next_price(low, range);
            let close = if self.next_unit() < 0.1 {
                open
            } else {
                self.next_price(low, range)
            };
            Bar {
                open,
                high: low + range,
                low,
                close,
                volume: self.next_unit() * 1e6,
            }
        }
    }

    #[test]
    fn confidence_stays_in_bounds_over_random_bars() {
        let mut lcg = Lcg(42);
        let mut counts = [0usize; 4];
        let mut previous = lcg.next_bar();
        for _ in 0..200_000 {
            let current = lcg.next_bar();
            for detection in detect(Some(&previous), &current) {
                assert!(
                    (0.5..=1.0).contains(&detection.confidence),
                    "{previous:?} then {current:?} gave {detection:?}"
                );
                let slot = [DOJI, HAMMER, BULLISH_ENGULFING, BEARISH_ENGULFING]
                    .iter()
                    .position(|&name| name == detection.pattern);
                match slot {
                    Some(slot) => counts[slot] += 1,
                    None => panic!("unknown pattern {detection:?}"),
                }
            }
            previous = current;
        }
        assert!(counts.iter().all(|&count| count > 100), "{counts:?}");
    }
}
