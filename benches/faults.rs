//! Fault injection against the real `tickstock` binary (the release build
//! under `cargo bench`), with a redis-server of its own, a fresh PostgreSQL
//! database behind a proxy that can be cut, and a fake Massive server:
//!
//! - hostile messages on the 8 channels (mutations of every seed example),
//!   pipelined through Redis, with known-valid markers among them;
//! - Redis killed (SIGKILL) and restarted on the same port;
//! - PostgreSQL cut (every connection closed, new ones refused) and restored;
//! - the Massive socket dropped without a close frame;
//! - WebSocket clients that never read;
//! - a flood of concurrent wrong-password logins.
//!
//! `cargo bench --bench faults -- [tiny|medium|full] [key=value...]`
//! (`full` by default; keys as in `Size`, e.g. `messages=200000 pg_cuts=1`).
//! It prints a table and exits non-zero when a hard invariant fails: the
//! process died, `/healthz` failed, a delivered marker row is missing from
//! PostgreSQL, or no event was counted after a fault.
//! `cargo test` only builds it.

mod support;

#[path = "faults/mutate.rs"]
mod mutate;
#[path = "faults/probe.rs"]
mod probe;
#[path = "faults/publish.rs"]
mod publish;
#[path = "faults/rig.rs"]
mod rig;

#[allow(dead_code)] // the run uses a plain, accepting fake
#[path = "../tests/common/massive.rs"]
mod massive;
#[path = "../tests/common/proxy.rs"]
mod proxy;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use probe::{Counters, until_moved};
use publish::{MARKER_COMPONENT, MARKER_SYMBOL, Progress, Publisher, Shared};
use rig::Rig;

/// How much of each fault a run injects.
#[derive(Debug, Clone)]
struct Size {
    name: String,
    messages: u64,
    marker_every: u64,
    redis_restarts: u32,
    redis_down_ms: u64,
    pg_cuts: u32,
    pg_cut_seconds: u64,
    massive_drops: u32,
    ws_clients: usize,
    logins: usize,
    /// How long an event may take to show after a fault ends.
    events_timeout: Duration,
    seed: u64,
}

impl Size {
    fn named(name: &str) -> Option<Self> {
        let (messages, marker_every, redis_restarts, redis_down_ms) = match name {
            "tiny" => (60_000, 50, 2, 300),
            "medium" => (100_000, 100, 3, 1_000),
            "full" => (1_000_000, 100, 10, 1_000),
            _ => return None,
        };
        let (pg_cuts, pg_cut_seconds, massive_drops, ws_clients, logins) = match name {
            "tiny" => (1, 3, 3, 20, 60),
            "medium" => (1, 10, 10, 200, 600),
            _ => (3, 30, 100, 200, 600),
        };
        Some(Self {
            name: name.to_owned(),
            messages,
            marker_every,
            redis_restarts,
            redis_down_ms,
            pg_cuts,
            pg_cut_seconds,
            massive_drops,
            ws_clients,
            logins,
            events_timeout: Duration::from_secs(if name == "tiny" { 10 } else { 30 }),
            seed: 4,
        })
    }

    fn from_args() -> Result<Self, String> {
        let args: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with("--"))
            .collect();
        let name = args
            .iter()
            .find(|a| !a.contains('='))
            .map_or("full", String::as_str);
        let mut size =
            Self::named(name).ok_or(format!("unknown size {name}: tiny, medium or full"))?;
        for arg in args.iter().filter_map(|a| a.split_once('=')) {
            let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{}={v}: {e}", arg.0));
            match arg {
                ("messages", v) => size.messages = number(v)?,
                ("marker_every", v) => size.marker_every = number(v)?.max(1),
                ("redis_restarts", v) => size.redis_restarts = number(v)? as u32,
                ("redis_down_ms", v) => size.redis_down_ms = number(v)?,
                ("pg_cuts", v) => size.pg_cuts = number(v)? as u32,
                ("pg_cut_seconds", v) => size.pg_cut_seconds = number(v)?,
                ("massive_drops", v) => size.massive_drops = number(v)? as u32,
                ("ws_clients", v) => size.ws_clients = number(v)? as usize,
                ("logins", v) => size.logins = number(v)? as usize,
                ("events_timeout", v) => size.events_timeout = Duration::from_secs(number(v)?),
                ("seed", v) => size.seed = number(v)?,
                (key, _) => return Err(format!("unknown key {key}")),
            }
        }
        Ok(size)
    }
}

/// Massive's reconnect backoff is capped at 60 s (with full jitter).
const MASSIVE_RECONNECT_TIMEOUT: Duration = Duration::from_secs(75);
/// At the end the recorder writes what it holds; the run stops waiting when
/// the pending rows have not gone down for this long.
const DRAIN_STALL: Duration = Duration::from_secs(15);

/// One kind of fault: how often, how often events were counted after it,
/// the slowest recovery, and what else was seen.
struct FaultRecord {
    fault: String,
    times: u32,
    recovered: u32,
    slowest: Option<Duration>,
    notes: Vec<String>,
}

impl FaultRecord {
    fn new(fault: &str) -> Self {
        Self {
            fault: fault.to_owned(),
            times: 0,
            recovered: 0,
            slowest: None,
            notes: Vec::new(),
        }
    }

    fn outcome(&mut self, recovery: Option<Duration>) {
        self.times += 1;
        // Progress, for the long sizes.
        println!(
            "faults: {} #{}: events after it {}",
            self.fault,
            self.times,
            recovery.map_or("NOT counted".into(), |took| format!("within {}", ms(took)))
        );
        if let Some(took) = recovery {
            self.recovered += 1;
            self.slowest = Some(self.slowest.map_or(took, |s| s.max(took)));
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// Publishes markers (every 100 ms) until /metrics counts a new message, or
/// `timeout`: how long events took to flow again.
async fn events_after(
    publisher: &Shared,
    http: &reqwest::Client,
    base: &str,
    timeout: Duration,
) -> Option<Duration> {
    let before = Counters::read(http, base).await.map_or(0, |c| c.messages());
    let start = Instant::now();
    while start.elapsed() < timeout {
        {
            let mut publisher = publisher.lock().await;
            let _ = publisher.publish_marker().await;
        }
        let moved = until_moved(http, base, Duration::from_millis(100), |c| {
            c.messages() > before
        })
        .await;
        if moved.is_some() {
            return Some(start.elapsed());
        }
    }
    None
}

/// Publishes `size.messages` hostile messages, reconnecting to Redis when the
/// connection breaks.
async fn publish_all(publisher: Shared, progress: Arc<Progress>, redis_url: String, total: u64) {
    let mut waited_out = [false; 2];
    loop {
        let waiting_since = Instant::now();
        let mut publisher = loop {
            let mut publisher = publisher.lock().await;
            if publisher.caught_up(&progress, &mut waited_out, waiting_since) {
                break publisher;
            }
            drop(publisher);
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let left = total.saturating_sub(publisher.sent);
        if left == 0 {
            return;
        }
        if publisher.conn.is_none() {
            publisher.conn = reconnect(&redis_url).await;
            if publisher.conn.is_none() {
                drop(publisher);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        }
        let _ = publisher.publish_chunk(left).await;
        progress.published.store(publisher.sent, Ordering::Relaxed);
    }
}

async fn reconnect(url: &str) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).ok()?;
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .ok()
}

/// Keeps `progress` current from /metrics until `stop`.
async fn poll_progress(
    http: reqwest::Client,
    base: String,
    progress: Arc<Progress>,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        if let Some(counters) = Counters::read(&http, &base).await {
            progress
                .consumed
                .store(counters.messages(), Ordering::Relaxed);
            progress.pending_rows.store(
                counters.get("tickstock_recorder_pending_rows"),
                Ordering::Relaxed,
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the publisher has sent `fraction` of its messages (at once
/// when it is done or stopped).
async fn at_fraction(progress: &Progress, total: u64, fraction: f64) {
    let target = (total as f64 * fraction) as u64;
    while progress.published.load(Ordering::Relaxed) < target
        && !progress.publishing_done.load(Ordering::Relaxed)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until TickStock has counted `delivered` messages, up to `timeout`;
/// how many it is still behind.
async fn caught_up(progress: &Progress, delivered: u64, timeout: Duration) -> u64 {
    let start = Instant::now();
    loop {
        let behind = delivered.saturating_sub(progress.consumed.load(Ordering::Relaxed));
        if behind == 0 || start.elapsed() > timeout {
            return behind;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// --- WebSocket clients that never read -----------------------------------------

/// Opens `count` authenticated `/streaming/ws` sockets with a 4 KiB receive
/// buffer and reads nothing after the handshake's answer.
async fn never_readers(rig: &Rig, count: usize) -> (Vec<tokio::net::TcpStream>, usize) {
    let address: std::net::SocketAddr = rig
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("address");
    let request = format!(
        "GET /streaming/ws HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Origin: http://{address}\r\nAuthorization: Bearer {}\r\n\r\n",
        rig.token
    );
    let mut open = Vec::with_capacity(count);
    let mut refused = 0;
    for _ in 0..count {
        let socket = match tokio::net::TcpSocket::new_v4() {
            Ok(socket) => socket,
            Err(_) => {
                refused += 1;
                continue;
            }
        };
        let _ = socket.set_recv_buffer_size(4096);
        let Ok(mut stream) = socket.connect(address).await else {
            refused += 1;
            continue;
        };
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        let answered = tokio::time::timeout(Duration::from_secs(10), async {
            stream.write_all(request.as_bytes()).await.ok()?;
            while !head.ends_with(b"\r\n\r\n") {
                if stream.read(&mut byte).await.ok()? == 0 {
                    return None;
                }
                head.push(byte[0]);
            }
            Some(())
        })
        .await;
        if answered.is_ok_and(|a| a.is_some()) && head.starts_with(b"HTTP/1.1 101") {
            open.push(stream);
        } else {
            refused += 1;
        }
    }
    (open, refused)
}

/// How many of the sockets the server has closed: each is drained for up to
/// 5 s; an end of stream or a reset is a close.
async fn closed_by_server(sockets: Vec<tokio::net::TcpStream>) -> usize {
    let drains = sockets.into_iter().map(|mut socket| async move {
        let mut buffer = vec![0u8; 64 * 1024];
        let drained = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match socket.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        drained.is_ok()
    });
    futures_util::future::join_all(drains)
        .await
        .into_iter()
        .filter(|c| *c)
        .count()
}

// --- login flood ---------------------------------------------------------------

struct Flood {
    statuses: BTreeMap<String, usize>,
    window: (Instant, Instant),
}

/// `count` clients each fetch the login form (cookie and CSRF token), then
/// all post a wrong password at once: a third as `admin`, the rest as unknown
/// names; one in twenty with a 1 MiB password.
async fn login_flood(base: &str, count: usize) -> Flood {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let forms = (0..count).map(|_| {
        let http = http.clone();
        let url = format!("{base}/login");
        async move {
            let response = http.get(&url).send().await.ok()?;
            let cookie = response
                .headers()
                .get_all(reqwest::header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
                .collect::<Vec<_>>()
                .join("; ");
            let page = response.text().await.ok()?;
            let csrf = page
                .split("name=\"csrf\" value=\"")
                .nth(1)?
                .split('"')
                .next()?
                .to_owned();
            Some((cookie, csrf))
        }
    });
    let forms = futures_util::future::join_all(forms).await;
    let start = Instant::now();
    let barrier = Arc::new(tokio::sync::Barrier::new(count));
    let posts = forms.into_iter().enumerate().map(|(i, form)| {
        let (http, barrier, url) = (http.clone(), barrier.clone(), format!("{base}/login"));
        tokio::spawn(async move {
            barrier.wait().await;
            let Some((cookie, csrf)) = form else {
                return "no login form".to_owned();
            };
            let username = if i % 3 == 0 {
                "admin".to_owned()
            } else {
                format!("nobody{i}")
            };
            let password = if i % 20 == 0 {
                "x".repeat(1024 * 1024)
            } else {
                format!("wrong-{i}")
            };
            let sent = http
                .post(&url)
                .header(reqwest::header::COOKIE, cookie)
                .form(&[
                    ("username", username),
                    ("password", password),
                    ("csrf", csrf),
                ])
                .send()
                .await;
            match sent {
                Ok(response) => response.status().as_u16().to_string(),
                Err(error) if error.is_timeout() => "timeout".to_owned(),
                Err(_) => "connection error".to_owned(),
            }
        })
    });
    let mut statuses = BTreeMap::new();
    for outcome in futures_util::future::join_all(posts).await {
        let outcome = outcome.unwrap_or_else(|_| "client task failed".to_owned());
        *statuses.entry(outcome).or_insert(0) += 1;
    }
    Flood {
        statuses,
        window: (start, Instant::now()),
    }
}

// --- the run -------------------------------------------------------------------

#[tokio::main]
async fn main() -> ExitCode {
    if !support::benching() {
        println!("faults: run it with `cargo bench --bench faults -- tiny|medium|full`");
        return ExitCode::SUCCESS;
    }
    let size = match Size::from_args() {
        Ok(size) => size,
        Err(error) => {
            eprintln!("faults: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = std::env::var_os("FAULTS_DUMP") {
        return dump(&size, Path::new(&path));
    }
    match run(&size).await {
        Ok(failures) if failures.is_empty() => {
            println!("faults: every hard invariant held");
            ExitCode::SUCCESS
        }
        Ok(failures) => {
            println!("faults: FAILED:");
            for failure in failures {
                println!("  - {failure}");
            }
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("faults: cannot run: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the run's hostile messages (channel, tab, payload; one a line,
/// payloads as lossy UTF-8) instead of running: what a run sends, to read.
fn dump(size: &Size, path: &Path) -> ExitCode {
    let mut mutator = mutate::Mutator::new(examples(), size.seed);
    let mut text = Vec::new();
    for _ in 0..size.messages {
        let hostile = mutator.next_message();
        text.extend_from_slice(format!("{:?}\t{}\t", hostile.mutation, hostile.channel).as_bytes());
        text.extend_from_slice(
            String::from_utf8_lossy(&hostile.payload)
                .replace('\n', "\\n")
                .as_bytes(),
        );
        text.push(b'\n');
    }
    match std::fs::write(path, text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("faults: {}: {error}", path.display());
            ExitCode::FAILURE
        }
    }
}

/// The seed examples: `tests/mock_data`, `tests/seed_examples.rs` and the
/// seed documents in `FAULTS_SEEDS_DIR` (default `/work/shared/seeds`).
fn examples() -> Vec<mutate::Example> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    mutate::examples(repo, &seeds_dir())
}

fn seeds_dir() -> std::path::PathBuf {
    std::env::var_os("FAULTS_SEEDS_DIR")
        .map_or_else(|| "/work/shared/seeds".into(), std::path::PathBuf::from)
}

/// The run; the hard invariants that failed.
async fn run(size: &Size) -> Result<Vec<String>, String> {
    let started = Instant::now();
    println!("faults: size {size:?}");
    let examples = examples();
    if examples.is_empty() {
        return Err("no JSON examples found in tests/mock_data or tests/seed_examples.rs".into());
    }
    println!(
        "faults: {} seed examples (tests/mock_data, tests/seed_examples.rs, {}), binary {}",
        examples.len(),
        seeds_dir().display(),
        rig::binary().display()
    );
    let mut rig = Rig::start().await?;
    let stop = CancellationToken::new();
    let samples = probe::start_samplers(&rig.base, rig.pid(), stop.clone());
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let progress = Arc::new(Progress::default());
    tokio::spawn(poll_progress(
        http.clone(),
        rig.base.clone(),
        progress.clone(),
        stop.clone(),
    ));

    let mutator = mutate::Mutator::new(examples, size.seed);
    println!(
        "faults: the first {} messages sweep every leaf of every example through the sharp values, the rest are random mutations",
        mutator.sweep_len()
    );
    let catch_up_limit = Duration::from_secs(size.pg_cut_seconds) + size.events_timeout;
    let mut publisher = Publisher::new(mutator, size.marker_every, catch_up_limit);
    publisher.conn = rig.redis.connect().await;
    let publisher: Shared = Arc::new(tokio::sync::Mutex::new(publisher));
    let mut records = Vec::new();

    // WebSocket clients that never read, open for the whole run.
    let mut ws = FaultRecord::new("WebSocket clients that never read");
    let (sockets, refused) = never_readers(&rig, size.ws_clients).await;
    ws.notes
        .push(format!("{} opened, {refused} refused", sockets.len()));

    let publishing = tokio::spawn({
        let (publisher, progress) = (publisher.clone(), progress.clone());
        let (url, total) = (rig.redis.url(), size.messages);
        async move {
            publish_all(publisher, progress.clone(), url, total).await;
            progress.publishing_done.store(true, Ordering::Relaxed);
        }
    });
    ws.outcome(events_after(&publisher, &http, &rig.base, size.events_timeout).await);

    // The Massive socket, dropped as soon as each connection delivers ticks.
    let massive = tokio::spawn(drop_massive(
        rig.massive.clone(),
        http.clone(),
        rig.base.clone(),
        size.massive_drops,
        size.events_timeout,
    ));

    // The login flood, a tenth of the way in.
    at_fraction(&progress, size.messages, 0.1).await;
    let mut logins = FaultRecord::new(&format!("{}-login flood", size.logins));
    let rss_before = probe::rss_kib(rig.pid());
    let flood = login_flood(&rig.base, size.logins).await;
    let rss_after = probe::rss_kib(rig.pid());
    logins.outcome(events_after(&publisher, &http, &rig.base, size.events_timeout).await);
    let flood_health = samples.lock().health_summary(Some(flood.window));
    logins.notes.push(format!(
        "answers {:?} in {}; resident {:.0} MiB before, {:.0} MiB after; /healthz p99 {:.1} ms (max {:.0} ms) during it",
        flood.statuses,
        ms(flood.window.1 - flood.window.0),
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        flood_health.p99_ms,
        flood_health.max_ms
    ));

    // Redis restarts and PostgreSQL cuts, spread over the rest of the messages.
    let mut redis = FaultRecord::new("Redis killed and restarted");
    let mut postgres = FaultRecord::new(&format!("PostgreSQL cut for {} s", size.pg_cut_seconds));
    let mut schedule: Vec<bool> = (0..size.redis_restarts).map(|_| true).collect();
    for k in 0..size.pg_cuts as usize {
        let at = ((k + 1) * schedule.len()) / (size.pg_cuts as usize + 1);
        schedule.insert(at.min(schedule.len()), false);
    }
    let faults = schedule.len();
    let mut resubscribe_gaps = Vec::new();
    for (i, is_redis) in schedule.into_iter().enumerate() {
        at_fraction(
            &progress,
            size.messages,
            0.1 + 0.9 * (i + 1) as f64 / (faults + 1) as f64,
        )
        .await;
        if is_redis {
            let mut paused = publisher.lock().await;
            // What Redis holds for TickStock dies with it: first let TickStock
            // take all it was sent, so that the kill loses no counted marker.
            let delivered = paused.total_delivered();
            let behind = caught_up(&progress, delivered, size.events_timeout).await;
            if behind > 0 {
                redis.notes.push(format!(
                    "restart {}: killed with {behind} delivered messages not yet counted by TickStock",
                    redis.times + 1
                ));
            }
            rig.redis.kill();
            tokio::time::sleep(Duration::from_millis(size.redis_down_ms)).await;
            rig.redis.restart();
            paused.conn = rig.redis.connect().await;
            let answering = Instant::now();
            // The gap from Redis answering to TickStock's first delivery.
            let mut gap = None;
            while answering.elapsed() < size.events_timeout {
                if paused.conn.is_none() {
                    paused.conn = reconnect(&rig.redis.url()).await;
                }
                if paused.publish_marker().await == Ok(true) {
                    gap = Some(answering.elapsed());
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            drop(paused);
            if let Some(gap) = gap {
                resubscribe_gaps.push(gap);
            }
            let events = match gap {
                Some(gap) => events_after(&publisher, &http, &rig.base, size.events_timeout)
                    .await
                    .map(|e| e + gap),
                None => None,
            };
            redis.outcome(events);
        } else {
            let before = Counters::read(&http, &rig.base).await.unwrap_or_default();
            rig.postgres_proxy.cut();
            let cut_at = Instant::now();
            // Halfway through: does a logged-in route answer, and does live data flow?
            tokio::time::sleep(Duration::from_secs(size.pg_cut_seconds) / 2).await;
            let asked = Instant::now();
            let status = http
                .get(format!("{}/streaming/api/status", rig.base))
                .bearer_auth(&rig.token)
                .send()
                .await
                .map_or_else(
                    |e| format!("error {e}"),
                    |r| r.status().as_u16().to_string(),
                );
            let answered_in = asked.elapsed();
            let live = events_after(&publisher, &http, &rig.base, size.events_timeout).await;
            let during = Counters::read(&http, &rig.base).await.unwrap_or_default();
            postgres.notes.push(format!(
                "cut {}: status with token answered {status} in {}; live data {}, {} messages counted during the cut",
                postgres.times + 1,
                ms(answered_in),
                live.map_or("NOT counted".into(), |t| format!("counted within {}", ms(t))),
                during.messages().saturating_sub(before.messages())
            ));
            let remaining =
                Duration::from_secs(size.pg_cut_seconds).saturating_sub(cut_at.elapsed());
            tokio::time::sleep(remaining).await;
            rig.postgres_proxy.restore();
            let restored = Instant::now();
            // Rows written again: markers go on being published meanwhile.
            let written_before = Counters::read(&http, &rig.base)
                .await
                .map_or(0, |c| c.get("tickstock_recorder_written_rows"));
            let mut written = None;
            while restored.elapsed() < size.events_timeout && written.is_none() {
                let _ = publisher.lock().await.publish_marker().await;
                written = until_moved(&http, &rig.base, Duration::from_millis(200), |c| {
                    c.get("tickstock_recorder_written_rows") > written_before
                })
                .await
                .map(|_| restored.elapsed());
            }
            postgres.outcome(written);
        }
    }
    if !resubscribe_gaps.is_empty() {
        resubscribe_gaps.sort();
        redis.notes.push(format!(
            "first delivery after Redis answered: median {}, max {}",
            ms(resubscribe_gaps[resubscribe_gaps.len() / 2]),
            ms(resubscribe_gaps[resubscribe_gaps.len() - 1])
        ));
    }
    let _ = publishing.await;
    let mut mutated = FaultRecord::new("hostile messages on the 8 channels");
    mutated.outcome(events_after(&publisher, &http, &rig.base, size.events_timeout).await);
    let massive = massive
        .await
        .unwrap_or_else(|_| FaultRecord::new("Massive socket dropped (task failed)"));

    // The end: what the recorder holds gets written, then the markers are counted.
    let drained = drain(&http, &rig.base).await;
    let final_counters = Counters::read(&http, &rig.base).await.unwrap_or_default();
    let status: Option<serde_json::Value> = match http
        .get(format!("{}/streaming/api/status", rig.base))
        .bearer_auth(&rig.token)
        .send()
        .await
    {
        Ok(response) => response.json().await.ok(),
        Err(_) => None,
    };
    let healthz_now = http
        .get(format!("{}/healthz", rig.base))
        .send()
        .await
        .is_ok_and(|r| r.status() == reqwest::StatusCode::OK);
    let readyz_now = http
        .get(format!("{}/readyz", rig.base))
        .send()
        .await
        .map_or_else(
            |e| format!("error {e}"),
            |r| r.status().as_u16().to_string(),
        );
    let closed = closed_by_server(sockets).await;
    ws.notes
        .push(format!("{closed} closed by the server by the end"));
    stop.cancel();
    let alive = rig.alive();

    let publisher = publisher.lock().await;
    let markers = &publisher.markers;
    let stored_critical = stored_markers(
        &rig,
        &format!("SELECT message FROM streaming_alerts WHERE component = '{MARKER_COMPONENT}'"),
        |message| message.strip_prefix("faults marker ")?.parse().ok(),
    )
    .await;
    let base_ms = markers.base.timestamp_millis();
    let stored_patterns = stored_markers(
        &rig,
        &format!(
            "SELECT (round(extract(epoch FROM detected_at) * 1000))::bigint::text FROM intraday_patterns WHERE symbol = '{MARKER_SYMBOL}'"
        ),
        |millis| Some(base_ms.checked_sub(millis.parse::<i64>().ok()?)? as u64),
    )
    .await;
    let lost_critical = markers
        .critical
        .iter()
        .filter(|n| !stored_critical.contains(n))
        .count();
    let lost_patterns = markers
        .patterns
        .iter()
        .filter(|n| !stored_patterns.contains(n))
        .count();
    let panics = std::fs::read_to_string(&rig.log)
        .map(|log| log.matches("panicked at").count())
        .unwrap_or(0);

    // --- report ---
    let samples = samples.lock();
    let health = samples.health_summary(None);
    records.push(mutated);
    records.push(redis);
    records.push(postgres);
    records.push(massive);
    records.push(ws);
    records.push(logins);
    println!();
    println!(
        "faults ({}, {:.0} s):",
        size.name,
        started.elapsed().as_secs_f64()
    );
    println!("| fault | times | events after it | slowest recovery | notes |");
    println!("|---|---|---|---|---|");
    for record in &records {
        println!(
            "| {} | {} | {}/{} | {} | {} |",
            record.fault,
            record.times,
            record.recovered,
            record.times,
            record.slowest.map_or("-".into(), ms),
            record.notes.join("; ")
        );
    }
    let recorder = status.as_ref().and_then(|s| s.get("recorder")).cloned();
    let counter = |name: &str, metric: &str| {
        recorder
            .as_ref()
            .and_then(|r| r[name].as_u64())
            .unwrap_or(final_counters.get(metric))
    };
    let mib = |kib: u64| kib as f64 / 1024.0;
    let by_mutation: Vec<String> = mutate::MUTATIONS
        .iter()
        .zip(publisher.by_mutation)
        .map(|(m, n)| format!("{m:?} {n}"))
        .collect();
    println!();
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| process alive at the end | {} (pid {}) |",
        if alive { "yes" } else { "NO" },
        rig.pid()
    );
    println!("| panics in its log | {panics} ({}) |", rig.log.display());
    println!(
        "| /healthz | {} samples, p50 {:.1} ms, p99 {:.1} ms, max {:.0} ms, {} failed (non-200 or over {} s); at the end: {} |",
        health.count,
        health.p50_ms,
        health.p99_ms,
        health.max_ms,
        health.failures,
        probe::HEALTHZ_TIMEOUT.as_secs(),
        if healthz_now { "200" } else { "FAILED" }
    );
    println!("| /readyz at the end | {readyz_now} |");
    println!(
        "| resident size | peak {:.0} MiB sampled, VmHWM {:.0} MiB, {:.0} MiB at the end |",
        mib(samples.rss_peak_kib),
        mib(samples.hwm_kib),
        mib(samples.rss_last_kib)
    );
    println!(
        "| hostile messages | {} published ({:.0} MiB), {} delivered, {} counted by TickStock, {} decode errors |",
        publisher.sent,
        publisher.bytes as f64 / 1048576.0,
        publisher.delivered,
        final_counters.messages(),
        final_counters.get("tickstock_channel_decode_errors")
    );
    println!("| mutation classes | {} |", by_mutation.join(", "));
    println!(
        "| valid marker rows | {} delivered ({} critical alerts, {} patterns; {} not delivered, not expected); lost: {} critical alerts, {} patterns |",
        markers.delivered_count(),
        markers.critical.len(),
        markers.patterns.len(),
        markers.undelivered,
        lost_critical,
        lost_patterns
    );
    println!(
        "| recorder | written {}, rejected {}, dropped {}, pending {} ({}), last error {} |",
        counter("written", "tickstock_recorder_written_rows"),
        counter("rejected", "tickstock_recorder_rejected_rows"),
        counter("dropped", "tickstock_recorder_dropped_rows"),
        counter("pending", "tickstock_recorder_pending_rows"),
        if drained {
            "drained"
        } else {
            "NOT drained: no progress for 15 s"
        },
        recorder
            .as_ref()
            .and_then(|r| r["last_error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "none".into())
    );
    println!(
        "| bus | {} reconnects, {} dropped |",
        final_counters.get("tickstock_bus_reconnects"),
        final_counters.get("tickstock_bus_dropped_messages")
    );
    for note in &publisher.gave_up_waiting {
        println!("| publisher | {note} |");
    }

    let mut failures = Vec::new();
    if !alive || samples.vanished_at.is_some() {
        failures.push("the tickstock process died".to_owned());
    }
    if health.failures > 0 || !healthz_now {
        failures.push(format!(
            "/healthz failed {} time(s)",
            health.failures + usize::from(!healthz_now)
        ));
    }
    if lost_critical + lost_patterns > 0 {
        failures.push(format!(
            "{} of {} delivered valid marker rows are not in PostgreSQL",
            lost_critical + lost_patterns,
            markers.delivered_count()
        ));
    }
    for record in &records {
        if record.recovered < record.times {
            failures.push(format!(
                "no event counted after {} of {} \"{}\"",
                record.times - record.recovered,
                record.times,
                record.fault
            ));
        }
    }
    Ok(failures)
}

/// Waits until the recorder holds no rows; false when the pending rows have
/// not gone down for `DRAIN_STALL`.
async fn drain(http: &reqwest::Client, base: &str) -> bool {
    let mut lowest = u64::MAX;
    let mut since = Instant::now();
    while since.elapsed() < DRAIN_STALL {
        if let Some(counters) = Counters::read(http, base).await {
            let pending = counters.get("tickstock_recorder_pending_rows");
            if pending == 0 {
                return true;
            }
            if pending < lowest {
                lowest = pending;
                since = Instant::now();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The marker numbers found by `query` (one text column).
async fn stored_markers(
    rig: &Rig,
    query: &str,
    number: impl Fn(&str) -> Option<u64>,
) -> std::collections::BTreeSet<u64> {
    rig.database
        .texts(query)
        .await
        .iter()
        .filter_map(|text| number(text))
        .collect()
}

/// Drops the Massive socket `drops` times, each time once the connection has
/// delivered ticks; after each drop, waits for TickStock to reconnect and
/// for ticks to be counted again.
async fn drop_massive(
    fake: massive::FakeMassive,
    http: reqwest::Client,
    base: String,
    drops: u32,
    events_timeout: Duration,
) -> FaultRecord {
    let mut record = FaultRecord::new("Massive socket dropped");
    let mut reconnect_delays = Vec::new();
    let mut dropped_at: Option<Instant> = None;
    let mut seen = 0;
    for round in 0..=drops {
        let wait_from = Instant::now();
        let mut connected = false;
        while wait_from.elapsed() < MASSIVE_RECONNECT_TIMEOUT {
            if fake.connections() > seen {
                connected = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if !connected {
            record.notes.push(format!(
                "no reconnection within {} s after drop {round}",
                MASSIVE_RECONNECT_TIMEOUT.as_secs()
            ));
            if dropped_at.is_some() {
                record.outcome(None);
            }
            break;
        }
        seen = fake.connections();
        if let Some(at) = dropped_at {
            reconnect_delays.push(at.elapsed());
        }
        let before = Counters::read(&http, &base)
            .await
            .map_or(0, |c| c.get("tickstock_feed_ticks_received"));
        fake.command(massive::Command::Stream(Duration::from_millis(20)));
        let ticks = until_moved(&http, &base, events_timeout, |c| {
            c.get("tickstock_feed_ticks_received") > before
        })
        .await;
        if let Some(at) = dropped_at {
            record.outcome(ticks.map(|_| at.elapsed()));
        }
        if round == drops {
            break;
        }
        fake.command(massive::Command::Drop);
        dropped_at = Some(Instant::now());
    }
    if !reconnect_delays.is_empty() {
        reconnect_delays.sort();
        record.notes.push(format!(
            "reconnected after median {}, max {} (the feed's backoff: 0.5 s doubling to MASSIVE_RECONNECT_MAX_SECONDS, 2 s here, full jitter)",
            ms(reconnect_delays[reconnect_delays.len() / 2]),
            ms(reconnect_delays[reconnect_delays.len() - 1])
        ));
    }
    record
}
