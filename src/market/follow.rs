//! The task that feeds the market book: it reads `tickstock:market:ticks`
//! on a subscription of its own, in batches of what is waiting, and asks
//! the live state once per batch (and once a second) which session it is,
//! so that a new session starts a new book. It does not listen to the live state's announcements:
//! every listener is one more task the subscriber wakes per event.

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
/// How soon a new session empties the book when no tick comes.
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
    tasks.spawn(
        "market_book",
        Restart::Always,
        shutdown.clone(),
        move || {
            let (book, live, messages, stop) =
                (book.clone(), live.clone(), messages.clone(), stop.clone());
            async move {
                let mut messages = messages.lock().await;
                let mut batch: Vec<BusMessage> = Vec::with_capacity(BATCH);
                let mut session_check = tokio::time::interval(SESSION_CHECK);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        received = messages.recv_many(&mut batch, BATCH) => {
                            if received == 0 {
                                return;
                            }
                        }
                        // No ticks (the market is closed): a new session still
                        // empties the book.
                        _ = session_check.tick() => {}
                    }
                    book.apply(
                        batch.iter().map(|message| message.payload.as_ref()),
                        chrono::Utc::now(),
                        live.session_id().as_deref(),
                    );
                    batch.clear();
                }
            }
        },
    );
}
