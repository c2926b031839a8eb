//! `GET /streaming/ws`: the dashboard's WebSocket (CONTRACT §6). A snapshot on
//! connect (or, with `?last_seq=N`, the frames missed since N when the hub
//! still has them), then live frames; server pings; a client that falls
//! behind is closed with 4008, one that stops answering pings with 4000,
//! one whose login ended (logout, token revoked, user changed or removed)
//! with 4401. A handshake from a browser page of another origin gets 403.
//!
//! With `?inspect=1` (admins only) the client also gets the channel
//! inspector's unnumbered messages: an `inspector_snapshot`, then
//! `channel_message` and `channel_stats` twice a second. Other clients never
//! see them.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use super::AppState;
use super::auth::CurrentUser;
use super::identity::{Concern, Credential, Identity, Login};
use crate::accounts::changes::AuthChange;
use crate::conformance::inspector::Inspector;
use crate::dashboard::{Hub, HubStats};

pub const CLOSE_SLOW_CONSUMER: u16 = 4008;
pub const CLOSE_PING_TIMEOUT: u16 = 4000;
pub const CLOSE_LOGGED_OUT: u16 = 4401;
const CLOSE_GOING_AWAY: u16 = 1001;
const PING_EVERY: Duration = Duration::from_secs(20);
/// A send that takes longer than this means the client is not reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// The close frame waits longer: a slow reader still learns why it was dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);
/// The login is looked at again this often even with nothing announced (a
/// change made in SQL, or announced while Redis was away); lookups are cached.
const RECHECK_LOGIN_EVERY: Duration = Duration::from_secs(2);

#[derive(Deserialize)]
pub struct Params {
    last_seq: Option<u64>,
    /// `1`: also the channel inspector's messages.
    inspect: Option<u8>,
}

pub async fn upgrade(
    upgrade: WebSocketUpgrade,
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Extension(credential): Extension<Credential>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    let AppState {
        hub,
        conformance,
        identity,
        ..
    } = state;
    if !identity.origin_allowed(&headers) {
        let refusal = json!({"error": "origin not allowed"});
        return (StatusCode::FORBIDDEN, axum::Json(refusal)).into_response();
    }
    let login = Watched {
        login: Login::new(credential, &user),
        changes: identity.accounts().changes().subscribe(),
        identity,
    };
    let inspector = match params.inspect {
        Some(1) if !user.role.is_admin() => {
            let refusal = json!({"error": "admin role required to inspect"});
            return (StatusCode::FORBIDDEN, axum::Json(refusal)).into_response();
        }
        Some(1) => Some(conformance.inspector.clone()),
        _ => None,
    };
    // The browser sends nothing but pongs and close frames.
    upgrade
        .max_message_size(16 * 1024)
        // Tungstenite zero-fills its whole read buffer before every read
        // attempt, once per turn of the client's loop; pongs and close frames
        // are small (larger messages are still read whole).
        .read_buffer_size(512)
        .on_upgrade(move |socket| serve(socket, hub, login, params.last_seq, inspector))
}

/// Counts the client while it is connected.
struct Connected<'a>(&'a Hub);

impl Drop for Connected<'_> {
    fn drop(&mut self) {
        self.0.stats.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why the server ends a connection: the close code and reason, or `None`
/// when the client is gone and there is nobody to tell.
type Ending = Option<(u16, &'static str)>;

const SHUTTING_DOWN: Ending = Some((CLOSE_GOING_AWAY, "server shutting down"));
const FELL_BEHIND: Ending = Some((CLOSE_SLOW_CONSUMER, "slow consumer: fell too far behind"));
const LOGGED_OUT: Ending = Some((CLOSE_LOGGED_OUT, "login ended"));

/// A socket's login, and the announced changes that may end it.
struct Watched {
    identity: Identity,
    login: Login,
    changes: broadcast::Receiver<AuthChange>,
}

impl Watched {
    /// Waits for a change that concerns this login; `Ended` or `Recheck`.
    async fn next_concern(&mut self) -> Concern {
        loop {
            match self.changes.recv().await {
                Ok(change) => match Identity::concern(&self.login, &change) {
                    Concern::Unrelated => continue,
                    concern => return concern,
                },
                Err(RecvError::Lagged(_)) => return Concern::Recheck,
                // Only when the accounts are gone, i.e. never while serving.
                Err(RecvError::Closed) => std::future::pending().await,
            }
        }
    }

    async fn check(&self) -> Result<(), Ending> {
        match self.identity.still_valid(&self.login).await {
            true => Ok(()),
            false => Err(LOGGED_OUT),
        }
    }
}

/// Writes `messages` with one flush, so frames that queued up while the
/// client was busy leave together. Each message (and the flush) gets
/// `SEND_TIMEOUT` of its own: a slow client that is still reading is not
/// taken for one that stopped. Text frames are counted in `stats`.
async fn send_all(
    socket: &mut WebSocket,
    stats: &HubStats,
    messages: impl IntoIterator<Item = Message>,
) -> Result<(), Ending> {
    for message in messages {
        let text_bytes = match &message {
            Message::Text(text) => Some(text.len()),
            _ => None,
        };
        within_send_timeout(socket.feed(message)).await?;
        if let Some(bytes) = text_bytes {
            stats.sent(bytes);
        }
    }
    within_send_timeout(socket.flush()).await
}

async fn within_send_timeout(
    write: impl Future<Output = Result<(), axum::Error>>,
) -> Result<(), Ending> {
    match tokio::time::timeout(SEND_TIMEOUT, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(None),
        Err(_) => Err(Some((CLOSE_SLOW_CONSUMER, "slow consumer: not reading"))),
    }
}

async fn close(mut socket: WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
}

/// The next inspector frame, or never for a dashboard client.
async fn next_inspection(
    inspection: &mut Option<broadcast::Receiver<Utf8Bytes>>,
) -> Result<Utf8Bytes, RecvError> {
    match inspection {
        Some(frames) => frames.recv().await,
        None => std::future::pending().await,
    }
}

/// Most frames written with one flush when a client has fallen behind.
const MAX_FRAMES_PER_WRITE: usize = 64;

async fn serve(
    mut socket: WebSocket,
    hub: Arc<Hub>,
    login: Watched,
    last_seq: Option<u64>,
    inspector: Option<Arc<Inspector>>,
) {
    hub.stats.clients.fetch_add(1, Ordering::Relaxed);
    let _connected = Connected(&hub);
    let Err(ending) = run(&mut socket, &hub, login, last_seq, inspector).await;
    if let Some((code, reason)) = ending {
        if code == CLOSE_SLOW_CONSUMER {
            hub.stats.slow_disconnects.fetch_add(1, Ordering::Relaxed);
        }
        close(socket, code, reason).await;
    }
}

/// Serves one client until the connection has to end, and says why.
async fn run(
    socket: &mut WebSocket,
    hub: &Hub,
    mut login: Watched,
    last_seq: Option<u64>,
    inspector: Option<Arc<Inspector>>,
) -> Result<Infallible, Ending> {
    // Subscribe before looking at the history, so that nothing falls between.
    let mut frames = hub.subscribe();
    let mut inspection = inspector.as_ref().map(|i| i.subscribe());
    let (catch_up, mut sent_upto) =
        match last_seq.and_then(|seq| hub.since(seq).map(|frames| (seq, frames))) {
            Some((seq, missed)) => {
                let upto = missed.last().map_or(seq, |f| f.last_seq);
                (missed.iter().map(|f| f.text.clone()).collect(), upto)
            }
            None => {
                let (seq, snapshot) = hub.snapshot();
                (vec![snapshot], seq)
            }
        };
    // An inspector's snapshot follows its subscription too; the page skips
    // messages it already has.
    let inspector_snapshot = inspector.as_ref().map(|i| i.snapshot());
    let catch_up = catch_up.into_iter().chain(inspector_snapshot);
    send_all(socket, &hub.stats, catch_up.map(Message::Text)).await?;

    // Made once: a fresh future per turn would re-register with the token.
    let shutdown = hub.shutdown.cancelled();
    tokio::pin!(shutdown);
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    let mut recheck = tokio::time::interval(RECHECK_LOGIN_EVERY);
    recheck.reset();
    let mut awaiting_pong = false;
    let mut batch = Vec::with_capacity(MAX_FRAMES_PER_WRITE);
    loop {
        tokio::select! {
            _ = &mut shutdown => return Err(SHUTTING_DOWN),
            concern = login.next_concern() => match concern {
                Concern::Ended => return Err(LOGGED_OUT),
                _ => login.check().await?,
            },
            _ = recheck.tick() => login.check().await?,
            frame = frames.recv() => {
                batch.push(received(frame)?);
                // Whatever else is already waiting goes in the same write.
                // A closed ring still gets what was taken sent: the next
                // `recv` reports the close.
                while batch.len() < MAX_FRAMES_PER_WRITE {
                    match frames.try_recv() {
                        Ok(frame) => batch.push(frame),
                        Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                        Err(TryRecvError::Lagged(_)) => return Err(FELL_BEHIND),
                    }
                }
                // Frames a resume already delivered are skipped.
                batch.retain(|frame| frame.last_seq > sent_upto);
                if let Some(last) = batch.last() {
                    sent_upto = last.last_seq;
                }
                let texts = batch.drain(..).map(|frame| Message::Text(frame.text.clone()));
                send_all(socket, &hub.stats, texts).await?;
            },
            frame = next_inspection(&mut inspection) => {
                send_all(socket, &hub.stats, [Message::Text(received(frame)?)]).await?;
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Pong(_))) => awaiting_pong = false,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return Err(None),
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if awaiting_pong {
                    return Err(Some((CLOSE_PING_TIMEOUT, "no pong")));
                }
                awaiting_pong = true;
                send_all(socket, &hub.stats, [Message::Ping(Default::default())]).await?;
            }
        }
    }
}

/// A frame from a broadcast ring, or why the client must go.
fn received<T>(frame: Result<T, RecvError>) -> Result<T, Ending> {
    match frame {
        Ok(frame) => Ok(frame),
        Err(RecvError::Lagged(_)) => Err(FELL_BEHIND),
        Err(RecvError::Closed) => Err(SHUTTING_DOWN),
    }
}
