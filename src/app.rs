//! Wiring: builds every part from the configuration and runs the server.

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::accounts::Accounts;
use crate::accounts::lockout::{Lockout, SharedWindows};
use crate::bus::Bus;
use crate::config::Config;
use crate::conformance::Conformance;
use crate::events::Channel;
use crate::feed::{self, FeedStats, Source};
use crate::recorder::{self, Recorder};
use crate::state::{Limits, LiveState};
use crate::store::current_session::SessionKeeper;
use crate::store::history::retention;
use crate::store::{Database, DatabaseStatus, Store};
use crate::subscriber::Subscriber;
use crate::supervise::{Restart, Supervisor};
use crate::web::auth::csrf::LoginCsrf;
use crate::web::identity::Identity;
use crate::web::limits::LoginLimits;
use crate::web::login_sessions::{self, LoginSessionStore};
use crate::web::{self, AppState};
use crate::{forward, sim};
use tower_sessions::SessionManagerLayer;
use tower_sessions::service::SignedCookie;

pub struct Application {
    listener: TcpListener,
    state: AppState,
    sessions: SessionManagerLayer<LoginSessionStore, SignedCookie>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

/// How long background tasks get to finish (e.g. release the feed lease).
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

impl Application {
    /// Builds the application and binds its port (port 0 picks a free one).
    /// Nothing here waits for Redis: an unreachable bus shows as `offline`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let feed_settings = config.feed.settings()?;
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let supervisor = Supervisor::new(tasks.clone());
        let bus = config.bus.open().context("REDIS_URL")?;
        // A database that is down does not stop start-up: live data is served
        // and the watcher below connects, migrates and bootstraps when it can.
        let (store, database) = match &config.database.database_url {
            Some(url) => {
                let (store, database) = Store::lazy(url.expose_secret()).context("DATABASE_URL")?;
                if database.prepare().await.is_err() {
                    tracing::info!("DATABASE: Not reachable at start-up; starting without it");
                }
                (store, Some(database))
            }
            None => (Store::memory(), None),
        };
        let database_status = database
            .as_ref()
            .map_or_else(DatabaseStatus::memory, Database::status);
        let accounts = Accounts::new(store.clone())
            .announcing_on(&bus)
            .with_session_secret(
                config
                    .login
                    .session_secret
                    .as_ref()
                    .map(ExposeSecret::expose_secret),
            );
        if database_status.available() {
            bootstrap_admin(&accounts, &config, &store).await?;
        }
        if let Some(database) = database {
            let (accounts, config, store) = (accounts.clone(), config.clone(), store.clone());
            let bootstrap = move || async move {
                if let Err(error) = bootstrap_admin(&accounts, &config, &store).await {
                    tracing::error!("ACCOUNTS: {error:#}");
                }
            };
            tasks.spawn(database.watch(bootstrap, shutdown.clone()));
        }
        let session_backend = LoginSessionStore::new(&store, &bus);
        tracing::info!("AUTH: Login sessions live in {}", session_backend.kind());
        // Only the database's sessions expire by a task; it ends if the database fails.
        if store.postgres().is_some() {
            let (backend, stop) = (session_backend.clone(), shutdown.clone());
            supervisor.spawn(
                "session_expiry",
                Restart::Always,
                shutdown.clone(),
                move || backend.clone().delete_expired(stop.clone()),
            );
        }
        let identity = Identity::new(
            accounts.clone(),
            session_backend.clone(),
            config.server.allowed_origins.0.clone(),
        );
        // Other replicas announce their logouts and revocations through Redis.
        if matches!(bus, Bus::Redis(_)) {
            let (identity, bus, stop) = (identity.clone(), bus.clone(), shutdown.clone());
            supervisor.spawn(
                "auth_changes",
                Restart::Always,
                shutdown.clone(),
                move || identity.clone().follow_replicas(bus.clone(), stop.clone()),
            );
        }
        let secret = match &config.login.session_secret {
            Some(secret) => secret.expose_secret().as_bytes().to_vec(),
            None => rand::random::<[u8; 32]>().to_vec(),
        };
        let sessions = login_sessions::layer(session_backend, &secret, config.login.cookie_secure);
        let login_csrf = Arc::new(LoginCsrf::new(&secret, config.login.cookie_secure));
        // With Redis, login failures and rates are counted there, for every replica.
        let shared_counts = match &config.bus.redis_url {
            Some(url) => Some(Arc::new(
                SharedWindows::new(url.expose_secret()).context("REDIS_URL")?,
            )),
            None => None,
        };
        let subscription = bus.subscribe(&Channel::ALL.map(Channel::name), shutdown.clone());
        let live = Arc::new(LiveState::new(
            subscription.link,
            config.events.health_stale_after(),
            Limits::default(),
        ));
        // History: the open session is restored before the first event is
        // applied, and every decoded event is handed to the recorder.
        let session_keeper = SessionKeeper::new(&store, &bus);
        let recorder = Recorder::start(store.clone(), &supervisor, &shutdown).keeping_session(
            &session_keeper,
            &supervisor,
            &shutdown,
        );
        retention::start(
            store.clone(),
            config.database.history_retention_days,
            recorder.stats().retention(),
            &supervisor,
            &shutdown,
        );
        // A database that is down would only make start-up wait to fail.
        if database_status.available() {
            recorder::restore_session(&session_keeper, &live).await;
        }
        let rules = config.events.rules();
        let conformance = Arc::new(Conformance::new(live.clone(), chrono::Utc::now(), rules));
        conformance.start(&supervisor, &shutdown);
        let publish_latency = crate::metrics::PublishLatency::default();
        let subscriber = Subscriber::new(live.clone())
            .with_rules(rules)
            .with_recorder(recorder.clone())
            .with_conformance(conformance.clone())
            .with_latency(publish_latency.clone());
        // Kept across restarts: the messages queued meanwhile are not lost.
        let subscriber = Arc::new(tokio::sync::Mutex::new((subscriber, subscription.messages)));
        supervisor.spawn("subscriber", Restart::Always, shutdown.clone(), move || {
            let subscriber = subscriber.clone();
            async move {
                let mut held = subscriber.lock().await;
                let (subscriber, messages) = &mut *held;
                subscriber.run(messages).await;
            }
        });
        let feed = Arc::new(FeedStats::new(
            feed_settings.source.as_ref().map(Source::kind),
        ));
        let hub = crate::dashboard::Hub::start(
            live.clone(),
            feed.clone(),
            recorder.stats(),
            config.server.push_client_queue_frames,
            &supervisor,
            &shutdown,
        );
        // Every replica builds the market from the ticks on the bus.
        crate::market::start(
            hub.market().clone(),
            &bus,
            live.clone(),
            &supervisor,
            &shutdown,
        );
        let ticks_in_process = feed_settings.source.is_some();
        if let Some(ticks) = feed::start(feed_settings, &bus, &feed, &supervisor, &shutdown) {
            forward::start(ticks, &bus, &supervisor, &shutdown);
        }
        // The embedded default also plays TickStockPL, fed by the ticks above.
        if let Some(simulator) = config.embedded_simulator(ticks_in_process) {
            sim::start_embedded(simulator, &bus, &supervisor, &shutdown);
        }

        let listener = TcpListener::bind(config.server.bind_addr)
            .await
            .with_context(|| format!("cannot listen on BIND_ADDR {}", config.server.bind_addr))?;
        Ok(Self {
            listener,
            state: AppState {
                metrics: Arc::new(crate::metrics::registry(
                    crate::metrics::Sources {
                        live: live.clone(),
                        feed: feed.clone(),
                        recorder: recorder.stats(),
                        supervisor: supervisor.clone(),
                        hub: hub.clone(),
                    },
                    &publish_latency,
                )),
                live,
                feed,
                bus,
                store,
                database: database_status,
                recorder: recorder.stats(),
                accounts,
                lockout: Arc::new(Lockout::new(
                    config.login.login_max_failures,
                    std::time::Duration::from_secs(config.login.login_lockout_seconds),
                    shared_counts.clone(),
                )),
                login_limits: Arc::new(LoginLimits::new(
                    config.login.login_rate_per_address,
                    config.login.login_rate_per_name,
                    config.login.trusted_proxies.clone().unwrap_or_default().0,
                    shared_counts,
                )),
                login_csrf,
                hub,
                conformance,
                identity,
                supervisor,
            },
            sessions,
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

    /// The router `run_until_stopped` serves, for driving requests in process.
    pub fn router(&self) -> axum::Router {
        web::router(self.state.clone(), self.sessions.clone())
    }

    /// Serves until `stop` completes, then stops every background task.
    pub async fn run_until_stopped(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let shutdown = self.shutdown.clone();
        let router = self.router();
        // Small WebSocket frames must not wait on Nagle and delayed ACKs (40 ms stalls).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY: {error}");
            }
        });
        // The peer address is the client of the login rate limit.
        let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let result = axum::serve(listener, service)
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

/// The first account: `admin` (role super) with `TICKSTOCK_ADMIN_PASSWORD`;
/// in the embedded default without one, a generated password printed once.
async fn bootstrap_admin(
    accounts: &Accounts,
    config: &Config,
    store: &Store,
) -> anyhow::Result<()> {
    let (password, generated) = match (&config.login.tickstock_admin_password, store.postgres()) {
        (Some(password), _) => (password.expose_secret().to_owned(), false),
        (None, None) => (hex::encode(rand::random::<[u8; 12]>()), true),
        (None, Some(_)) => {
            if accounts.list().await?.is_empty() {
                tracing::warn!(
                    "ACCOUNTS: No user exists. Set TICKSTOCK_ADMIN_PASSWORD or run `tickstock user add NAME --admin --password-stdin`"
                );
            }
            return Ok(());
        }
    };
    let created = accounts
        .bootstrap_admin(&password)
        .await
        .context("cannot create the admin from TICKSTOCK_ADMIN_PASSWORD")?;
    if created.is_some() {
        tracing::info!("ACCOUNTS: Created the bootstrap user admin");
        if generated {
            // Printed, never logged: logs outlive the process.
            println!(
                "\n  TickStock admin login: user `admin`, password `{password}` (generated; set TICKSTOCK_ADMIN_PASSWORD to choose)\n"
            );
        }
    }
    Ok(())
}
