//! Prometheus metrics. The state's figures are read at scrape time from the
//! same counters the status route shows, so the two never disagree; what only
//! the metrics show (requests, latencies) is counted here.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::dashboard::Hub;
use crate::events::{Channel, Event, Reason};
use crate::feed::tick::Refusal;
use crate::feed::{FeedState, FeedStats};
use crate::recorder::RecorderStats;
use crate::state::{LiveState, StreamStatus};
use crate::supervise::{Supervisor, TaskState};

/// The git revision the binary was built from (`unknown` without git).
const GIT_REVISION: &str = env!("TICKSTOCK_GIT_REV");

/// What `/metrics` reads from.
pub struct Sources {
    pub live: Arc<LiveState>,
    pub feed: Arc<FeedStats>,
    pub recorder: Arc<RecorderStats>,
    pub supervisor: Arc<Supervisor>,
    pub hub: Arc<Hub>,
}

/// The registry `/metrics` renders, and the handles of what is counted as it happens.
pub struct Metrics {
    registry: Registry,
    pub http: HttpMetrics,
}

struct TickStockCollector {
    sources: Sources,
    /// When the server started, for `process_start_time_seconds`.
    started_at: f64,
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

fn gauge_f64(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: f64,
) -> std::fmt::Result {
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
        let live = &self.sources.live;
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

        let feed = &self.sources.feed;
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
        self.encode_tasks(&mut encoder)?;
        self.encode_push(&mut encoder)?;
        self.encode_process(&mut encoder)
    }
}

impl TickStockCollector {
    fn encode_tasks(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let tasks = self.sources.supervisor.tasks();
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
        let recorder = &self.sources.recorder;
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

    fn encode_push(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let stats = &self.sources.hub.stats;
        let read = |value: &std::sync::atomic::AtomicU64| value.load(Ordering::Relaxed);
        gauge(
            encoder,
            "tickstock_push_clients",
            "Dashboard WebSocket clients connected",
            i64::try_from(read(&stats.clients)).unwrap_or(i64::MAX),
        )?;
        counter(
            encoder,
            "tickstock_push_frames_sent",
            "Text frames written to dashboard WebSocket clients",
            read(&stats.frames_sent),
        )?;
        counter(
            encoder,
            "tickstock_push_bytes_sent",
            "Bytes of the text frames written to dashboard WebSocket clients",
            read(&stats.bytes_sent),
        )?;
        counter(
            encoder,
            "tickstock_push_slow_disconnects",
            "Dashboard clients closed with 4008 because they fell behind or stopped reading",
            read(&stats.slow_disconnects),
        )?;
        counter(
            encoder,
            "tickstock_push_missed_changes",
            "Live-state changes the push hub missed (its clients were told to resync)",
            read(&stats.missed_changes),
        )
    }

    /// The Prometheus client libraries' process metrics, where the system
    /// tells them (`/proc` on Linux); elsewhere only the start time.
    fn encode_process(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        gauge_f64(
            encoder,
            "process_start_time_seconds",
            "When the server started, in seconds since the Unix epoch",
            self.started_at,
        )?;
        let process = process::read();
        if let Some(bytes) = process.resident_bytes {
            gauge(
                encoder,
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                i64::try_from(bytes).unwrap_or(i64::MAX),
            )?;
        }
        if let Some(seconds) = process.cpu_seconds {
            let metric = ConstCounter::new(seconds);
            metric.encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time spent, in seconds",
                None,
                metric.metric_type(),
            )?)?;
        }
        if let Some(count) = process.open_fds {
            gauge(
                encoder,
                "process_open_fds",
                "Open file descriptors",
                i64::try_from(count).unwrap_or(i64::MAX),
            )?;
        }
        Ok(())
    }
}

/// The process's own figures, each `None` where the system does not tell.
mod process {
    #[derive(Debug, Default)]
    pub struct Reading {
        pub resident_bytes: Option<u64>,
        pub cpu_seconds: Option<f64>,
        pub open_fds: Option<u64>,
    }

    #[cfg(target_os = "linux")]
    pub fn read() -> Reading {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        Reading {
            resident_bytes: resident_bytes(&status),
            cpu_seconds: cpu_ticks(&stat)
                .map(|ticks| ticks as f64 / rustix::param::clock_ticks_per_second() as f64),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|entries| entries.count() as u64),
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn read() -> Reading {
        Reading::default()
    }

    /// `VmRSS:    12345 kB` of `/proc/self/status`.
    pub fn resident_bytes(status: &str) -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
        let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        kilobytes.checked_mul(1024)
    }

    /// utime + stime of `/proc/self/stat`, the 14th and 15th fields, counted
    /// after the command name in parentheses (which may hold spaces).
    pub fn cpu_ticks(stat: &str) -> Option<u64> {
        let (_, after_name) = stat.rsplit_once(')')?;
        let mut fields = after_name.split_whitespace().skip(11);
        let user: u64 = fields.next()?.parse().ok()?;
        let system: u64 = fields.next()?.parse().ok()?;
        user.checked_add(system)
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

fn request_duration() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 15,
    ))
}

/// HTTP requests, counted by the request log as each is answered.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(request_duration),
        }
    }
}

impl HttpMetrics {
    /// `route`: the matched route's template (`/streaming/api/patterns/{symbol}`),
    /// never the path asked for, so that the series stay few.
    pub fn observe(&self, method: &axum::http::Method, route: &str, status: u16, took: Duration) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels {
                method,
                route: route.to_owned(),
            })
            .observe(took.as_secs_f64());
    }
}

/// The standard methods by name, any other as `other`: a client picks the
/// method, and must not make series up.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: &'static str,
}

/// The longest publish-to-state latency told apart: an event older than this
/// (or dated absurdly) counts as this old, so one bad clock cannot swamp the sum.
pub const MAX_PUBLISH_LATENCY: Duration = Duration::from_secs(60);

fn publish_latency() -> Histogram {
    // 1 ms to about 65 s.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.001, 2.0, 17,
    ))
}

/// From an event's own timestamp to the live state's change, per channel.
#[derive(Clone, Debug)]
pub struct PublishLatency {
    family: Family<ChannelLabels, Histogram, fn() -> Histogram>,
    /// Each channel's histogram, looked up once: the subscriber observes
    /// every event.
    channels: Arc<[Histogram; 8]>,
}

impl Default for PublishLatency {
    fn default() -> Self {
        let family: Family<ChannelLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(publish_latency);
        let channels = Channel::ALL.map(|channel| {
            family.get_or_create_owned(&ChannelLabels {
                channel: channel.name(),
            })
        });
        Self {
            family,
            channels: Arc::new(channels),
        }
    }
}

impl PublishLatency {
    /// `event`, received on `channel`, changed the state at `applied_at`
    /// (which also stands in for its time when it carried none: such an
    /// event says nothing of the latency and is not counted).
    pub fn observe(&self, channel: Channel, event: &Event, applied_at: DateTime<Utc>) {
        let Some(at) = event_time(event) else {
            return;
        };
        if at == applied_at {
            return;
        }
        let seconds = latency_seconds(at, applied_at);
        self.channels[channel.index()].observe(seconds);
    }
}

/// `applied_at - at` in seconds, within `0..=MAX_PUBLISH_LATENCY`: an
/// event from the future (a producer's clock ahead) counts as 0.
fn latency_seconds(at: DateTime<Utc>, applied_at: DateTime<Utc>) -> f64 {
    let max = MAX_PUBLISH_LATENCY.as_secs_f64();
    let latency = applied_at.signed_duration_since(at);
    if latency <= chrono::TimeDelta::zero() {
        return 0.0;
    }
    // Too many microseconds for an i64 is far beyond the max too.
    latency
        .num_microseconds()
        .map_or(max, |micros| (micros as f64 / 1e6).min(max))
}

/// The time an event says it was made: a batch's own time, else its newest pattern's.
fn event_time(event: &Event) -> Option<DateTime<Utc>> {
    match event {
        Event::SessionStarted(started) => Some(started.started_at),
        Event::SessionStopped(stopped) => Some(stopped.stopped_at),
        Event::Health(health) => Some(health.timestamp),
        Event::Patterns(batch) => batch
            .batch_timestamp
            .or_else(|| batch.patterns.iter().map(|p| p.timestamp).max()),
        Event::Indicator(indicator) => Some(indicator.timestamp),
        Event::IndicatorAlert(alert) => Some(alert.timestamp),
        Event::CriticalAlert(alert) => Some(alert.timestamp),
    }
}

pub fn registry(sources: Sources, publish_latency: &PublishLatency) -> Metrics {
    let mut registry = Registry::default();
    let started_at = Utc::now().timestamp_micros() as f64 / 1e6;
    crate::store::history::retention::register(&mut registry, sources.recorder.retention());
    registry.register_collector(Box::new(TickStockCollector {
        sources,
        started_at,
    }));
    registry.register(
        "tickstock_build",
        "The version and git revision of the running binary",
        Info::new(vec![
            ("version", env!("CARGO_PKG_VERSION")),
            ("revision", GIT_REVISION),
        ]),
    );
    let http = HttpMetrics::default();
    registry.register(
        "tickstock_http_requests",
        "HTTP requests answered, per method, route template and status",
        http.requests.clone(),
    );
    registry.register(
        "tickstock_http_request_duration_seconds",
        "Time to answer an HTTP request, per method and route template",
        http.durations.clone(),
    );
    registry.register(
        "tickstock_publish_to_state_seconds",
        "From an event's own timestamp to its change of the live state, per channel (clamped to 0..60 s)",
        publish_latency.family.clone(),
    );
    Metrics { registry, http }
}

pub fn render(metrics: &Metrics) -> String {
    let mut body = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut body, &metrics.registry);
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_latency_is_clamped_to_its_range() {
        let now = Utc::now();
        let seconds = |offset: chrono::Duration| latency_seconds(now - offset, now);
        assert_eq!(seconds(chrono::Duration::milliseconds(250)), 0.25);
        assert_eq!(
            seconds(chrono::Duration::seconds(-5)),
            0.0,
            "from the future"
        );
        assert_eq!(seconds(chrono::Duration::days(3)), 60.0);
        let year_one = DateTime::<Utc>::MIN_UTC;
        assert_eq!(latency_seconds(year_one, DateTime::<Utc>::MAX_UTC), 60.0);
        assert_eq!(latency_seconds(DateTime::<Utc>::MAX_UTC, year_one), 0.0);
    }

    #[test]
    fn process_figures_are_read_from_proc_text() {
        let status = "Name:\ttickstock\nVmRSS:\t   2048 kB\nThreads:\t8\n";
        assert_eq!(process::resident_bytes(status), Some(2_097_152));
        assert_eq!(process::resident_bytes("Name: x\n"), None);
        // The command name may hold spaces and parentheses.
        let stat = "42 (tick (stock) x) S 1 42 42 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 8 0";
        assert_eq!(process::cpu_ticks(stat), Some(175));
        assert_eq!(process::cpu_ticks("42 (x) S 1"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_read_on_linux() {
        let reading = process::read();
        assert!(reading.resident_bytes.is_some_and(|bytes| bytes > 0));
        assert!(reading.cpu_seconds.is_some());
        assert!(reading.open_fds.is_some_and(|count| count > 0));
    }
}
