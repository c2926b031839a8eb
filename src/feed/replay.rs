//! Replays a file of recorded Massive frames (see [`super::record`]) at the
//! recorded pace, scaled by a speed factor, or as fast as possible.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::massive::protocol::{self, ServerEvent};
use super::queue::TickQueue;
use super::record::RecordedFrame;
use super::stats::FeedState;
use super::tick::DataSource;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ReplaySpeed {
    /// 1.0 is the recorded pace, 2.0 twice as fast.
    Factor(f64),
    AsFastAsPossible,
}

impl std::str::FromStr for ReplaySpeed {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.eq_ignore_ascii_case("max") {
            return Ok(Self::AsFastAsPossible);
        }
        match value.parse::<f64>() {
            Ok(factor) if factor.is_finite() && factor > 0.0 => Ok(Self::Factor(factor)),
            _ => Err("expected a positive number (1 = recorded pace) or `max`".into()),
        }
    }
}

pub async fn run(
    path: PathBuf,
    speed: ReplaySpeed,
    queue: Arc<TickQueue>,
    shutdown: CancellationToken,
) {
    let stats = queue.stats();
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(error) => {
            warn!(
                "MARKET-DATA-SERVICE: Cannot open REPLAY_FILE {}: {error}",
                path.display()
            );
            stats.set_detail(format!("cannot open {}: {error}", path.display()));
            stats.set_state(FeedState::Stopped);
            return;
        }
    };
    stats.set_state(FeedState::Connected);
    let mut lines = tokio::io::BufReader::new(file).lines();
    let started = Instant::now();
    let mut first_at_ms = None;
    let (mut frames, mut ticks, mut bad_lines) = (0u64, 0u64, 0u64);
    loop {
        let line = tokio::select! {
            _ = shutdown.cancelled() => break,
            line = lines.next_line() => line,
        };
        let line = match line {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(error) => {
                warn!(
                    "MARKET-DATA-SERVICE: Reading {} failed: {error}",
                    path.display()
                );
                break;
            }
        };
        let Ok(recorded) = serde_json::from_str::<RecordedFrame>(&line) else {
            bad_lines += 1;
            continue;
        };
        if let ReplaySpeed::Factor(factor) = speed {
            let first = *first_at_ms.get_or_insert(recorded.at_ms);
            let offset_ms = (recorded.at_ms - first).max(0) as f64 / factor;
            let due = started + Duration::from_secs_f64(offset_ms / 1000.0);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep_until(due) => {}
            }
        }
        // Checked against the time it was recorded, not against now.
        let Some(recorded_at) = chrono::DateTime::from_timestamp_millis(recorded.at_ms) else {
            bad_lines += 1;
            continue;
        };
        frames += 1;
        let (events, refused) =
            protocol::parse_frame(&recorded.frame, DataSource::Replay, recorded_at);
        stats.count_refused(&refused);
        for event in events {
            if let ServerEvent::Tick(tick) = event {
                ticks += 1;
                queue.push(tick);
            }
        }
    }
    info!(
        "MARKET-DATA-SERVICE: Replay of {} finished: {frames} frames, {ticks} ticks, {bad_lines} unreadable lines",
        path.display()
    );
    stats.set_state(FeedState::Stopped);
}
