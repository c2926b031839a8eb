//! The push's messages: every event name, the shape of its data, and the
//! framing (see the module above for the protocol they make).

use std::borrow::Cow;
use std::fmt::Write;
use std::sync::Arc;

use serde::Serialize;

use crate::events::{Health, Indicator, Pattern, SessionStopped};
use crate::market::MarketView;
use crate::state::{Alert, Change, StreamingSession};

/// A message before it gets its `seq`.
pub(super) enum Message {
    Change(Change),
    /// `streaming_status`: the status body, serialised.
    Status(String),
    /// `market`: the symbols changed since the last one, serialised.
    Market(String),
    /// The hub missed `missed` changes.
    Resync {
        missed: u64,
    },
}

impl Message {
    /// The message's `event`.
    pub(super) fn event(&self) -> &'static str {
        match self {
            Message::Change(change) => match change {
                Change::SessionStarted(_) | Change::SessionStopped(_) => "streaming_session",
                Change::Health { .. } => "streaming_health",
                Change::Pattern(_) => "streaming_pattern",
                Change::Patterns(_) => "streaming_patterns_batch",
                Change::Indicator(_) => "streaming_indicator",
                Change::Alert(alert) => match alert.as_ref() {
                    Alert::IndicatorAlert(_) => "indicator_alert",
                    Alert::CriticalAlert(_) => "critical_alert",
                },
            },
            Message::Status(_) => "streaming_status",
            Message::Market(_) => "market",
            Message::Resync { .. } => "resync",
        }
    }

    /// The message's `data`, serialised.
    fn data(&self) -> serde_json::Result<Cow<'_, str>> {
        let change = match self {
            Message::Change(change) => change,
            Message::Status(body) | Message::Market(body) => return Ok(Cow::Borrowed(body)),
            &Message::Resync { missed } => return json(&Resync { missed }),
        };
        match change {
            Change::SessionStarted(session) => json(&SessionChange::Started(session)),
            Change::SessionStopped(stopped) => json(&SessionChange::Stopped(stopped)),
            Change::Health {
                health,
                revealed_session,
            } => json(&HealthChange {
                health: HealthView {
                    health,
                    age_seconds: 0.0,
                },
                session: revealed_session.as_deref(),
            }),
            Change::Pattern(pattern) => json(pattern),
            Change::Patterns(patterns) => json(&PatternsChange {
                patterns,
                count: patterns.len(),
            }),
            Change::Indicator(indicator) => json(indicator),
            Change::Alert(alert) => json(alert),
        }
    }
}

fn json(value: &impl Serialize) -> serde_json::Result<Cow<'static, str>> {
    serde_json::to_string(value).map(Cow::Owned)
}

/// `data` of `streaming_session`.
#[derive(Serialize)]
#[serde(tag = "state", content = "session", rename_all = "snake_case")]
enum SessionChange<'a> {
    Started(&'a StreamingSession),
    Stopped(&'a SessionStopped),
}

/// `data` of `streaming_health`.
#[derive(Serialize)]
struct HealthChange<'a> {
    health: HealthView<'a>,
    /// The session this health event revealed, when `session_started` was missed.
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a StreamingSession>,
}

/// A health event and how long ago it arrived: in `streaming_health` and the status.
#[derive(Serialize)]
pub(super) struct HealthView<'a> {
    #[serde(flatten)]
    pub health: &'a Health,
    pub age_seconds: f64,
}

/// `data` of `streaming_patterns_batch`.
#[derive(Serialize)]
struct PatternsChange<'a> {
    patterns: &'a [Arc<Pattern>],
    count: usize,
}

/// `data` of `resync`.
#[derive(Serialize)]
struct Resync {
    missed: u64,
}

/// `data` of `snapshot`: everything a new page needs.
#[derive(Serialize)]
pub(super) struct Snapshot<'a, S: Serialize> {
    /// The status body.
    pub status: S,
    pub patterns: &'a [Arc<Pattern>],
    pub indicators: &'a [Arc<Indicator>],
    pub alerts: &'a [Arc<Alert>],
    /// Every symbol of the session, with its sparkline.
    pub market: &'a MarketView,
}

/// `data` of `market`: the symbols changed since the last `market` message.
pub(super) fn market(changes: &MarketView) -> Message {
    Message::Market(serde_json::to_string(changes).unwrap_or_default())
}

/// The `snapshot` message, numbered with the last `seq` it includes.
pub(super) fn snapshot<S: Serialize>(seq: u64, snapshot: &Snapshot<'_, S>) -> String {
    let mut out = String::new();
    write_message(
        &mut out,
        seq,
        "snapshot",
        serde_json::to_string(snapshot).ok().as_deref(),
    );
    out
}

/// The frame of `messages` numbered from `first_seq`: one message alone,
/// several as a JSON array.
pub(super) fn frame(first_seq: u64, messages: &[Message]) -> String {
    // A guess at a typical message; a larger frame grows as it must.
    let mut out = String::with_capacity(messages.len() * 512);
    let several = messages.len() > 1;
    if several {
        out.push('[');
    }
    for (seq, message) in (first_seq..).zip(messages) {
        if seq > first_seq {
            out.push(',');
        }
        write_message(
            &mut out,
            seq,
            message.event(),
            message.data().ok().as_deref(),
        );
    }
    if several {
        out.push(']');
    }
    out
}

/// Appends `{"seq":N,"event":NAME,"data":DATA}`; data that did not
/// serialise (`None`) is sent as `null`.
fn write_message(out: &mut String, seq: u64, event: &str, data: Option<&str>) {
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        r#"{{"seq":{seq},"event":"{event}","data":{}}}"#,
        data.unwrap_or("null")
    );
}
