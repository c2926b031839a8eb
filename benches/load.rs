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
//! `cargo bench --bench load -- [api] [fanout [N...] [rates=R,R...]] [memory]`
//! (all by default).
//! `cargo test` runs each once at a tiny size.

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use sqlx::{Connection, Executor};
use support::{OwnRedis, free_port, wait_until};
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
        cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
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

/// CPU seconds (user + system) from a `/proc/.../stat` file: fields 14 and
/// 15, in clock ticks, after the parenthesised name.
fn cpu_seconds(stat: &str) -> f64 {
    let stat = std::fs::read_to_string(stat).unwrap_or_default();
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

/// Latencies in microseconds, in log-linear buckets (64 per power of two,
/// so within 1.6 %): recording is a few integer operations, cheap enough for
/// millions of samples a second.
struct Histogram(Vec<u64>);

impl Histogram {
    const SUB_BITS: u32 = 6;
    const SUB: u64 = 1 << Self::SUB_BITS;
    const BUCKETS: usize = (64 - Self::SUB_BITS as usize + 1) * Self::SUB as usize;

    fn new() -> Self {
        Self(vec![0; Self::BUCKETS])
    }

    fn bucket(micros: u64) -> usize {
        if micros < Self::SUB {
            return micros as usize;
        }
        let exponent = 63 - micros.leading_zeros();
        let shift = exponent - Self::SUB_BITS;
        let sub = (micros >> shift) & (Self::SUB - 1);
        ((u64::from(shift) + 1) * Self::SUB + sub) as usize
    }

    /// The largest value of a bucket, in microseconds.
    fn upper_bound(bucket: usize) -> u64 {
        let (group, sub) = (bucket as u64 / Self::SUB, bucket as u64 % Self::SUB);
        if group == 0 {
            return sub;
        }
        ((Self::SUB + sub + 1) << (group - 1)) - 1
    }

    fn record(&mut self, micros: u64) {
        self.0[Self::bucket(micros)] += 1;
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
                return Self::upper_bound(bucket) as f64 / 1000.0;
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

const SENT_US: &[u8] = b"\"sent_us\":";
/// How long a client waits for events after the last one was published.
const GRACE: Duration = Duration::from_secs(10);

struct ClientEnd {
    histogram: Histogram,
    received: u64,
    closed_by_server: bool,
}

/// One measuring client. tokio-websockets rather than tungstenite: tungstenite
/// zero-fills its read buffer before every read, and a thousand such clients
/// on the server's own two cores would measure themselves, not the server.
async fn fan_out_client(
    url: String,
    token: String,
    expected: u64,
    ready: Arc<AtomicU64>,
    published_at: Arc<AtomicU64>,
) -> ClientEnd {
    let authorization = format!("Bearer {token}").parse().expect("header");
    let (mut socket, _) = tokio_websockets::ClientBuilder::new()
        .uri(&url)
        .expect("ws url")
        .add_header(http::header::AUTHORIZATION, authorization)
        .expect("header")
        .connect()
        .await
        .expect("ws connect");
    let mut end = ClientEnd {
        histogram: Histogram::new(),
        received: 0,
        closed_by_server: false,
    };
    let mut announced = false;
    // Events still missing this long after the last one was published are lost.
    let given_up = || {
        let published = published_at.load(Ordering::Relaxed);
        published > 0 && now_micros() > published + GRACE.as_micros() as u64
    };
    loop {
        let message = match tokio::time::timeout(Duration::from_millis(200), socket.next()).await {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(_))) | Ok(None) => {
                end.closed_by_server = true;
                break;
            }
            Err(_) if given_up() => break,
            Err(_) => continue,
        };
        if message.is_close() {
            end.closed_by_server = true;
            break;
        }
        let Some(text) = message.as_text() else {
            continue;
        };
        if !announced {
            // The snapshot: this client is in.
            announced = true;
            ready.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let now = now_micros();
        let bytes = text.as_bytes();
        for at in memchr::memmem::find_iter(bytes, SENT_US) {
            let (sent, digits) = bytes[at + SENT_US.len()..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .fold((0u64, 0usize), |(n, count), d| {
                    (n * 10 + u64::from(d - b'0'), count + 1)
                });
            if digits == 0 {
                continue;
            }
            end.histogram.record(now.saturating_sub(sent));
            end.received += 1;
        }
        if end.received >= expected || given_up() {
            break;
        }
    }
    end
}

/// What `clients` measuring clients of `url` received while `publish` sent
/// `total` events, each carrying its send time, and the server's CPU.
struct FanOut {
    histogram: Histogram,
    received: u64,
    expected: u64,
    closed: usize,
    /// Events per second achieved by the publisher.
    published: f64,
    /// Percent of one core, from publishing until every client was done.
    server_cpu: f64,
}

impl FanOut {
    async fn measure(
        url: &str,
        token: &str,
        clients: usize,
        total: u64,
        publish: impl Future<Output = ()>,
        server_cpu_seconds: impl Fn() -> f64,
    ) -> Self {
        let ready = Arc::new(AtomicU64::new(0));
        let published_at = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::with_capacity(clients);
        for _ in 0..clients {
            tasks.push(tokio::spawn(fan_out_client(
                url.to_owned(),
                token.to_owned(),
                total,
                ready.clone(),
                published_at.clone(),
            )));
            // Connections at a sane pace, not a SYN flood.
            if tasks.len() % 50 == 0 {
                tokio::task::yield_now().await;
            }
        }
        wait_until(
            "every client's first message",
            Duration::from_secs(60),
            || {
                let ready = ready.clone();
                async move { ready.load(Ordering::Relaxed) as usize >= clients }
            },
        )
        .await;
        let cpu_before = server_cpu_seconds();
        let start = Instant::now();
        publish.await;
        published_at.store(now_micros(), Ordering::Relaxed);
        let published = total as f64 / start.elapsed().as_secs_f64();
        let mut run = Self {
            histogram: Histogram::new(),
            received: 0,
            expected: total * clients as u64,
            closed: 0,
            published,
            server_cpu: 0.0,
        };
        for task in tasks {
            let end = task.await.expect("client");
            run.histogram.merge(&end.histogram);
            run.received += end.received;
            run.closed += usize::from(end.closed_by_server);
        }
        run.server_cpu =
            (server_cpu_seconds() - cpu_before) / start.elapsed().as_secs_f64() * 100.0;
        run
    }

    fn report(&self, what: &str, rate: u64, clients: usize) {
        println!(
            "{what} {rate:>6}/s x {clients:>4} clients ({:.0}/s published): p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  received {}/{} ({} lost), {} closed by the server, server CPU {:.0}%",
            self.published,
            self.histogram.quantile_ms(0.50),
            self.histogram.quantile_ms(0.95),
            self.histogram.quantile_ms(0.99),
            self.received,
            self.expected,
            self.expected - self.received.min(self.expected),
            self.closed,
            self.server_cpu,
        );
    }
}

/// Sends `total` events at `rate` per second: every millisecond, `send` gets
/// the numbers of the events now due.
async fn pace<F, Fut>(rate: u64, total: u64, mut send: F)
where
    F: FnMut(std::ops::Range<u64>) -> Fut,
    Fut: Future<Output = ()>,
{
    let start = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(1));
    let mut sent = 0u64;
    while sent < total {
        ticker.tick().await;
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64 + 1).min(total);
        if sent < due {
            send(sent..due).await;
            sent = due;
        }
    }
}

/// An indicator as TickStock pushes it (`data` of a `streaming_indicator`),
/// sent now.
fn indicator_data(n: u64) -> String {
    format!(
        r#"{{"symbol":"S{}","indicator":"RSI","value":{}.5,"timestamp":{},"metadata":{{}},"sent_us":{}}}"#,
        n % 500,
        n % 100,
        // Within the decoder's window of plausible times.
        chrono::Utc::now().timestamp(),
        now_micros()
    )
}

async fn fan_out(server: &Server, rate: u64, clients: usize, seconds: u64) {
    let total = rate * seconds;
    let url = format!("{}/streaming/ws", server.base.replace("http://", "ws://"));
    let client = redis::Client::open(server.redis_url()).expect("redis url");
    // An overloaded machine answers slowly; the publisher waits rather than fails.
    let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
    let conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("redis");
    let publish = pace(rate, total, |due| {
        let mut conn = conn.clone();
        let mut pipe = redis::pipe();
        for n in due {
            let calculation = indicator_data(n);
            pipe.cmd("PUBLISH")
                .arg("tickstock:indicators:streaming")
                .arg(format!(
                    r#"{{"type":"streaming_indicator","calculation":{calculation}}}"#
                ))
                .ignore();
        }
        async move { pipe.exec_async(&mut conn).await.expect("PUBLISH") }
    });
    FanOut::measure(&url, &server.token, clients, total, publish, || {
        server.cpu_seconds()
    })
    .await
    .report("fanout", rate, clients);
}

/// The floor of WebSocket fan-out on this machine, measured with the same
/// clients in the same run: a minimal broadcast server (tokio-websockets, on
/// a runtime of two threads of its own) that sends the same messages, batched
/// in the same 10 ms window, with no Redis, no decoding and no login.
struct Baseline {
    url: String,
    events: tokio::sync::mpsc::UnboundedSender<String>,
    /// The baseline server's threads, for its CPU time.
    threads: Arc<std::sync::Mutex<Vec<String>>>,
}

/// The id of the calling thread, from `/proc/thread-self/stat`.
fn thread_id() -> String {
    std::fs::read_to_string("/proc/thread-self/stat")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

impl Baseline {
    fn start() -> Self {
        let (events, incoming) = tokio::sync::mpsc::unbounded_channel();
        let (bound, address) = std::sync::mpsc::channel();
        let threads = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = threads.clone();
        // Runs until the bench process ends.
        std::thread::spawn(move || {
            let record_worker = record.clone();
            record.lock().expect("thread list").push(thread_id());
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .on_thread_start(move || {
                    record_worker.lock().expect("thread list").push(thread_id())
                })
                .enable_all()
                .build()
                .expect("a runtime for the baseline");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                bound
                    .send(listener.local_addr().expect("address"))
                    .expect("report the address");
                let frames = tokio::sync::broadcast::channel(1_024).0;
                tokio::spawn(Self::batch(incoming, frames.clone()));
                while let Ok((stream, _)) = listener.accept().await {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(Self::serve(stream, frames.subscribe()));
                }
            });
        });
        let address = address.recv().expect("the baseline's address");
        Self {
            url: format!("ws://{address}/"),
            events,
            threads,
        }
    }

    fn cpu_seconds(&self) -> f64 {
        let threads = self.threads.lock().expect("thread list").clone();
        threads
            .iter()
            .map(|tid| cpu_seconds(&format!("/proc/self/task/{tid}/stat")))
            .sum()
    }

    /// Every 10 ms, whatever arrived, numbered, as one frame.
    async fn batch(
        mut incoming: tokio::sync::mpsc::UnboundedReceiver<String>,
        frames: tokio::sync::broadcast::Sender<bytes::Bytes>,
    ) {
        let mut window = tokio::time::interval(Duration::from_millis(10));
        let mut seq = 0u64;
        let mut messages = Vec::new();
        loop {
            window.tick().await;
            while let Ok(data) = incoming.try_recv() {
                seq += 1;
                messages.push(format!(
                    r#"{{"seq":{seq},"event":"streaming_indicator","data":{data}}}"#
                ));
            }
            if !messages.is_empty() {
                let _ = frames.send(format!("[{}]", messages.join(",")).into());
                messages.clear();
            }
        }
    }

    async fn serve(
        stream: tokio::net::TcpStream,
        mut frames: tokio::sync::broadcast::Receiver<bytes::Bytes>,
    ) {
        use futures_util::SinkExt;
        use tokio_websockets::Message;
        let Ok((_, mut socket)) = tokio_websockets::ServerBuilder::new().accept(stream).await
        else {
            return;
        };
        // The clients take their first message for a snapshot.
        if socket.send(Message::text("{}")).await.is_err() {
            return;
        }
        while let Ok(frame) = frames.recv().await {
            let mut batch = vec![frame];
            while let Ok(frame) = frames.try_recv() {
                batch.push(frame);
            }
            for frame in batch {
                if socket.feed(Message::text(frame)).await.is_err() {
                    return;
                }
            }
            if socket.flush().await.is_err() {
                return;
            }
        }
    }

    async fn fan_out(&self, rate: u64, clients: usize, seconds: u64) {
        let total = rate * seconds;
        let publish = pace(rate, total, |due| {
            for n in due {
                let _ = self.events.send(indicator_data(n));
            }
            std::future::ready(())
        });
        FanOut::measure(&self.url, "", clients, total, publish, || {
            self.cpu_seconds()
        })
        .await
        .report("baseline", rate, clients);
    }
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Numbers choose the fan-out's client counts (default 1, 100 and 1000),
    // `rates=R,R` its event rates (default 1000, 5000 and 10000).
    let client_counts: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let rates: Vec<u64> = args
        .iter()
        .filter_map(|a| a.strip_prefix("rates="))
        .flat_map(|list| list.split(',').filter_map(|r| r.parse().ok()))
        .collect();
    let chosen: Vec<&String> = args
        .iter()
        .filter(|a| !a.starts_with("--") && !a.contains('=') && a.parse::<usize>().is_err())
        .collect();
    let wants = |name: &str| chosen.is_empty() || chosen.iter().any(|c| *c == name);
    let server = Server::start().await;
    if wants("memory") {
        memory(&server, if benching { 1_000 } else { 10 }).await;
    }
    if wants("api") {
        api(&server, if benching { 10 } else { 1 }).await;
    }
    if wants("fanout") {
        let baseline = Baseline::start();
        if benching {
            let counts = if client_counts.is_empty() {
                vec![1, 100, 1_000]
            } else {
                client_counts
            };
            let rates = if rates.is_empty() {
                vec![1_000, 5_000, 10_000]
            } else {
                rates
            };
            for clients in counts {
                for &rate in &rates {
                    baseline.fan_out(rate, clients, 5).await;
                    fan_out(&server, rate, clients, 5).await;
                }
            }
        } else {
            baseline.fan_out(100, 2, 1).await;
            fan_out(&server, 100, 2, 1).await;
        }
    }
}
