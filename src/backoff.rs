//! Exponential backoff with full jitter: each wait is uniform in
//! `[0, min(cap, base * 2^attempt)]`, so that many clients that lost the same
//! server do not come back in lockstep.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    first_at_once: bool,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
            first_at_once: false,
        }
    }

    /// The first retry after a reset comes without waiting: a server that
    /// restarted (Redis takes milliseconds) is usually back by then.
    pub fn first_at_once(mut self) -> Self {
        self.first_at_once = true;
        self
    }

    /// The ceiling of the next wait, before jitter.
    pub fn ceiling(&self) -> Duration {
        let Some(exponent) = self.attempt.checked_sub(u32::from(self.first_at_once)) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(exponent.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        ceiling.mul_f64(rand::rng().random_range(0.0..=1.0))
    }

    /// Called after a connection has proved stable.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_stay_within_it_and_reset() {
        let cap = Duration::from_secs(60);
        let mut backoff = Backoff::new(Duration::from_millis(500), cap);
        let mut ceilings = Vec::new();
        for _ in 0..40 {
            ceilings.push(backoff.ceiling());
            assert!(backoff.next_delay() <= cap);
        }
        assert_eq!(ceilings[0], Duration::from_millis(500));
        assert_eq!(ceilings[1], Duration::from_secs(1));
        assert_eq!(ceilings[39], cap);
        backoff.reset();
        assert_eq!(backoff.ceiling(), Duration::from_millis(500));
    }

    #[test]
    fn the_first_retry_after_a_reset_comes_at_once() {
        let base = Duration::from_millis(100);
        let mut backoff = Backoff::new(base, Duration::from_secs(5)).first_at_once();
        assert_eq!(backoff.next_delay(), Duration::ZERO);
        assert_eq!(backoff.ceiling(), base);
        backoff.next_delay();
        assert_eq!(backoff.ceiling(), base * 2);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::ZERO);
    }
}
