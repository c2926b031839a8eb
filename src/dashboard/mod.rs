//! The dashboard protocol (CONTRACT §6) and the status body: everything the
//! browser receives on `GET /streaming/ws`, and the body of
//! `GET /streaming/api/status`. This comment is the protocol; `messages`
//! holds the names and shapes it describes, `status` the status body, `hub`
//! the task that numbers, batches and fans the messages out.
//!
//! # Framing
//!
//! Every message is one JSON object `{"seq":N,"event":NAME,"data":DATA}`.
//! `seq` counts from 1 and rises by one per message. A WebSocket text frame
//! carries one message, or a JSON array of several sent within the same
//! 10 ms window (at most 500).
//!
//! # Events
//!
//! | `event` | `data` |
//! |---|---|
//! | `snapshot` | `{"status": STATUS, "patterns": [PATTERN] (newest 50), "indicators": [INDICATOR] (latest per symbol and indicator, newest 200), "alerts": [ALERT] (newest 50), "market": {"session_id", "symbols": [SYMBOL with "spark"]}}` (every symbol known, by name); its `seq` is the last one it includes |
//! | `streaming_session` | `{"state":"started","session": SESSION}` or `{"state":"stopped","session": STOPPED}` |
//! | `streaming_health` | `{"health": HEALTH}`, plus `"session": SESSION` when this health event revealed a session whose `session_started` was missed |
//! | `streaming_pattern` | PATTERN: a detection that came alone |
//! | `streaming_patterns_batch` | `{"patterns": [PATTERN], "count": n}`: a batch's detections not seen before |
//! | `streaming_indicator` | INDICATOR |
//! | `indicator_alert` | ALERT with `"kind":"indicator_alert"` |
//! | `critical_alert` | ALERT with `"kind":"critical_alert"` and `"resolved_by": null` |
//! | `streaming_status` | STATUS, every 2 s |
//! | `resync` | `{"missed": n}`: the hub missed n changes; the page takes a fresh snapshot |
//! | `market` | `{"session_id", "symbols": [SYMBOL]}`: the symbols that changed since the last `market` message; at most one every 500 ms, whatever the tick rate |
//!
//! The shapes:
//! - STATUS: the body of `/streaming/api/status` (`status::StatusBody`):
//!   `status` (`online`, `idle`, `stale`, `offline`), `session` (SESSION or
//!   null), `last_session` (STOPPED or null), `health` (HEALTH with its
//!   `age_seconds`, or null), `subscriber_stats` (`connected`, `reconnects`,
//!   `dropped`, and per channel `messages`, `decode_errors`,
//!   `decode_error_reasons` (label to count, those seen), `last_message_at`),
//!   `market_feed` (`crate::feed::FeedStats`), `recorder`
//!   (`crate::recorder::RecorderStats`, with `retention`: `days` kept (0:
//!   everything), rows `deleted` since start-up by table (`patterns`,
//!   `indicators`, `health`, `alerts`, `sessions`), `last_run_at`, and
//!   `last_error` (`crate::store::history::retention`)), `market_ticks`
//!   (the market book's counters, `crate::market::MarketStats`:
//!   `connected`, `dropped`, `received`, `applied`, `refused` per reason,
//!   `over_symbol_limit`, `symbols`), `market` (MARKET now).
//! - SESSION: `crate::state::StreamingSession` (`session_id`, `universe`,
//!   `started_at`, `start_time`, `symbol_count`, `status`, `source`, then the
//!   fields TickStockPL added).
//! - STOPPED: `crate::events::SessionStopped`.
//! - HEALTH: `crate::events::Health`, then `"age_seconds"` (0 in
//!   `streaming_health`: it has just arrived).
//! - PATTERN, INDICATOR: `crate::events::Pattern`, `crate::events::Indicator`.
//! - ALERT: `crate::state::Alert`, tagged by `kind`; a critical alert carries
//!   `resolved_by` (`{"recovery", "timestamp"}` once a recovery of its
//!   component came, in the snapshot).
//! - MARKET: the NYSE calendar (`crate::market::MarketTime`): `phase`
//!   (`pre_market` 04:00-09:30, `open` 09:30-16:00, `after_hours`
//!   16:00-20:00 New York time, else `closed`), `holiday` (the day's holiday,
//!   or the occasion of its early close, or null), `early_close` (the session
//!   ends at 13:00, the late session at 17:00), `next_open` and `next_close`
//!   (the next regular open and close after `at`), `at`, and `calendar_known`
//!   (false beyond the holiday table's years, where only weekends are known).
//! - SYMBOL: a symbol of the market book (`crate::market::SymbolView`),
//!   built by every replica from `tickstock:market:ticks`: `symbol`, `price`
//!   (the last tick's), `first` (the session's first), `change` and
//!   `change_pct` (from `first`), `volume` (an integer), `ticks_per_min`
//!   (ticks received in the last 60 s), `at` (the last tick's time), `candle`
//!   (the current minute's CANDLE or null), and in the snapshot and
//!   `/streaming/api/market/symbols` `spark` (the closes of the last 10-second
//!   intervals that had ticks, oldest first, at most 36). `session_id` names
//!   the streaming session the symbols belong to: a new session starts an
//!   empty book, so symbols of another session are stale. At most 2,000
//!   symbols a session.
//! - CANDLE: `{"t", "o", "h", "l", "c", "v"}`: a minute's start (`t`), its
//!   open, high, low and close prices (a late tick counts in its minute
//!   without moving its close) and its volume (an integer).
//!
//! The HTTP side of the same data (User access): `/streaming/api/market?at=`
//! (MARKET at `at`, ISO 8601 with a zone, default now; malformed: 400),
//! `/streaming/api/market/symbols` (the snapshot's `market.symbols` array),
//! `/streaming/api/market/candles/{symbol}` (`{"symbol", "interval_seconds":
//! 60, "session_id", "candles": [CANDLE]}`, oldest first, at most 1,000; a
//! symbol without ticks: 404; not a ticker: 400).
//!
//! Times are ISO 8601 UTC with milliseconds (`2026-01-02T03:04:05.000Z`).
//!
//! # Connecting and resuming
//!
//! A client connecting without `?last_seq=N` gets a `snapshot`, then every
//! message after the snapshot's `seq`. With `?last_seq=N` it gets the frames
//! after N instead, when the hub still holds them (the last 2,048 frames),
//! else a fresh snapshot. Frames a client already has are not sent twice.
//!
//! # Bounds and close codes
//!
//! Clients read one bounded ring of frames (`PUSH_CLIENT_QUEUE_FRAMES`). The
//! close codes are `crate::web::ws`'s: 4008 (`CLOSE_SLOW_CONSUMER`) for a
//! client a whole ring behind or not reading for 5 s, 4000
//! (`CLOSE_PING_TIMEOUT`) for one that answers no ping, 4401
//! (`CLOSE_LOGGED_OUT`) when its login ends, 1001 when the server shuts down.
//! Admins asking `?inspect=1` also get the channel inspector's unnumbered
//! messages (`crate::conformance::inspector`).

mod hub;
mod messages;
mod status;
#[cfg(test)]
mod tests;

pub use hub::{Frame, Hub, HubStats};
pub use status::{ReasonCounts, status_body};
