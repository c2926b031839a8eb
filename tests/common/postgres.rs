//! A fresh PostgreSQL database per test, on the machine's server, dropped
//! when the test ends.
//!
//! `TEST_DATABASE_URL` names the maintenance database to create them from
//! (default `postgres://postgres@127.0.0.1:5432/postgres`, trust auth).

use std::net::{SocketAddr, ToSocketAddrs};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection, PgPool};

const DEFAULT_MAINTENANCE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct TestDatabase {
    /// The new database's URL.
    pub url: String,
    name: String,
    maintenance_url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let maintenance_url = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| DEFAULT_MAINTENANCE_URL.to_owned());
        let name = format!("tickstock_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&maintenance_url)
            .await
            .expect("PostgreSQL at TEST_DATABASE_URL (or 127.0.0.1:5432, user postgres)");
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("CREATE DATABASE");
        let url = with_options(&maintenance_url, |options| options.database(&name));
        Self {
            url,
            name,
            maintenance_url,
        }
    }

    /// Where the PostgreSQL server listens (for a proxy in front of it).
    pub fn server_address(&self) -> SocketAddr {
        let options = options(&self.url);
        (options.get_host(), options.get_port())
            .to_socket_addrs()
            .expect("a resolvable host")
            .next()
            .expect("an address")
    }

    /// This database's URL, reached through `127.0.0.1:port` instead.
    pub fn url_via(&self, port: u16) -> String {
        with_options(&self.url, |options| options.host("127.0.0.1").port(port))
    }

    /// A pool of the test's own, straight to the server.
    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(2)
            .connect(&self.url)
            .await
            .expect("connect to the test database")
    }

    pub async fn count(&self, table: &str) -> i64 {
        let pool = self.pool().await;
        let count = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&pool)
            .await
            .expect("count rows");
        pool.close().await;
        count
    }
}

fn options(url: &str) -> PgConnectOptions {
    url.parse().expect("a PostgreSQL URL")
}

/// `url` changed by `change`.
fn with_options(url: &str, change: impl FnOnce(PgConnectOptions) -> PgConnectOptions) -> String {
    change(options(url)).to_url_lossy().to_string()
}

impl Drop for TestDatabase {
    /// Drop is synchronous: the database is dropped from a thread of its own
    /// with a small runtime, forcing out the connections still open.
    fn drop(&mut self) {
        let maintenance_url = self.maintenance_url.clone();
        let statement = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&maintenance_url)
                    .await
                    .map_err(|e| e.to_string())?;
                admin
                    .execute(statement.as_str())
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(())
            })
        })
        .join();
        if let Ok(Err(error)) | Err(error) = dropped.map_err(|_| "panicked".to_owned()) {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}
