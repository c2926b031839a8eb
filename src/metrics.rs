//! Prometheus metrics, read at scrape time from the same counters the status
//! route shows, so the two never disagree.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::events::{Channel, Reason};
use crate::feed::tick::Refusal;
use crate::feed::{FeedState, FeedStats};
use crate::recorder::RecorderStats;
use crate::state::{LiveState, StreamStatus};
use crate::supervise::{Supervisor, TaskState};

struct TickStockCollector {
    live: Arc<LiveState>,
    feed: Arc<FeedStats>,
    recorder: Arc<RecorderStats>,
    supervisor: Arc<Supervisor>,
}

impl std::fmt::Debug for TickStockCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TickStockCollector")
    }
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> std::fmt::Result {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> std::fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// One gauge per possible value, 1 for the current one (a Prometheus "state set").
fn state_set<'a>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &'static str,
    values: impl IntoIterator<Item = (&'a str, bool)>,
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Gauge,
    )?;
    for (value, current) in values {
        ConstGauge::new(i64::from(current)).encode(family.encode_family(&[(label, value)])?)?;
    }
    Ok(())
}

fn per_channel(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl Fn(Channel) -> u64,
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for channel in Channel::ALL {
        ConstCounter::new(value(channel))
            .encode(family.encode_family(&[("channel", channel.name())])?)?;
    }
    Ok(())
}

/// One counter per channel and decode-error reason.
fn per_channel_reason(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl Fn(Channel, Reason) -> u64,
) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for channel in Channel::ALL {
        for reason in Reason::ALL {
            ConstCounter::new(value(channel, reason)).encode(
                family.encode_family(&[("channel", channel.name()), ("reason", reason.label())])?,
            )?;
        }
    }
    Ok(())
}

fn label<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Collector for TickStockCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let live = &self.live;
        let link = live.link();
        gauge(
            &mut encoder,
            "tickstock_bus_connected",
            "Whether the subscriber is connected to the bus",
            i64::from(link.connected()),
        )?;
        counter(
            &mut encoder,
            "tickstock_bus_reconnects",
            "Reconnections of the bus subscriber",
            link.reconnects(),
        )?;
        counter(
            &mut encoder,
            "tickstock_bus_dropped_messages",
            "Bus messages the subscriber never saw",
            link.dropped(),
        )?;
        per_channel(
            &mut encoder,
            "tickstock_channel_messages",
            "Messages received per channel",
            |c| live.channel(c).messages(),
        )?;
        per_channel_reason(
            &mut encoder,
            "tickstock_channel_decode_errors",
            "Messages (or batch elements) refused by the decoder, per channel and reason",
            |c, r| live.channel(c).decode_errors_for(r),
        )?;
        let status = live.status(chrono::Utc::now());
        let statuses = [
            StreamStatus::Online,
            StreamStatus::Idle,
            StreamStatus::Stale,
            StreamStatus::Offline,
        ];
        let statuses: Vec<(String, bool)> = statuses
            .into_iter()
            .map(|s| (label(s), s == status))
            .collect();
        state_set(
            &mut encoder,
            "tickstock_stream_status",
            "Streaming status (1 for the current one)",
            "status",
            statuses.iter().map(|(s, current)| (s.as_str(), *current)),
        )?;

        let feed = &self.feed;
        let state = feed.state();
        let states: Vec<(String, bool)> = FeedState::ALL
            .into_iter()
            .map(|s| (label(s), s == state))
            .collect();
        state_set(
            &mut encoder,
            "tickstock_feed_state",
            "Market feed state (1 for the current one)",
            "state",
            states.iter().map(|(s, current)| (s.as_str(), *current)),
        )?;
        gauge(
            &mut encoder,
            "tickstock_feed_leader",
            "Whether this instance runs the market feed",
            i64::from(feed.leader()),
        )?;
        counter(
            &mut encoder,
            "tickstock_feed_ticks_received",
            "Ticks read from the market feed",
            feed.ticks_received(),
        )?;
        counter(
            &mut encoder,
            "tickstock_feed_ticks_forwarded",
            "Ticks published to tickstock:market:ticks",
            feed.ticks_forwarded(),
        )?;
        counter(
            &mut encoder,
            "tickstock_feed_ticks_dropped",
            "Ticks dropped because the forwarder could not keep up or the bus was away",
            feed.ticks_dropped(),
        )?;
        let mut refused = encoder.encode_descriptor(
            "tickstock_feed_elements_refused",
            "Elements of the market feed refused, per reason (malformed, price, size, timestamp, symbol, range)",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for reason in Refusal::ALL {
            ConstCounter::new(feed.refused(reason))
                .encode(refused.encode_family(&[("reason", reason.name())])?)?;
        }
        self.encode_recorder(&mut encoder)?;
        self.encode_tasks(&mut encoder)
    }
}

impl TickStockCollector {
    fn encode_tasks(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let tasks = self.supervisor.tasks();
        let mut restarts = encoder.encode_descriptor(
            "tickstock_task_restarts",
            "Restarts of a long-running task after it panicked or ended unexpectedly",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for task in &tasks {
            ConstCounter::new(task.restarts())
                .encode(restarts.encode_family(&[("task", task.name())])?)?;
        }
        let mut running = encoder.encode_descriptor(
            "tickstock_task_running",
            "Whether a long-running task runs (0 while it waits for its restart or has stopped)",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for task in &tasks {
            ConstGauge::new(i64::from(task.state() == TaskState::Running))
                .encode(running.encode_family(&[("task", task.name())])?)?;
        }
        Ok(())
    }

    fn encode_recorder(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let recorder = &self.recorder;
        gauge(
            encoder,
            "tickstock_recorder_pending_rows",
            "History rows received and not yet written",
            i64::try_from(recorder.pending()).unwrap_or(i64::MAX),
        )?;
        counter(
            encoder,
            "tickstock_recorder_written_rows",
            "History rows written (or found already recorded)",
            recorder.written(),
        )?;
        counter(
            encoder,
            "tickstock_recorder_dropped_rows",
            "History rows dropped because too many were held while the database was away",
            recorder.dropped(),
        )?;
        counter(
            encoder,
            "tickstock_recorder_rejected_rows",
            "History rows that do not fit their table",
            recorder.rejected(),
        )?;
        gauge(
            encoder,
            "tickstock_recorder_retrying",
            "Whether the last history write failed and is being retried",
            i64::from(recorder.retrying()),
        )?;
        gauge(
            encoder,
            "tickstock_recorder_stalled",
            "Whether rows are pending and nothing was written for 30 s (readiness fails)",
            i64::from(recorder.stalled_for().is_some()),
        )
    }
}

pub fn registry(
    live: Arc<LiveState>,
    feed: Arc<FeedStats>,
    recorder: Arc<RecorderStats>,
    supervisor: Arc<Supervisor>,
) -> Registry {
    let mut registry = Registry::default();
    crate::store::history::retention::register(&mut registry, recorder.retention());
    registry.register_collector(Box::new(TickStockCollector {
        live,
        feed,
        recorder,
        supervisor,
    }));
    registry
}

pub fn render(registry: &Registry) -> String {
    let mut body = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut body, registry);
    body
}
