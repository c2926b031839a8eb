//! What keeps a flood of logins from exhausting the machine: a rate limit per
//! client address and per login name (shared by every replica through Redis
//! when there is one, in process otherwise or while Redis is away), and a
//! bound on concurrent password checks. Each argon2 check holds its own
//! memory (19 MiB with the OWASP defaults), so the bound on checks is the
//! bound on memory.

use std::future::Future;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::accounts::lockout::SharedWindows;

/// The longest login name and password taken; longer ones are refused before
/// any lookup or hashing.
pub const MAX_LOGIN_BYTES: usize = 256;
pub const MAX_PASSWORD_BYTES: usize = 1_024;
/// The login form's body at most: both fields at their longest, percent-encoded, and room to spare.
pub const MAX_LOGIN_BODY_BYTES: usize = 16 * 1_024;

/// Password checks waiting for a core, per core, before more are refused.
const QUEUED_PER_CORE: usize = 4;
/// What a refused check is told to wait: a check takes tens of milliseconds.
const HASHING_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Keys kept by an in-process limiter before the idle ones are dropped.
const PRUNE_ABOVE_KEYS: usize = 10_000;
const RATE_WINDOW: Duration = Duration::from_secs(60);

pub struct LoginLimits {
    per_address: RateLimit,
    per_name: RateLimit,
    hashing: HashingSlots,
    trusted_proxies: Vec<IpNet>,
}

/// Why a login attempt is refused before its password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    AddressRate { retry_after: Duration },
    NameRate { retry_after: Duration },
}

impl LoginLimits {
    /// Attempts a minute for each client address and each login name;
    /// addresses from `X-Forwarded-For` only when the peer is one of
    /// `trusted_proxies`; counted in `shared` when given.
    pub fn new(
        address_per_minute: NonZeroU32,
        name_per_minute: NonZeroU32,
        trusted_proxies: Vec<IpNet>,
        shared: Option<Arc<SharedWindows>>,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self {
            per_address: RateLimit::new("address", address_per_minute, shared.clone()),
            per_name: RateLimit::new("name", name_per_minute, shared),
            hashing: HashingSlots::new(cores, cores.saturating_mul(QUEUED_PER_CORE)),
            trusted_proxies,
        }
    }

    /// The address a request comes from: the socket's peer, or, when that
    /// peer is a trusted proxy, the nearest untrusted hop it forwarded for.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let trusted = |ip: &IpAddr| self.trusted_proxies.iter().any(|net| net.contains(ip));
        let mut client = peer.to_canonical();
        if !trusted(&client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        for hop in hops.iter().rev() {
            // An unreadable hop was written by whoever the last trusted proxy
            // talked to: that proxy's own view is as far as can be trusted.
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = ip.to_canonical();
            if !trusted(&client) {
                break;
            }
        }
        client
    }

    /// Counts an attempt from `client` for `login`, refused when either is over its rate.
    pub async fn admit(&self, client: IpAddr, login: &str) -> Result<(), Refusal> {
        self.per_address
            .check(&address_key(client))
            .await
            .map_err(|retry_after| Refusal::AddressRate { retry_after })?;
        self.per_name
            .check(&login.trim().to_lowercase())
            .await
            .map_err(|retry_after| Refusal::NameRate { retry_after })
    }

    pub fn hashing(&self) -> &HashingSlots {
        &self.hashing
    }
}

/// One IPv6 host usually holds a whole /64: it counts as one address.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
    }
}

/// At most `per_minute` attempts a minute for each key.
struct RateLimit {
    kind: &'static str,
    per_minute: NonZeroU32,
    local: DefaultKeyedRateLimiter<String>,
    shared: Option<Arc<SharedWindows>>,
}

impl RateLimit {
    fn new(kind: &'static str, per_minute: NonZeroU32, shared: Option<Arc<SharedWindows>>) -> Self {
        Self {
            kind,
            per_minute,
            local: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute)),
            shared,
        }
    }

    /// `Err(wait)` when `key` is over its rate.
    async fn check(&self, key: &str) -> Result<(), Duration> {
        if let Some(shared) = &self.shared
            && let Some(window) = shared
                .count(&format!("rate:{}:{key}", self.kind), RATE_WINDOW)
                .await
        {
            return if window.count > u64::from(self.per_minute.get()) {
                Err(window.remaining.max(Duration::from_secs(1)))
            } else {
                Ok(())
            };
        }
        if self.local.len() > PRUNE_ABOVE_KEYS {
            self.local.retain_recent();
            self.local.shrink_to_fit();
        }
        self.local
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// Admission to password checking: `running` at once (one per core), up to
/// `queued` more waiting; beyond that a check is refused at once.
pub struct HashingSlots {
    admitted: Arc<Semaphore>,
    running: Arc<Semaphore>,
}

/// An admitted check, holding its place until it is done.
pub struct HashingTurn {
    _admitted: OwnedSemaphorePermit,
    running: Arc<Semaphore>,
}

impl HashingSlots {
    pub fn new(running: usize, queued: usize) -> Self {
        let running = running.max(1);
        Self {
            admitted: Arc::new(Semaphore::new(running.saturating_add(queued))),
            running: Arc::new(Semaphore::new(running)),
        }
    }

    /// A turn, or `Err(wait)` when as many checks as allowed are running or waiting.
    pub fn try_enter(&self) -> Result<HashingTurn, Duration> {
        match self.admitted.clone().try_acquire_owned() {
            Ok(permit) => Ok(HashingTurn {
                _admitted: permit,
                running: self.running.clone(),
            }),
            Err(_) => Err(HASHING_RETRY_AFTER),
        }
    }
}

impl HashingTurn {
    /// Runs `check` once a core is free. It runs as a task of its own, so
    /// that a client who goes away does not free the slot of work still running.
    pub async fn run<F>(self, check: F) -> Result<F::Output, tokio::task::JoinError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let Self { _admitted, running } = self;
        tokio::spawn(async move {
            // The semaphore is never closed; if it were, the check would just run unbounded.
            let _slots = (_admitted, running.acquire_owned().await.ok());
            check.await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(trusted: &[&str]) -> LoginLimits {
        let one = NonZeroU32::MIN;
        LoginLimits::new(
            one,
            one,
            trusted.iter().map(|net| net.parse().unwrap()).collect(),
            None,
        )
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let headers = forwarded(&["198.51.100.7, 203.0.113.9"]);
        assert_eq!(limits(&[]).client_address(peer, &headers), peer);
        assert_eq!(
            limits(&["192.168.0.0/16"]).client_address(peer, &headers),
            peer,
            "the peer is no trusted proxy"
        );
        let behind = limits(&["10.0.0.0/8"]);
        assert_eq!(
            behind.client_address(peer, &headers),
            "203.0.113.9".parse::<IpAddr>().unwrap(),
            "the nearest hop, not what the client claims"
        );
        let chained = forwarded(&["198.51.100.7", "203.0.113.9, 10.0.0.9"]);
        assert_eq!(
            behind.client_address(peer, &chained),
            "203.0.113.9".parse::<IpAddr>().unwrap(),
            "trusted hops are skipped, across header lines"
        );
        assert_eq!(
            behind.client_address(peer, &forwarded(&["junk, 10.0.0.9"])),
            "10.0.0.9".parse::<IpAddr>().unwrap(),
            "an unreadable hop ends the walk"
        );
        assert_eq!(behind.client_address(peer, &HeaderMap::new()), peer);
        let mapped: IpAddr = "::ffff:10.0.0.5".parse().unwrap();
        assert_eq!(
            behind.client_address(mapped, &headers),
            "203.0.113.9".parse::<IpAddr>().unwrap(),
            "an IPv4-mapped peer is the IPv4 peer"
        );
    }

    #[test]
    fn an_ipv6_host_counts_by_its_64_prefix() {
        let a = address_key("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_key("2001:db8:1:2:bbbb::2".parse().unwrap());
        let c = address_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(address_key("192.0.2.1".parse().unwrap()), "192.0.2.1");
    }

    #[tokio::test]
    async fn each_address_and_each_name_has_its_own_rate() {
        let limits = limits(&[]);
        let here: IpAddr = "192.0.2.1".parse().unwrap();
        let there: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(limits.admit(here, "dana").await, Ok(()));
        assert!(matches!(
            limits.admit(here, "erin").await,
            Err(Refusal::AddressRate { retry_after }) if retry_after > Duration::ZERO
        ));
        assert!(matches!(
            limits.admit(there, "DANA ").await,
            Err(Refusal::NameRate { .. })
        ));
        let elsewhere: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            limits.admit(elsewhere, "erin").await,
            Ok(()),
            "a name refused for its address's rate was not counted"
        );
    }

    #[tokio::test]
    async fn checks_beyond_the_running_and_queued_slots_are_refused_at_once() {
        let slots = HashingSlots::new(1, 1);
        let first = slots.try_enter().unwrap();
        let second = slots.try_enter().unwrap();
        assert_eq!(slots.try_enter().err(), Some(HASHING_RETRY_AFTER));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(first.run(async move { released.await.ok() }));
        release.send(()).unwrap();
        running.await.unwrap().unwrap();
        assert!(slots.try_enter().is_ok(), "a finished check frees its slot");
        drop(second);
    }
}
