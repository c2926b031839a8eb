//! The task that feeds the market book: it reads `tickstock:market:ticks`
//! on a subscription of its own, in batches of what is waiting, and follows
//! the streaming session so that a new session starts a new book.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::MarketBook;
use crate::bus::{Bus, BusMessage};
use crate::events::MARKET_TICKS;
use crate::state::LiveState;
use crate::supervise::{Restart, Supervisor};

/// Ticks applied under one lock of the book.
const BATCH: usize = 1_024;
/// A session that started while no tick came is noticed this soon.
const SESSION_CHECK: Duration = Duration::from_secs(1);

/// Feeds `book` from the bus until `shutdown`, supervised.
pub fn start(
    book: Arc<MarketBook>,
    bus: &Bus,
    live: Arc<LiveState>,
    tasks: &Supervisor,
    shutdown: &CancellationToken,
) {
    let subscription = bus.subscribe(&[MARKET_TICKS], shutdown.clone());
    book.follow_link(subscription.link);
    // Kept across restarts: the ticks queued meanwhile are not lost.
    let messages = Arc::new(tokio::sync::Mutex::new(subscription.messages));
    let stop = shutdown.clone();
    tasks.spawn("market_book", Restart::Always, shutdown.clone(), move || {
        let (book, live, messages, stop) =
            (book.clone(), live.clone(), messages.clone(), stop.clone());
        async move {
            let mut messages = messages.lock().await;
            let mut batch: Vec<BusMessage> = Vec::with_capacity(BATCH);
            let mut session_check = tokio::time::interval(SESSION_CHECK);
            session_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    received = messages.recv_many(&mut batch, BATCH) => {
                        if received == 0 {
                            return;
                        }
                    }
                    _ = session_check.tick() => {}
                }
                let now = chrono::Utc::now();
                let session = live.status_view(now).session;
                book.apply(
                    batch.iter().map(|message| message.payload.as_ref()),
                    now,
                    session.as_ref().map(|s| s.session_id.as_str()),
                );
                batch.clear();
            }
        }
    });
}
