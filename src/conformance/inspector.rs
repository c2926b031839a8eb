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
//! built while no inspector is connected.
//!
//! Keeping a message costs next to nothing on the subscriber's path: it is
//! held as received (a shared buffer) and rendered, decoded again, only when
//! an inspector is shown it. Messages over [`KEEP_WHOLE_BYTES`] are rendered
//! at once instead, and texts sent to the page are cut at [`TEXT_BYTES`], so
//! memory stays bounded whatever producers send.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::dashboard::ReasonCounts;
use crate::events::fields::{serialize_opt_timestamp, serialize_timestamp};
use crate::events::required::Findings;
use crate::events::{self, Channel, DecodeError, Event, Rules};
use crate::state::LiveState;

/// Messages kept (and shown) per channel.
pub const RECENT: usize = 20;
/// Raw and decoded texts are cut beyond this many bytes.
pub const TEXT_BYTES: usize = 8 * 1024;
/// Messages up to this size are kept whole, to be rendered when shown (a
/// batch of 50 patterns is a few tens of kilobytes).
pub const KEEP_WHOLE_BYTES: usize = 64 * 1024;
/// How often inspector clients get a frame.
pub const TICK: Duration = Duration::from_millis(500);
/// Rates are averaged over this long.
const RATE_WINDOW: Duration = Duration::from_secs(10);
/// Frames a slow inspector may fall behind before it is disconnected.
const FRAMES_BEHIND: usize = 4;

/// One received message with what seed 004's check found.
struct Inspected {
    id: u64,
    channel: Channel,
    received_at: DateTime<Utc>,
    findings: Findings,
    message: Kept,
}

enum Kept {
    /// The message as received: a shared buffer, not a copy.
    Whole(Bytes),
    /// A message too big to keep, rendered (and cut) on arrival.
    Rendered(Rendering),
}

/// A message as the page shows it: raw, and decoded or the decode error.
struct Rendering {
    raw: Text,
    decoded: Option<Text>,
    error: Option<ErrorView>,
}

impl Rendering {
    fn of(message: &[u8], decoded: &Result<Event, DecodeError>) -> Self {
        let (decoded, error) = match decoded {
            Ok(event) => (Some(Text::new(&decoded_json(event))), None),
            Err(error) => (
                None,
                Some(ErrorView {
                    message: error.to_string(),
                    field: error.field(),
                    reason: error.reason().label(),
                }),
            ),
        };
        Self {
            raw: Text::new(&String::from_utf8_lossy(message)),
            decoded,
            error,
        }
    }
}

impl Inspected {
    /// The page's entry; a message kept whole is decoded again (the
    /// decoders depend on nothing but the message, its arrival time and the
    /// rules).
    fn to_json(&self, rules: &Rules) -> String {
        let decoded_now;
        let rendering = match &self.message {
            Kept::Rendered(rendering) => rendering,
            Kept::Whole(message) => {
                let decoded = events::decode_with(self.channel, message, self.received_at, rules);
                decoded_now = Rendering::of(message, &decoded);
                &decoded_now
            }
        };
        let entry = Entry {
            id: self.id,
            channel: self.channel.name(),
            received_at: self.received_at,
            raw: &rendering.raw,
            decoded: rendering.decoded.as_ref(),
            error: rendering.error.as_ref(),
            faults: self
                .findings
                .faults
                .iter()
                .map(|f| FaultView {
                    field: f.field,
                    problem: f.problem.to_string(),
                })
                .collect(),
            unrecognised: &self.findings.unrecognised,
        };
        to_json(&entry)
    }
}

#[derive(Serialize)]
struct Entry<'a> {
    id: u64,
    channel: &'static str,
    #[serde(serialize_with = "serialize_timestamp")]
    received_at: DateTime<Utc>,
    raw: &'a Text,
    decoded: Option<&'a Text>,
    error: Option<&'a ErrorView>,
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
    /// The refusal's reason label, as counted.
    reason: &'static str,
}

#[derive(Serialize)]
struct FaultView {
    field: &'static str,
    problem: String,
}

#[derive(Serialize)]
struct ChannelCounters<'a> {
    channel: &'static str,
    messages: u64,
    decode_errors: u64,
    decode_error_reasons: ReasonCounts<'a>,
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
    /// The subscriber's, for decoding kept messages again.
    rules: Rules,
    recent: [Mutex<VecDeque<Arc<Inspected>>>; 8],
    next_id: AtomicU64,
    frames: broadcast::Sender<Utf8Bytes>,
    rates: Mutex<Rates>,
}

impl Inspector {
    /// Counters come from the live state's channel statistics, the same the
    /// status route shows.
    pub fn new(live: Arc<LiveState>, rules: Rules) -> Self {
        Self {
            live,
            rules,
            recent: Default::default(),
            next_id: AtomicU64::new(1),
            frames: broadcast::channel(FRAMES_BEHIND).0,
            rates: Mutex::default(),
        }
    }

    /// Keeps one message with its findings; `decoded` is what the
    /// subscriber made of it.
    pub fn record(
        &self,
        channel: Channel,
        message: &Bytes,
        decoded: &Result<Event, DecodeError>,
        findings: Findings,
        received_at: DateTime<Utc>,
    ) {
        let message = if message.len() <= KEEP_WHOLE_BYTES {
            Kept::Whole(message.clone())
        } else {
            Kept::Rendered(Rendering::of(message, decoded))
        };
        let inspected = Arc::new(Inspected {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            channel,
            received_at,
            findings,
            message,
        });
        let mut recent = self.recent[channel.index()].lock();
        if recent.len() == RECENT {
            recent.pop_back();
        }
        recent.push_front(inspected);
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
            let entries: Vec<String> = recent.iter().map(|e| e.to_json(&self.rules)).collect();
            text.push_str(&format!(
                r#"{{"counters":{},"recent":[{}]}}"#,
                to_json(&counters[i]),
                entries.join(",")
            ));
        }
        text.push_str("]}}");
        text.into()
    }

    fn counters(&self, now: DateTime<Utc>) -> Vec<ChannelCounters<'_>> {
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
                    decode_error_reasons: ReasonCounts(stats),
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
            text.push_str(&entry.to_json(&self.rules));
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
    use crate::events::{Reason, required};
    use crate::state::Limits;
    use serde_json::Value;

    fn inspector() -> Inspector {
        Inspector::new(
            Arc::new(LiveState::new(
                Arc::new(Link::default()),
                Duration::from_secs(30),
                Limits::default(),
            )),
            Rules::default(),
        )
    }

    fn record(inspector: &Inspector, channel: Channel, message: &[u8]) {
        let now = Utc::now();
        let message = Bytes::copy_from_slice(message);
        let (decoded, findings) = required::examine(channel, &message, now, &Rules::ANY_TIME);
        inspector.record(channel, &message, &decoded, findings, now);
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
    fn a_refused_message_shows_its_reason_and_the_counters_count_it() {
        let inspector = inspector();
        let message = br#"{"health": {"status": "healthy", "uptime_seconds": -1e16}}"#;
        record(&inspector, Channel::Health, message);
        inspector
            .live
            .channel(Channel::Health)
            .record_decode_error(Reason::Negative);
        let snapshot = snapshot(&inspector);
        let health = &snapshot["data"]["channels"][Channel::Health.index()];
        let error = &health["recent"][0]["error"];
        assert_eq!(error["field"], "uptime_seconds");
        assert_eq!(error["reason"], "negative");
        assert_eq!(error["message"], "field `uptime_seconds` is negative");
        assert_eq!(
            health["counters"]["decode_error_reasons"],
            serde_json::json!({"negative": 1})
        );
    }

    #[test]
    fn a_message_too_big_to_keep_is_rendered_at_once_and_cut() {
        let inspector = inspector();
        let note = "x".repeat(KEEP_WHOLE_BYTES);
        let message = format!(r#"{{"health": {{"status": "healthy", "note": "{note}"}}}}"#);
        record(&inspector, Channel::Health, message.as_bytes());
        let recent = &inspector.recent[Channel::Health.index()].lock();
        assert!(matches!(recent[0].message, Kept::Rendered(_)));
        let entry: Value = serde_json::from_str(&recent[0].to_json(&Rules::default())).unwrap();
        assert_eq!(entry["raw"]["bytes"], message.len());
        assert_eq!(entry["raw"]["truncated"], true);
        assert_eq!(entry["raw"]["text"].as_str().unwrap().len(), TEXT_BYTES);
        assert_eq!(entry["decoded"]["truncated"], true);
        assert_eq!(entry["unrecognised"], serde_json::json!(["note"]));
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
