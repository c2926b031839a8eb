//! End-to-end load against the real `tickstock` binary, run as a process of
//! its own (so that its memory is its own), with a redis-server of its own and
//! a fresh PostgreSQL database (for a real API token):
//!
//! - `api`: `/streaming/api/status` with a bearer token under wrk, beside
//!   `/healthz` on the same server as the baseline of the HTTP stack.
//! - `fanout`: events PUBLISHed on Redis at R/s, received by N clients of
//!   `/streaming/ws`; latency from PUBLISH to each client's receipt, and drops.
//! - `memory`: the server's resident size idle and with 1,000 clients.
//!
//! `cargo bench --bench load -- [api] [fanout] [memory]` (all by default).
//! `cargo test` runs each once at a tiny size.

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use sqlx::{Connection, Executor};
use support::{OwnRedis, free_port, wait_until};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const MAINTENANCE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

struct Server {
    child: Child,
    base: String,
    token: String,
    database: String,
    _redis: OwnRedis,
}

impl Server {
    async fn start() -> Self {
        let redis = OwnRedis::start();
        redis.client().await;
        let database = format!("tickstock_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(MAINTENANCE_URL)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432");
        admin
            .execute(format!("CREATE DATABASE {database}").as_str())
            .await
            .expect("CREATE DATABASE");
        let database_url = format!("postgres://postgres@127.0.0.1:5432/{database}");
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_tickstock"))
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("REDIS_URL", &redis.url)
            .env("DATABASE_URL", &database_url)
            .env("DATA_SOURCE", "none")
            .env("TICKSTOCK_ADMIN_PASSWORD", "bench-admin-password")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tickstock");
        let base = format!("http://127.0.0.1:{port}");
        let ready = format!("{base}/readyz");
        wait_until(
            "the server to be ready",
            Duration::from_secs(30),
            || async {
                reqwest::get(&ready)
                    .await
                    .is_ok_and(|r| r.status().is_success())
            },
        )
        .await;
        let output = Command::new(env!("CARGO_BIN_EXE_tickstock"))
            .args(["token", "create", "admin", "--label", "bench"])
            .env("DATABASE_URL", &database_url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("tickstock token create");
        let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        assert!(
            token.starts_with("tst_"),
            "no token: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self {
            child,
            base,
            token,
            database,
            _redis: redis,
        }
    }

    fn redis_url(&self) -> &str {
        &self._redis.url
    }

    /// CPU seconds the server process has used (user + system).
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields 14 and 15 (utime, stime) in clock ticks, after the parenthesised name.
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
        };
        (ticks(11) + ticks(12)) / 100.0
    }

    /// Resident set size of the server process, in MiB.
    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let database = self.database.clone();
        // Drop is synchronous: drop the database from a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut admin) = sqlx::PgConnection::connect(MAINTENANCE_URL).await {
                        let _ = admin
                            .execute(
                                format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)").as_str(),
                            )
                            .await;
                    }
                });
            }
        })
        .join();
    }
}

// --- api ------------------------------------------------------------------------

fn wrk(url: &str, token: &str, seconds: u64, connections: u32) -> String {
    let output = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
        ])
        .args(["-H", &format!("Authorization: Bearer {token}"), url])
        .output();
    match output {
        Ok(output) => String::from_utf8_lossy(&output.stdout).into_owned(),
        Err(error) => format!("wrk unavailable ({error}); `scripts/test` installs Debian's wrk"),
    }
}

fn wrk_summary(report: &str) -> String {
    let rate = report
        .lines()
        .find(|l| l.starts_with("Requests/sec"))
        .unwrap_or("Requests/sec: ?")
        .trim()
        .to_owned();
    let p99 = report
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .map_or("99% ?".into(), |l| l.trim().to_owned());
    let errors = report
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
        .map(str::trim)
        .unwrap_or("no errors");
    format!("{rate}, latency {p99}, {errors}")
}

async fn api(server: &Server, seconds: u64) {
    let status = format!("{}/streaming/api/status", server.base);
    let check = reqwest::Client::new()
        .get(&status)
        .bearer_auth(&server.token)
        .send()
        .await
        .expect("status");
    assert!(check.status().is_success(), "the token works");
    println!("api: wrk -t2 -c64 -d{seconds}s");
    println!(
        "  baseline /healthz:             {}",
        wrk_summary(&wrk(
            &format!("{}/healthz", server.base),
            &server.token,
            seconds,
            64
        ))
    );
    println!(
        "  /streaming/api/status (token): {}",
        wrk_summary(&wrk(&status, &server.token, seconds, 64))
    );
}

// --- fan-out ---------------------------------------------------------------------

/// Latencies in buckets 2% wide, from 1 µs up.
struct Histogram(Vec<u64>);

impl Histogram {
    const BUCKETS: usize = 1_024;

    fn new() -> Self {
        Self(vec![0; Self::BUCKETS])
    }

    fn record(&mut self, micros: u64) {
        let bucket = ((micros.max(1) as f64).ln() / 1.02f64.ln()) as usize;
        self.0[bucket.min(Self::BUCKETS - 1)] += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a += b;
        }
    }

    fn count(&self) -> u64 {
        self.0.iter().sum()
    }

    fn quantile_ms(&self, q: f64) -> f64 {
        let target = (self.count() as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (bucket, n) in self.0.iter().enumerate() {
            seen += n;
            if seen >= target.max(1) {
                return 1.02f64.powi(bucket as i32 + 1) / 1000.0;
            }
        }
        f64::NAN
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

struct ClientEnd {
    histogram: Histogram,
    received: u64,
    closed_by_server: bool,
}

async fn fan_out_client(
    url: String,
    token: String,
    expected: u64,
    ready: Arc<AtomicU64>,
    idle: Duration,
) -> ClientEnd {
    let mut request = url.into_client_request().expect("ws url");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connect");
    let mut end = ClientEnd {
        histogram: Histogram::new(),
        received: 0,
        closed_by_server: false,
    };
    let mut announced = false;
    loop {
        let frame = match tokio::time::timeout(idle, socket.next()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(Some(Err(_))) | Ok(None) => {
                end.closed_by_server = true;
                break;
            }
            Err(_) => break,
        };
        let Message::Text(text) = frame else {
            if let Message::Close(_) = frame {
                end.closed_by_server = true;
                break;
            }
            continue;
        };
        if !announced {
            // The snapshot: this client is in.
            announced = true;
            ready.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let now = now_micros();
        for (at, _) in text.match_indices("\"sent_us\":") {
            let digits: String = text[at + 10..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(sent) = digits.parse::<u64>() {
                end.histogram.record(now.saturating_sub(sent));
                end.received += 1;
            }
        }
        if end.received >= expected {
            break;
        }
    }
    end
}

async fn fan_out(server: &Server, rate: u64, clients: usize, seconds: u64) {
    let total = rate * seconds;
    let ready = Arc::new(AtomicU64::new(0));
    let url = format!("{}/streaming/ws", server.base.replace("http://", "ws://"));
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        tasks.push(tokio::spawn(fan_out_client(
            url.clone(),
            server.token.clone(),
            total,
            ready.clone(),
            Duration::from_secs(10),
        )));
        // Connections at a sane pace, not a SYN flood.
        if tasks.len() % 50 == 0 {
            tokio::task::yield_now().await;
        }
    }
    wait_until("every client's snapshot", Duration::from_secs(60), || {
        let ready = ready.clone();
        async move { ready.load(Ordering::Relaxed) as usize >= clients }
    })
    .await;

    let cpu_before = server.cpu_seconds();
    let client = redis::Client::open(server.redis_url()).expect("redis url");
    // An overloaded machine answers slowly; the publisher waits rather than fails.
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("redis");
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    let mut sent = 0u64;
    while sent < total {
        ticker.tick().await;
        let due = ((start.elapsed().as_secs_f64() / interval.as_secs_f64()) as u64 + 1).min(total);
        if sent >= due {
            continue;
        }
        let mut pipe = redis::pipe();
        while sent < due {
            let event = format!(
                r#"{{"type":"streaming_indicator","calculation":{{"symbol":"S{}","indicator":"RSI","value":{}.5,"timestamp":"2025-10-05T10:15:00Z","sent_us":{}}}}}"#,
                sent % 500,
                sent % 100,
                now_micros()
            );
            pipe.cmd("PUBLISH")
                .arg("tickstock:indicators:streaming")
                .arg(event)
                .ignore();
            sent += 1;
        }
        pipe.exec_async(&mut conn).await.expect("PUBLISH");
    }
    let achieved = total as f64 / start.elapsed().as_secs_f64();

    let mut histogram = Histogram::new();
    let (mut received, mut closed) = (0u64, 0usize);
    for task in tasks {
        let end = task.await.expect("client");
        histogram.merge(&end.histogram);
        received += end.received;
        closed += usize::from(end.closed_by_server);
    }
    let expected = total * clients as u64;
    let server_cpu = (server.cpu_seconds() - cpu_before) / start.elapsed().as_secs_f64() * 100.0;
    println!(
        "fanout {rate:>6}/s x {clients:>4} clients ({achieved:.0}/s published): p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  received {received}/{expected} ({} lost), {closed} closed by the server, server CPU {server_cpu:.0}%",
        histogram.quantile_ms(0.50),
        histogram.quantile_ms(0.95),
        histogram.quantile_ms(0.99),
        expected - received.min(expected),
    );
}

// --- memory ----------------------------------------------------------------------

async fn memory(server: &Server, clients: usize) {
    let idle = server.rss_mib();
    let url = format!("{}/streaming/ws", server.base.replace("http://", "ws://"));
    let mut sockets = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut request = url.clone().into_client_request().expect("ws url");
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", server.token).parse().expect("header"),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("ws connect");
        let _snapshot = socket.next().await;
        sockets.push(socket);
    }
    let connected = server.rss_mib();
    println!(
        "memory: resident {idle:.1} MiB idle, {connected:.1} MiB with {clients} WebSocket clients connected"
    );
    drop(sockets);
}

#[tokio::main]
async fn main() {
    let benching = support::benching();
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--") && a.parse::<usize>().is_err())
        .collect();
    // Numbers choose the fan-out's client counts (default 1, 100 and 1000).
    let client_counts: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let wants = |name: &str| chosen.is_empty() || chosen.iter().any(|c| c == name);
    let server = Server::start().await;
    if wants("memory") {
        memory(&server, if benching { 1_000 } else { 10 }).await;
    }
    if wants("api") {
        api(&server, if benching { 10 } else { 1 }).await;
    }
    if wants("fanout") {
        if benching {
            let counts = if client_counts.is_empty() {
                vec![1, 100, 1_000]
            } else {
                client_counts
            };
            for clients in counts {
                for rate in [1_000, 5_000, 10_000] {
                    fan_out(&server, rate, clients, 5).await;
                }
            }
        } else {
            fan_out(&server, 100, 2, 1).await;
        }
    }
}
