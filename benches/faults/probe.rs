//! What the run watches while it works: `/healthz` latency every 50 ms, the
//! resident size every 100 ms, and the counters of `/metrics` (which needs
//! no login, so it can be read while PostgreSQL is away).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

/// A /healthz request slower than this counts as failed.
pub const HEALTHZ_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy)]
pub struct HealthSample {
    pub at: Instant,
    pub latency: Duration,
    pub ok: bool,
}

#[derive(Default)]
pub struct Samples {
    pub health: Vec<HealthSample>,
    /// Largest VmRSS seen and the last VmHWM read, in KiB.
    pub rss_peak_kib: u64,
    pub hwm_kib: u64,
    pub rss_last_kib: u64,
    /// When /proc/PID/status stopped existing: the process is gone.
    pub vanished_at: Option<Instant>,
}

impl Samples {
    /// (p50, p99, max) of /healthz latency in ms, failures, and count,
    /// over samples taken in `window` (all when None).
    pub fn health_summary(&self, window: Option<(Instant, Instant)>) -> HealthSummary {
        let mut latencies: Vec<Duration> = Vec::new();
        let mut failures = 0;
        for sample in &self.health {
            if window.is_some_and(|(from, to)| sample.at < from || sample.at > to) {
                continue;
            }
            latencies.push(sample.latency);
            failures += usize::from(!sample.ok);
        }
        latencies.sort();
        let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
        let at = |q: f64| latencies.get(((latencies.len().max(1) - 1) as f64 * q).round() as usize);
        HealthSummary {
            p50_ms: ms(at(0.50)),
            p99_ms: ms(at(0.99)),
            max_ms: ms(latencies.last()),
            failures,
            count: latencies.len(),
        }
    }
}

pub struct HealthSummary {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub failures: usize,
    pub count: usize,
}

/// A field of `/proc/PID/status`, in KiB.
fn status_kib(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
}

/// The resident size of `pid` now, in KiB (0 when it is gone).
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|text| status_kib(&text, "VmRSS:"))
        .unwrap_or(0)
}

/// Starts both samplers; they stop on `stop`.
pub fn start_samplers(base: &str, pid: u32, stop: CancellationToken) -> Arc<Mutex<Samples>> {
    let samples = Arc::new(Mutex::new(Samples::default()));
    let healthz = format!("{base}/healthz");
    let (health_samples, health_stop) = (samples.clone(), stop.clone());
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(HEALTHZ_TIMEOUT)
            .build()
            .expect("an HTTP client");
        let mut every = tokio::time::interval(Duration::from_millis(50));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !health_stop.is_cancelled() {
            every.tick().await;
            let at = Instant::now();
            let ok = client
                .get(&healthz)
                .send()
                .await
                .is_ok_and(|r| r.status() == reqwest::StatusCode::OK);
            health_samples.lock().health.push(HealthSample {
                at,
                latency: at.elapsed(),
                ok,
            });
        }
    });
    let rss_samples = samples.clone();
    tokio::spawn(async move {
        let status = format!("/proc/{pid}/status");
        let mut every = tokio::time::interval(Duration::from_millis(100));
        while !stop.is_cancelled() {
            every.tick().await;
            let Ok(text) = std::fs::read_to_string(&status) else {
                rss_samples
                    .lock()
                    .vanished_at
                    .get_or_insert_with(Instant::now);
                continue;
            };
            let mut samples = rss_samples.lock();
            if let Some(rss) = status_kib(&text, "VmRSS:") {
                samples.rss_peak_kib = samples.rss_peak_kib.max(rss);
                samples.rss_last_kib = rss;
            }
            if let Some(hwm) = status_kib(&text, "VmHWM:") {
                samples.hwm_kib = hwm;
            }
        }
    });
    samples
}

/// The counters of `/metrics`, each summed over its labels.
#[derive(Clone, Debug, Default)]
pub struct Counters(HashMap<String, f64>);

impl Counters {
    pub async fn read(client: &reqwest::Client, base: &str) -> Option<Self> {
        let text = client
            .get(format!("{base}/metrics"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let mut counters = HashMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let name = name.split('{').next().unwrap_or(name);
            let name = name.strip_suffix("_total").unwrap_or(name);
            if let Ok(value) = value.parse::<f64>() {
                *counters.entry(name.to_owned()).or_insert(0.0) += value;
            }
        }
        Some(Self(counters))
    }

    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0.0) as u64
    }

    /// Messages received on the 8 channels.
    pub fn messages(&self) -> u64 {
        self.get("tickstock_channel_messages")
    }
}

/// Polls `/metrics` until `moved` holds against `before`, for at most
/// `timeout`; how long it took, or None.
pub async fn until_moved(
    client: &reqwest::Client,
    base: &str,
    timeout: Duration,
    moved: impl Fn(&Counters) -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if Counters::read(client, base)
            .await
            .is_some_and(|c| moved(&c))
        {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}
