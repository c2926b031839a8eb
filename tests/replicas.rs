//! Three real `tickstock` processes on one Redis and one PostgreSQL: one feed
//! owner; the same status on all three; a login made through one is valid
//! on the others; failed logins lock a name on all three; a token revoked
//! through one (the CLI) closes its sockets on all three with 4401 within 5 s.

mod common;

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::login::Browser;
use common::postgres::TestDatabase;
use common::{RedisServer, WAIT, free_port, wait_for};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tickstock::config::TEST_ADMIN_PASSWORD;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SECRET: &str = "one-session-secret-shared-by-every-replica";

struct Replica {
    base_url: String,
    child: Child,
}

fn tickstock(redis: &RedisServer, db: &TestDatabase) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tickstock"));
    command
        .env("REDIS_URL", redis.url())
        .env("DATABASE_URL", &db.url)
        .env("SESSION_SECRET", SECRET)
        .env("TICKSTOCK_ADMIN_PASSWORD", TEST_ADMIN_PASSWORD)
        .env("DATA_SOURCE", "synthetic")
        .env("SYNTHETIC_TICKS_PER_SECOND", "5")
        .env("LOGIN_MAX_FAILURES", "3")
        .env("RUST_LOG", "warn");
    command
}

impl Replica {
    async fn start(redis: &RedisServer, db: &TestDatabase) -> Self {
        let port = free_port();
        let child = tickstock(redis, db)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tickstock");
        let replica = Self {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
        };
        wait_for("the replica to serve", WAIT, || async {
            let url = format!("{}/healthz", replica.base_url);
            reqwest::get(url)
                .await
                .ok()?
                .status()
                .is_success()
                .then_some(())
        })
        .await;
        replica
    }

    async fn status(&self, token: &str) -> Option<Value> {
        let response = reqwest::Client::new()
            .get(format!("{}/streaming/api/status", self.base_url))
            .bearer_auth(token)
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("run tickstock");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn socket(replica: &Replica, token: &str) -> Socket {
    let url = format!(
        "{}/streaming/ws",
        replica.base_url.replace("http://", "ws://")
    );
    let mut request = url.into_client_request().unwrap();
    let bearer = format!("Bearer {token}").parse().unwrap();
    request.headers_mut().insert("authorization", bearer);
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

#[tokio::test]
async fn three_replicas_share_the_feed_the_status_the_logins_and_revocations() {
    let redis = RedisServer::start().await;
    let db = TestDatabase::create().await;
    // One at a time: the first creates the schema and the admin.
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Replica::start(&redis, &db).await);
    }
    let created = run(tickstock(&redis, &db).args(["token", "create", "admin"]));
    let token = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let token_id = String::from_utf8(created.stderr)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .and_then(|id| id.parse::<i64>().ok())
        .expect("`Token ID for ...` on standard error");

    // Exactly one owns the feed.
    wait_for("exactly one feed owner", WAIT, || async {
        let mut leaders = 0;
        for replica in &replicas {
            leaders += usize::from(replica.status(&token).await?["market_feed"]["leader"] == true);
        }
        (leaders == 1).then_some(())
    })
    .await;

    // The same session on all three.
    let session_id = "2f1e8d4c-5a6b-4c3d-9e8f-7a6b5c4d3e2f";
    let started = json!({"type": "streaming_session_started", "session": {"session_id": session_id,
        "universe": "market_leaders:top_20", "started_at": chrono::Utc::now().to_rfc3339()}});
    redis
        .publisher()
        .await
        .publish("tickstock:streaming:session_started", started.to_string())
        .await;
    for replica in &replicas {
        wait_for("the session on every replica", WAIT, || async {
            let status = replica.status(&token).await?;
            (status["session"]["session_id"] == session_id).then_some(())
        })
        .await;
    }

    // A login through the first is valid on the others.
    let browser = Browser::new(&replicas[0].base_url);
    browser.sign_in("admin", TEST_ADMIN_PASSWORD).await;
    for replica in &replicas[1..] {
        let elsewhere = browser.same_cookies_to(&replica.base_url);
        assert_eq!(elsewhere.get("/streaming/api/status").await.status(), 200);
    }

    // One failure through each replica locks the name on every one.
    for replica in &replicas {
        let attempt = Browser::new(&replica.base_url);
        let status = attempt.try_sign_in("mallory", "not-the-password").await;
        assert_eq!(status, 401, "a failure counted by {}", replica.base_url);
    }
    for replica in &replicas {
        let attempt = Browser::new(&replica.base_url);
        let status = attempt.try_sign_in("mallory", "not-the-password").await;
        assert_eq!(status, 429, "locked on {}", replica.base_url);
    }

    // A revocation through the CLI closes the token's sockets on all three.
    let mut sockets = Vec::new();
    for replica in &replicas {
        let mut socket = socket(replica, &token).await;
        socket.next().await.expect("the snapshot").unwrap();
        sockets.push(socket);
    }
    run(tickstock(&redis, &db).args(["token", "revoke", &token_id.to_string()]));
    let revoked = Instant::now();
    for (replica, socket) in sockets.iter_mut().enumerate() {
        let deadline = revoked + Duration::from_secs(5);
        let code = loop {
            match tokio::time::timeout_at(deadline.into(), socket.next()).await {
                Ok(Some(Ok(Message::Close(Some(frame))))) => break u16::from(frame.code),
                Ok(Some(Ok(_))) => continue,
                other => panic!("replica {replica}: no close within 5 s: {other:?}"),
            }
        };
        assert_eq!(code, 4401, "replica {replica}");
    }
}
