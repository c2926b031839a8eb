//! Tells TickStockPL and the dashboard when the Massive feed has been down for
//! longer than a grace period: a critical alert on `tickstock:alerts:critical`
//! (component `massive_websocket`), then a recovery when it is back.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::stats::{FeedState, FeedStats};
use crate::bus::Bus;
use crate::events::Channel;

pub const COMPONENT: &str = "massive_websocket";
const CHECK_EVERY: Duration = Duration::from_millis(250);

fn alert(severity: &str, message: String, action: Option<&str>, recovery: Option<String>) -> Bytes {
    json!({
        "type": "critical_alert",
        "alert": {
            "severity": severity,
            "message": message,
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "component": COMPONENT,
            "action_required": action,
            "recovery": recovery,
        }
    })
    .to_string()
    .into()
}

pub async fn watch(stats: Arc<FeedStats>, bus: Bus, grace: Duration, shutdown: CancellationToken) {
    let mut down_since: Option<Instant> = None;
    let mut alerted = false;
    let mut clock = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = clock.tick() => {}
        }
        let message = match stats.state() {
            FeedState::Connecting | FeedState::Reconnecting | FeedState::AuthFailed => {
                let since = *down_since.get_or_insert_with(Instant::now);
                if alerted || since.elapsed() < grace {
                    continue;
                }
                alerted = true;
                let action = if stats.state() == FeedState::AuthFailed {
                    "Fix MASSIVE_API_KEY and restart TickStock"
                } else {
                    "Check network access to MASSIVE_WS_URL; TickStock keeps reconnecting"
                };
                alert(
                    "critical",
                    format!(
                        "Massive WebSocket down for {}s: {}",
                        since.elapsed().as_secs(),
                        stats.detail()
                    ),
                    Some(action),
                    None,
                )
            }
            FeedState::Connected if alerted => {
                let outage = down_since.map(|s| s.elapsed().as_secs()).unwrap_or(0);
                alerted = false;
                down_since = None;
                alert(
                    "info",
                    "Massive WebSocket connection restored".into(),
                    None,
                    Some(format!("Connection re-established after {outage}s")),
                )
            }
            _ => {
                down_since = None;
                continue;
            }
        };
        if let Err(error) = bus.publish(Channel::CriticalAlerts.name(), message).await {
            warn!("MARKET-DATA-SERVICE: Could not publish the feed alert: {error}");
        }
    }
}
