//! One symbol's running analysis: its indicators, updated once per bar, the
//! alerts raised when a reading crosses a threshold, and the candlestick
//! patterns each bar completes.

use super::candles::{self, Bar, Detection};
use super::indicators::{Bollinger, BollingerValue, Macd, MacdValue, Rsi, Sma};

pub const RSI_PERIOD: usize = 14;
pub const RSI_OVERBOUGHT: f64 = 70.0;
pub const RSI_OVERSOLD: f64 = 30.0;
pub const SMA_PERIODS: [usize; 3] = [20, 50, 200];
pub const MACD_FAST: usize = 12;
pub const MACD_SLOW: usize = 26;
pub const MACD_SIGNAL: usize = 9;
pub const BOLLINGER_PERIOD: usize = 20;
pub const BOLLINGER_WIDTH: f64 = 2.0;

/// The six indicator alert types of seed 004.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlertKind {
    RsiOverbought,
    RsiOversold,
    MacdBullishCross,
    MacdBearishCross,
    BbUpperBreak,
    BbLowerBreak,
}

impl AlertKind {
    pub const ALL: [AlertKind; 6] = [
        AlertKind::RsiOverbought,
        AlertKind::RsiOversold,
        AlertKind::MacdBullishCross,
        AlertKind::MacdBearishCross,
        AlertKind::BbUpperBreak,
        AlertKind::BbLowerBreak,
    ];

    /// The `alert_type` on the wire.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::RsiOverbought => "RSI_OVERBOUGHT",
            AlertKind::RsiOversold => "RSI_OVERSOLD",
            AlertKind::MacdBullishCross => "MACD_BULLISH_CROSS",
            AlertKind::MacdBearishCross => "MACD_BEARISH_CROSS",
            AlertKind::BbUpperBreak => "BB_UPPER_BREAK",
            AlertKind::BbLowerBreak => "BB_LOWER_BREAK",
        }
    }

    /// The indicator whose reading crossed (`data.indicator`).
    pub fn indicator(self) -> &'static str {
        match self {
            AlertKind::RsiOverbought | AlertKind::RsiOversold => "RSI",
            AlertKind::MacdBullishCross | AlertKind::MacdBearishCross => "MACD",
            AlertKind::BbUpperBreak | AlertKind::BbLowerBreak => "BB",
        }
    }

    /// Which way the reading crossed its threshold (`data.direction`).
    pub fn direction(self) -> &'static str {
        match self {
            AlertKind::RsiOverbought | AlertKind::MacdBullishCross | AlertKind::BbUpperBreak => {
                "above"
            }
            AlertKind::RsiOversold | AlertKind::MacdBearishCross | AlertKind::BbLowerBreak => {
                "below"
            }
        }
    }

    /// Extremes and band breaks call for attention; MACD crosses inform.
    pub fn severity(self) -> &'static str {
        match self {
            AlertKind::MacdBullishCross | AlertKind::MacdBearishCross => "info",
            _ => "warning",
        }
    }
}

/// A reading that crossed its threshold on this bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Alert {
    pub kind: AlertKind,
    /// RSI: the RSI; MACD: the MACD line; BB: the close.
    pub value: f64,
    /// RSI: 70 or 30; MACD: the signal line; BB: the band broken.
    pub threshold: f64,
}

/// Every indicator's reading after a bar; `None` while one is warming up.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Readings {
    pub rsi: Option<f64>,
    /// In the order of [`SMA_PERIODS`].
    pub sma: [Option<f64>; 3],
    pub macd: Option<MacdValue>,
    pub bollinger: Option<BollingerValue>,
}

impl Readings {
    /// How many indicator values these readings publish.
    pub fn count(&self) -> usize {
        usize::from(self.rsi.is_some())
            + self.sma.iter().flatten().count()
            + usize::from(self.macd.is_some())
            + usize::from(self.bollinger.is_some())
    }
}

/// What one bar produced.
#[derive(Debug, Clone, PartialEq)]
pub struct BarAnalysis {
    pub readings: Readings,
    pub alerts: Vec<Alert>,
    pub patterns: Vec<Detection>,
}

/// Which side of each threshold the previous reading was on: an alert fires
/// when a side is entered, not on every bar spent beyond it. `None` until the
/// first reading, which has nothing to have crossed from.
#[derive(Debug, Clone, Default)]
struct Zones {
    rsi_overbought: Option<bool>,
    rsi_oversold: Option<bool>,
    macd_above_signal: Option<bool>,
    above_upper_band: Option<bool>,
    below_lower_band: Option<bool>,
}

/// Records `now` as the zone's state; true when it was false before.
fn entered(zone: &mut Option<bool>, now: bool) -> bool {
    zone.replace(now) == Some(false) && now
}

#[derive(Debug, Clone)]
pub struct SymbolAnalysis {
    rsi: Rsi,
    sma: [Sma; 3],
    macd: Macd,
    bollinger: Bollinger,
    previous_bar: Option<Bar>,
    zones: Zones,
}

impl Default for SymbolAnalysis {
    fn default() -> Self {
        Self::new()
    }
}

impl SymbolAnalysis {
    pub fn new() -> Self {
        Self {
            rsi: Rsi::new(RSI_PERIOD),
            sma: SMA_PERIODS.map(Sma::new),
            macd: Macd::new(MACD_FAST, MACD_SLOW, MACD_SIGNAL),
            bollinger: Bollinger::new(BOLLINGER_PERIOD, BOLLINGER_WIDTH),
            previous_bar: None,
            zones: Zones::default(),
        }
    }

    /// Feeds past bars whose results are not wanted: afterwards every
    /// indicator (given enough bars) has a reading and every zone a state.
    /// The last history bar is not kept as the previous bar, so a two-bar
    /// pattern never pairs a live bar with an invented one.
    pub fn warm_up(&mut self, history: impl IntoIterator<Item = Bar>) {
        for bar in history {
            self.on_bar(&bar);
        }
        self.previous_bar = None;
    }

    pub fn on_bar(&mut self, bar: &Bar) -> BarAnalysis {
        let readings = Readings {
            rsi: self.rsi.update(bar.close),
            sma: self.sma.each_mut().map(|sma| sma.update(bar.close)),
            macd: self.macd.update(bar.close),
            bollinger: self.bollinger.update(bar.close),
        };
        let alerts = self.crossings(&readings, bar.close);
        let patterns = candles::detect(self.previous_bar.as_ref(), bar);
        self.previous_bar = Some(*bar);
        BarAnalysis {
            readings,
            alerts,
            patterns,
        }
    }

    fn crossings(&mut self, readings: &Readings, close: f64) -> Vec<Alert> {
        let mut alerts = Vec::new();
        let mut raise = |kind, value, threshold| {
            alerts.push(Alert {
                kind,
                value,
                threshold,
            })
        };
        let zones = &mut self.zones;
        if let Some(rsi) = readings.rsi {
            if entered(&mut zones.rsi_overbought, rsi > RSI_OVERBOUGHT) {
                raise(AlertKind::RsiOverbought, rsi, RSI_OVERBOUGHT);
            }
            if entered(&mut zones.rsi_oversold, rsi < RSI_OVERSOLD) {
                raise(AlertKind::RsiOversold, rsi, RSI_OVERSOLD);
            }
        }
        // A MACD line exactly on its signal line has not crossed yet: the
        // side stays what it was.
        if let Some(macd) = readings.macd
            && macd.histogram != 0.0
        {
            let above = macd.histogram > 0.0;
            match zones.macd_above_signal.replace(above) {
                Some(false) if above => raise(AlertKind::MacdBullishCross, macd.macd, macd.signal),
                Some(true) if !above => raise(AlertKind::MacdBearishCross, macd.macd, macd.signal),
                _ => {}
            }
        }
        if let Some(bands) = readings.bollinger {
            if entered(&mut zones.above_upper_band, close > bands.upper) {
                raise(AlertKind::BbUpperBreak, close, bands.upper);
            }
            if entered(&mut zones.below_lower_band, close < bands.lower) {
                raise(AlertKind::BbLowerBreak, close, bands.lower);
            }
        }
        alerts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat_bar(close: f64) -> Bar {
        Bar {
            open: close,
            high: close + 0.5,
            low: close - 0.5,
            close,
            volume: 1_000.0,
        }
    }

    /// Runs `closes` through a fresh analysis and returns the alerts per bar.
    fn alerts_for(closes: &[f64]) -> Vec<Vec<AlertKind>> {
        let mut analysis = SymbolAnalysis::new();
        closes
            .iter()
            .map(|&close| {
                let result = analysis.on_bar(&flat_bar(close));
                result.alerts.iter().map(|a| a.kind).collect()
            })
            .collect()
    }

    fn count(alerts: &[Vec<AlertKind>], kind: AlertKind) -> usize {
        alerts.iter().flatten().filter(|&&k| k == kind).count()
    }

    /// Alternating small moves around 100: RSI near 50, narrow bands, MACD
    /// hugging its signal line.
    fn sideways(bars: usize) -> Vec<f64> {
        (0..bars)
            .map(|i| if i % 2 == 0 { 100.0 } else { 100.2 })
            .collect()
    }

    #[test]
    fn rsi_overbought_fires_once_on_the_crossing_not_on_every_bar_above() {
        let mut closes = sideways(40);
        // A long climb keeps RSI far above 70 for 30 bars.
        closes.extend((1..=30).map(|i| 100.2 + f64::from(i)));
        let alerts = alerts_for(&closes);
        assert_eq!(count(&alerts, AlertKind::RsiOverbought), 1, "{alerts:?}");
        assert_eq!(count(&alerts, AlertKind::RsiOversold), 0);
        // The crossing is on the first rising bars, not at the end.
        let at = alerts
            .iter()
            .position(|a| a.contains(&AlertKind::RsiOverbought));
        assert!(at.is_some_and(|i| (40..45).contains(&i)), "{at:?}");
    }

    #[test]
    fn rsi_oversold_fires_again_only_after_leaving_and_reentering() {
        let mut closes = sideways(40);
        closes.extend((1..=20).map(|i| 100.0 - f64::from(i)));
        // Recover well above 30, then fall again.
        closes.extend((1..=20).map(|i| 80.0 + f64::from(i)));
        closes.extend((1..=20).map(|i| 100.0 - 1.5 * f64::from(i)));
        let alerts = alerts_for(&closes);
        assert_eq!(count(&alerts, AlertKind::RsiOversold), 2, "{alerts:?}");
    }

    #[test]
    fn macd_crosses_fire_on_each_change_of_side() {
        // A gentle decline keeps the MACD line under its signal line...
        let mut closes: Vec<f64> = (0..60).map(|i| 106.0 - 0.1 * f64::from(i)).collect();
        closes.extend((1..=25).map(|i| 100.0 + f64::from(i)));
        closes.extend((1..=25).map(|i| 125.0 - f64::from(i)));
        let alerts = alerts_for(&closes);
        // ...then up and down: it crosses above once in the climb and below
        // once in the fall.
        let bullish_at = alerts[60..]
            .iter()
            .position(|a| a.contains(&AlertKind::MacdBullishCross));
        let bearish_at = alerts[60..]
            .iter()
            .position(|a| a.contains(&AlertKind::MacdBearishCross));
        assert!(bullish_at.is_some_and(|i| i < 5), "{alerts:?}");
        assert!(
            bearish_at.is_some_and(|i| (25..30).contains(&i)),
            "{alerts:?}"
        );
        assert_eq!(count(&alerts, AlertKind::MacdBullishCross), 1);
        assert_eq!(count(&alerts, AlertKind::MacdBearishCross), 1);
    }

    #[test]
    fn band_breaks_fire_on_leaving_the_bands_and_carry_close_and_band() {
        let mut analysis = SymbolAnalysis::new();
        for close in sideways(30) {
            analysis.on_bar(&flat_bar(close));
        }
        let jump = analysis.on_bar(&flat_bar(103.0));
        let upper: Vec<&Alert> = jump
            .alerts
            .iter()
            .filter(|a| a.kind == AlertKind::BbUpperBreak)
            .collect();
        assert_eq!(upper.len(), 1, "{jump:?}");
        assert_eq!(upper[0].value, 103.0);
        let band = jump.readings.bollinger.map(|b| b.upper);
        assert_eq!(Some(upper[0].threshold), band);
        assert!(upper[0].threshold < 103.0);
        // Still above the (widened) band? No new alert either way.
        let next = analysis.on_bar(&flat_bar(103.5));
        assert!(
            next.alerts
                .iter()
                .all(|a| a.kind != AlertKind::BbUpperBreak),
            "{next:?}"
        );
        let drop = analysis.on_bar(&flat_bar(90.0));
        assert!(
            drop.alerts
                .iter()
                .any(|a| a.kind == AlertKind::BbLowerBreak),
            "{drop:?}"
        );
    }

    #[test]
    fn the_first_reading_is_not_a_crossing() {
        // Straight up from the first bar: RSI's first reading is already 100.
        let closes: Vec<f64> = (1..=40).map(f64::from).collect();
        let alerts = alerts_for(&closes);
        assert_eq!(count(&alerts, AlertKind::RsiOverbought), 0, "{alerts:?}");
    }

    #[test]
    fn warm_up_fills_every_indicator_and_forgets_the_last_bar() {
        let mut analysis = SymbolAnalysis::new();
        analysis.warm_up(sideways(250).into_iter().map(flat_bar));
        // A bearish bar followed by an engulfing bullish one: only the live
        // pair may form the pattern.
        let bullish = Bar {
            open: 99.0,
            high: 101.2,
            low: 98.9,
            close: 101.0,
            volume: 1.0,
        };
        let first = analysis.on_bar(&bullish);
        assert_eq!(first.readings.count(), 6);
        assert!(
            first
                .patterns
                .iter()
                .all(|p| p.pattern != candles::BULLISH_ENGULFING)
        );
    }

    #[test]
    fn readings_count_only_warm_indicators() {
        let mut analysis = SymbolAnalysis::new();
        let counts: Vec<usize> = (0..200)
            .map(|i| analysis.on_bar(&flat_bar(100.0 + f64::from(i % 3))))
            .map(|r| r.readings.count())
            .collect();
        assert_eq!(counts[0], 0);
        assert_eq!(counts[14], 1, "RSI from the 15th close");
        assert_eq!(counts[19], 3, "SMA 20 and BB from the 20th");
        assert_eq!(counts[33], 4, "MACD from the 34th");
        assert_eq!(counts[49], 5, "SMA 50 from the 50th");
        assert_eq!(counts[199], 6, "SMA 200 from the 200th");
    }

    #[test]
    fn alert_kinds_name_their_indicator_and_direction() {
        let names: Vec<&str> = AlertKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "RSI_OVERBOUGHT",
                "RSI_OVERSOLD",
                "MACD_BULLISH_CROSS",
                "MACD_BEARISH_CROSS",
                "BB_UPPER_BREAK",
                "BB_LOWER_BREAK"
            ]
        );
        assert_eq!(AlertKind::BbLowerBreak.indicator(), "BB");
        assert_eq!(AlertKind::MacdBullishCross.direction(), "above");
        assert_eq!(AlertKind::RsiOversold.direction(), "below");
    }
}
