//! `GET /streaming/ws`: the dashboard's WebSocket (CONTRACT §6). A snapshot on
//! connect (or, with `?last_seq=N`, the frames missed since N when the hub
//! still has them), then live frames; server pings; a client that falls
//! behind is closed with 4008, one that stops answering pings with 4000.
//!
//! With `?inspect=1` (admins only) the client also gets the channel
//! inspector's unnumbered messages: an `inspector_snapshot`, then
//! `channel_message` and `channel_stats` twice a second. Other clients never
//! see them.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};

use super::auth::CurrentUser;
use crate::conformance::Conformance;
use crate::conformance::inspector::Inspector;
use crate::push::Hub;

pub const CLOSE_SLOW_CONSUMER: u16 = 4008;
pub const CLOSE_PING_TIMEOUT: u16 = 4000;
const CLOSE_GOING_AWAY: u16 = 1001;
const PING_EVERY: Duration = Duration::from_secs(20);
/// A send that takes longer than this means the client is not reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// The close frame waits longer: a slow reader still learns why it was dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
pub struct Params {
    last_seq: Option<u64>,
    /// `1`: also the channel inspector's messages.
    inspect: Option<u8>,
}

pub async fn upgrade(
    upgrade: WebSocketUpgrade,
    State(hub): State<Arc<Hub>>,
    State(conformance): State<Arc<Conformance>>,
    CurrentUser(user): CurrentUser,
    Query(params): Query<Params>,
) -> Response {
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
        .on_upgrade(move |socket| serve(socket, hub, params.last_seq, inspector))
}

/// Counts the client while it is connected.
struct Connected<'a>(&'a Hub);

impl Drop for Connected<'_> {
    fn drop(&mut self) {
        self.0.stats.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn send(socket: &mut WebSocket, text: Utf8Bytes) -> Result<(), Option<(u16, &'static str)>> {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text))).await {
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

async fn serve(
    mut socket: WebSocket,
    hub: Arc<Hub>,
    last_seq: Option<u64>,
    inspector: Option<Arc<Inspector>>,
) {
    hub.stats.clients.fetch_add(1, Ordering::Relaxed);
    let _connected = Connected(&hub);
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
    for text in catch_up.into_iter().chain(inspector_snapshot) {
        if let Err(refusal) = send(&mut socket, text).await {
            if let Some((code, reason)) = refusal {
                close(socket, code, reason).await;
            }
            return;
        }
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    let mut awaiting_pong = false;
    loop {
        tokio::select! {
            _ = hub.shutdown.cancelled() => return close(socket, CLOSE_GOING_AWAY, "server shutting down").await,
            frame = frames.recv() => match frame {
                Ok(frame) if frame.last_seq <= sent_upto => {}
                Ok(frame) => {
                    if let Err(refusal) = send(&mut socket, frame.text.clone()).await {
                        if let Some((code, reason)) = refusal {
                            hub.stats.slow_disconnects.fetch_add(1, Ordering::Relaxed);
                            close(socket, code, reason).await;
                        }
                        return;
                    }
                    sent_upto = frame.last_seq;
                }
                Err(RecvError::Lagged(_)) => {
                    hub.stats.slow_disconnects.fetch_add(1, Ordering::Relaxed);
                    return close(socket, CLOSE_SLOW_CONSUMER, "slow consumer: fell too far behind").await;
                }
                Err(RecvError::Closed) => return close(socket, CLOSE_GOING_AWAY, "server shutting down").await,
            },
            frame = next_inspection(&mut inspection) => match frame {
                Ok(text) => {
                    if let Err(refusal) = send(&mut socket, text).await {
                        if let Some((code, reason)) = refusal {
                            hub.stats.slow_disconnects.fetch_add(1, Ordering::Relaxed);
                            close(socket, code, reason).await;
                        }
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    hub.stats.slow_disconnects.fetch_add(1, Ordering::Relaxed);
                    return close(socket, CLOSE_SLOW_CONSUMER, "slow consumer: fell too far behind").await;
                }
                Err(RecvError::Closed) => return close(socket, CLOSE_GOING_AWAY, "server shutting down").await,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Pong(_))) => awaiting_pong = false,
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if awaiting_pong {
                    return close(socket, CLOSE_PING_TIMEOUT, "no pong").await;
                }
                awaiting_pong = true;
                if socket.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
        }
    }
}
