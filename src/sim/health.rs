//! The simulator's health: real measurements of its own work (ticks
//! consumed, bars closed, publishing lag, this process's CPU and memory) and
//! the status seed 004's rules give them.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// Above this share of the machine's CPU the status is `warning`.
const CPU_WARNING_PERCENT: f64 = 70.0;
/// Bar-close-to-published lag above which the status is `warning`...
const LAG_WARNING_MS: u64 = 200;
/// ...and above which it is `critical`.
const LAG_CRITICAL_MS: u64 = 1000;

/// `health.status`, in order of severity among the running states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Healthy,
    Warning,
    Critical,
    /// The first snapshot of a session, before there is anything to judge.
    Starting,
    /// The last snapshot of a session.
    Stopping,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Warning => "warning",
            Status::Critical => "critical",
            Status::Starting => "starting",
            Status::Stopping => "stopping",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HealthSnapshot {
    pub status: Status,
    pub at: DateTime<Utc>,
    /// Whether ticks can reach the simulator.
    pub connected: bool,
    /// Symbols that had a bar or a tick since the previous snapshot.
    pub active_symbols: usize,
    pub ticks_per_second: f64,
    pub bars_per_minute: f64,
    /// The worst bar-close-to-published delay since the previous snapshot.
    pub processing_lag_ms: u64,
    pub patterns_detected: u64,
    pub indicators_calculated: u64,
    /// Malformed ticks, events dropped by a full publisher, failed publishes.
    pub errors_count: u64,
    pub uptime_seconds: u64,
    pub cpu_percent: Option<f64>,
    pub memory_mb: Option<f64>,
    pub threads: Option<u64>,
    pub issues: Vec<String>,
}

/// What happened since the previous snapshot, to be judged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observations {
    pub elapsed: Duration,
    pub ticks: u64,
    pub bars: u64,
    /// Whether that span is long enough for silence to mean something.
    pub expects_input: bool,
    pub connected: bool,
    pub lag_ms: u64,
    pub cpu_percent: Option<f64>,
    pub dropped: u64,
    pub publish_failures: u64,
}

/// The status and the issues behind it (seed 004's "status determination").
pub fn assess(seen: &Observations) -> (Status, Vec<String>) {
    let mut issues = Vec::new();
    let mut status = Status::Healthy;
    let mut report = |level: Status, issue: String| {
        status = status.max(level);
        issues.push(issue);
    };
    if !seen.connected {
        report(Status::Critical, "Market tick stream disconnected".into());
    } else if seen.expects_input && seen.ticks == 0 && seen.bars == 0 {
        let seconds = seen.elapsed.as_secs_f64().round();
        report(
            Status::Warning,
            format!("No market ticks received in the last {seconds} s"),
        );
    }
    if seen.lag_ms > LAG_CRITICAL_MS {
        report(
            Status::Critical,
            format!("Processing lag critical: {}ms", seen.lag_ms),
        );
    } else if seen.lag_ms > LAG_WARNING_MS {
        report(
            Status::Warning,
            format!("Processing lag above threshold: {}ms", seen.lag_ms),
        );
    }
    if let Some(cpu) = seen.cpu_percent
        && cpu > CPU_WARNING_PERCENT
    {
        report(Status::Warning, format!("High CPU usage: {cpu:.0}%"));
    }
    if seen.dropped > 0 {
        report(
            Status::Warning,
            format!("Publisher backlog full: {} events dropped", seen.dropped),
        );
    }
    if seen.publish_failures > 0 {
        report(
            Status::Warning,
            format!("{} publishes failed", seen.publish_failures),
        );
    }
    (status, issues)
}

/// Events per second (or, scaled, per minute) over `elapsed`; 0 over nothing.
pub fn rate(count: u64, elapsed: Duration, per: Duration) -> f64 {
    let elapsed = elapsed.as_secs_f64();
    if elapsed < 1e-3 {
        return 0.0;
    }
    count as f64 * per.as_secs_f64() / elapsed
}

/// This process's resource use, read from `/proc` (Linux); `None` elsewhere.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Share of the whole machine since the previous sample, 0 to 100.
    pub cpu_percent: Option<f64>,
    pub memory_mb: Option<f64>,
    pub threads: Option<u64>,
}

#[derive(Debug, Default)]
pub struct UsageSampler {
    previous: Option<(Instant, f64)>,
}

/// Linux's USER_HZ, the unit of the CPU times in `/proc/self/stat`: 100 on
/// every mainstream architecture.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

impl UsageSampler {
    pub fn sample(&mut self) -> Usage {
        let now = Instant::now();
        let cpu_seconds = read_cpu_seconds();
        let cpu_percent = match (self.previous, cpu_seconds) {
            (Some((then, used_then)), Some(used_now)) => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
                let wall = now.duration_since(then).as_secs_f64() * cores;
                (wall > 0.0).then(|| ((used_now - used_then) / wall * 100.0).clamp(0.0, 100.0))
            }
            _ => None,
        };
        if let Some(used) = cpu_seconds {
            self.previous = Some((now, used));
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        Usage {
            cpu_percent,
            memory_mb: status_field(&status, "VmRSS:").map(|kb| kb as f64 / 1024.0),
            threads: status_field(&status, "Threads:"),
        }
    }
}

/// User plus system CPU time of this process, in seconds.
fn read_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may contain spaces; fields are counted after its `)`.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / CLOCK_TICKS_PER_SECOND)
}

/// The first number on the `name` line of `/proc/self/status`.
fn status_field(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> Observations {
        Observations {
            elapsed: Duration::from_secs(10),
            ticks: 150,
            bars: 20,
            expects_input: true,
            connected: true,
            lag_ms: 12,
            cpu_percent: Some(5.0),
            ..Observations::default()
        }
    }

    #[test]
    fn normal_metrics_are_healthy_without_issues() {
        assert_eq!(assess(&quiet()), (Status::Healthy, vec![]));
    }

    #[test]
    fn seed_thresholds_give_warning_and_critical() {
        let (status, issues) = assess(&Observations {
            lag_ms: 250,
            cpu_percent: Some(85.0),
            ..quiet()
        });
        assert_eq!(status, Status::Warning);
        assert_eq!(
            issues,
            [
                "Processing lag above threshold: 250ms",
                "High CPU usage: 85%"
            ]
        );
        let (status, _) = assess(&Observations {
            lag_ms: 1500,
            ..quiet()
        });
        assert_eq!(status, Status::Critical);
        let (status, issues) = assess(&Observations {
            connected: false,
            ticks: 0,
            bars: 0,
            ..quiet()
        });
        assert_eq!(status, Status::Critical);
        assert_eq!(issues, ["Market tick stream disconnected"]);
    }

    #[test]
    fn silence_is_a_warning_only_once_it_means_something() {
        let silent = Observations {
            ticks: 0,
            bars: 0,
            ..quiet()
        };
        let (status, issues) = assess(&silent);
        assert_eq!(status, Status::Warning);
        assert_eq!(issues, ["No market ticks received in the last 10 s"]);
        let just_started = Observations {
            expects_input: false,
            ..silent
        };
        assert_eq!(assess(&just_started).0, Status::Healthy);
    }

    #[test]
    fn losses_are_reported() {
        let (status, issues) = assess(&Observations {
            dropped: 3,
            publish_failures: 2,
            ..quiet()
        });
        assert_eq!(status, Status::Warning);
        assert_eq!(
            issues,
            [
                "Publisher backlog full: 3 events dropped",
                "2 publishes failed"
            ]
        );
    }

    #[test]
    fn rates_scale_and_survive_an_empty_span() {
        assert_eq!(
            rate(50, Duration::from_secs(10), Duration::from_secs(1)),
            5.0
        );
        assert_eq!(
            rate(5, Duration::from_secs(10), Duration::from_secs(60)),
            30.0
        );
        assert_eq!(rate(5, Duration::ZERO, Duration::from_secs(1)), 0.0);
    }

    #[test]
    fn samples_this_process_on_linux() {
        let mut sampler = UsageSampler::default();
        let first = sampler.sample();
        assert_eq!(
            first.cpu_percent, None,
            "no CPU share before a second sample"
        );
        if cfg!(target_os = "linux") {
            let second = sampler.sample();
            assert!(second.memory_mb.is_some_and(|mb| mb > 1.0), "{second:?}");
            assert!(second.threads.is_some_and(|n| n >= 1), "{second:?}");
            assert!(
                second
                    .cpu_percent
                    .is_some_and(|cpu| (0.0..=100.0).contains(&cpu))
            );
        }
    }

    #[test]
    fn reads_status_fields() {
        let status = "Name:\ttickstock\nVmRSS:\t  51200 kB\nThreads:\t9\n";
        assert_eq!(status_field(status, "VmRSS:"), Some(51_200));
        assert_eq!(status_field(status, "Threads:"), Some(9));
        assert_eq!(status_field(status, "VmSwap:"), None);
    }
}
