//! Time-limited lockout after repeated failed logins, per login name, whether
//! or not a user of that name exists: the answer never tells them apart.
//! With Redis the failures are counted there, so every replica sees them;
//! while Redis does not answer, each process counts on its own (and says so).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Names tracked at most; past it, entries older than the window are pruned.
const MAX_TRACKED: usize = 10_000;

pub struct Lockout {
    max_failures: u32,
    window: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    shared: Option<Arc<SharedWindows>>,
}

#[derive(Clone, Copy)]
struct Entry {
    failures: u32,
    first_at: Instant,
    locked_until: Option<Instant>,
}

impl Lockout {
    /// After `max_failures` failures within `window`, the name is locked for
    /// `window`; counted in `shared` when given.
    pub fn new(max_failures: u32, window: Duration, shared: Option<Arc<SharedWindows>>) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            entries: Mutex::default(),
            shared,
        }
    }

    fn key(login: &str) -> String {
        login.trim().to_lowercase()
    }

    fn shared_key(login: &str) -> String {
        format!("failures:{}", Self::key(login))
    }

    /// How long `login` stays locked, if it is.
    pub async fn locked_for(&self, login: &str) -> Option<Duration> {
        if let Some(shared) = &self.shared
            && let Some(window) = shared.peek(&Self::shared_key(login)).await
        {
            let locked =
                window.count >= u64::from(self.max_failures) && !window.remaining.is_zero();
            return locked.then_some(window.remaining);
        }
        let entries = self.entries.lock();
        let until = entries.get(&Self::key(login))?.locked_until?;
        until.checked_duration_since(Instant::now())
    }

    pub async fn record_failure(&self, login: &str) {
        self.record_local_failure(login);
        if let Some(shared) = &self.shared {
            let key = Self::shared_key(login);
            if let Some(window) = shared.count(&key, self.window).await
                && window.count >= u64::from(self.max_failures)
            {
                shared.extend(&key, self.window).await;
            }
        }
    }

    /// Kept even with Redis, so that a Redis outage still finds this process's count.
    fn record_local_failure(&self, login: &str) {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        if entries.len() >= MAX_TRACKED {
            let window = self.window;
            entries.retain(|_, e| {
                now.duration_since(e.first_at) < window || e.locked_until.is_some_and(|u| u > now)
            });
        }
        let entry = entries.entry(Self::key(login)).or_insert(Entry {
            failures: 0,
            first_at: now,
            locked_until: None,
        });
        if now.duration_since(entry.first_at) >= self.window
            && entry.locked_until.is_none_or(|u| u <= now)
        {
            *entry = Entry {
                failures: 0,
                first_at: now,
                locked_until: None,
            };
        }
        entry.failures = entry.failures.saturating_add(1);
        if entry.failures >= self.max_failures {
            entry.locked_until = Some(now + self.window);
        }
    }

    pub async fn record_success(&self, login: &str) {
        self.entries.lock().remove(&Self::key(login));
        if let Some(shared) = &self.shared {
            shared.clear(&Self::shared_key(login)).await;
        }
    }
}

/// A counter's state: events so far in its window and the time left in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub count: u64,
    pub remaining: Duration,
}

/// Redis commands wait at most this long: a login never waits on a slow Redis.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);

/// Fixed-window counters in Redis, shared by every replica. Every call
/// answers `None` when Redis does not, and the caller counts in process;
/// the change either way is logged once.
pub struct SharedWindows {
    redis: ConnectionManager,
    prefix: &'static str,
    degraded: AtomicBool,
}

impl SharedWindows {
    /// Connects lazily: nothing waits for Redis here.
    pub fn new(redis_url: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(redis_url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        Ok(Self {
            redis: ConnectionManager::new_lazy_with_config(client, config)?,
            prefix: "tickstock:login:",
            degraded: AtomicBool::new(false),
        })
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn run<T: redis::FromRedisValue>(&self, pipe: &redis::Pipeline) -> Option<T> {
        let mut conn = self.redis.clone();
        let outcome = tokio::time::timeout(REDIS_TIMEOUT, pipe.query_async::<T>(&mut conn)).await;
        let error = match outcome {
            Ok(Ok(value)) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    tracing::info!("AUTH: Redis answers again; login limits are shared again");
                }
                return Some(value);
            }
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {REDIS_TIMEOUT:?}"),
        };
        if !self.degraded.swap(true, Ordering::Relaxed) {
            tracing::error!(
                "AUTH: Redis unavailable for login limits ({error}); counting in this process only until it answers"
            );
        }
        None
    }

    /// Counts one event under `key`; a new window of `length` starts with the first.
    pub async fn count(&self, key: &str, length: Duration) -> Option<Window> {
        let key = self.key(key);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(&key)
            .arg(0)
            .arg("PX")
            .arg(millis(length))
            .arg("NX")
            .ignore()
            .cmd("INCR")
            .arg(&key)
            .cmd("PTTL")
            .arg(&key);
        let (count, ttl): (u64, i64) = self.run(&pipe).await?;
        Some(window(count, ttl))
    }

    /// The window under `key` without counting.
    pub async fn peek(&self, key: &str) -> Option<Window> {
        let key = self.key(key);
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("GET").arg(&key).cmd("PTTL").arg(&key);
        let (count, ttl): (Option<u64>, i64) = self.run(&pipe).await?;
        Some(window(count.unwrap_or(0), ttl))
    }

    /// Makes the window under `key` end `length` from now.
    pub async fn extend(&self, key: &str, length: Duration) {
        let mut pipe = redis::pipe();
        pipe.cmd("PEXPIRE")
            .arg(self.key(key))
            .arg(millis(length))
            .ignore();
        let _: Option<()> = self.run(&pipe).await;
    }

    pub async fn clear(&self, key: &str) {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(self.key(key)).ignore();
        let _: Option<()> = self.run(&pipe).await;
    }
}

fn millis(length: Duration) -> u64 {
    // A window of zero would be refused by Redis (PX 0).
    u64::try_from(length.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// PTTL answers -2 (no key) or -1 (no expiry): no time left either way.
fn window(count: u64, ttl_millis: i64) -> Window {
    Window {
        count,
        remaining: Duration::from_millis(u64::try_from(ttl_millis).unwrap_or(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn locks_after_the_limit_for_known_and_unknown_names_alike_and_success_clears() {
        let lockout = Lockout::new(3, Duration::from_secs(60), None);
        for _ in 0..2 {
            lockout.record_failure("Admin").await;
        }
        assert_eq!(lockout.locked_for("admin").await, None);
        lockout.record_failure("ADMIN ").await;
        assert!(
            lockout
                .locked_for("admin")
                .await
                .is_some_and(|d| d > Duration::from_secs(50))
        );
        lockout.record_success("admin").await;
        assert_eq!(lockout.locked_for("admin").await, None);
    }

    #[tokio::test]
    async fn a_zero_window_never_locks_for_long() {
        let lockout = Lockout::new(1, Duration::ZERO, None);
        lockout.record_failure("x").await;
        assert_eq!(lockout.locked_for("x").await, None);
    }

    #[tokio::test]
    async fn an_unreachable_redis_falls_back_to_the_process_count() {
        // Port 1 on loopback: nothing listens, the connection is refused.
        let shared = SharedWindows::new("redis://127.0.0.1:1/").unwrap();
        let lockout = Lockout::new(2, Duration::from_secs(60), Some(Arc::new(shared)));
        lockout.record_failure("dana").await;
        assert_eq!(lockout.locked_for("dana").await, None);
        lockout.record_failure("dana").await;
        assert!(lockout.locked_for("dana").await.is_some());
    }

    #[test]
    fn redis_ttl_replies_without_expiry_leave_no_time() {
        assert_eq!(window(3, -2).remaining, Duration::ZERO);
        assert_eq!(window(3, -1).remaining, Duration::ZERO);
        assert_eq!(window(3, 1500).remaining, Duration::from_millis(1500));
        assert_eq!(millis(Duration::ZERO), 1);
    }
}
