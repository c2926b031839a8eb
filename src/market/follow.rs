//! The task that feeds the market book: it reads `tickstock:market:ticks`
//! on a subscription of its own, in batches of what is waiting, and follows
//! the streaming session from the live state's announcements (never
//! polling its lock), so that a new session starts a new book.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::MarketBook;
use crate::bus::{Bus, BusMessage};
use crate::events::MARKET_TICKS;
use crate::state::{Change, LiveState};
use crate::supervise::{Restart, Supervisor};

/// Ticks applied under one lock of the book.
const BATCH: usize = 1_024;

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
                let mut changes = live.subscribe();
                // A session restored at start-up was not announced.
                let mut session = session_id(&live);
                let mut batch: Vec<BusMessage> = Vec::with_capacity(BATCH);
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        received = messages.recv_many(&mut batch, BATCH) => {
                            if received == 0 {
                                return;
                            }
                        }
                        change = changes.recv() => match change {
                            Ok(Change::SessionStarted(started)) => {
                                session = Some(started.session_id.clone());
                            }
                            Ok(Change::Health { revealed_session: Some(revealed), .. }) => {
                                session = Some(revealed.session_id.clone());
                            }
                            Ok(_) => continue,
                            Err(RecvError::Lagged(_)) => session = session_id(&live),
                            Err(RecvError::Closed) => return,
                        },
                    }
                    book.apply(
                        batch.iter().map(|message| message.payload.as_ref()),
                        chrono::Utc::now(),
                        session.as_deref(),
                    );
                    batch.clear();
                }
            }
        },
    );
}

fn session_id(live: &LiveState) -> Option<String> {
    live.status_view(chrono::Utc::now())
        .session
        .map(|session| session.session_id.clone())
}
