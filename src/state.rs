//! Live state: what the dashboard and `/streaming/api/status` show. Updated
//! only by decoded events; read without waiting on the bus or the database.
//! It keeps its values behind `Arc`s and announces each change as those
//! values (`Change`); turning them into messages is the work of the
//! dashboard module, done off this state's lock.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use parking_lot::RwLock;
use serde::Serialize;
use tokio::sync::broadcast;
use tracing::info;

use crate::bus::Link;
use crate::events::fields::{Object, serialize_opt_timestamp};
use crate::events::pattern::PatternKey;
use crate::events::{
    Channel, CriticalAlert, Event, Health, Indicator, IndicatorAlert, Pattern, PatternBatch,
    Reason, SessionStarted, SessionStopped,
};

/// Sizes of the recent-event buffers kept for the dashboard.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub patterns: usize,
    pub indicators: usize,
    pub alerts: usize,
    /// Changes waiting for the dashboard hub; beyond it the hub resynchronises.
    pub changes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            patterns: 500,
            indicators: 5_000,
            alerts: 200,
            changes: 65_536,
        }
    }
}

/// `status` of `/streaming/api/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamStatus {
    /// A session is active and its health is fresh.
    Online,
    /// No session is active.
    Idle,
    /// A session is active but no health arrived for `HEALTH_STALE_SECONDS`.
    Stale,
    /// The bus is unreachable.
    Offline,
}

/// How TickStock learnt of the current session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionSource {
    SessionStarted,
    /// `session_started` was missed; a health event named the session.
    Health,
    /// Restored at start-up from an open `streaming_sessions` row.
    Database,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamingSession {
    pub session_id: String,
    pub universe: Option<String>,
    #[serde(serialize_with = "serialize_opt_timestamp")]
    pub started_at: Option<DateTime<Utc>>,
    /// The original's name for `started_at`, kept for its readers.
    #[serde(serialize_with = "serialize_opt_timestamp")]
    pub start_time: Option<DateTime<Utc>>,
    pub symbol_count: Option<i64>,
    pub status: String,
    pub source: SessionSource,
    #[serde(flatten)]
    pub extra: Object,
}

impl StreamingSession {
    fn from_started(started: SessionStarted) -> Self {
        Self {
            session_id: started.session_id,
            universe: started.universe,
            started_at: Some(started.started_at),
            start_time: Some(started.started_at),
            symbol_count: started.symbol_count,
            status: started.status,
            source: SessionSource::SessionStarted,
            extra: started.extra,
        }
    }

    /// The session a health event names; it started `uptime_seconds` before
    /// the event, when that is a time.
    fn from_health(session_id: String, health: &Health) -> Self {
        let started_at = health
            .uptime_seconds
            .and_then(|uptime| {
                let millis = (uptime * 1000.0).round();
                // Checked: the decoder bounds uptime, but nothing here may panic.
                (millis.is_finite() && millis.abs() < 9.0e15).then_some(millis as i64)
            })
            .and_then(chrono::TimeDelta::try_milliseconds)
            .and_then(|uptime| health.timestamp.checked_sub_signed(uptime));
        Self {
            session_id,
            universe: None,
            started_at,
            start_time: started_at,
            symbol_count: health.active_symbols,
            status: "active".into(),
            source: SessionSource::Health,
            extra: Object::new(),
        }
    }
}

/// A critical alert with the recovery that resolved it, if one came.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriticalEntry {
    #[serde(flatten)]
    pub alert: CriticalAlert,
    pub resolved_by: Option<Resolution>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolution {
    pub recovery: String,
    #[serde(serialize_with = "crate::events::fields::serialize_timestamp")]
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Alert {
    IndicatorAlert(IndicatorAlert),
    CriticalAlert(CriticalEntry),
}

/// Per-channel counters, updated without taking the state lock.
#[derive(Debug, Default)]
pub struct ChannelStats {
    messages: AtomicU64,
    decode_errors: AtomicU64,
    /// `decode_errors` by reason, indexed by `Reason::index`.
    decode_error_reasons: [AtomicU64; Reason::ALL.len()],
    /// Epoch milliseconds; 0 when nothing arrived yet.
    last_message_ms: AtomicI64,
}

impl ChannelStats {
    pub fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    pub fn decode_errors(&self) -> u64 {
        self.decode_errors.load(Ordering::Relaxed)
    }

    pub fn last_message_at(&self) -> Option<DateTime<Utc>> {
        match self.last_message_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => DateTime::from_timestamp_millis(ms),
        }
    }

    pub fn record_message(&self, at: DateTime<Utc>) {
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.last_message_ms
            .store(at.timestamp_millis(), Ordering::Relaxed);
    }

    /// The refusals of `reason` so far.
    pub fn decode_errors_for(&self, reason: Reason) -> u64 {
        self.decode_error_reasons[reason.index()].load(Ordering::Relaxed)
    }

    /// Counts one refused message (or batch element).
    pub fn record_decode_error(&self, reason: Reason) {
        self.decode_errors.fetch_add(1, Ordering::Relaxed);
        self.decode_error_reasons[reason.index()].fetch_add(1, Ordering::Relaxed);
    }
}

/// A value and when it arrived.
#[derive(Debug, Clone)]
pub struct Received<T> {
    pub value: T,
    pub received_at: DateTime<Utc>,
}

#[derive(Default)]
struct RecentPatterns {
    newest_first: VecDeque<Arc<Pattern>>,
    keys: HashSet<PatternKey>,
}

#[derive(Default)]
struct Inner {
    session: Option<Received<Arc<StreamingSession>>>,
    last_stopped: Option<Arc<SessionStopped>>,
    health: Option<Received<Arc<Health>>>,
    patterns: RecentPatterns,
    indicators: HashMap<(String, String), Arc<Indicator>>,
    alerts: VecDeque<Arc<Alert>>,
}

/// What one applied event changed, made of the values the state keeps: an
/// announcement costs reference counts, never a serialisation.
#[derive(Debug, Clone)]
pub enum Change {
    SessionStarted(Arc<StreamingSession>),
    SessionStopped(Arc<SessionStopped>),
    Health {
        health: Arc<Health>,
        /// The session this health event revealed, when `session_started` was missed.
        revealed_session: Option<Arc<StreamingSession>>,
    },
    /// A detection that came alone.
    Pattern(Arc<Pattern>),
    /// The new detections of a batch (those already known left out).
    Patterns(Arc<[Arc<Pattern>]>),
    Indicator(Arc<Indicator>),
    Alert(Arc<Alert>),
}

/// What the status shows of the state, taken under one read lock.
pub struct StatusView {
    pub status: StreamStatus,
    pub session: Option<Arc<StreamingSession>>,
    pub last_session: Option<Arc<SessionStopped>>,
    pub health: Option<Received<Arc<Health>>>,
}

pub struct LiveState {
    inner: RwLock<Inner>,
    changes: broadcast::Sender<Change>,
    channels: [ChannelStats; 8],
    link: Arc<Link>,
    stale_after: chrono::Duration,
    limits: Limits,
}

impl LiveState {
    pub fn new(link: Arc<Link>, stale_after: std::time::Duration, limits: Limits) -> Self {
        Self {
            inner: RwLock::default(),
            changes: broadcast::channel(limits.changes.max(1)).0,
            channels: Default::default(),
            link,
            stale_after: chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX),
            limits,
        }
    }

    pub fn channel(&self, channel: Channel) -> &ChannelStats {
        &self.channels[channel.index()]
    }

    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Restores the session recorded as still open, unless one is known already.
    pub fn restore_session(&self, started: SessionStarted, now: DateTime<Utc>) {
        let mut inner = self.inner.write();
        if inner.session.is_none() {
            let mut session = StreamingSession::from_started(started);
            session.source = SessionSource::Database;
            inner.session = Some(Received {
                value: Arc::new(session),
                received_at: now,
            });
        }
    }

    /// The changes `apply` makes, as they happen.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Applies one decoded event and announces the change. Returns false for
    /// a pattern batch whose every detection was already known (a copy from
    /// the other pattern channel): nothing changed, nothing is announced.
    pub fn apply(&self, event: Event, received_at: DateTime<Utc>) -> bool {
        let change = {
            let mut inner = self.inner.write();
            self.apply_locked(&mut inner, event, received_at)
        };
        match change {
            Some(change) => {
                // No receiver (no hub yet) is fine: the state is what counts.
                let _ = self.changes.send(change);
                true
            }
            None => false,
        }
    }

    fn apply_locked(
        &self,
        inner: &mut Inner,
        event: Event,
        received_at: DateTime<Utc>,
    ) -> Option<Change> {
        Some(match event {
            Event::SessionStarted(started) => {
                let session = Arc::new(StreamingSession::from_started(started));
                inner.session = Some(Received {
                    value: session.clone(),
                    received_at,
                });
                Change::SessionStarted(session)
            }
            Event::SessionStopped(stopped) => {
                if inner
                    .session
                    .as_ref()
                    .is_some_and(|s| s.value.session_id == stopped.session_id)
                {
                    inner.session = None;
                }
                let stopped = Arc::new(stopped);
                inner.last_stopped = Some(stopped.clone());
                Change::SessionStopped(stopped)
            }
            Event::Health(health) => {
                let recovered = recover_session(inner, &health, received_at);
                inner.health = Some(Received {
                    value: health.clone(),
                    received_at,
                });
                Change::Health {
                    health,
                    revealed_session: recovered
                        .then(|| inner.session.as_ref().map(|s| s.value.clone()))
                        .flatten(),
                }
            }
            Event::Patterns(batch) => {
                let batched = batch.batched;
                let mut added = self.add_patterns(inner, batch);
                match (added.len(), batched) {
                    (0, _) => return None,
                    (1, false) => Change::Pattern(added.remove(0)),
                    _ => Change::Patterns(added.into()),
                }
            }
            Event::Indicator(indicator) => Change::Indicator(self.add_indicator(inner, indicator)),
            Event::IndicatorAlert(alert) => {
                Change::Alert(self.add_alert(inner, Alert::IndicatorAlert(alert)))
            }
            Event::CriticalAlert(alert) => {
                if let (Some(recovery), Some(component)) = (&alert.recovery, &alert.component) {
                    resolve(&mut inner.alerts, component, recovery, alert.timestamp);
                }
                let alert = Alert::CriticalAlert(CriticalEntry {
                    alert,
                    resolved_by: None,
                });
                Change::Alert(self.add_alert(inner, alert))
            }
        })
    }

    /// Adds the detections not seen yet; returns them.
    fn add_patterns(&self, inner: &mut Inner, batch: PatternBatch) -> Vec<Arc<Pattern>> {
        let mut added = Vec::new();
        let recent = &mut inner.patterns;
        for pattern in batch.patterns {
            if !recent.keys.insert(pattern.key()) {
                continue;
            }
            let pattern = Arc::new(pattern);
            added.push(pattern.clone());
            recent.newest_first.push_front(pattern);
            if recent.newest_first.len() > self.limits.patterns
                && let Some(oldest) = recent.newest_first.pop_back()
            {
                recent.keys.remove(&oldest.key());
            }
        }
        added
    }

    /// Keeps `indicator` as its pair's latest; returns it, shared.
    fn add_indicator(&self, inner: &mut Inner, indicator: Arc<Indicator>) -> Arc<Indicator> {
        let key = (indicator.symbol.clone(), indicator.indicator.clone());
        if !inner.indicators.contains_key(&key) && inner.indicators.len() >= self.limits.indicators
        {
            // Rare: more symbol/indicator pairs than any universe has. Evict the stalest.
            let stalest = inner
                .indicators
                .iter()
                .min_by_key(|(_, i)| i.timestamp)
                .map(|(k, _)| k.clone());
            if let Some(stalest) = stalest {
                inner.indicators.remove(&stalest);
            }
        }
        inner.indicators.insert(key, indicator.clone());
        indicator
    }

    /// Keeps `alert` as the newest; returns it, shared.
    fn add_alert(&self, inner: &mut Inner, alert: Alert) -> Arc<Alert> {
        let alert = Arc::new(alert);
        inner.alerts.push_front(alert.clone());
        inner.alerts.truncate(self.limits.alerts);
        alert
    }

    pub fn status(&self, now: DateTime<Utc>) -> StreamStatus {
        let inner = self.inner.read();
        self.status_of(&inner, now)
    }

    fn status_of(&self, inner: &Inner, now: DateTime<Utc>) -> StreamStatus {
        if !self.link.connected() {
            return StreamStatus::Offline;
        }
        let Some(session) = &inner.session else {
            return StreamStatus::Idle;
        };
        // Fresh means: health, or failing that the session event, arrived recently.
        let last_sign_of_life = inner.health.as_ref().map_or(session.received_at, |h| {
            h.received_at.max(session.received_at)
        });
        if now - last_sign_of_life > self.stale_after {
            StreamStatus::Stale
        } else {
            StreamStatus::Online
        }
    }

    pub fn session(&self) -> Option<StreamingSession> {
        let inner = self.inner.read();
        inner
            .session
            .as_ref()
            .map(|s| StreamingSession::clone(&s.value))
    }

    /// The current session's id: cheaper than `session` for a caller that
    /// only follows which session it is.
    pub fn session_id(&self) -> Option<String> {
        let inner = self.inner.read();
        inner.session.as_ref().map(|s| s.value.session_id.clone())
    }

    pub fn last_stopped(&self) -> Option<SessionStopped> {
        let inner = self.inner.read();
        inner.last_stopped.as_deref().cloned()
    }

    pub fn health(&self) -> Option<Health> {
        let inner = self.inner.read();
        inner.health.as_ref().map(|h| Health::clone(&h.value))
    }

    /// Recent patterns, newest first.
    pub fn recent_patterns(&self, limit: usize) -> Vec<Arc<Pattern>> {
        let inner = self.inner.read();
        inner
            .patterns
            .newest_first
            .iter()
            .take(limit)
            .cloned()
            .collect()
    }

    /// The latest value of every symbol's indicators, newest first.
    pub fn latest_indicators(&self) -> Vec<Arc<Indicator>> {
        let inner = self.inner.read();
        let mut latest: Vec<_> = inner.indicators.values().cloned().collect();
        latest.sort_by_key(|i| std::cmp::Reverse(i.timestamp));
        latest
    }

    /// Recent alerts of both kinds, newest first.
    pub fn recent_alerts(&self, limit: usize) -> Vec<Arc<Alert>> {
        let inner = self.inner.read();
        inner.alerts.iter().take(limit).cloned().collect()
    }

    /// What the status shows, taken under one read lock that ends before
    /// anything is serialised.
    pub fn status_view(&self, now: DateTime<Utc>) -> StatusView {
        let inner = self.inner.read();
        StatusView {
            status: self.status_of(&inner, now),
            session: inner.session.as_ref().map(|s| s.value.clone()),
            last_session: inner.last_stopped.clone(),
            health: inner.health.clone(),
        }
    }
}

/// A health event naming a session we do not know means `session_started`
/// was missed (TickStock started after TickStockPL): take the session from it.
/// Returns whether it did.
fn recover_session(inner: &mut Inner, health: &Health, received_at: DateTime<Utc>) -> bool {
    let Some(id) = &health.session_id else {
        return false;
    };
    let known = inner
        .session
        .as_ref()
        .is_some_and(|s| &s.value.session_id == id);
    let stopped = inner
        .last_stopped
        .as_ref()
        .is_some_and(|s| &s.session_id == id);
    if known || stopped || health.status == "stopping" {
        return false;
    }
    info!("REDIS-SUBSCRIBER: Streaming session recovered from health - ID: {id}");
    inner.session = Some(Received {
        value: Arc::new(StreamingSession::from_health(id.clone(), health)),
        received_at,
    });
    true
}

/// Pairs a recovery with the newest unresolved critical alert of its component.
fn resolve(alerts: &mut VecDeque<Arc<Alert>>, component: &str, recovery: &str, at: DateTime<Utc>) {
    for entry in alerts.iter_mut() {
        if let Alert::CriticalAlert(critical) = entry.as_ref() {
            let open = critical.resolved_by.is_none() && !critical.alert.is_recovery();
            if open && critical.alert.component.as_deref() == Some(component) {
                let mut resolved = critical.clone();
                resolved.resolved_by = Some(Resolution {
                    recovery: recovery.to_owned(),
                    timestamp: at,
                });
                *entry = Arc::new(Alert::CriticalAlert(resolved));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events;

    fn live() -> LiveState {
        LiveState::new(
            Arc::new(Link::default()),
            std::time::Duration::from_secs(30),
            Limits::default(),
        )
    }

    /// The second line behind the decoder: a session recovered from a
    /// health event whose uptime is no duration has no start, and no panic.
    #[test]
    fn an_uptime_that_is_no_duration_leaves_the_start_unknown() {
        let message = br#"{"health":{"session_id":"boom","status":"healthy"}}"#;
        let Ok(Event::Health(health)) = events::decode(Channel::Health, message, Utc::now()) else {
            panic!("a plain health event decodes");
        };
        for uptime in [-1e16, 1e16, 1e300, f64::NAN, f64::INFINITY, -0.0] {
            let state = live();
            let health = Health {
                uptime_seconds: Some(uptime),
                ..(*health).clone()
            };
            assert!(state.apply(Event::Health(health.clone().into()), Utc::now()));
            let session = state.session().expect("recovered from health");
            let expected = (uptime == 0.0).then_some(health.timestamp);
            assert_eq!(session.started_at, expected, "{uptime}");
        }
    }
}
