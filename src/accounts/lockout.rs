//! Time-limited lockout after repeated failed logins, per login name, whether
//! or not a user of that name exists: the answer never tells them apart.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Names tracked at most; past it, entries older than the window are pruned.
const MAX_TRACKED: usize = 10_000;

pub struct Lockout {
    max_failures: u32,
    window: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Clone, Copy)]
struct Entry {
    failures: u32,
    first_at: Instant,
    locked_until: Option<Instant>,
}

impl Lockout {
    /// After `max_failures` failures within `window`, the name is locked for `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            entries: Mutex::default(),
        }
    }

    fn key(login: &str) -> String {
        login.trim().to_lowercase()
    }

    /// How long `login` stays locked, if it is.
    pub fn locked_for(&self, login: &str) -> Option<Duration> {
        let entries = self.entries.lock();
        let until = entries.get(&Self::key(login))?.locked_until?;
        until.checked_duration_since(Instant::now())
    }

    pub fn record_failure(&self, login: &str) {
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
        entry.failures += 1;
        if entry.failures >= self.max_failures {
            entry.locked_until = Some(now + self.window);
        }
    }

    pub fn record_success(&self, login: &str) {
        self.entries.lock().remove(&Self::key(login));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_the_limit_for_known_and_unknown_names_alike_and_success_clears() {
        let lockout = Lockout::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            lockout.record_failure("Admin");
        }
        assert_eq!(lockout.locked_for("admin"), None);
        lockout.record_failure("ADMIN ");
        assert!(
            lockout
                .locked_for("admin")
                .is_some_and(|d| d > Duration::from_secs(50))
        );
        lockout.record_success("admin");
        assert_eq!(lockout.locked_for("admin"), None);
    }

    #[test]
    fn a_zero_window_never_locks_for_long() {
        let lockout = Lockout::new(1, Duration::ZERO);
        lockout.record_failure("x");
        assert_eq!(lockout.locked_for("x"), None);
    }
}
