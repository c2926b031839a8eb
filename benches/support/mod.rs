//! What the bench binaries share: a redis-server of their own, free ports,
//! percentiles, waiting for a server.
#![allow(dead_code)] // each bench binary uses its own subset

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A redis-server on a free port, killed on drop.
pub struct OwnRedis {
    child: Child,
    pub url: String,
}

impl OwnRedis {
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        Self {
            child,
            url: format!("redis://127.0.0.1:{port}/"),
        }
    }

    /// A pub/sub-capable client, once the server accepts connections.
    pub async fn client(&self) -> redis::Client {
        let client = redis::Client::open(self.url.as_str()).expect("redis url");
        let deadline = Instant::now() + Duration::from_secs(10);
        while client.get_multiplexed_async_connection().await.is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        client
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `p` quantile (0 to 1) of sorted values.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

/// Polls `probe` every 20 ms until it holds, or panics after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !probe().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `cargo bench` (not `cargo test`) runs this binary.
pub fn benching() -> bool {
    std::env::args().any(|a| a == "--bench")
}
