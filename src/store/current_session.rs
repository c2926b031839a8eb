//! Where the current streaming session is kept, so that a restarted TickStock
//! (or another replica) shows it, universe included, before its next event:
//! - with PostgreSQL, in the history: the open `streaming_sessions` row;
//! - with Redis and no PostgreSQL, in one Redis key (`KEY`), written when a
//!   session starts or stops and kept a day (`TTL`), as sessions last a
//!   market day;
//! - with neither, nowhere beyond the process.
//!
//! It lives beside the history because it is the same kind of thing: what
//! was received, kept for later. The recorder hands starts and stops over
//! without waiting, as it hands over rows; a keeper task writes the latest.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::Store;
use crate::backoff::Backoff;
use crate::bus::Bus;
use crate::events::{SessionStarted, SessionStopped};

/// The Redis key of the current session.
pub const KEY: &str = "tickstock:current_session";
/// How long the key outlives its last write.
pub const TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// A Redis command that takes longer has failed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
const RETRY_BASE: Duration = Duration::from_millis(100);
const RETRY_CAP: Duration = Duration::from_secs(5);

/// Where the current session is kept (see the module's comment).
#[derive(Clone)]
pub enum SessionKeeper {
    History(Store),
    Redis(ConnectionManager),
}

/// What the Redis key holds: the start of the current session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Kept {
    session_id: String,
    universe: Option<String>,
    started_at: DateTime<Utc>,
    symbol_count: Option<i64>,
}

impl SessionKeeper {
    /// Redis when there is Redis and no database, else the history.
    pub fn new(store: &Store, bus: &Bus) -> Self {
        match (store.postgres(), bus) {
            (None, Bus::Redis(redis)) => SessionKeeper::Redis(redis.connection()),
            _ => SessionKeeper::History(store.clone()),
        }
    }

    /// The session started since `started_since` and not stopped, if any.
    pub async fn open_session(
        &self,
        started_since: DateTime<Utc>,
    ) -> Result<Option<SessionStarted>, String> {
        match self {
            SessionKeeper::History(store) => {
                let row = store
                    .history()
                    .open_session(started_since)
                    .await
                    .map_err(|error| error.to_string())?;
                Ok(row.map(|row| {
                    started(Kept {
                        session_id: row.session_id.to_string(),
                        universe: Some(row.universe),
                        started_at: row.started_at,
                        symbol_count: Some(i64::from(row.symbol_count)),
                    })
                }))
            }
            SessionKeeper::Redis(redis) => {
                let mut redis = redis.clone();
                let mut get = redis::cmd("GET");
                get.arg(KEY);
                let command = get.query_async(&mut redis);
                let value: Option<String> = tokio::time::timeout(COMMAND_TIMEOUT, command)
                    .await
                    .map_err(|_| format!("Redis gave no answer within {COMMAND_TIMEOUT:?}"))?
                    .map_err(|error| error.to_string())?;
                let Some(value) = value else {
                    return Ok(None);
                };
                let kept: Kept = serde_json::from_str(&value)
                    .map_err(|error| format!("{KEY} holds no session ({error})"))?;
                Ok((kept.started_at >= started_since).then(|| started(kept)))
            }
        }
    }
}

fn started(kept: Kept) -> SessionStarted {
    SessionStarted {
        session_id: kept.session_id,
        universe: kept.universe,
        started_at: kept.started_at,
        symbol_count: kept.symbol_count,
        status: "active".into(),
        extra: Default::default(),
    }
}

/// The live path's side of a Redis keeper: never waits.
#[derive(Clone)]
pub struct RedisSessionKey {
    latest: watch::Sender<Option<Kept>>,
}

impl RedisSessionKey {
    /// Starts the task that writes the latest state to `redis` until `shutdown`.
    pub fn start(
        redis: ConnectionManager,
        supervisor: &crate::supervise::Supervisor,
        shutdown: &CancellationToken,
    ) -> Self {
        let (latest, changes) = watch::channel(None);
        let stop = shutdown.clone();
        supervisor.spawn(
            "current_session",
            crate::supervise::Restart::Always,
            shutdown.clone(),
            move || keep(redis.clone(), changes.clone(), stop.clone()),
        );
        Self { latest }
    }

    pub fn started(&self, started: &SessionStarted) {
        self.latest.send_replace(Some(Kept {
            session_id: started.session_id.clone(),
            universe: started.universe.clone(),
            started_at: started.started_at,
            symbol_count: started.symbol_count,
        }));
    }

    /// Forgets the current session if it is the one stopped (a stop of
    /// another session says nothing of the current one).
    pub fn stopped(&self, stopped: &SessionStopped) {
        self.latest.send_if_modified(|latest| {
            let current = latest
                .as_ref()
                .is_some_and(|kept| kept.session_id == stopped.session_id);
            if current {
                *latest = None;
            }
            current
        });
    }
}

/// Writes each change (`SET ... EX` a start, `DEL` a stop), retrying with
/// backoff until it is written or a newer change replaces it.
async fn keep(
    mut redis: ConnectionManager,
    mut changes: watch::Receiver<Option<Kept>>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
        let mut backoff = Backoff::new(RETRY_BASE, RETRY_CAP);
        let mut failures = 0u32;
        loop {
            let latest = changes.borrow_and_update().clone();
            let command = match &latest {
                Some(kept) => {
                    let Ok(value) = serde_json::to_string(kept) else {
                        break;
                    };
                    let mut set = redis::cmd("SET");
                    set.arg(KEY).arg(value).arg("EX").arg(TTL.as_secs());
                    set
                }
                None => {
                    let mut del = redis::cmd("DEL");
                    del.arg(KEY);
                    del
                }
            };
            let attempt = tokio::time::timeout(COMMAND_TIMEOUT, command.exec_async(&mut redis));
            let error = match attempt.await {
                Ok(Ok(())) => break,
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("no answer within {COMMAND_TIMEOUT:?}"),
            };
            if failures == 0 {
                warn!("RECORDER: Cannot keep the current session in Redis ({error}); retrying");
            }
            failures = failures.saturating_add(1);
            tokio::select! {
                () = shutdown.cancelled() => return,
                // A newer change is written instead, at once.
                changed = changes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    backoff.reset();
                }
                () = tokio::time::sleep(backoff.next_delay()) => {}
            }
        }
    }
}
