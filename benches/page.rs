//! The Live Streaming page's own cost, in a real headless Chromium, against
//! the real `tickstock` binary (a redis-server of its own, the synthetic
//! feed at a given tick rate over a given universe, forwarded to Redis) and
//! `tickstock simulate` playing seed 004's scenarios on that Redis:
//!
//! - long tasks (over 50 ms) during the window: count, longest, total;
//! - the share of the window the renderer's main thread was busy
//!   (Chromium's `TaskDuration`, through the DevTools protocol);
//! - how long a typed filter takes to show (the input event to the second
//!   animation frame after it);
//! - the JS heap after a garbage collection, at the start and the end.
//!
//! `cargo bench --bench page -- [symbols=500] [ticks=20000] [seconds=60]
//! [scenarios=normal,high-volume]`. The budgets (issue 14): no long task
//! over 50 ms, busy under 30 %, a filter within 100 ms, heap under 100 MB and
//! not growing. `cargo test` runs it once at a tiny size.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{OwnRedis, benching, free_port, wait_until};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const PASSWORD: &str = "bench-admin-password";
const WAIT: Duration = Duration::from_secs(60);
/// The watchlist's filter box.
const FILTER: &str = "#watch-filter";

struct Run {
    symbols: usize,
    ticks_per_second: u32,
    window: Duration,
    scenarios: Vec<String>,
}

impl Run {
    fn from_args() -> Self {
        let mut run = if benching() {
            Run {
                symbols: 500,
                ticks_per_second: 20_000,
                window: Duration::from_secs(60),
                scenarios: vec!["normal".into(), "high-volume".into()],
            }
        } else {
            Run {
                symbols: 20,
                ticks_per_second: 200,
                window: Duration::from_secs(3),
                scenarios: vec!["normal".into()],
            }
        };
        for arg in std::env::args().skip(1) {
            let Some((key, value)) = arg.split_once('=') else {
                continue;
            };
            match key {
                "symbols" => run.symbols = value.parse().expect("symbols=N"),
                "ticks" => run.ticks_per_second = value.parse().expect("ticks=N"),
                "seconds" => run.window = Duration::from_secs(value.parse().expect("seconds=N")),
                "scenarios" => run.scenarios = value.split(',').map(str::to_owned).collect(),
                _ => {}
            }
        }
        run
    }
}

/// Four-letter tickers, AAAA, AAAB, ...
fn universe(count: usize) -> String {
    (0..count)
        .map(|n| {
            let letter = |k: usize| char::from(b'A' + ((n / 26usize.pow(k as u32)) % 26) as u8);
            [3, 2, 1, 0].map(letter).iter().collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(",")
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server(redis: &OwnRedis, run: &Run, port: u16) -> Process {
    Process(
        Command::new(env!("CARGO_BIN_EXE_tickstock"))
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("REDIS_URL", &redis.url)
            .env("DATA_SOURCE", "synthetic")
            .env("SYMBOLS", universe(run.symbols))
            .env(
                "SYNTHETIC_TICKS_PER_SECOND",
                run.ticks_per_second.to_string(),
            )
            .env("TICKSTOCK_ADMIN_PASSWORD", PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tickstock"),
    )
}

fn simulator(redis: &OwnRedis, scenario: &str) -> Process {
    Process(
        Command::new(env!("CARGO_BIN_EXE_tickstock"))
            .args(["simulate", "--scenario", scenario])
            .env("REDIS_URL", &redis.url)
            // Seed 004's scenario 2 plays 5 s bars.
            .env("SIM_BAR_SECONDS", "5")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tickstock simulate"),
    )
}

/// A WebDriver session of chromedriver's, spoken to in plain HTTP.
struct Browser {
    http: reqwest::Client,
    session: String,
    _driver: Process,
}

impl Browser {
    async fn start() -> Self {
        let port = free_port();
        let driver = Process(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver (Debian's chromium-driver)"),
        );
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        wait_until("chromedriver to answer", WAIT, || async {
            http.get(format!("{base}/status")).send().await.is_ok()
        })
        .await;
        let profile = tempfile::tempdir().expect("a profile directory").keep();
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking", "--window-size=1400,1000",
                         format!("--user-data-dir={}", profile.display())]}}}}))
            .send()
            .await
            .expect("a browser session")
            .json()
            .await
            .expect("a session answer");
        let session = created["value"]["sessionId"]
            .as_str()
            .expect("a session id");
        Self {
            session: format!("{base}/session/{session}"),
            http,
            _driver: driver,
        }
    }

    async fn command(&self, path: &str, body: Value) -> Value {
        let answer: Value = self
            .http
            .post(format!("{}/{path}", self.session))
            .json(&body)
            .send()
            .await
            .expect("chromedriver")
            .json()
            .await
            .expect("a WebDriver answer");
        answer["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.command("url", json!({ "url": url })).await;
    }

    async fn script(&self, script: &str) -> Value {
        self.command("execute/sync", json!({"script": script, "args": []}))
            .await
    }

    async fn script_async(&self, script: &str) -> Value {
        self.command("execute/async", json!({"script": script, "args": []}))
            .await
    }

    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.command("goog/cdp/execute", json!({"cmd": cmd, "params": params}))
            .await
    }

    /// Chromium's renderer metric `name` (seconds, bytes, counts).
    async fn metric(&self, name: &str) -> f64 {
        let metrics = self.cdp("Performance.getMetrics", json!({})).await;
        metrics["metrics"]
            .as_array()
            .and_then(|all| all.iter().find(|m| m["name"] == name))
            .and_then(|m| m["value"].as_f64())
            .unwrap_or(f64::NAN)
    }

    async fn heap_after_gc_mb(&self) -> f64 {
        self.cdp("HeapProfiler.collectGarbage", json!({})).await;
        self.metric("JSHeapUsedSize").await / 1_048_576.0
    }
}

/// The sum of every series of the counter `name` in `/metrics`, and that of
/// its series whose labels contain `label`.
async fn counter(http: &reqwest::Client, base: &str, name: &str, label: &str) -> (f64, f64) {
    let text = match http.get(format!("{base}/metrics")).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    let mut all = 0.0;
    let mut matching = 0.0;
    for line in text.lines().filter(|l| l.starts_with(name)) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or(0.0);
        all += value;
        if series.contains(label) {
            matching += value;
        }
    }
    (all, matching)
}

/// What the server took in during a window, per second.
struct Load {
    ticks: f64,
    events: f64,
    patterns: f64,
}

async fn load_during(http: &reqwest::Client, base: &str, window: Duration) -> Load {
    let ticks = || counter(http, base, "tickstock_feed_ticks_forwarded", "");
    let events = || counter(http, base, "tickstock_channel_messages", "patterns");
    let (ticks_before, _) = ticks().await;
    let (events_before, patterns_before) = events().await;
    tokio::time::sleep(window).await;
    let (ticks_after, _) = ticks().await;
    let (events_after, patterns_after) = events().await;
    let seconds = window.as_secs_f64();
    Load {
        ticks: (ticks_after - ticks_before) / seconds,
        events: (events_after - events_before) / seconds,
        patterns: (patterns_after - patterns_before) / seconds,
    }
}

struct Figures {
    long_tasks: usize,
    longest_ms: f64,
    long_total_ms: f64,
    busy: f64,
    filter_ms: Option<f64>,
    heap_start_mb: f64,
    heap_end_mb: f64,
    load: Load,
}

async fn measure(http: &reqwest::Client, base: &str, window: Duration) -> Figures {
    let browser = Browser::start().await;
    browser.goto(&format!("{base}/login?next=/dashboard")).await;
    browser
        .script(&format!(
            "document.querySelector('input[name=username]').value = 'admin';
             document.querySelector('input[name=password]').value = '{PASSWORD}';
             document.querySelector('input[name=password]').form.submit();"
        ))
        .await;
    wait_until("the dashboard after login", WAIT, || async {
        browser.script("return location.pathname").await == "/dashboard"
    })
    .await;
    wait_until("the dashboard to load", WAIT, || async {
        browser.script("return document.readyState").await == "complete"
    })
    .await;
    // The first seconds fill the page from the snapshot: not what is measured.
    tokio::time::sleep(Duration::from_secs(5)).await;
    browser.cdp("Performance.enable", json!({})).await;
    let heap_start_mb = browser.heap_after_gc_mb().await;
    browser
        .script(
            "window.__longTasks = [];
             new PerformanceObserver(list => {
               for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
             }).observe({type: 'longtask'});",
        )
        .await;
    let busy_before = browser.metric("TaskDuration").await;
    let load = load_during(http, base, window).await;
    let busy_after = browser.metric("TaskDuration").await;
    let long: Vec<f64> = serde_json::from_value(browser.script("return window.__longTasks").await)
        .unwrap_or_default();
    let filter_ms = browser
        .script_async(&format!(
            "const done = arguments[arguments.length - 1];
             const input = document.querySelector('{FILTER}');
             if (!input) {{ done(null); return; }}
             const start = performance.now();
             input.value = 'AB';
             input.dispatchEvent(new Event('input', {{bubbles: true}}));
             requestAnimationFrame(() => requestAnimationFrame(() => {{
               const shown = performance.now() - start;
               input.value = '';
               input.dispatchEvent(new Event('input', {{bubbles: true}}));
               done(shown);
             }}));"
        ))
        .await
        .as_f64();
    let heap_end_mb = browser.heap_after_gc_mb().await;
    Figures {
        long_tasks: long.len(),
        longest_ms: long.iter().copied().fold(0.0, f64::max),
        long_total_ms: long.iter().fold(0.0, |sum, ms| sum + ms),
        busy: (busy_after - busy_before) / window.as_secs_f64(),
        filter_ms,
        heap_start_mb,
        heap_end_mb,
        load,
    }
}

#[tokio::main]
async fn main() {
    let run = Run::from_args();
    let redis = OwnRedis::start();
    redis.client().await;
    let port = free_port();
    let _server = server(&redis, &run, port);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_until("tickstock to answer", WAIT, || async {
        http.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;
    println!(
        "page: {} symbols, {} ticks/s, {} s windows",
        run.symbols,
        run.ticks_per_second,
        run.window.as_secs()
    );
    println!(
        "| scenario | server took in | long tasks | longest | long tasks in all | main thread busy | filter shown after | heap start / end |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for scenario in &run.scenarios {
        let _simulator = simulator(&redis, scenario);
        let figures = measure(&http, &base, run.window).await;
        println!(
            "| {scenario} | {:.0} ticks/s, {:.0} events/s ({:.0} on the pattern channels) | {} | {:.0} ms | {:.0} ms | {:.1} % | {} | {:.1} / {:.1} MB |",
            figures.load.ticks,
            figures.load.events,
            figures.load.patterns,
            figures.long_tasks,
            figures.longest_ms,
            figures.long_total_ms,
            figures.busy * 100.0,
            figures
                .filter_ms
                .map_or("no filter box".to_owned(), |ms| format!("{ms:.0} ms")),
            figures.heap_start_mb,
            figures.heap_end_mb
        );
        assert!(
            figures.busy.is_finite() && figures.busy > 0.0,
            "the renderer's busy time is read"
        );
        assert!(
            figures.heap_end_mb.is_finite() && figures.heap_end_mb > 0.0,
            "the heap is read"
        );
    }
}
