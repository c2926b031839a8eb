//! The system under fault: the release `tickstock` binary as a process of its
//! own, a redis-server on a fixed port that can be killed and restarted, a
//! fresh PostgreSQL database reached through a proxy that can be cut, and a
//! fake Massive server whose socket can be dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor};

use crate::massive::{Behaviour, FakeMassive};
use crate::proxy::TcpProxy;
use crate::support::free_port;

const POSTGRES: &str = "127.0.0.1:5432";
const MAINTENANCE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const ADMIN_PASSWORD: &str = "faults-admin-password";

/// A redis-server that keeps its port across kills.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            child: None,
        };
        redis.spawn();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        self.child = Some(child);
    }

    /// SIGKILL: a crash, nothing flushed.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// A connection, once the server answers (within 10 s).
    pub async fn connect(&self) -> Option<redis::aio::MultiplexedConnection> {
        let client = redis::Client::open(self.url()).ok()?;
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut conn) = client
                .get_multiplexed_async_connection_with_config(&config)
                .await
            {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut conn).await;
                if pong.is_ok() {
                    return Some(conn);
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A fresh database, dropped at the end.
pub struct Database {
    pub name: String,
}

impl Database {
    pub async fn create() -> Self {
        let name = format!("tickstock_faults_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(MAINTENANCE_URL)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("CREATE DATABASE");
        Self { name }
    }

    /// The URL of the database itself, not through the proxy.
    pub fn direct_url(&self) -> String {
        format!("postgres://postgres@{POSTGRES}/{}", self.name)
    }

    /// The rows of a one-text-column query (none when it fails).
    pub async fn texts(&self, query: &str) -> Vec<String> {
        let Ok(mut conn) = sqlx::PgConnection::connect(&self.direct_url()).await else {
            return Vec::new();
        };
        sqlx::query_scalar(query)
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop is synchronous: drop the database from a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut admin) = sqlx::PgConnection::connect(MAINTENANCE_URL).await {
                        let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = admin.execute(drop.as_str()).await;
                    }
                });
            }
        })
        .join();
    }
}

pub struct Rig {
    pub redis: Redis,
    pub database: Database,
    pub postgres_proxy: TcpProxy,
    pub massive: FakeMassive,
    pub tickstock: Child,
    pub base: String,
    pub token: String,
    pub log: PathBuf,
}

/// The binary under test: `FAULTS_TICKSTOCK_BIN`, else the one Cargo built
/// for this bench (`target/release/tickstock` under `cargo bench`).
pub fn binary() -> PathBuf {
    std::env::var_os("FAULTS_TICKSTOCK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tickstock")))
}

impl Rig {
    pub async fn start() -> Result<Self, String> {
        let redis = Redis::start();
        redis.connect().await.ok_or("redis-server did not start")?;
        let database = Database::create().await;
        let upstream = POSTGRES.parse().map_err(|e| format!("{e}"))?;
        let postgres_proxy = TcpProxy::start(upstream).await;
        let massive = FakeMassive::start(Behaviour::Accept).await;
        let port = free_port();
        let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("faults-tickstock.log");
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let tickstock = Command::new(binary())
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("REDIS_URL", redis.url())
            .env(
                "DATABASE_URL",
                format!(
                    "postgres://postgres@127.0.0.1:{}/{}",
                    postgres_proxy.port, database.name
                ),
            )
            .env("DATA_SOURCE", "massive")
            .env("MASSIVE_API_KEY", "faults-key")
            .env("MASSIVE_WS_URL", &massive.url)
            // The run drops the socket as soon as ticks flow: with the default
            // 60 s cap, 100 drops would take an hour of waiting. Same doubling
            // backoff, a lower ceiling.
            .env("MASSIVE_RECONNECT_MAX_SECONDS", "2")
            // The seed examples are dated 2025: a century of accepted age lets
            // their mutations reach every rule instead of all failing as old.
            .env("EVENT_MAX_AGE_SECONDS", "3155760000")
            .env("TICKSTOCK_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .map_err(|e| format!("start {}: {e}", binary().display()))?;
        let base = format!("http://127.0.0.1:{port}");
        let mut rig = Self {
            redis,
            database,
            postgres_proxy,
            massive,
            tickstock,
            base,
            token: String::new(),
            log,
        };
        let ready = format!("{}/readyz", rig.base);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !reqwest::get(&ready)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            if Instant::now() > deadline || !rig.alive() {
                return Err(format!(
                    "tickstock not ready within 60 s; see {}",
                    rig.log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        rig.token = rig.create_token()?;
        Ok(rig)
    }

    fn create_token(&self) -> Result<String, String> {
        let output = Command::new(binary())
            .args(["token", "create", "admin", "--label", "faults"])
            .env("DATABASE_URL", self.database.direct_url())
            .env("RUST_LOG", "warn")
            .output()
            .map_err(|e| format!("tickstock token create: {e}"))?;
        let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if token.starts_with("tst_") {
            Ok(token)
        } else {
            Err(format!(
                "no token: {}",
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    pub fn pid(&self) -> u32 {
        self.tickstock.id()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.tickstock.try_wait(), Ok(None))
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.tickstock.kill();
        let _ = self.tickstock.wait();
    }
}
