//! Recording raw Massive frames, and the file format replay reads: JSON lines
//! `{"at_ms": <epoch ms when received>, "frame": "<the text frame>"}`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tracing::{info, warn};

#[derive(Debug, Serialize, Deserialize)]
pub struct RecordedFrame {
    pub at_ms: i64,
    pub frame: String,
}

/// Writes frames on a task of its own: the socket reader only hands them over
/// and never waits on the disk. Frames beyond the buffer are skipped.
pub struct FrameRecorder {
    frames: mpsc::Sender<RecordedFrame>,
}

const BUFFER: usize = 16_384;

impl FrameRecorder {
    pub fn start(path: PathBuf) -> Self {
        let (frames, mut rx) = mpsc::channel::<RecordedFrame>(BUFFER);
        tokio::spawn(async move {
            let file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .await;
            let mut file = match file {
                Ok(file) => tokio::io::BufWriter::new(file),
                Err(error) => {
                    warn!(
                        "MARKET-DATA-SERVICE: Cannot record to {}: {error}",
                        path.display()
                    );
                    return;
                }
            };
            info!(
                "MARKET-DATA-SERVICE: Recording raw frames to {}",
                path.display()
            );
            while let Some(frame) = rx.recv().await {
                let mut line = serde_json::to_vec(&frame).unwrap_or_default();
                line.push(b'\n');
                let written = file.write_all(&line).await;
                // Flush when caught up, so the file is complete at any quiet moment.
                let flushed = if rx.is_empty() {
                    file.flush().await
                } else {
                    Ok(())
                };
                if let Err(error) = written.and(flushed) {
                    warn!(
                        "MARKET-DATA-SERVICE: Recording to {} failed: {error}",
                        path.display()
                    );
                    return;
                }
            }
        });
        Self { frames }
    }

    pub fn record(&self, frame: &str) {
        let _ = self.frames.try_send(RecordedFrame {
            at_ms: chrono::Utc::now().timestamp_millis(),
            frame: frame.to_owned(),
        });
    }
}
