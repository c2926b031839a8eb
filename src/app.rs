//! Wiring: builds every part from the configuration and runs the server.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::bus::Bus;
use crate::config::Config;
use crate::events::Channel;
use crate::feed::{self, FeedStats, Source};
use crate::state::{Limits, LiveState};
use crate::subscriber::Subscriber;
use crate::web::{self, AppState};

pub struct Application {
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

/// How long background tasks get to finish (e.g. release the feed lease).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

impl Application {
    /// Builds the application and binds its port (port 0 picks a free one).
    /// Nothing here waits for Redis: an unreachable bus shows as `offline`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let feed_settings = config.feed_settings()?;
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let bus = Bus::new(config.redis_url.as_deref()).context("REDIS_URL")?;
        let subscription = bus.subscribe(&Channel::ALL.map(Channel::name), shutdown.clone());
        let live = Arc::new(LiveState::new(
            subscription.link,
            config.health_stale_after(),
            Limits::default(),
        ));
        tasks.spawn(Subscriber::new(live.clone()).run(subscription.messages));
        let feed = Arc::new(FeedStats::new(
            feed_settings.source.as_ref().map(Source::kind),
        ));
        feed::start(feed_settings, &bus, &feed, &tasks, &shutdown);

        let listener = TcpListener::bind(config.bind_addr)
            .await
            .with_context(|| format!("cannot listen on BIND_ADDR {}", config.bind_addr))?;
        Ok(Self {
            listener,
            state: AppState {
                metrics: Arc::new(crate::metrics::registry(live.clone(), feed.clone())),
                live,
                feed,
                bus,
            },
            shutdown,
            tasks,
        })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(std::net::SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `stop` completes, then stops every background task.
    pub async fn run_until_stopped(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let shutdown = self.shutdown.clone();
        let router = web::router(self.state);
        let result = axum::serve(self.listener, router)
            .with_graceful_shutdown(async move {
                stop.await;
                shutdown.cancel();
            })
            .await;
        self.shutdown.cancel();
        self.tasks.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("Background tasks did not stop within {SHUTDOWN_GRACE:?}");
        }
        result
    }
}
