//! One feed across replicas: two real `tickstock` processes on one Redis;
//! exactly one connects to Massive; killed, the other takes over within 10 s.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::massive::{Behaviour, FakeMassive};
use common::{RedisServer, free_port, wait_for};
use serde_json::Value;

struct Instance {
    port: u16,
    child: Child,
}

impl Instance {
    fn start(redis: &RedisServer, fake: &FakeMassive) -> Self {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_tickstock"))
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("REDIS_URL", redis.url())
            .env("DATA_SOURCE", "massive")
            .env("MASSIVE_API_KEY", "shared-key")
            .env("MASSIVE_WS_URL", &fake.url)
            .env("MASSIVE_SUBSCRIPTIONS", "A.AAPL")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tickstock");
        Self { port, child }
    }

    /// The feed's state and leadership, from the public metrics.
    async fn feed(&self) -> Option<Value> {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        let metrics = reqwest::get(url).await.ok()?.text().await.ok()?;
        let state = metrics.lines().find_map(|line| {
            let rest = line.strip_prefix("tickstock_feed_state{state=\"")?;
            let (state, value) = rest.split_once("\"} ")?;
            (value.trim() == "1").then(|| state.to_owned())
        })?;
        let leader = metrics
            .lines()
            .any(|line| line.trim() == "tickstock_feed_leader 1");
        Some(serde_json::json!({ "state": state, "leader": leader }))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn exactly_one_instance_holds_the_feed_and_the_other_takes_over_when_it_dies() {
    let redis = RedisServer::start().await;
    let fake = FakeMassive::start(Behaviour::Accept).await;
    let mut instances = vec![
        Instance::start(&redis, &fake),
        Instance::start(&redis, &fake),
    ];

    let leader = wait_for(
        "one leader connected, one standing by",
        Duration::from_secs(20),
        || async {
            let a = instances[0].feed().await?;
            let b = instances[1].feed().await?;
            let states = (a["state"].as_str()?, b["state"].as_str()?);
            match states {
                ("connected", "standby") if a["leader"] == true && b["leader"] == false => Some(0),
                ("standby", "connected") if b["leader"] == true && a["leader"] == false => Some(1),
                _ => None,
            }
        },
    )
    .await;
    assert_eq!(
        fake.connections(),
        1,
        "exactly one instance connected to Massive"
    );

    // A crash: no clean shutdown, the lease is not released.
    let mut dead = instances.remove(leader);
    dead.child.kill().expect("kill");
    dead.child.wait().expect("reaped");
    let survivor = &instances[0];

    // The lease lives 6 s and is polled every second: 10 s is the promise.
    wait_for(
        "the survivor to take over",
        Duration::from_secs(10),
        || async {
            let feed = survivor.feed().await?;
            (feed["state"] == "connected" && feed["leader"] == true && fake.connections() == 2)
                .then_some(())
        },
    )
    .await;
    let second = fake.connection(1).expect("a second connection");
    assert_eq!(second.api_key.as_deref(), Some("shared-key"));
}
