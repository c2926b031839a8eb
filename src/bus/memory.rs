//! The in-process bus of the embedded default: a broadcast channel that every
//! subscription filters by channel name.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::{BusMessage, Link};

const CAPACITY: usize = 65_536;

#[derive(Clone)]
pub struct MemoryBus {
    tx: broadcast::Sender<BusMessage>,
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryBus {
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
        }
    }

    pub fn publish(&self, channel: &str, payload: Bytes) {
        // No subscriber is not an error: pub/sub drops such messages too.
        let _ = self.tx.send(BusMessage {
            channel: channel.into(),
            payload,
        });
    }

    pub(super) fn subscribe(
        &self,
        channels: Vec<&'static str>,
        out: mpsc::Sender<BusMessage>,
        link: Arc<Link>,
        shutdown: CancellationToken,
    ) {
        let mut rx = self.tx.subscribe();
        link.set_connected(true);
        tokio::spawn(async move {
            loop {
                let received = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    received = rx.recv() => received,
                };
                match received {
                    Ok(message) if channels.contains(&&*message.channel) => {
                        if out.send(message).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!("BUS: in-process subscriber fell behind, {n} messages lost");
                        link.count_dropped(n);
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
            link.set_connected(false);
        });
    }
}
