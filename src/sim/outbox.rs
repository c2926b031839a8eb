//! Between the engine and the bus: a bounded queue the engine hands its
//! results to without ever waiting, and the task that turns them into
//! messages and publishes them. When the queue is full the newest parcel is
//! dropped and counted (reported in health), so a slow bus never stalls the
//! consumption of ticks and never grows memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use rand::Rng;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::HealthShape;
use super::analysis::BarAnalysis;
use super::candles::Bar;
use super::health::HealthSnapshot;
use super::messages::{self, CriticalAlert, Detected, IndicatorValue, Session, SessionEnd};
use crate::bus::Bus;
use crate::events::Channel;
use crate::events::pattern::HIGH_CONFIDENCE;

/// Messages per pipelined publish.
const PIPELINE: usize = 1000;

/// What the engine hands to the publisher.
#[derive(Debug)]
pub(super) enum Parcel {
    SessionStarted,
    SessionStopped(SessionEnd),
    Health(HealthSnapshot),
    Critical(CriticalAlert),
    Bars(BarClose),
}

/// Every symbol's bar closed at one instant, with what its analysis found.
#[derive(Debug)]
pub(super) struct BarClose {
    pub at: DateTime<Utc>,
    /// When the bar closed, to measure how long publishing took.
    pub closed_at: Instant,
    pub bars: Vec<SymbolBar>,
}

#[derive(Debug)]
pub(super) struct SymbolBar {
    pub symbol: Arc<str>,
    pub bar: Bar,
    pub analysis: BarAnalysis,
}

impl Parcel {
    fn message_count(&self) -> u64 {
        match self {
            Parcel::Bars(close) => close
                .bars
                .iter()
                .map(|b| {
                    let a = &b.analysis;
                    a.readings.count() + a.alerts.len() + a.patterns.len()
                })
                .sum::<usize>() as u64,
            _ => 1,
        }
    }
}

/// Publishing counters, as totals and since the last health snapshot.
#[derive(Debug, Default)]
pub(super) struct PublishStats {
    published: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    dropped_recently: AtomicU64,
    failed_recently: AtomicU64,
    worst_lag_ms_recently: AtomicU64,
}

/// What [`PublishStats::take_recent`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Recent {
    pub dropped: u64,
    pub failed: u64,
    pub worst_lag_ms: u64,
}

impl PublishStats {
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// The recent counters, reset.
    pub fn take_recent(&self) -> Recent {
        Recent {
            dropped: self.dropped_recently.swap(0, Ordering::Relaxed),
            failed: self.failed_recently.swap(0, Ordering::Relaxed),
            worst_lag_ms: self.worst_lag_ms_recently.swap(0, Ordering::Relaxed),
        }
    }

    fn count_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
        self.dropped_recently.fetch_add(n, Ordering::Relaxed);
    }

    fn count_failed(&self, n: u64) {
        self.failed.fetch_add(n, Ordering::Relaxed);
        self.failed_recently.fetch_add(n, Ordering::Relaxed);
    }

    fn record_lag(&self, since: Instant) {
        let ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.worst_lag_ms_recently.fetch_max(ms, Ordering::Relaxed);
    }
}

/// The engine's end of the queue.
pub(super) struct Outbox {
    parcels: mpsc::Sender<Parcel>,
    stats: Arc<PublishStats>,
}

pub(super) fn channel(
    capacity: usize,
    stats: Arc<PublishStats>,
) -> (Outbox, mpsc::Receiver<Parcel>) {
    let (parcels, receiver) = mpsc::channel(capacity);
    (Outbox { parcels, stats }, receiver)
}

impl Outbox {
    /// Queues a parcel without waiting; a full queue drops it.
    pub fn offer(&self, parcel: Parcel) {
        match self.parcels.try_send(parcel) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(parcel)) => {
                let n = parcel.message_count();
                if self.stats.dropped_recently.load(Ordering::Relaxed) == 0 {
                    warn!("TICKSTOCKPL-SIMULATOR: Publisher backlog full, dropping {n} events");
                }
                self.stats.count_dropped(n);
            }
            // The publisher is gone only when the run is over.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Queues a parcel that must not be lost (session start and end),
    /// waiting for room: used only when no ticks are being consumed.
    pub async fn deliver(&self, parcel: Parcel) {
        // An error means the publisher is gone; there is nobody to tell.
        let _ = self.parcels.send(parcel).await;
    }

    pub fn stats(&self) -> &PublishStats {
        &self.stats
    }
}

/// Publishes parcels until the engine drops its end of the queue.
pub(super) async fn publish(
    mut parcels: mpsc::Receiver<Parcel>,
    bus: Bus,
    session: Arc<Session>,
    shape: HealthShape,
    stats: Arc<PublishStats>,
) {
    let mut publisher = Publisher {
        bus,
        session,
        shape,
        stats,
        failing: false,
    };
    while let Some(parcel) = parcels.recv().await {
        publisher.publish(parcel).await;
    }
}

struct Publisher {
    bus: Bus,
    session: Arc<Session>,
    shape: HealthShape,
    stats: Arc<PublishStats>,
    /// Whether the last publish failed: failures are logged once per streak.
    failing: bool,
}

/// One bar close's messages, per channel.
#[derive(Default)]
struct BarMessages {
    alerts: Vec<Bytes>,
    patterns: Vec<Bytes>,
    high_confidence: Vec<Bytes>,
    indicators: Vec<Bytes>,
}

impl Publisher {
    async fn publish(&mut self, parcel: Parcel) {
        let session = self.session.clone();
        match parcel {
            Parcel::SessionStarted => {
                let message = messages::session_started(&session);
                self.send(Channel::SessionStarted, &[message]).await;
            }
            Parcel::SessionStopped(end) => {
                let message = messages::session_stopped(&session, &end);
                self.send(Channel::SessionStopped, &[message]).await;
            }
            Parcel::Health(snapshot) => {
                let message = messages::health(&session, &snapshot, self.shape);
                self.send(Channel::Health, &[message]).await;
            }
            Parcel::Critical(alert) => {
                let message = messages::critical_alert(&alert);
                self.send(Channel::CriticalAlerts, &[message]).await;
            }
            Parcel::Bars(close) => {
                let out = bar_messages(&session, &close);
                // Alerts first: seed 004 wants them out within 50 ms.
                self.send(Channel::IndicatorAlerts, &out.alerts).await;
                self.send(Channel::PatternsStreaming, &out.patterns).await;
                self.send(Channel::PatternsDetected, &out.high_confidence)
                    .await;
                self.send(Channel::Indicators, &out.indicators).await;
                self.stats.record_lag(close.closed_at);
            }
        }
    }

    async fn send(&mut self, channel: Channel, payloads: &[Bytes]) {
        for chunk in payloads.chunks(PIPELINE) {
            let n = chunk.len() as u64;
            match self.bus.publish_batch(channel.name(), chunk).await {
                Ok(()) => {
                    self.stats.published.fetch_add(n, Ordering::Relaxed);
                    if std::mem::take(&mut self.failing) {
                        info!("TICKSTOCKPL-SIMULATOR: Publishing works again");
                    }
                }
                Err(error) => {
                    self.stats.count_failed(n);
                    if !std::mem::replace(&mut self.failing, true) {
                        warn!("TICKSTOCKPL-SIMULATOR: Publishing on {channel} failed: {error}");
                    }
                }
            }
        }
    }
}

/// Builds every message of a bar close. Synchronous: the random source for
/// pattern ids is not held across an await.
fn bar_messages(session: &Session, close: &BarClose) -> BarMessages {
    let mut out = BarMessages::default();
    let mut detections = Vec::new();
    let mut rng = rand::rng();
    for SymbolBar {
        symbol,
        bar,
        analysis,
    } in &close.bars
    {
        for value in IndicatorValue::all_of(&analysis.readings) {
            out.indicators
                .push(messages::indicator(session, symbol, close.at, &value));
        }
        for alert in &analysis.alerts {
            out.alerts
                .push(messages::indicator_alert(session, symbol, close.at, alert));
        }
        detections.extend(analysis.patterns.iter().map(|d| Detected {
            symbol: symbol.clone(),
            pattern: d.pattern,
            confidence: messages::round_to(d.confidence, 3),
            bar: *bar,
            at: close.at,
            pattern_id: new_id(&mut rng),
        }));
    }
    out.patterns = messages::patterns(session, &detections, close.at);
    detections.retain(|d| d.confidence >= HIGH_CONFIDENCE);
    out.high_confidence = messages::patterns(session, &detections, close.at);
    out
}

/// A random (version 4, RFC 9562) UUID.
pub(super) fn new_id(rng: &mut impl Rng) -> String {
    let random: u128 = rng.random();
    let version = 0x4 << 76;
    let variant = 0b10 << 62;
    let n = (random & !(0xf << 76) & !(0b11 << 62)) | version | variant;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        n >> 96,
        (n >> 80) & 0xffff,
        (n >> 64) & 0xffff,
        (n >> 48) & 0xffff,
        n & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_4_uuids_and_distinct() {
        let mut rng = rand::rng();
        let a = new_id(&mut rng);
        let b = new_id(&mut rng);
        assert_ne!(a, b);
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "4");
        assert!("89ab".contains(&a[19..20]), "{a}");
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }
}
