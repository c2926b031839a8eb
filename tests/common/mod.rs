//! Shared test support: real Redis servers, the real application on an
//! ephemeral port, and waiting on conditions (never on fixed sleeps).
#![allow(dead_code)] // each test binary uses its own subset

pub mod browser;
pub mod history;
pub mod login;
pub mod massive;
pub mod postgres;
pub mod proxy;

use std::future::Future;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tickstock::accounts::Role;
use tickstock::app::Application;
use tickstock::config::Config;
use tickstock::web::AppState;
use tokio_util::sync::CancellationToken;

pub const WAIT: Duration = Duration::from_secs(20);

/// Polls `probe` until it yields `Some`, or panics naming `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the Redis server at `url` answers PING.
pub async fn wait_answering(url: &str, what: &str) {
    let client = redis::Client::open(url).expect("redis url");
    wait_for(what, WAIT, || {
        let client = client.clone();
        async move {
            let mut conn = client.get_multiplexed_async_connection().await.ok()?;
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .ok()
        }
    })
    .await;
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A redis-server of the test's own, on a free port, killed on drop.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub async fn start() -> Self {
        let mut server = Self {
            port: free_port(),
            child: None,
        };
        server.spawn().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (scripts/test installs it)");
        self.child = Some(child);
        wait_answering(&self.url(), "redis-server to accept connections").await;
    }

    /// Kills the server abruptly, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn().await;
    }

    pub async fn publisher(&self) -> Publisher {
        let client = redis::Client::open(self.url()).expect("redis url");
        Publisher {
            conn: client
                .get_multiplexed_async_connection()
                .await
                .expect("connect to the test redis"),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct Publisher {
    conn: redis::aio::MultiplexedConnection,
}

impl Publisher {
    /// Publishes and returns how many subscribers received the message.
    pub async fn publish(&mut self, channel: &str, payload: impl AsRef<[u8]>) -> i64 {
        redis::cmd("PUBLISH")
            .arg(channel)
            .arg(payload.as_ref())
            .query_async(&mut self.conn)
            .await
            .expect("PUBLISH")
    }
}

/// The real application, serving on an ephemeral port until dropped.
pub struct TestApp {
    pub base_url: String,
    pub state: AppState,
    pub http: reqwest::Client,
    /// A bearer token of the bootstrap admin; `get` sends it.
    pub admin_token: String,
    stop: CancellationToken,
}

impl TestApp {
    pub async fn spawn(config: Config) -> Self {
        let app = Application::build(config)
            .await
            .expect("application builds");
        let base_url = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        // The bootstrap admin, unless users existed already (then one of the tests' own).
        let mut admin = None;
        for name in ["admin", "tests-admin"] {
            if admin.is_none() {
                admin = state.accounts.find_by_login(name).await.expect("accounts");
            }
        }
        let admin = match admin {
            Some(admin) => admin,
            None => state
                .accounts
                .create_user(
                    "tests-admin",
                    None,
                    tickstock::config::TEST_ADMIN_PASSWORD,
                    Role::Super,
                )
                .await
                .expect("an admin for the tests"),
        };
        let (_, admin_token) = state
            .accounts
            .create_token(&admin.username, "tests")
            .await
            .expect("a token for the admin");
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(app.run_until_stopped(async move { stopped.cancelled().await }));
        Self {
            base_url,
            state,
            http: reqwest::Client::new(),
            admin_token,
            stop,
        }
    }

    pub async fn with_redis(redis: &RedisServer) -> Self {
        Self::spawn({
            let mut config = Config::for_tests();
            config.bus.redis_url = Some(redis.url().into());
            config
        })
        .await
    }

    /// The production shape: a real Redis and a real PostgreSQL database.
    pub async fn with_redis_and_database(redis: &RedisServer, db: &postgres::TestDatabase) -> Self {
        Self::spawn({
            let mut config = Config::for_tests();
            config.bus.redis_url = Some(redis.url().into());
            config.database.database_url = Some(db.url.clone().into());
            config
        })
        .await
    }

    /// GET as the admin (bearer token).
    pub async fn get(&self, path: &str) -> (reqwest::StatusCode, Value) {
        self.get_with(path, Some(&self.admin_token)).await
    }

    /// GET without any credentials.
    pub async fn get_anonymous(&self, path: &str) -> (reqwest::StatusCode, Value) {
        self.get_with(path, None).await
    }

    pub async fn get_with(&self, path: &str, token: Option<&str>) -> (reqwest::StatusCode, Value) {
        let mut request = self.http.get(format!("{}{path}", self.base_url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let code = response.status();
        (code, response.json().await.expect("a JSON body"))
    }

    pub async fn get_text(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.base_url))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("a text body")
    }

    pub async fn status(&self) -> Value {
        let (code, body) = self.get("/streaming/api/status").await;
        assert_eq!(code, 200, "{body}");
        body
    }

    /// Waits until the subscriber is connected to the bus.
    pub async fn wait_connected(&self) {
        wait_for("the subscriber to connect", WAIT, || async {
            let status = self.status().await;
            (status["subscriber_stats"]["connected"] == true).then_some(())
        })
        .await;
    }

    /// Messages counted so far on `channel`.
    pub fn messages_on(&self, channel: &str) -> u64 {
        let channel = tickstock::events::Channel::from_name(channel).expect("one of the 8");
        self.state.live.channel(channel).messages()
    }

    /// Waits until `channel` has counted `count` messages.
    pub async fn wait_messages(&self, channel: &str, count: u64) {
        wait_for(&format!("{count} messages on {channel}"), WAIT, || async {
            (self.messages_on(channel) >= count).then_some(())
        })
        .await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Publishes on a real Redis and waits until the app has counted it.
pub async fn deliver(app: &TestApp, publisher: &mut Publisher, channel: &str, payload: &str) {
    let before = app.messages_on(channel);
    let receivers = publisher.publish(channel, payload).await;
    assert!(receivers >= 1, "nobody subscribed to {channel}");
    app.wait_messages(channel, before + 1).await;
}

/// A real Redis subscriber of one channel, collecting what it receives.
pub struct ChannelListener {
    pub received: Arc<parking_lot::Mutex<Vec<String>>>,
}

impl ChannelListener {
    pub async fn start(redis: &RedisServer, channel: &str) -> Self {
        Self::start_at(&redis.url(), channel).await
    }

    /// On the Redis at `url`.
    pub async fn start_at(url: &str, channel: &str) -> Self {
        use futures_util::StreamExt;
        let client = redis::Client::open(url).expect("redis url");
        let mut pubsub = client.get_async_pubsub().await.expect("pubsub");
        pubsub.subscribe(channel).await.expect("SUBSCRIBE");
        let received: Arc<parking_lot::Mutex<Vec<String>>> = Arc::default();
        let sink = received.clone();
        tokio::spawn(async move {
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                let payload = String::from_utf8_lossy(message.get_payload_bytes()).into_owned();
                sink.lock().push(payload);
            }
        });
        Self { received }
    }

    pub fn count(&self) -> usize {
        self.received.lock().len()
    }

    pub fn messages(&self) -> Vec<String> {
        self.received.lock().clone()
    }

    pub async fn wait_count(&self, count: usize) -> Vec<String> {
        wait_for(&format!("{count} messages"), WAIT, || async {
            (self.count() >= count).then(|| self.messages())
        })
        .await
    }
}
