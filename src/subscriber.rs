//! The subscriber: every message from the 8 channels is counted, decoded and
//! applied to the live state. A message that does not decode, or that breaks
//! the decoding rules (`events::rules`), is counted with its reason, logged
//! (rate-limited, with the reason and an excerpt) and dropped; it never
//! changes state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::bus::BusMessage;
use crate::conformance::Conformance;
use crate::events::{self, Channel, DecodeError, Event, Rules};
use crate::metrics::PublishLatency;
use crate::recorder::Recorder;
use crate::state::LiveState;

/// At most one decode warning per channel per interval; the rest are summed.
const WARN_INTERVAL: Duration = Duration::from_secs(5);
const EXCERPT_BYTES: usize = 160;

pub struct Subscriber {
    state: Arc<LiveState>,
    /// What decoding refuses beyond the shapes (the time window).
    rules: Rules,
    /// Hands every decoded event to the history; never waits.
    recorder: Option<Recorder>,
    /// Measures every message against seed 004 (report, inspector).
    conformance: Option<Arc<Conformance>>,
    /// Measures each event from its own timestamp to its change of the state.
    latency: Option<PublishLatency>,
    warnings: [WarnWindow; 8],
}

#[derive(Default, Clone, Copy)]
struct WarnWindow {
    last: Option<Instant>,
    suppressed: u64,
}

impl Subscriber {
    pub fn new(state: Arc<LiveState>) -> Self {
        Self {
            state,
            rules: Rules::default(),
            recorder: None,
            conformance: None,
            latency: None,
            warnings: [WarnWindow::default(); 8],
        }
    }

    /// Decodes with these rules (the configured window) instead of the defaults.
    pub fn with_rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }

    /// Records every decoded event in the history as well.
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Shows every message, decoded or not, to the conformance watch as well.
    pub fn with_conformance(mut self, conformance: Arc<Conformance>) -> Self {
        self.conformance = Some(conformance);
        self
    }

    /// Observes every applied event's publish-to-state latency as well.
    pub fn with_latency(mut self, latency: PublishLatency) -> Self {
        self.latency = Some(latency);
        self
    }

    pub async fn run(&mut self, messages: &mut mpsc::Receiver<BusMessage>) {
        while let Some(message) = messages.recv().await {
            self.ingest(&message, Utc::now());
        }
    }

    pub fn ingest(&mut self, message: &BusMessage, now: DateTime<Utc>) {
        let Some(channel) = Channel::from_name(&message.channel) else {
            return;
        };
        let stats = self.state.channel(channel);
        stats.record_message(now);
        let decoded = match &self.conformance {
            // The watch reads its findings off this same decoding.
            Some(conformance) => conformance.decode(channel, &message.payload, now, &self.rules),
            None => events::decode_with(channel, &message.payload, now, &self.rules),
        };
        match decoded {
            Ok(event) => {
                if let Event::Patterns(batch) = &event
                    && let Some(error) = batch.rejected.first()
                {
                    for rejected in &batch.rejected {
                        stats.record_decode_error(rejected.reason());
                    }
                    self.warn(channel, error, &message.payload);
                }
                log_event(&event);
                if let Some(recorder) = &self.recorder {
                    recorder.record(&event);
                }
                if let Some(latency) = &self.latency {
                    latency.observe(channel, &event, now);
                }
                self.state.apply(event, now);
            }
            Err(error) => {
                stats.record_decode_error(error.reason());
                self.warn(channel, &error, &message.payload);
            }
        }
    }

    fn warn(&mut self, channel: Channel, error: &DecodeError, payload: &[u8]) {
        let window = &mut self.warnings[channel.index()];
        let now = Instant::now();
        if window.last.is_some_and(|last| now - last < WARN_INTERVAL) {
            window.suppressed += 1;
            return;
        }
        let suppressed = std::mem::take(&mut window.suppressed);
        window.last = Some(now);
        warn!(
            "REDIS-SUBSCRIBER: Dropped undecodable message on {channel} (reason {}): {error}; excerpt: {}{}",
            error.reason().label(),
            excerpt(payload),
            if suppressed > 0 {
                format!(" ({suppressed} more since the last warning)")
            } else {
                String::new()
            }
        );
    }
}

fn excerpt(payload: &[u8]) -> String {
    let cut = payload.len().min(EXCERPT_BYTES);
    let mut text: String = String::from_utf8_lossy(&payload[..cut])
        .escape_debug()
        .collect();
    if cut < payload.len() {
        text.push('…');
    }
    text
}

/// The operators' lines (CONTRACT §9) as their message, and their values as
/// fields too (`LOG_FORMAT=json`).
fn log_event(event: &Event) {
    match event {
        Event::SessionStarted(s) => info!(
            session_id = %s.session_id,
            universe = s.universe.as_deref(),
            "REDIS-SUBSCRIBER: Streaming session started - ID: {}, Universe: {}",
            s.session_id,
            s.universe.as_deref().unwrap_or("unknown")
        ),
        Event::SessionStopped(s) => info!(
            session_id = %s.session_id,
            final_status = s.final_status.as_deref(),
            total_patterns = s.total_patterns,
            total_indicators = s.total_indicators,
            "REDIS-SUBSCRIBER: Streaming session stopped - ID: {}, Final Status: {}, Patterns: {}, Indicators: {}",
            s.session_id,
            s.final_status.as_deref().unwrap_or("unknown"),
            s.total_patterns.unwrap_or(0),
            s.total_indicators.unwrap_or(0)
        ),
        Event::Health(h) => info!(
            status = %h.status,
            active_symbols = h.active_symbols,
            ticks_per_second = h.ticks_per_second,
            "REDIS-SUBSCRIBER: Streaming health update received - Status: {}, Active Symbols: {}, TPS: {:.1}",
            h.status,
            h.active_symbols.unwrap_or(0),
            h.ticks_per_second.unwrap_or(0.0)
        ),
        Event::CriticalAlert(a) if a.is_recovery() => info!(
            component = a.component.as_deref(),
            "REDIS-SUBSCRIBER: Recovery - Component: {}, Message: {}",
            a.component.as_deref().unwrap_or("unknown"),
            a.message
        ),
        Event::CriticalAlert(a) => warn!(
            component = a.component.as_deref(),
            severity = a.severity.as_deref(),
            "REDIS-SUBSCRIBER: Critical alert - Component: {}, Severity: {}, Message: {}",
            a.component.as_deref().unwrap_or("unknown"),
            a.severity.as_deref().unwrap_or("unknown"),
            a.message
        ),
        Event::Patterns(b) => debug!(
            count = b.count,
            "REDIS-SUBSCRIBER: {} pattern(s) received", b.count
        ),
        Event::Indicator(i) => debug!(
            symbol = %i.symbol,
            indicator = %i.indicator,
            "REDIS-SUBSCRIBER: Indicator {} {} received",
            i.symbol,
            i.indicator
        ),
        Event::IndicatorAlert(a) => info!(
            symbol = %a.symbol,
            alert_type = %a.alert_type,
            "REDIS-SUBSCRIBER: Indicator alert - Symbol: {}, Type: {}",
            a.symbol,
            a.alert_type
        ),
    }
}
