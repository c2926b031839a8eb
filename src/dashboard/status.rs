//! The body of `/streaming/api/status`: also the data of `streaming_status`
//! and the snapshot's `status`, so the route and the page always agree.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::messages::HealthView;
use crate::events::fields::serialize_opt_timestamp;
use crate::events::{Channel, Reason, SessionStopped};
use crate::feed::FeedStats;
use crate::market::{MarketStats, MarketTime, market_at};
use crate::recorder::RecorderStats;
use crate::state::{ChannelStats, LiveState, StatusView, StreamStatus, StreamingSession};

/// The status body; `sections` (the feed, the recorder) are added at its top level.
#[derive(Serialize)]
pub(super) struct StatusBody<'a, S: Serialize> {
    status: StreamStatus,
    session: Option<&'a StreamingSession>,
    last_session: Option<&'a SessionStopped>,
    health: Option<HealthView<'a>>,
    subscriber_stats: SubscriberStats<'a>,
    #[serde(flatten)]
    sections: &'a S,
    /// The NYSE calendar at `now`.
    market: MarketTime,
}

impl<'a, S: Serialize> StatusBody<'a, S> {
    /// `view` was taken at `now`; the counters are read as the body is written.
    pub(super) fn new(
        live: &'a LiveState,
        view: &'a StatusView,
        now: DateTime<Utc>,
        sections: &'a S,
    ) -> Self {
        let link = live.link();
        Self {
            status: view.status,
            session: view.session.as_deref(),
            last_session: view.last_session.as_deref(),
            health: view.health.as_ref().map(|h| HealthView {
                health: &h.value,
                age_seconds: (now - h.received_at).num_milliseconds().max(0) as f64 / 1000.0,
            }),
            subscriber_stats: SubscriberStats {
                connected: link.connected(),
                reconnects: link.reconnects(),
                dropped: link.dropped(),
                channels: ChannelsView(live),
            },
            sections,
            market: market_at(now),
        }
    }
}

/// The status body of `live` at `now`, serialised after the state's read
/// lock is released.
pub fn status_body(live: &LiveState, now: DateTime<Utc>, sections: &impl Serialize) -> String {
    let view = live.status_view(now);
    serde_json::to_string(&StatusBody::new(live, &view, now, sections)).unwrap_or_default()
}

/// The parts of the status outside the live state.
#[derive(Serialize)]
pub(super) struct StatusSections<'a> {
    pub market_feed: &'a FeedStats,
    pub recorder: &'a RecorderStats,
    /// What the market book made of the ticks.
    pub market_ticks: &'a MarketStats,
}

#[derive(Serialize)]
struct SubscriberStats<'a> {
    connected: bool,
    reconnects: u64,
    dropped: u64,
    channels: ChannelsView<'a>,
}

/// Each channel's counters, by channel name.
struct ChannelsView<'a>(&'a LiveState);

impl Serialize for ChannelsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        #[derive(Serialize)]
        struct View<'a> {
            messages: u64,
            decode_errors: u64,
            decode_error_reasons: ReasonCounts<'a>,
            #[serde(serialize_with = "serialize_opt_timestamp")]
            last_message_at: Option<DateTime<Utc>>,
        }
        let mut map = s.serialize_map(Some(Channel::ALL.len()))?;
        for channel in Channel::ALL {
            let stats = self.0.channel(channel);
            map.serialize_entry(
                channel.name(),
                &View {
                    messages: stats.messages(),
                    decode_errors: stats.decode_errors(),
                    decode_error_reasons: ReasonCounts(stats),
                    last_message_at: stats.last_message_at(),
                },
            )?;
        }
        map.end()
    }
}

/// A channel's refusals by reason label, those seen only (also in the
/// inspector's `channel_stats`).
pub struct ReasonCounts<'a>(pub &'a ChannelStats);

impl Serialize for ReasonCounts<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for reason in Reason::ALL {
            let count = self.0.decode_errors_for(reason);
            if count > 0 {
                map.serialize_entry(reason.label(), &count)?;
            }
        }
        map.end()
    }
}
