//! The message bus: Redis pub/sub in production, an in-process bus in the
//! embedded default. One interface, so the rest of TickStock never knows which.

mod memory;
mod redis;
pub mod settings;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use self::memory::MemoryBus;
pub use self::redis::RedisBus;

/// How many received messages may wait for the subscriber before the bus
/// reader stops reading (Redis then buffers them on its side).
const SUBSCRIPTION_QUEUE: usize = 8192;

#[derive(Debug, Clone)]
pub struct BusMessage {
    pub channel: Arc<str>,
    pub payload: Bytes,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis: {0}")]
    Redis(#[from] ::redis::RedisError),
}

/// The state of a subscription's link to the bus, read by status and readiness
/// without ever waiting on the bus itself.
#[derive(Debug, Default)]
pub struct Link {
    connected: AtomicBool,
    reconnects: AtomicU64,
    dropped: AtomicU64,
}

impl Link {
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// Messages the bus delivered that the subscriber never saw.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn set_connected(&self, connected: bool) {
        self.connected.store(connected, Ordering::Relaxed);
    }

    fn count_reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    fn count_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }
}

/// Messages from the subscribed channels, delivered across reconnects.
pub struct Subscription {
    pub messages: mpsc::Receiver<BusMessage>,
    pub link: Arc<Link>,
}

#[derive(Clone)]
pub enum Bus {
    Redis(RedisBus),
    Memory(MemoryBus),
}

impl Bus {
    /// Redis when a URL is given, else the in-process bus. Never waits for
    /// Redis: a server that is down at start-up is connected to when it is up.
    pub fn new(redis_url: Option<&str>) -> Result<Self, BusError> {
        Ok(match redis_url {
            Some(url) => Bus::Redis(RedisBus::new(url)?),
            None => Bus::Memory(MemoryBus::new()),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Bus::Redis(_) => "redis",
            Bus::Memory(_) => "memory",
        }
    }

    /// Subscribes to `channels` until `shutdown`, resubscribing all of them
    /// after every reconnect.
    pub fn subscribe(
        &self,
        channels: &[&'static str],
        shutdown: CancellationToken,
    ) -> Subscription {
        let (tx, messages) = mpsc::channel(SUBSCRIPTION_QUEUE);
        let link = Arc::new(Link::default());
        match self {
            Bus::Redis(bus) => bus.subscribe(channels.to_vec(), tx, link.clone(), shutdown),
            Bus::Memory(bus) => bus.subscribe(channels.to_vec(), tx, link.clone(), shutdown),
        }
        Subscription { messages, link }
    }

    pub async fn publish(&self, channel: &str, payload: Bytes) -> Result<(), BusError> {
        self.publish_batch(channel, std::slice::from_ref(&payload))
            .await
    }

    /// Publishes every payload on `channel`, in order; on Redis as one pipeline.
    pub async fn publish_batch(&self, channel: &str, payloads: &[Bytes]) -> Result<(), BusError> {
        match self {
            Bus::Redis(bus) => bus.publish_batch(channel, payloads).await,
            Bus::Memory(bus) => {
                for payload in payloads {
                    bus.publish(channel, payload.clone());
                }
                Ok(())
            }
        }
    }
}
