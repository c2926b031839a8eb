//! Producer conformance: how well what TickStockPL publishes meets seed 004.
//!
//! Every message is examined against seed 004's required fields (the one
//! table in `events::required`) and tallied; the tally fills in seed 004's
//! "TickStockPL Streaming Status Report" (`report`), with the 4 tables
//! (`tables`). A running server tallies everything it receives (for
//! `GET /streaming/api/verify`) and feeds the channel inspector
//! (`inspector`); `tickstock verify` listens for a window of its own.

pub mod inspector;
pub mod mark;
pub mod report;
pub mod tables;
pub mod tally;

use std::fmt::Write;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::inspector::Inspector;
use self::tally::Tally;
use crate::bus::{Bus, BusMessage, Subscription};
use crate::events::required::{self, KINDS};
use crate::events::{Channel, DecodeError, Event, Rules};
use crate::state::LiveState;

/// How long `tickstock verify` waits for Redis before giving up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's conformance watch: the tally behind its report and the
/// inspector's live view, fed by the subscriber.
pub struct Conformance {
    pub tally: Tally,
    pub inspector: Arc<Inspector>,
}

impl Conformance {
    /// `rules` are the subscriber's, so the inspector shows what it decided.
    pub fn new(live: Arc<LiveState>, now: DateTime<Utc>, rules: Rules) -> Self {
        Self {
            tally: Tally::new(now),
            inspector: Arc::new(Inspector::new(live, rules)),
        }
    }

    /// Starts the inspector's frames.
    pub fn start(&self, tasks: &crate::supervise::Supervisor, shutdown: &CancellationToken) {
        let (inspector, stop) = (self.inspector.clone(), shutdown.clone());
        tasks.spawn(
            "conformance",
            crate::supervise::Restart::Always,
            shutdown.clone(),
            move || inspector.clone().run(stop.clone()),
        );
    }

    /// Decodes one message as the subscriber does, with its `rules`, and
    /// measures it (report, inspector) from that same decoding.
    pub fn decode(
        &self,
        channel: Channel,
        message: &Bytes,
        received_at: DateTime<Utc>,
        rules: &Rules,
    ) -> Result<Event, DecodeError> {
        let (decoded, findings) = self
            .tally
            .decode_and_count(channel, message, received_at, rules);
        self.inspector
            .record(channel, message, &decoded, findings, received_at);
        decoded
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot subscribe at REDIS_URL within {} s", CONNECT_TIMEOUT.as_secs())]
pub struct NotConnected;

/// Subscribes to the 8 channels; returns once the subscription is live.
pub async fn subscribe(bus: &Bus, stop: CancellationToken) -> Result<Subscription, NotConnected> {
    let subscription = bus.subscribe(&Channel::ALL.map(Channel::name), stop);
    let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
    while !subscription.link.connected() {
        if tokio::time::Instant::now() >= deadline {
            return Err(NotConnected);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(subscription)
}

/// Tallies every message until `until` completes (or the bus goes away).
pub async fn tally_until(
    messages: &mut mpsc::Receiver<BusMessage>,
    tally: &Tally,
    until: impl Future<Output = ()>,
) {
    let mut until = std::pin::pin!(until);
    loop {
        tokio::select! {
            _ = &mut until => return,
            message = messages.recv() => match message {
                Some(message) => count_with_default_rules(tally, &message),
                None => return,
            },
        }
    }
}

/// Judged with the default rules, as a server with the default configuration would.
fn count_with_default_rules(tally: &Tally, message: &BusMessage) {
    if let Some(channel) = Channel::from_name(&message.channel) {
        // The report needs only what the tally counted.
        let _ = tally.decode_and_count(channel, &message.payload, Utc::now(), &Rules::default());
    }
}

/// How the report judges, for `tickstock verify --help` (the required
/// fields are listed from the table itself).
pub fn rules_help() -> String {
    let mut help = String::from(RULES);
    help.push_str("\nRequired fields (seed 004), per event kind:\n");
    for (kind, type_name) in KINDS {
        let fields: Vec<String> = required::required(kind)
            .iter()
            .map(|r| format!("{} ({})", r.field, r.kind.name()))
            .collect();
        let _ = writeln!(help, "  {type_name}: {}", fields.join(", "));
    }
    help
}

const RULES: &str = "\
How the report judges:
  Channels: ✅ messages arrived and every one had every required field, of the
  right kind; ⏳ messages arrived but some lacked a required field, sent one of
  the wrong kind, or could not be decoded by TickStock (each such field is
  named, with a count and the first example); ❌ nothing arrived.
  - The payload is found as TickStock's decoders find it: under its key
    (session, health, detection, calculation, alert) or flat; every pattern of
    a batch is checked. Only seed 004's names count: aliases TickStock also
    decodes (symbol_universe_key, start_time, indicator_type, ...) do not.
  - Absent, null or blank is missing; recovery and action_required may be null
    (seed 004's own recovery example sends null) but must be present.
  - string: a JSON string; UUID: a string holding a UUID; ISO 8601: a string
    holding an ISO 8601 time; float: any JSON number; integer: a JSON number
    without a fraction (60 or 60.0). Numbers sent as strings (\"0.85\") and
    epoch-number timestamps decode in TickStock but are the wrong kind here.
  - A message TickStock cannot decode counts against the field it tripped on
    (a health event without status: `status`), or against `(message)` when it
    is not JSON or not an object. TickStock also refuses values that make no
    sense: a timestamp more than 7 days old or 1 hour ahead, a negative price,
    volume, count or rate, high below low, a confidence outside 0..1 (or 100),
    a control character in an id, a symbol that is not a ticker.
  - Values are not checked against the spec's vocabularies (timeframe 1min,
    severities, alert types); extra fields are fine.
  Tables (DATABASE_URL, read only): ✅ exists with rows in the last hour (a
  session: started or stopped in the hour, or still open); ⏳ exists without;
  ❌ does not exist; ❔ not checked (no DATABASE_URL). TickStock's own recorder
  writes these tables too.
  Health cadence: time between health messages; seed 004 (every 60 s,
  critical beyond 120 s) is judged on the longest, seed 000 (5-10 s) on the
  median.
  Latency: arrival minus the event's own timestamp (the payload's timestamp,
  a batch's batch_timestamp), p50 and p95; producer and TickStock clocks must
  agree.
Exit status: 0 when every channel is ✅ or ⏳, 3 when any is ❌, 1 when the
report could not be made (REDIS_URL unset or unreachable), 2 for bad
arguments.
";
