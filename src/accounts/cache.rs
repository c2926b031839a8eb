//! A bounded lookup cache in front of a store that may be down: who is
//! logged in (users, tokens, login sessions) stays known through an outage.
//!
//! An entry is served as it is while fresh; after that the store is asked
//! again (within `LOOKUP_TIMEOUT`), and when it fails the last answer is
//! served for up to `keep`. After a failure the store is not asked again for
//! `OUTAGE_BACKOFF`: requests during an outage answer at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

/// How long an answer is served without asking the store again. Short: a
/// change made behind TickStock's back (a role edited in SQL) shows within it.
pub const FRESH_FOR: Duration = Duration::from_secs(2);
/// Longest a lookup waits on the store before the cached answer is used.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(1);
/// After a failed lookup, the store is left alone this long.
const OUTAGE_BACKOFF: Duration = Duration::from_secs(2);

pub struct LookupCache<K, V> {
    entries: RwLock<HashMap<K, (V, Instant)>>,
    capacity: usize,
    keep: Duration,
    failed_at: Mutex<Option<Instant>>,
}

/// Why a lookup has no answer: the store failed (or took too long) and
/// nothing usable was cached.
pub enum Missed<E> {
    Failed(E),
    TimedOut,
    /// The store failed a moment ago and is not asked yet.
    StoreDown,
}

impl<K: Eq + Hash + Clone, V: Clone> LookupCache<K, V> {
    /// At most `capacity` entries, each kept `keep` after it was fetched.
    pub fn new(capacity: usize, keep: Duration) -> Self {
        Self {
            entries: RwLock::default(),
            capacity,
            keep,
            failed_at: Mutex::new(None),
        }
    }

    /// The cached answer for `key`, or `load`'s; see the module comment.
    pub async fn lookup<E>(
        &self,
        key: &K,
        load: impl Future<Output = Result<V, E>>,
    ) -> Result<V, Missed<E>> {
        let cached = self.entries.read().get(key).cloned();
        let stale = match cached {
            Some((value, at)) if at.elapsed() < FRESH_FOR => return Ok(value),
            Some((value, at)) if at.elapsed() < self.keep => Some(value),
            _ => None,
        };
        let recently_failed = self
            .failed_at
            .lock()
            .is_some_and(|at| at.elapsed() < OUTAGE_BACKOFF);
        let missed = if recently_failed {
            Missed::StoreDown
        } else {
            match tokio::time::timeout(LOOKUP_TIMEOUT, load).await {
                Ok(Ok(value)) => {
                    *self.failed_at.lock() = None;
                    self.put(key.clone(), value.clone());
                    return Ok(value);
                }
                Ok(Err(error)) => Missed::Failed(error),
                Err(_) => Missed::TimedOut,
            }
        };
        if !recently_failed {
            *self.failed_at.lock() = Some(Instant::now());
        }
        stale.ok_or(missed)
    }

    pub fn put(&self, key: K, value: V) {
        let mut entries = self.entries.write();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (_, at)| at.elapsed() < self.keep);
            if entries.len() >= self.capacity {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, (_, at))| *at)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(key, (value, Instant::now()));
    }

    pub fn contains(&self, key: &K) -> bool {
        self.entries.read().contains_key(key)
    }

    pub fn remove(&self, key: &K) {
        self.entries.write().remove(key);
    }

    pub fn clear(&self) {
        self.entries.write().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_store_gets_the_last_answer_and_is_left_alone_a_while() {
        let cache = LookupCache::new(2, Duration::from_secs(60));
        let ok = cache.lookup(&1, async { Ok::<_, ()>("one") }).await;
        assert!(matches!(ok, Ok("one")));
        // Aged past fresh: the store is asked, fails, the stale answer is served.
        cache.entries.write().get_mut(&1).unwrap().1 -= FRESH_FOR;
        let stale = cache.lookup(&1, async { Err::<&str, _>(()) }).await;
        assert!(matches!(stale, Ok("one")));
        // Nothing cached and the store just failed: no waiting on it.
        let missed = cache
            .lookup(&2, async { panic!("the store is not asked") })
            .await;
        assert!(matches!(missed, Err(Missed::<()>::StoreDown)));
    }

    #[test]
    fn it_holds_at_most_its_capacity_dropping_the_oldest() {
        let cache = LookupCache::new(2, Duration::from_secs(60));
        for key in 0..5 {
            cache.put(key, key);
        }
        let entries = cache.entries.read();
        assert_eq!(entries.len(), 2);
        assert!(entries.contains_key(&4));
    }
}
