//! Operating TickStock: JSON logs of a real run, the access log and the
//! request id, the HTTP, push and latency metrics, and the metric names the
//! Grafana dashboard and the alert rules under `contrib/` use.

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;

use bytes::Bytes;
use chrono::Utc;
use common::login::Browser;
use common::{RedisServer, TestApp, WAIT, wait_for};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tickstock::config::{Config, TEST_ADMIN_PASSWORD};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const HEALTH: &str = "tickstock:streaming:health";
const SESSION_STARTED: &str = "tickstock:streaming:session_started";

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn health(at: &str) -> String {
    json!({"type": "streaming_health", "health": {"session_id": "obs-1", "status": "healthy",
           "active_symbols": 60, "ticks_per_second": 18.2, "timestamp": at}})
    .to_string()
}

/// The value of one series (`name{labels}` exactly as rendered) in a scrape.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

async fn scrape(app: &TestApp) -> String {
    app.get_text("/metrics").await
}

/// Lines of the binary's standard error, as they come.
struct Lines {
    received: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Lines {
    /// The first line, read already or coming, for which `wanted` is true;
    /// every line read is kept.
    async fn until(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let parsed = |line: &String| serde_json::from_str::<Value>(line).ok();
        if let Some(value) = self.seen.iter().filter_map(parsed).find(|v| wanted(v)) {
            return value;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let line = tokio::time::timeout_at(deadline, self.received.recv())
                .await
                .unwrap_or_else(|_| panic!("no line {what} in time: {:#?}", self.seen))
                .unwrap_or_else(|| panic!("output ended before a line {what}: {:#?}", self.seen));
            self.seen.push(line.clone());
            if let Ok(value) = serde_json::from_str::<Value>(&line)
                && wanted(&value)
            {
                return value;
            }
        }
    }

    /// Everything until the stream ends.
    async fn rest(mut self) -> Vec<String> {
        while let Ok(Some(line)) = tokio::time::timeout(WAIT, self.received.recv()).await {
            self.seen.push(line);
        }
        self.seen
    }
}

fn message(line: &Value) -> &str {
    line["message"].as_str().unwrap_or("")
}

/// The fields of the request a line was logged in.
fn request_of(line: &Value) -> &Value {
    line["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|span| span["name"] == "request"))
        .unwrap_or(&Value::Null)
}

#[tokio::test]
async fn in_json_mode_every_line_of_a_real_run_is_a_json_object() {
    let redis = RedisServer::start().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_tickstock"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs([
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
            ("BIND_ADDR", "127.0.0.1:0"),
            ("REDIS_URL", redis.url().as_str()),
            ("TICKSTOCK_ADMIN_PASSWORD", TEST_ADMIN_PASSWORD),
        ])
        // Away from any .env in the working tree.
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("tickstock runs");
    let (sender, received) = mpsc::unbounded_channel();
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Lines {
        received,
        seen: Vec::new(),
    };

    let listening = lines
        .until("TickStock listening", |line| {
            message(line).starts_with("TickStock listening on ")
        })
        .await;
    let address = message(&listening).trim_start_matches("TickStock listening on ");
    let base_url = format!("http://{address}");
    lines
        .until("Channel subscribe", |line| {
            message(line) == format!("REDIS-SUBSCRIBER: Channel subscribe: {HEALTH}")
        })
        .await;

    // TickStockPL's messages keep CONTRACT §9's wording as their message.
    let mut publisher = redis.publisher().await;
    let started = json!({"type": "streaming_session_started", "session": {"session_id": "obs-1",
        "universe": "market_leaders:top_500", "started_at": now(), "symbol_count": 60,
        "status": "active"}, "timestamp": now()});
    publisher
        .publish(SESSION_STARTED, started.to_string())
        .await;
    publisher.publish(HEALTH, health(&now())).await;
    let session = lines
        .until("of the session started", |line| {
            message(line)
                == "REDIS-SUBSCRIBER: Streaming session started - ID: obs-1, Universe: market_leaders:top_500"
        })
        .await;
    // And their values as fields.
    assert_eq!(session["session_id"], "obs-1", "{session}");
    assert_eq!(session["universe"], "market_leaders:top_500", "{session}");
    let health = lines
        .until("of the health update", |line| {
            message(line)
                == "REDIS-SUBSCRIBER: Streaming health update received - Status: healthy, Active Symbols: 60, TPS: 18.2"
        })
        .await;
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["active_symbols"], 60, "{health}");
    assert_eq!(health["ticks_per_second"], 18.2, "{health}");

    // A signed-in request with an id of the client's own.
    let browser = Browser::new(&base_url);
    browser.sign_in("admin", TEST_ADMIN_PASSWORD).await;
    let response = browser
        .client
        .get(format!("{base_url}/streaming/api/patterns/AAPL?limit=5"))
        .header("x-request-id", "obs-request-1")
        .send()
        .await
        .expect("GET patterns");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "obs-request-1");
    let access = lines
        .until("of the access log", |line| {
            request_of(line)["request_id"] == "obs-request-1"
                && message(line) == "HTTP: Request answered"
        })
        .await;
    assert_eq!(access["level"], "INFO", "{access}");
    assert_eq!(access["method"], "GET", "{access}");
    assert_eq!(
        access["route"], "/streaming/api/patterns/{symbol}",
        "the route's template, not the path: {access}"
    );
    assert_eq!(access["status"], 200, "{access}");
    assert!(access["latency_ms"].as_f64().is_some(), "{access}");
    assert_eq!(request_of(&access)["user"], "admin", "{access}");

    // Without an id, or with a hostile one, the server makes one up.
    for sent in [None, Some("two words"), Some(&*"x".repeat(200))] {
        let mut request = reqwest::Client::new().get(format!("{base_url}/healthz"));
        if let Some(id) = sent {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.expect("GET /healthz");
        let id = response.headers()["x-request-id"]
            .to_str()
            .expect("ASCII")
            .to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{sent:?} gave {id}");
        let access = lines
            .until("of /healthz", |line| {
                request_of(line)["request_id"] == id.as_str()
            })
            .await;
        assert_eq!(access["route"], "/healthz", "{access}");
        assert!(
            request_of(&access).get("user").is_none(),
            "nobody signed in: {access}"
        );
    }

    // A clean stop (SIGTERM, with the shell's own kill), so that the last
    // lines are written too.
    let pid = child.id().expect("running");
    let killed = std::process::Command::new("sh")
        .args(["-c", &format!("kill -TERM {pid}")])
        .status()
        .expect("sh");
    assert!(killed.success());
    let stopped = tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("stopped in time")
        .expect("exit status");
    assert!(stopped.success(), "{stopped:?}");
    let seen = lines.rest().await;
    assert!(
        seen.iter()
            .any(|line| line.contains("\"TickStock stopped\"")),
        "{seen:#?}"
    );
    for line in &seen {
        let value: Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        assert!(value.is_object(), "{line}");
        for field in ["timestamp", "level", "target"] {
            assert!(value.get(field).is_some(), "no {field}: {line}");
        }
    }
}

#[tokio::test]
async fn request_ids_are_echoed_when_sane_and_made_up_otherwise() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let id_for = async |sent: Option<&str>| {
        let mut request = app.http.get(format!("{}/healthz", app.base_url));
        if let Some(id) = sent {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.expect("GET /healthz");
        assert_eq!(response.status(), 200);
        response.headers()["x-request-id"]
            .to_str()
            .expect("ASCII")
            .to_owned()
    };
    assert_eq!(id_for(Some("abc-123_x.y")).await, "abc-123_x.y");
    let made_up = [
        id_for(None).await,
        id_for(None).await,
        id_for(Some("has space")).await,
        id_for(Some(&"x".repeat(129))).await,
    ];
    for id in &made_up {
        let uuid = uuid::Uuid::parse_str(id).expect("a UUID");
        assert_eq!(uuid.get_version_num(), 4);
    }
    assert_ne!(made_up[0], made_up[1], "a new id per request");
    // Every answer has one, a refusal and a miss too.
    for path in ["/streaming/api/status", "/no/such/page"] {
        let response = app
            .http
            .get(format!("{}{path}", app.base_url))
            .send()
            .await
            .expect("GET");
        assert!(response.status().is_client_error(), "{path}");
        assert!(response.headers().contains_key("x-request-id"), "{path}");
    }
}

#[tokio::test]
async fn http_metrics_count_each_route_template_and_status() {
    let app = TestApp::spawn(Config::for_tests()).await;
    for symbol in ["AAPL", "MSFT"] {
        let (code, _) = app.get(&format!("/streaming/api/patterns/{symbol}")).await;
        assert_eq!(code, 200);
    }
    let (code, _) = app.get_anonymous("/streaming/api/status").await;
    assert_eq!(code, 401);
    let missing = app
        .http
        .get(format!("{}/no/such/AAPL", app.base_url))
        .send()
        .await
        .expect("GET");
    assert_eq!(missing.status(), 404);

    let metrics = scrape(&app).await;
    let patterns = r#"method="GET",route="/streaming/api/patterns/{symbol}""#;
    assert_eq!(
        sample(
            &metrics,
            &format!(r#"tickstock_http_requests_total{{{patterns},status="200"}}"#)
        ),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            &format!("tickstock_http_request_duration_seconds_count{{{patterns}}}")
        ),
        Some(2.0),
        "{metrics}"
    );
    let refused =
        r#"tickstock_http_requests_total{method="GET",route="/streaming/api/status",status="401"}"#;
    assert_eq!(sample(&metrics, refused), Some(1.0), "{metrics}");
    let unmatched = r#"tickstock_http_requests_total{method="GET",route="unmatched",status="404"}"#;
    assert_eq!(sample(&metrics, unmatched), Some(1.0), "{metrics}");
    assert!(
        !metrics.contains("AAPL") && !metrics.contains("/no/such"),
        "no path asked for becomes a label: {metrics}"
    );
    assert!(
        metrics.contains(&format!(
            "tickstock_build_info{{version=\"{}\",revision=\"",
            env!("CARGO_PKG_VERSION")
        )),
        "{metrics}"
    );
    #[cfg(target_os = "linux")]
    for name in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
    ] {
        let value = sample(&metrics, name).unwrap_or_else(|| panic!("{name}: {metrics}"));
        assert!(value >= 0.0, "{name}");
    }
}

#[tokio::test]
async fn push_metrics_follow_a_websocket_client() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let url = format!("{}/streaming/ws", app.base_url.replace("http://", "ws://"));
    let mut request = url.into_client_request().expect("a request");
    let bearer = format!("Bearer {}", app.admin_token);
    request
        .headers_mut()
        .insert("authorization", bearer.parse().expect("a header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the WebSocket opens");
    let snapshot = tokio::time::timeout(WAIT, socket.next())
        .await
        .expect("the snapshot in time")
        .expect("a frame")
        .expect("no error")
        .into_text()
        .expect("text");
    assert!(snapshot.contains("\"snapshot\""), "{snapshot}");

    let metrics = scrape(&app).await;
    assert_eq!(sample(&metrics, "tickstock_push_clients"), Some(1.0));
    let frames = sample(&metrics, "tickstock_push_frames_sent_total").expect("frames");
    let bytes = sample(&metrics, "tickstock_push_bytes_sent_total").expect("bytes");
    assert!(frames >= 1.0, "{metrics}");
    assert!(bytes >= snapshot.len() as f64, "{metrics}");
    for name in [
        "tickstock_push_slow_disconnects_total",
        "tickstock_push_missed_changes_total",
    ] {
        assert_eq!(sample(&metrics, name), Some(0.0), "{name}: {metrics}");
    }

    drop(socket);
    wait_for("the client to be gone", WAIT, || async {
        let metrics = scrape(&app).await;
        (sample(&metrics, "tickstock_push_clients") == Some(0.0)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn publish_to_state_latency_is_read_from_the_events_own_time_and_clamped() {
    let app = TestApp::spawn(Config::for_tests()).await;
    let two_seconds_ago = (Utc::now() - chrono::Duration::seconds(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let days_ago = (Utc::now() - chrono::Duration::days(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for at in [two_seconds_ago, days_ago] {
        let before = app.messages_on(HEALTH);
        app.state
            .bus
            .publish(HEALTH, Bytes::from(health(&at)))
            .await
            .expect("published");
        app.wait_messages(HEALTH, before + 1).await;
    }
    let metrics = scrape(&app).await;
    let series = |part: &str| {
        sample(
            &metrics,
            &format!("tickstock_publish_to_state_seconds_{part}{{channel=\"{HEALTH}\"}}"),
        )
    };
    assert_eq!(series("count"), Some(2.0), "{metrics}");
    let sum = series("sum").expect("a sum");
    // 2 s and more for the first, the most told apart (60 s) for the second.
    assert!((62.0..120.0).contains(&sum), "{sum}: {metrics}");
}

/// Every name of a metric in the files under `contrib/` that a server's
/// `/metrics` could hold (TickStock's own and the process metrics).
fn contrib_metric_names() -> BTreeSet<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib");
    let mut names = BTreeSet::new();
    let mut folders = vec![root];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("contrib/ is readable") {
            let path = entry.expect("contrib/ is readable").path();
            if path.is_dir() {
                folders.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a text file");
            let words = text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
            names.extend(
                words
                    .filter(|word| word.starts_with("tickstock_") || word.starts_with("process_"))
                    .map(str::to_owned),
            );
        }
    }
    names
}

#[tokio::test]
async fn the_contrib_dashboard_and_alerts_name_only_metrics_the_server_exports() {
    let app = TestApp::spawn(Config::for_tests()).await;
    // A request, so that the HTTP families have series.
    let (code, _) = app.get("/streaming/api/status").await;
    assert_eq!(code, 200);
    let metrics = scrape(&app).await;
    let exported: BTreeSet<&str> = metrics
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .collect();
    let named = contrib_metric_names();
    assert!(named.len() >= 20, "the dashboard and the rules: {named:?}");
    let unknown: Vec<&String> = named
        .iter()
        .filter(|name| !exported.contains(name.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "named under contrib/ but not in /metrics: {unknown:?}\n{metrics}"
    );
    // The alerts the operators were promised.
    let rules = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("contrib/prometheus/tickstock-alerts.yml"),
    )
    .expect("the alert rules");
    for alert in [
        "TickStockFeedDown",
        "TickStockBusOffline",
        "TickStockSessionStale",
        "TickStockDecodeErrorsRising",
        "TickStockRecorderDropping",
        "TickStockSlowDisconnects",
    ] {
        assert!(rules.contains(&format!("alert: {alert}\n")), "{alert}");
    }
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/grafana/tickstock.json"),
        )
        .expect("the dashboard"),
    )
    .expect("the dashboard is JSON");
    assert!(dashboard["panels"].as_array().is_some_and(|p| p.len() > 10));
}

#[test]
fn a_bad_log_format_stops_start_up_naming_the_variable() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tickstock"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LOG_FORMAT", "yaml")
        .env("BIND_ADDR", "127.0.0.1:0")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("tickstock runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("LOG_FORMAT"), "{stderr}");
}

#[test]
fn the_version_names_the_git_revision() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tickstock"))
        .arg("--version")
        .output()
        .expect("tickstock runs");
    assert!(output.status.success());
    let version = String::from_utf8_lossy(&output.stdout);
    let expected = format!("tickstock {} (", env!("CARGO_PKG_VERSION"));
    assert!(version.starts_with(&expected), "{version}");
    let revision = version
        .trim()
        .trim_start_matches(&expected)
        .trim_end_matches(')');
    assert!(
        revision == "unknown" || revision.chars().all(|c| c.is_ascii_hexdigit()),
        "{version}"
    );
}
