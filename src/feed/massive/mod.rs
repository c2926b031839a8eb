//! The one Massive WebSocket: connect, authenticate, subscribe, read every
//! frame at once into the forwarder's queue, and reconnect (exponential
//! backoff with full jitter, capped at 60 s, never giving up) re-sending the
//! whole subscription set, since Massive replays nothing.

pub mod protocol;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use self::protocol::ServerEvent;
use super::queue::TickQueue;
use super::record::FrameRecorder;
use super::stats::FeedState;
use super::tick::DataSource;
use crate::backoff::Backoff;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const RECONNECT_BASE: Duration = Duration::from_millis(500);
/// Another client took the key: wait at least this long instead of fighting it.
const MAX_CONNECTIONS_BACKOFF: Duration = Duration::from_secs(60);
/// A connection that lived this long resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct MassiveSettings {
    pub url: String,
    pub api_key: SecretString,
    /// The full subscription set (`AM.AAPL`, `T.MSFT`, ...), re-sent after every reconnect.
    pub subscriptions: Vec<String>,
    /// No frame (data or pong) for this long means the socket is dead.
    pub read_timeout: Duration,
    /// The longest wait between reconnects (`MASSIVE_RECONNECT_MAX_SECONDS`).
    pub reconnect_cap: Duration,
    pub connector: Connector,
    pub record_file: Option<PathBuf>,
}

/// Never shows the key (a `SecretString` shows itself redacted).
impl std::fmt::Debug for MassiveSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MassiveSettings")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .field("subscriptions", &self.subscriptions.len())
            .field("read_timeout", &self.read_timeout)
            .field("record_file", &self.record_file)
            .finish_non_exhaustive()
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How one connection ended.
#[derive(Debug)]
enum End {
    Shutdown,
    AuthFailed(String),
    MaxConnections(String),
    Lost(String),
}

pub async fn run(settings: MassiveSettings, queue: Arc<TickQueue>, shutdown: CancellationToken) {
    let stats = queue.stats();
    let frames = settings
        .record_file
        .as_ref()
        .map(|path| FrameRecorder::start(path.clone()));
    let mut backoff = Backoff::new(RECONNECT_BASE, settings.reconnect_cap.max(RECONNECT_BASE));
    loop {
        stats.set_state(FeedState::Connecting);
        let started = Instant::now();
        let (end, connected_at) = connection(&settings, &queue, frames.as_ref(), &shutdown).await;
        if connected_at.is_some_and(|at| at.elapsed() >= STABLE_AFTER) {
            backoff.reset();
        }
        let delay = match end {
            End::Shutdown => break,
            End::AuthFailed(message) => {
                error!(
                    "MARKET-DATA-SERVICE: Massive rejected the API key ({message}); not retrying: fix MASSIVE_API_KEY and restart"
                );
                stats.set_detail(format!("auth_failed: {message}"));
                stats.set_state(FeedState::AuthFailed);
                return;
            }
            End::MaxConnections(message) => {
                warn!(
                    "MARKET-DATA-SERVICE: Massive closed the connection: max_connections ({message}); another client uses this key, backing off"
                );
                stats.set_detail(format!("max_connections: {message}"));
                backoff.next_delay().max(MAX_CONNECTIONS_BACKOFF)
            }
            End::Lost(reason) => {
                let delay = backoff.next_delay();
                warn!(
                    "MARKET-DATA-SERVICE: Massive connection lost after {:?} ({reason}); reconnecting in {delay:?}",
                    started.elapsed()
                );
                stats.set_detail(reason);
                delay
            }
        };
        stats.set_state(FeedState::Reconnecting);
        stats.set_next_attempt(Some(chrono::Utc::now() + delay));
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(delay) => {}
        }
        stats.set_next_attempt(None);
    }
    stats.set_state(FeedState::Stopped);
}

/// One connection, from TCP connect to its end. Returns when it became usable.
async fn connection(
    settings: &MassiveSettings,
    queue: &TickQueue,
    frames: Option<&FrameRecorder>,
    shutdown: &CancellationToken,
) -> (End, Option<Instant>) {
    let connect = tokio_tungstenite::connect_async_tls_with_config(
        settings.url.as_str(),
        Some(WebSocketConfig::default()),
        true,
        Some(settings.connector.clone()),
    );
    let socket = tokio::select! {
        _ = shutdown.cancelled() => return (End::Shutdown, None),
        result = timeout(HANDSHAKE_TIMEOUT, connect) => match result {
            Err(_) => return (End::Lost("connect timed out".into()), None),
            Ok(Err(error)) => return (End::Lost(format!("connect: {error}")), None),
            Ok(Ok((socket, _response))) => socket,
        },
    };
    let (mut sink, mut stream) = socket.split();
    let handshake = async {
        expect_status(&mut stream, "connected", queue).await?;
        send(
            &mut sink,
            Message::text(protocol::auth(settings.api_key.expose_secret())),
        )
        .await?;
        expect_status(&mut stream, "auth_success", queue).await?;
        for message in protocol::subscribe_messages(&settings.subscriptions) {
            send(&mut sink, Message::text(message)).await?;
        }
        Ok::<_, End>(())
    };
    let handshake = tokio::select! {
        _ = shutdown.cancelled() => return (End::Shutdown, None),
        result = timeout(HANDSHAKE_TIMEOUT, handshake) => result,
    };
    match handshake {
        Err(_) => return (End::Lost("handshake timed out".into()), None),
        Ok(Err(end)) => return (end, None),
        Ok(Ok(())) => {}
    }
    let connected_at = Instant::now();
    let stats = queue.stats();
    stats.set_state(FeedState::Connected);
    stats.set_detail(String::new());
    info!(
        "MARKET-DATA-SERVICE: Connected to {} and subscribed to {} streams",
        settings.url,
        settings.subscriptions.len()
    );
    let end = read_loop(settings, &mut sink, &mut stream, queue, frames, shutdown).await;
    if matches!(end, End::Shutdown) {
        let _ = timeout(WRITE_TIMEOUT, sink.send(Message::Close(None))).await;
    }
    (end, Some(connected_at))
}

type Sink = futures_util::stream::SplitSink<Socket, Message>;
type Stream = futures_util::stream::SplitStream<Socket>;

async fn send(sink: &mut Sink, message: Message) -> Result<(), End> {
    match timeout(WRITE_TIMEOUT, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(End::Lost(format!("send: {error}"))),
        Err(_) => Err(End::Lost("send timed out".into())),
    }
}

/// Reads until the server sends status `wanted`, or says why it will not.
async fn expect_status(stream: &mut Stream, wanted: &str, queue: &TickQueue) -> Result<(), End> {
    loop {
        let text = match stream.next().await {
            None => return Err(End::Lost(format!("closed while waiting for {wanted}"))),
            Some(Err(error)) => return Err(End::Lost(error.to_string())),
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                return Err(End::Lost(format!(
                    "closed while waiting for {wanted}: {frame:?}"
                )));
            }
            Some(Ok(_)) => continue,
        };
        // Before the subscription nothing but status is expected.
        let (events, _) = protocol::parse_frame(&text, DataSource::Massive, chrono::Utc::now());
        let mut found = false;
        for event in events {
            match event {
                ServerEvent::Status { status, .. } if status == wanted => found = true,
                // Massive has said `success` for the first status too.
                ServerEvent::Status { status, .. }
                    if wanted == "connected" && status == "success" =>
                {
                    found = true
                }
                ServerEvent::Status { status, message } => status_end(&status, message)?,
                ServerEvent::Tick(tick) => queue.push(tick),
            }
        }
        if found {
            return Ok(());
        }
    }
}

/// Status events that end a connection.
fn status_end(status: &str, message: String) -> Result<(), End> {
    match status {
        "auth_failed" | "auth_timeout" => Err(End::AuthFailed(format!("{status}: {message}"))),
        "max_connections" => Err(End::MaxConnections(message)),
        "force_disconnect" | "slow_consumer" => Err(End::Lost(format!("{status}: {message}"))),
        _ => Ok(()),
    }
}

async fn read_loop(
    settings: &MassiveSettings,
    sink: &mut Sink,
    stream: &mut Stream,
    queue: &TickQueue,
    frames: Option<&FrameRecorder>,
    shutdown: &CancellationToken,
) -> End {
    let mut ping = tokio::time::interval(settings.read_timeout / 3);
    ping.reset();
    let mut last_frame = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return End::Shutdown,
            frame = stream.next() => {
                last_frame = Instant::now();
                let text = match frame {
                    None => return End::Lost("connection closed without a close frame".into()),
                    Some(Err(error)) => return End::Lost(error.to_string()),
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => return End::Lost(format!("closed by server: {frame:?}")),
                    Some(Ok(_)) => continue,
                };
                if let Some(frames) = frames {
                    frames.record(text.as_str());
                }
                let (events, refused) = protocol::parse_frame(&text, DataSource::Massive, chrono::Utc::now());
                queue.stats().count_refused(&refused);
                for event in events {
                    match event {
                        ServerEvent::Tick(tick) => queue.push(tick),
                        ServerEvent::Status { status, message } => {
                            if let Err(end) = status_end(&status, message) {
                                return end;
                            }
                        }
                    }
                }
            }
            _ = ping.tick() => {
                if last_frame.elapsed() >= settings.read_timeout {
                    return End::Lost(format!("nothing received for {:?}", settings.read_timeout));
                }
                if let Err(end) = send(sink, Message::Ping(Default::default())).await {
                    return end;
                }
            }
        }
    }
}
