//! Login limits against real `tickstock` processes: a flood of bad logins
//! keeps the process's memory bounded and `/healthz` answering, and with
//! Redis the lockout and the rate limits hold across replicas.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{RedisServer, WAIT, free_port, wait_for};
use reqwest::StatusCode;

const ADMIN_PASSWORD: &str = "flood-test-admin-password";

/// A `tickstock` process of the test's own, killed on drop.
struct Server {
    base_url: String,
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Server {
    async fn start(settings: &[(&str, String)]) -> Self {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tickstock"));
        for variable in ["REDIS_URL", "DATABASE_URL", "SESSION_SECRET"] {
            command.env_remove(variable);
        }
        command
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("DATA_SOURCE", "none")
            .env("EMBEDDED_SIMULATOR", "off")
            .env("TICKSTOCK_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .envs(settings.iter().map(|(name, value)| (name, value)))
            .stdout(Stdio::null());
        let log = tempfile::NamedTempFile::new().expect("a log file");
        command.stderr(log.reopen().expect("the log file"));
        let server = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            child: command.spawn().expect("start tickstock"),
            log,
        };
        let health = format!("{}/healthz", server.base_url);
        wait_for("tickstock to answer /healthz", WAIT, || async {
            let response = reqwest::get(&health).await.ok()?;
            response.status().is_success().then_some(())
        })
        .await;
        server
    }

    /// A kB figure of /proc/<pid>/status (VmRSS now, VmHWM the peak).
    fn memory_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc status"))
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).expect("the server's log")
    }

    /// CPU time the process has used (user and system), in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("the server's /proc stat");
        // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
        let after_name = stat.rsplit_once(')').expect("a stat line").1;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    /// A login form: its CSRF cookie (`name=value`) and token.
    async fn form(&self, client: &reqwest::Client) -> (String, String) {
        let response = client
            .get(format!("{}/login", self.base_url))
            .send()
            .await
            .expect("GET /login");
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with("tickstock_login_csrf="))
            .and_then(|value| value.split(';').next())
            .expect("the login form's cookie")
            .to_owned();
        let html = response.text().await.expect("the login page");
        let marker = "name=\"csrf\" value=\"";
        let start = html.find(marker).expect("a CSRF field") + marker.len();
        (cookie, html[start..start + 64].to_owned())
    }

    async fn login(
        &self,
        client: &reqwest::Client,
        form: &(String, String),
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        client
            .post(format!("{}/login", self.base_url))
            .header("cookie", &form.0)
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf", &form.1),
            ])
            .send()
            .await
            .expect("POST /login")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_hundred_concurrent_bad_logins_keep_memory_bounded_and_healthz_answering() {
    // Rates and lockout out of the way: the bound on password checks is what is tested.
    let server = Server::start(&[
        ("LOGIN_RATE_PER_ADDRESS", "1000000".into()),
        ("LOGIN_RATE_PER_NAME", "1000000".into()),
        ("LOGIN_MAX_FAILURES", "1000".into()),
    ])
    .await;
    let http = client();
    let form = Arc::new(server.form(&http).await);
    let before_kb = server.memory_kb("VmRSS");
    let cpu_before = server.cpu_ticks();
    let flood_started = Instant::now();

    let flooding = Arc::new(std::sync::atomic::AtomicBool::new(true));
    // The probe has a thread and runtime of its own: the flood's client tasks
    // must not delay it on this side.
    let probe = {
        let url = format!("{}/healthz", server.base_url);
        let flooding = flooding.clone();
        let (connected, probing) = std::sync::mpsc::channel();
        let probe = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the probe");
            runtime.block_on(async move {
                let http = client();
                // Connected before the flood: what is measured is the answer, not a connect
                // behind 600 others in the listen queue.
                let warm = http.get(&url).send().await.map(|r| r.status());
                assert_eq!(warm.ok(), Some(StatusCode::OK), "/healthz before the flood");
                let _ = connected.send(());
                let mut latencies = Vec::new();
                while flooding.load(std::sync::atomic::Ordering::Relaxed) {
                    let started = Instant::now();
                    let status = http.get(&url).send().await.map(|r| r.status());
                    assert_eq!(
                        status.ok(),
                        Some(StatusCode::OK),
                        "/healthz during the flood"
                    );
                    latencies.push(started.elapsed());
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                latencies
            })
        });
        probing.recv().expect("the probe connected");
        probe
    };

    let server_url = server.base_url.clone();
    let attempts: Vec<_> = (0..600)
        .map(|i| {
            let http = http.clone();
            let form = form.clone();
            let url = format!("{server_url}/login");
            // Half a known name with a wrong password, half unknown names (the dummy check).
            let username = if i % 2 == 0 {
                "admin".to_owned()
            } else {
                format!("ghost-{i}")
            };
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .header("cookie", &form.0)
                    .form(&[
                        ("username", username.as_str()),
                        ("password", "wrong-password"),
                        ("csrf", &form.1),
                    ])
                    .send()
                    .await
                    .expect("POST /login");
                let retry_after = response.headers().contains_key("retry-after");
                (response.status(), retry_after)
            })
        })
        .collect();
    let mut unauthorized = 0;
    let mut busy = 0;
    for attempt in attempts {
        let (status, retry_after) = attempt.await.expect("a login task");
        match status {
            StatusCode::UNAUTHORIZED => unauthorized += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(retry_after, "a 429 says when to retry");
                busy += 1;
            }
            other => panic!("a bad login answered {other}"),
        }
    }
    flooding.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut latencies = probe.join().expect("the /healthz probe");

    let flood_took = flood_started.elapsed();
    let cpu_ticks = server.cpu_ticks() - cpu_before;
    let peak_kb = server.memory_kb("VmHWM");
    let after_kb = server.memory_kb("VmRSS");
    latencies.sort();
    let quantile = |q: usize| latencies[(latencies.len() * q / 100).min(latencies.len() - 1)];
    let (p50, p90, p99) = (quantile(50), quantile(90), quantile(99));
    println!(
        "600 bad logins in {flood_took:?} (server CPU {cpu_ticks} ticks): {unauthorized} checked (401), {busy} refused busy (429); resident {before_kb} kB before, peak {peak_kb} kB, {after_kb} kB after; /healthz answered {} times, p50 {p50:?}, p90 {p90:?}, p99 {p99:?}, max {:?}",
        latencies.len(),
        latencies.last().copied().unwrap_or_default()
    );
    assert!(
        peak_kb < 200 * 1024,
        "peak resident {peak_kb} kB, limit 200 MB"
    );
    assert!(
        unauthorized > 0 && busy > 0,
        "{unauthorized} checked, {busy} refused"
    );
    assert!(!latencies.is_empty(), "/healthz was asked during the flood");

    // The server still signs a user in afterwards.
    let form = server.form(&http).await;
    let response = server.login(&http, &form, "admin", ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn lockout_and_login_rates_are_shared_by_replicas_on_one_redis() {
    let redis = RedisServer::start().await;
    let settings = [
        ("REDIS_URL", redis.url()),
        ("LOGIN_MAX_FAILURES", "3".into()),
        ("LOGIN_RATE_PER_ADDRESS", "6".into()),
    ];
    let first = Server::start(&settings).await;
    let second = Server::start(&settings).await;
    let http = client();
    let (first_form, second_form) = (first.form(&http).await, second.form(&http).await);

    // Failures through both replicas add up to the lock on each.
    for (server, form) in [
        (&first, &first_form),
        (&first, &first_form),
        (&second, &second_form),
    ] {
        let response = server.login(&http, form, "admin", "wrong-password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    for (server, form) in [(&first, &first_form), (&second, &second_form)] {
        let locked = server.login(&http, form, "admin", ADMIN_PASSWORD).await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            locked
                .text()
                .await
                .unwrap()
                .contains("Too many failed attempts")
        );
    }

    // Five attempts from this address so far, on both: one more is let through, then none.
    let sixth = second
        .login(&http, &second_form, "erin", "wrong-password")
        .await;
    assert_eq!(sixth.status(), StatusCode::UNAUTHORIZED);
    let seventh = first
        .login(&http, &first_form, "fred", "wrong-password")
        .await;
    assert_eq!(seventh.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(seventh.headers().contains_key("retry-after"));
    assert!(
        seventh
            .text()
            .await
            .unwrap()
            .contains("Too many sign-in attempts")
    );
}

#[tokio::test]
async fn with_redis_away_the_lockout_counts_in_process_and_says_so() {
    let mut redis = RedisServer::start().await;
    let server = Server::start(&[
        ("REDIS_URL", redis.url()),
        ("LOGIN_MAX_FAILURES", "2".into()),
        ("RUST_LOG", "info".into()),
    ])
    .await;
    let http = client();
    let form = server.form(&http).await;
    redis.kill();
    for _ in 0..2 {
        let response = server.login(&http, &form, "admin", "wrong-password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = server.login(&http, &form, "admin", ADMIN_PASSWORD).await;
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "no failing open"
    );
    let log = server.log_text();
    assert!(
        log.contains("counting in this process only"),
        "the fallback is logged: {log}"
    );

    redis.restart().await;
    let mut attempt = 0;
    wait_for("the limits to use Redis again", WAIT, || {
        attempt += 1;
        let name = format!("ghost-{attempt}");
        let (http, form, server) = (&http, &form, &server);
        async move {
            server.login(http, form, &name, "wrong-password").await;
            server
                .log_text()
                .contains("Redis answers again")
                .then_some(())
        }
    })
    .await;
}
