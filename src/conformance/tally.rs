//! What the status report is made of, gathered message by message: per
//! channel, how many messages arrived, which required fields were missing or
//! of the wrong kind (how often, with the first example), how late events
//! arrived, and how often health came. Bounded whatever the traffic: the
//! fault keys come from a fixed table, the samples are rings.

use std::collections::{BTreeMap, VecDeque};

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use crate::events::required::{self, Findings, Problem};
use crate::events::{Channel, DecodeError, Event, Rules};

/// Latency samples kept per channel (the most recent).
pub const LATENCY_SAMPLES: usize = 2_048;
/// Intervals between health messages kept (the most recent).
const HEALTH_INTERVALS: usize = 512;
/// Characters of a message kept as a fault's example.
const EXAMPLE_CHARS: usize = 240;

/// The most recent `N` values.
#[derive(Debug, Clone)]
struct Recent<T, const N: usize>(VecDeque<T>);

impl<T, const N: usize> Default for Recent<T, N> {
    fn default() -> Self {
        Self(VecDeque::new())
    }
}

impl<T: Clone, const N: usize> Recent<T, N> {
    fn push(&mut self, value: T) {
        if self.0.len() == N {
            self.0.pop_front();
        }
        self.0.push_back(value);
    }

    fn to_vec(&self) -> Vec<T> {
        self.0.iter().cloned().collect()
    }
}

/// A fault's identity for counting: the field and what is wrong with it,
/// without the decoder's wording (which may name positions in the text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum FaultKey {
    Missing(&'static str),
    WrongKind(&'static str, &'static str, &'static str),
    Rejected(&'static str),
}

impl FaultKey {
    fn of(field: &'static str, problem: &Problem) -> Self {
        match problem {
            Problem::Missing => FaultKey::Missing(field),
            Problem::WrongKind { expected, found } => FaultKey::WrongKind(field, expected, found),
            Problem::Rejected { .. } => FaultKey::Rejected(field),
        }
    }
}

#[derive(Debug, Clone)]
struct FaultCount {
    field: &'static str,
    /// As first seen.
    problem: Problem,
    count: u64,
    example: String,
}

#[derive(Debug, Default)]
struct ChannelTally {
    messages: u64,
    faulty: u64,
    undecodable: u64,
    faults: BTreeMap<FaultKey, FaultCount>,
    latencies_ms: Recent<i64, LATENCY_SAMPLES>,
    last_arrival: Option<DateTime<Utc>>,
    intervals_s: Recent<f64, HEALTH_INTERVALS>,
}

/// One channel's tally, copied out for a report.
#[derive(Debug, Clone, Default)]
pub struct ChannelSummary {
    pub messages: u64,
    /// Messages with at least one fault.
    pub faulty: u64,
    /// Messages TickStock could not decode at all.
    pub undecodable: u64,
    pub faults: Vec<FaultSummary>,
    /// Arrival minus the event's own time, in milliseconds, most recent last.
    pub latencies_ms: Vec<i64>,
    /// Seconds between consecutive arrivals (kept for the health channel).
    pub intervals_s: Vec<f64>,
}

#[derive(Debug, Clone)]
pub struct FaultSummary {
    pub field: &'static str,
    pub problem: Problem,
    pub count: u64,
    pub example: String,
}

/// Everything observed on the 8 channels since `since`.
pub struct Tally {
    since: DateTime<Utc>,
    channels: [Mutex<ChannelTally>; 8],
}

impl Tally {
    pub fn new(since: DateTime<Utc>) -> Self {
        Self {
            since,
            channels: Default::default(),
        }
    }

    pub fn since(&self) -> DateTime<Utc> {
        self.since
    }

    /// Decodes one message with `rules` and examines it in the same pass
    /// (`required::examine`), then counts it; returns both, for whoever
    /// else wants them.
    pub fn decode_and_count(
        &self,
        channel: Channel,
        message: &[u8],
        received_at: DateTime<Utc>,
        rules: &Rules,
    ) -> (Result<Event, DecodeError>, Findings) {
        let (decoded, findings) = required::examine(channel, message, received_at, rules);
        let mut tally = self.channels[channel.index()].lock();
        tally.messages += 1;
        tally.undecodable += u64::from(decoded.is_err());
        if !findings.faults.is_empty() {
            tally.faulty += 1;
        }
        for fault in &findings.faults {
            tally
                .faults
                .entry(FaultKey::of(fault.field, &fault.problem))
                .or_insert_with(|| FaultCount {
                    field: fault.field,
                    problem: fault.problem.clone(),
                    count: 0,
                    example: excerpt(message),
                })
                .count += 1;
        }
        if let Some(at) = findings.event_time {
            tally
                .latencies_ms
                .push((received_at - at).num_milliseconds());
        }
        if channel == Channel::Health {
            if let Some(previous) = tally.last_arrival {
                let seconds = (received_at - previous).num_milliseconds() as f64 / 1000.0;
                tally.intervals_s.push(seconds);
            }
            tally.last_arrival = Some(received_at);
        }
        drop(tally);
        (decoded, findings)
    }

    pub fn messages(&self, channel: Channel) -> u64 {
        self.channels[channel.index()].lock().messages
    }

    pub fn summary(&self, channel: Channel) -> ChannelSummary {
        let tally = self.channels[channel.index()].lock();
        ChannelSummary {
            messages: tally.messages,
            faulty: tally.faulty,
            undecodable: tally.undecodable,
            faults: tally
                .faults
                .values()
                .map(|f| FaultSummary {
                    field: f.field,
                    problem: f.problem.clone(),
                    count: f.count,
                    example: f.example.clone(),
                })
                .collect(),
            latencies_ms: tally.latencies_ms.to_vec(),
            intervals_s: tally.intervals_s.to_vec(),
        }
    }
}

/// The start of a message on one line, for a report.
fn excerpt(message: &[u8]) -> String {
    // Enough bytes for the characters kept, even with whitespace collapsed.
    let head = &message[..message.len().min(EXAMPLE_CHARS * 4)];
    let text = String::from_utf8_lossy(head);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if head.len() == message.len() && line.chars().count() <= EXAMPLE_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(EXAMPLE_CHARS).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_message(tally: &Tally, channel: Channel, message: &str, at: DateTime<Utc>) {
        let _ = tally.decode_and_count(channel, message.as_bytes(), at, &Rules::ANY_TIME);
    }

    #[test]
    fn faults_are_counted_per_field_with_the_first_example() {
        let now = Utc::now();
        let tally = Tally::new(now);
        let health = |n: u32| format!(r#"{{"health": {{"active_symbols": {n}}}}}"#);
        for n in 0..3 {
            count_message(&tally, Channel::Health, &health(n), now);
        }
        let summary = tally.summary(Channel::Health);
        assert_eq!(
            (summary.messages, summary.faulty, summary.undecodable),
            (3, 3, 3)
        );
        let status = summary.faults.iter().find(|f| f.field == "status").unwrap();
        assert_eq!((status.count, &status.problem), (3, &Problem::Missing));
        assert_eq!(status.example, health(0));
        assert_eq!(tally.messages(Channel::SessionStarted), 0);
    }

    #[test]
    fn latency_is_arrival_minus_the_events_own_time_and_health_intervals_are_kept() {
        let sent = Utc::now();
        let tally = Tally::new(sent);
        let message = format!(
            r#"{{"health": {{"status": "healthy", "timestamp": "{}"}}}}"#,
            sent.to_rfc3339()
        );
        count_message(
            &tally,
            Channel::Health,
            &message,
            sent + chrono::Duration::milliseconds(40),
        );
        count_message(
            &tally,
            Channel::Health,
            &message,
            sent + chrono::Duration::milliseconds(10_040),
        );
        let summary = tally.summary(Channel::Health);
        assert_eq!(summary.latencies_ms, [40, 10_040]);
        assert_eq!(summary.intervals_s, [10.0]);
    }

    #[test]
    fn examples_are_one_line_and_bounded() {
        let long = format!("{{\n  \"a\": \"{}\"\n}}", "x".repeat(1000));
        let example = excerpt(long.as_bytes());
        assert!(example.starts_with(r#"{ "a": "xxx"#), "{example}");
        assert_eq!(example.chars().count(), EXAMPLE_CHARS + 1);
        assert!(example.ends_with('…'));
    }
}
