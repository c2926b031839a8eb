//! Redis pub/sub. The subscriber owns one pub/sub connection, notices its loss
//! (a closed stream or an unanswered ping), reports it through [`Link`],
//! reconnects and resubscribes every channel: the first attempt at once (a
//! restarted Redis is usually back by then), later ones with capped, jittered
//! backoff, which a successful resubscribe resets.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, PubSubSink, PubSubStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{BusError, BusMessage, Link};
use crate::backoff::Backoff;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// A half-open connection delivers nothing and never closes: ping it.
const PING_INTERVAL: Duration = Duration::from_secs(5);
const RECONNECT_BASE: Duration = Duration::from_millis(100);
/// Also the longest Redis can be answering again before events flow.
const RECONNECT_CAP: Duration = Duration::from_secs(1);
/// A connection lost sooner than this after subscribing is a server that
/// accepts and drops: its retry waits, so that it never becomes a busy loop.
const FLAP_GUARD: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct RedisBus {
    client: redis::Client,
    publisher: ConnectionManager,
}

impl RedisBus {
    pub fn new(url: &str) -> Result<Self, BusError> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(RECONNECT_CAP);
        let publisher = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self { client, publisher })
    }

    pub async fn publish_batch(&self, channel: &str, payloads: &[Bytes]) -> Result<(), BusError> {
        let mut pipe = redis::pipe();
        for payload in payloads {
            pipe.cmd("PUBLISH")
                .arg(channel)
                .arg(payload.as_ref())
                .ignore();
        }
        let mut conn = self.publisher.clone();
        pipe.exec_async(&mut conn).await?;
        Ok(())
    }

    /// A connection for commands other than PUBLISH (the feed lease).
    pub fn connection(&self) -> ConnectionManager {
        self.publisher.clone()
    }

    pub(super) fn subscribe(
        &self,
        channels: Vec<&'static str>,
        out: mpsc::Sender<BusMessage>,
        link: Arc<Link>,
        shutdown: CancellationToken,
    ) {
        let client = self.client.clone();
        tokio::spawn(async move {
            let mut backoff = Backoff::new(RECONNECT_BASE, RECONNECT_CAP).first_at_once();
            let mut ever_connected = false;
            loop {
                let attempt = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    attempt = connect(&client, &channels) => attempt,
                };
                match attempt {
                    Ok((sink, stream)) => {
                        if ever_connected {
                            link.count_reconnect();
                            info!(
                                "REDIS-SUBSCRIBER: Reconnected, resubscribed to {} channels",
                                channels.len()
                            );
                        }
                        ever_connected = true;
                        link.set_connected(true);
                        backoff.reset();
                        let since = Instant::now();
                        let end = pump(sink, stream, &out, &shutdown).await;
                        link.set_connected(false);
                        match end {
                            PumpEnd::Shutdown => return,
                            PumpEnd::Lost(reason) => {
                                warn!("REDIS-SUBSCRIBER: Connection lost ({reason}), reconnecting")
                            }
                        }
                        if since.elapsed() < FLAP_GUARD {
                            // Spends the attempt that would come at once.
                            backoff.next_delay();
                        }
                    }
                    Err(error) => warn!("REDIS-SUBSCRIBER: Connect failed: {error}"),
                }
                let delay = backoff.next_delay();
                if delay.is_zero() {
                    continue;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        });
    }
}

async fn connect(
    client: &redis::Client,
    channels: &[&'static str],
) -> Result<(PubSubSink, PubSubStream), String> {
    let pubsub = timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let (mut sink, stream) = pubsub.split();
    for channel in channels {
        timeout(RESPONSE_TIMEOUT, sink.subscribe(*channel))
            .await
            .map_err(|_| format!("SUBSCRIBE {channel} timed out"))?
            .map_err(|e| format!("SUBSCRIBE {channel}: {e}"))?;
        info!("REDIS-SUBSCRIBER: Channel subscribe: {channel}");
    }
    Ok((sink, stream))
}

enum PumpEnd {
    Shutdown,
    Lost(&'static str),
}

async fn pump(
    mut sink: PubSubSink,
    mut stream: PubSubStream,
    out: &mpsc::Sender<BusMessage>,
    shutdown: &CancellationToken,
) -> PumpEnd {
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.reset();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return PumpEnd::Shutdown,
            message = stream.next() => {
                let Some(message) = message else { return PumpEnd::Lost("stream closed") };
                let message = BusMessage {
                    channel: message.get_channel_name().into(),
                    payload: Bytes::copy_from_slice(message.get_payload_bytes()),
                };
                if out.send(message).await.is_err() {
                    return PumpEnd::Shutdown;
                }
            }
            _ = ping.tick() => {
                match timeout(RESPONSE_TIMEOUT, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(_)) => return PumpEnd::Lost("ping failed"),
                    Err(_) => return PumpEnd::Lost("ping timed out"),
                }
            }
        }
    }
}
