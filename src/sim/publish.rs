//! `tickstock publish FILE...` (CONTRACT §7): recorded events, one JSON
//! object a line, `{"channel": "...", "message": {...}}`, published in file
//! and line order. Blank lines are skipped; a malformed line is reported
//! with its file and line number and skipped.

use std::fmt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde_json::Value;
use tokio::io::AsyncBufReadExt;

use crate::bus::{Bus, BusError};

/// Consecutive messages of one channel are sent as one pipeline of at most this many.
const PIPELINE: usize = 500;

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub channel: String,
    pub payload: Bytes,
}

/// Reads one line: `None` for a blank one.
pub fn parse_line(line: &[u8]) -> Result<Option<Recorded>, String> {
    let line = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string())?;
    if line.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut record) = value else {
        return Err("not a JSON object".into());
    };
    let channel = match record.remove("channel") {
        Some(Value::String(channel)) if !channel.trim().is_empty() => channel,
        Some(_) => return Err("`channel` is not a channel name".into()),
        None => return Err("`channel` is missing".into()),
    };
    let message = match record.remove("message") {
        Some(message @ Value::Object(_)) => message,
        Some(_) => return Err("`message` is not a JSON object".into()),
        None => return Err("`message` is missing".into()),
    };
    Ok(Some(Recorded {
        channel,
        payload: Bytes::from(message.to_string()),
    }))
}

/// A line, or a whole file, that was not published.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub file: PathBuf,
    /// 1-based; `None` when the file itself could not be read.
    pub line: Option<usize>,
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub published: u64,
    pub skipped: Vec<Skipped>,
}

/// Publishes every file's events in order, reporting each skipped line to
/// `on_skip` as it is met. Stops at the first failed publish.
pub async fn publish_files(
    bus: &Bus,
    files: &[PathBuf],
    mut on_skip: impl FnMut(&Skipped),
) -> Result<Report, BusError> {
    let mut batch = Batch {
        bus,
        channel: String::new(),
        payloads: Vec::new(),
        published: 0,
    };
    let mut skipped = Vec::new();
    for file in files {
        let mut skip = |line: Option<usize>, reason: String| {
            let entry = Skipped {
                file: file.clone(),
                line,
                reason,
            };
            on_skip(&entry);
            skipped.push(entry);
        };
        let mut lines = match open(file).await {
            Ok(lines) => lines,
            Err(error) => {
                skip(None, error.to_string());
                continue;
            }
        };
        let mut number = 0;
        loop {
            let line = match lines.next_segment().await {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(error) => {
                    skip(Some(number + 1), error.to_string());
                    break;
                }
            };
            number += 1;
            match parse_line(&line) {
                Ok(Some(recorded)) => batch.push(recorded).await?,
                Ok(None) => {}
                Err(reason) => skip(Some(number), reason),
            }
        }
    }
    batch.flush().await?;
    Ok(Report {
        published: batch.published,
        skipped,
    })
}

async fn open(
    file: &Path,
) -> std::io::Result<tokio::io::Split<tokio::io::BufReader<tokio::fs::File>>> {
    let handle = tokio::fs::File::open(file).await?;
    Ok(tokio::io::BufReader::new(handle).split(b'\n'))
}

/// Consecutive events of one channel, published as one pipeline.
struct Batch<'a> {
    bus: &'a Bus,
    channel: String,
    payloads: Vec<Bytes>,
    published: u64,
}

impl Batch<'_> {
    async fn push(&mut self, recorded: Recorded) -> Result<(), BusError> {
        if recorded.channel != self.channel || self.payloads.len() >= PIPELINE {
            self.flush().await?;
            self.channel = recorded.channel;
        }
        self.payloads.push(recorded.payload);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), BusError> {
        if self.payloads.is_empty() {
            return Ok(());
        }
        self.bus
            .publish_batch(&self.channel, &self.payloads)
            .await?;
        self.published += self.payloads.len() as u64;
        self.payloads.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_a_channel_and_a_message() {
        let line = br#"{"channel":"tickstock:streaming:health","message":{"type":"streaming_health","health":{"status":"healthy"}}}"#;
        let recorded = parse_line(line).unwrap().unwrap();
        assert_eq!(recorded.channel, "tickstock:streaming:health");
        let message: Value = serde_json::from_slice(&recorded.payload).unwrap();
        assert_eq!(message["health"]["status"], "healthy");
        assert_eq!(parse_line(b"   ").unwrap(), None);
        assert_eq!(parse_line(b"").unwrap(), None);
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        for (line, reason) in [
            (&b"{not json"[..], "not JSON"),
            (b"[1, 2]", "not a JSON object"),
            (br#"{"message":{}}"#, "`channel` is missing"),
            (br#"{"channel":"","message":{}}"#, "`channel` is not"),
            (br#"{"channel":5,"message":{}}"#, "`channel` is not"),
            (br#"{"channel":"c"}"#, "`message` is missing"),
            (br#"{"channel":"c","message":"text"}"#, "`message` is not"),
            (b"\xff\xfe", "not UTF-8"),
        ] {
            let error = parse_line(line).unwrap_err();
            assert!(error.starts_with(reason), "{error} for {line:?}");
        }
    }

    #[test]
    fn skipped_lines_are_located_by_file_and_line() {
        let skipped = Skipped {
            file: "mock/patterns.jsonl".into(),
            line: Some(7),
            reason: "not JSON".into(),
        };
        assert_eq!(skipped.to_string(), "mock/patterns.jsonl:7: not JSON");
    }
}
