//! The channel inspector's live view: the last messages of each channel as
//! received (raw text) beside what TickStock decoded from each, or the decode
//! error and the field it tripped on, with the fields seed 004 requires but
//! the message lacks (or sends as the wrong kind) and the fields TickStock
//! did not recognise.
//!
//! Only inspector clients (`/streaming/ws?inspect=1`, admins) receive it, so
//! dashboards are never flooded. Every [`TICK`] one frame carries the
//! messages received since the previous frame (at most [`RECENT`] per
//! channel: the page shows no more) and the channel counters; nothing is
//! built while no inspector is connected. Raw and decoded texts are cut at
//! [`TEXT_BYTES`], so the rings stay small whatever producers send.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::events::fields::{serialize_opt_timestamp, serialize_timestamp};
use crate::events::required::Findings;
use crate::events::{Channel, DecodeError, Event};
use crate::state::LiveState;

/// Messages kept (and shown) per channel.
pub const RECENT: usize = 20;
/// Raw and decoded texts are cut beyond this many bytes.
pub const TEXT_BYTES: usize = 8 * 1024;
/// How often inspector clients get a frame.
pub const TICK: Duration = Duration::from_millis(500);
/// Rates are averaged over this long.
const RATE_WINDOW: Duration = Duration::from_secs(10);
/// Frames a slow inspector may fall behind before it is disconnected.
const FRAMES_BEHIND: usize = 8;

/// One received message, serialised once for every inspector.
struct Inspected {
    id: u64,
    json: String,
}

#[derive(Serialize)]
struct Entry<'a> {
    id: u64,
    channel: &'static str,
    #[serde(serialize_with = "serialize_timestamp")]
    received_at: DateTime<Utc>,
    raw: Text,
    decoded: Option<Text>,
    error: Option<ErrorView>,
    /// Fields seed 004 requires that are missing or of the wrong kind.
    faults: Vec<FaultView>,
    /// Fields TickStock kept without understanding them.
    unrecognised: &'a [String],
}

/// A text as sent to the page: possibly cut, with its full length.
#[derive(Serialize)]
struct Text {
    text: String,
    bytes: usize,
    truncated: bool,
}

impl Text {
    fn new(full: &str) -> Self {
        let mut cut = full.len().min(TEXT_BYTES);
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        Self {
            text: full[..cut].to_owned(),
            bytes: full.len(),
            truncated: cut < full.len(),
        }
    }
}

#[derive(Serialize)]
struct ErrorView {
    message: String,
    field: Option<&'static str>,
}

#[derive(Serialize)]
struct FaultView {
    field: &'static str,
    problem: String,
}

#[derive(Serialize)]
struct ChannelCounters {
    channel: &'static str,
    messages: u64,
    decode_errors: u64,
    rate_per_second: f64,
    #[serde(serialize_with = "serialize_opt_timestamp")]
    last_message_at: Option<DateTime<Utc>>,
    age_seconds: Option<f64>,
}

/// Message counts sampled every tick, for rates.
#[derive(Default)]
struct Rates {
    samples: VecDeque<(Instant, [u64; 8])>,
}

impl Rates {
    fn sample(&mut self, at: Instant, counts: [u64; 8]) {
        self.samples.push_back((at, counts));
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|(first, _)| at - *first > RATE_WINDOW)
        {
            self.samples.pop_front();
        }
    }

    fn per_second(&self, channel: Channel) -> f64 {
        match (self.samples.front(), self.samples.back()) {
            (Some((first, before)), Some((last, now))) if last > first => {
                let i = channel.index();
                now[i].saturating_sub(before[i]) as f64 / (*last - *first).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

pub struct Inspector {
    live: Arc<LiveState>,
    recent: [Mutex<VecDeque<Arc<Inspected>>>; 8],
    next_id: AtomicU64,
    frames: broadcast::Sender<Utf8Bytes>,
    rates: Mutex<Rates>,
}

impl Inspector {
    /// Counters come from the live state's channel statistics, the same the
    /// status route shows.
    pub fn new(live: Arc<LiveState>) -> Self {
        Self {
            live,
            recent: Default::default(),
            next_id: AtomicU64::new(1),
            frames: broadcast::channel(FRAMES_BEHIND).0,
            rates: Mutex::default(),
        }
    }

    /// Keeps one message, as received and as decoded.
    pub fn record(
        &self,
        channel: Channel,
        message: &[u8],
        decoded: &Result<Event, DecodeError>,
        findings: &Findings,
        received_at: DateTime<Utc>,
    ) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (decoded, error) = match decoded {
            Ok(event) => (Some(Text::new(&decoded_json(event))), None),
            Err(error) => (
                None,
                Some(ErrorView {
                    message: error.to_string(),
                    field: error.field(),
                }),
            ),
        };
        let entry = Entry {
            id,
            channel: channel.name(),
            received_at,
            raw: Text::new(&String::from_utf8_lossy(message)),
            decoded,
            error,
            faults: findings
                .faults
                .iter()
                .map(|f| FaultView {
                    field: f.field,
                    problem: f.problem.to_string(),
                })
                .collect(),
            unrecognised: &findings.unrecognised,
        };
        let json = serde_json::to_string(&entry).unwrap_or_else(|_| "null".into());
        let mut recent = self.recent[channel.index()].lock();
        if recent.len() == RECENT {
            recent.pop_back();
        }
        recent.push_front(Arc::new(Inspected { id, json }));
    }

    /// Frames for one inspector, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.frames.subscribe()
    }

    /// What a new inspector starts from: every channel's counters and its
    /// last messages, newest first.
    pub fn snapshot(&self) -> Utf8Bytes {
        let counters = self.counters(Utc::now());
        let mut text = format!(
            r#"{{"event":"inspector_snapshot","data":{{"recent_per_channel":{RECENT},"channels":["#
        );
        for (i, channel) in Channel::ALL.into_iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            let recent = self.recent[channel.index()].lock().clone();
            let entries: Vec<&str> = recent.iter().map(|e| e.json.as_str()).collect();
            text.push_str(&format!(
                r#"{{"counters":{},"recent":[{}]}}"#,
                to_json(&counters[i]),
                entries.join(",")
            ));
        }
        text.push_str("]}}");
        text.into()
    }

    fn counters(&self, now: DateTime<Utc>) -> Vec<ChannelCounters> {
        let rates = self.rates.lock();
        Channel::ALL
            .into_iter()
            .map(|channel| {
                let stats = self.live.channel(channel);
                let last = stats.last_message_at();
                ChannelCounters {
                    channel: channel.name(),
                    messages: stats.messages(),
                    decode_errors: stats.decode_errors(),
                    rate_per_second: rates.per_second(channel),
                    last_message_at: last,
                    age_seconds: last
                        .map(|at| (now - at).num_milliseconds().max(0) as f64 / 1000.0),
                }
            })
            .collect()
    }

    /// The kept messages received after `id`, oldest first.
    fn received_after(&self, id: u64) -> Vec<Arc<Inspected>> {
        let mut fresh: Vec<Arc<Inspected>> = self
            .recent
            .iter()
            .flat_map(|recent| {
                recent
                    .lock()
                    .iter()
                    .take_while(|e| e.id > id)
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect();
        fresh.sort_by_key(|e| e.id);
        fresh
    }

    fn frame(&self, fresh: &[Arc<Inspected>]) -> String {
        let mut text = String::from("[");
        for entry in fresh {
            text.push_str(r#"{"event":"channel_message","data":"#);
            text.push_str(&entry.json);
            text.push_str("},");
        }
        text.push_str(&format!(
            r#"{{"event":"channel_stats","data":{{"channels":{}}}}}]"#,
            to_json(&self.counters(Utc::now()))
        ));
        text
    }

    /// Samples the rates and sends inspectors what is new, every tick.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let mut clock = tokio::time::interval(TICK);
        let mut sent_upto = 0;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = clock.tick() => {}
            }
            let counts = Channel::ALL.map(|c| self.live.channel(c).messages());
            self.rates.lock().sample(Instant::now(), counts);
            let newest = self.next_id.load(Ordering::Relaxed) - 1;
            if self.frames.receiver_count() == 0 {
                // New inspectors start from a snapshot: nothing to catch up on.
                sent_upto = newest;
                continue;
            }
            let fresh = self.received_after(sent_upto);
            sent_upto = fresh.last().map_or(sent_upto, |e| e.id.max(sent_upto));
            let _ = self.frames.send(self.frame(&fresh).into());
        }
    }
}

/// What TickStock made of a message, as the page shows it.
fn decoded_json(event: &Event) -> String {
    let json = match event {
        Event::SessionStarted(e) => serde_json::to_string_pretty(e),
        Event::SessionStopped(e) => serde_json::to_string_pretty(e),
        Event::Health(e) => serde_json::to_string_pretty(e),
        Event::Patterns(e) => serde_json::to_string_pretty(e),
        Event::Indicator(e) => serde_json::to_string_pretty(e),
        Event::IndicatorAlert(e) => serde_json::to_string_pretty(e),
        Event::CriticalAlert(e) => serde_json::to_string_pretty(e),
    };
    json.unwrap_or_default()
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::Link;
    use crate::events::{self, required};
    use crate::state::Limits;
    use serde_json::Value;

    fn inspector() -> Inspector {
        Inspector::new(Arc::new(LiveState::new(
            Arc::new(Link::default()),
            Duration::from_secs(30),
            Limits::default(),
        )))
    }

    fn record(inspector: &Inspector, channel: Channel, message: &[u8]) {
        let now = Utc::now();
        let decoded = events::decode(channel, message, now);
        let findings = required::examine(channel, message, &decoded);
        inspector.record(channel, message, &decoded, &findings, now);
    }

    fn snapshot(inspector: &Inspector) -> Value {
        serde_json::from_str(inspector.snapshot().as_str()).unwrap()
    }

    #[test]
    fn each_channel_keeps_its_last_messages_newest_first() {
        let inspector = inspector();
        for n in 0..(RECENT + 5) {
            let message = format!(r#"{{"health": {{"status": "healthy", "n": {n}}}}}"#);
            record(&inspector, Channel::Health, message.as_bytes());
        }
        let snapshot = snapshot(&inspector);
        let health = &snapshot["data"]["channels"][Channel::Health.index()];
        let recent = health["recent"].as_array().unwrap();
        assert_eq!(recent.len(), RECENT);
        assert!(
            recent[0]["raw"]["text"]
                .as_str()
                .unwrap()
                .contains("\"n\": 24")
        );
        assert_eq!(recent[0]["unrecognised"], serde_json::json!(["n"]));
        assert!(
            snapshot["data"]["channels"][0]["recent"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        assert_eq!(inspector.received_after(RECENT as u64 + 3).len(), 2);
    }

    #[test]
    fn an_undecodable_message_shows_its_error_field_and_faults() {
        let inspector = inspector();
        record(
            &inspector,
            Channel::Health,
            br#"{"health": {"active_symbols": 3}}"#,
        );
        let snapshot = snapshot(&inspector);
        let entry = &snapshot["data"]["channels"][Channel::Health.index()]["recent"][0];
        assert_eq!(entry["decoded"], Value::Null);
        assert_eq!(entry["error"]["field"], "status");
        assert_eq!(
            entry["error"]["message"],
            "required field `status` is missing"
        );
        let faulty: Vec<&str> = entry["faults"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert!(
            faulty.contains(&"status") && faulty.contains(&"timestamp"),
            "{faulty:?}"
        );
    }

    #[test]
    fn big_texts_are_cut_at_a_character_boundary() {
        let text = Text::new(&"é".repeat(TEXT_BYTES));
        assert!(text.truncated);
        assert_eq!(text.bytes, 2 * TEXT_BYTES);
        assert_eq!(text.text.len(), TEXT_BYTES);
        assert!(!Text::new("{}").truncated);
    }
}
