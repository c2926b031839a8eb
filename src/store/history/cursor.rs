//! Where a page of history ends, so that the next one starts right after it.
//!
//! Every history table is read newest first, ties broken by the rest of the
//! row's natural key (text compared byte by byte, as `COLLATE "C"`), so a
//! row's place in that order is unique and the same in both stores. A
//! [`Cursor`] is that place: the next page holds the rows after it, however
//! many rows share its time. Rows arriving meanwhile never shift a page.
//!
//! On the wire it is opaque: hex of the JSON `[microseconds, key...]`.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

/// A row's place in its table's newest-first order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The row's time (microseconds, as stored).
    pub at: DateTime<Utc>,
    /// The rest of its natural key, as text ('' for a NULL).
    pub key: Vec<String>,
}

/// Longest cursor accepted: every key is short (the longest, an alert's,
/// is under 300 characters).
const MAX_CURSOR_CHARS: usize = 2_048;

impl Ord for Cursor {
    /// Newest first, then by key.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .cmp(&self.at)
            .then_with(|| self.key.cmp(&other.key))
    }
}

impl PartialOrd for Cursor {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Cursor {
    pub fn new(at: DateTime<Utc>, key: Vec<String>) -> Self {
        Self { at, key }
    }

    pub fn encode(&self) -> String {
        let body = serde_json::json!([self.at.timestamp_micros(), self.key]);
        hex::encode(body.to_string())
    }

    /// The cursor `text` encodes, if it is one with a key of `key_len` parts.
    pub fn decode(text: &str, key_len: usize) -> Option<Self> {
        if text.len() > MAX_CURSOR_CHARS {
            return None;
        }
        let bytes = hex::decode(text).ok()?;
        let (micros, key): (i64, Vec<String>) = serde_json::from_slice(&bytes).ok()?;
        let at = DateTime::from_timestamp_micros(micros)?;
        (key.len() == key_len).then_some(Self { at, key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_its_encoding_and_nothing_else_decodes() {
        let at: DateTime<Utc> = "2026-01-02T03:04:05.123456Z".parse().unwrap();
        let cursor = Cursor::new(at, vec!["NVDA".into(), "Doji \"ä\"".into(), String::new()]);
        let text = cursor.encode();
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
        assert_eq!(Cursor::decode(&text, 3), Some(cursor));
        assert_eq!(Cursor::decode(&text, 2), None, "another table's key");
        for bad in [
            "",
            "zz",
            "7b7d",
            &hex::encode("[1, [2]]"),
            &"0".repeat(4096),
        ] {
            assert_eq!(Cursor::decode(bad, 0), None, "{bad}");
        }
        let huge = hex::encode(format!("[{}, []]", i64::MAX));
        assert_eq!(Cursor::decode(&huge, 0), None);
    }

    #[test]
    fn newer_rows_come_first_and_ties_go_by_key_in_byte_order() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let a = Cursor::new(at("2026-01-02T00:00:02Z"), vec!["Z".into()]);
        let b = Cursor::new(at("2026-01-02T00:00:01Z"), vec!["A".into()]);
        let c = Cursor::new(at("2026-01-02T00:00:01Z"), vec!["a".into()]);
        let d = Cursor::new(at("2026-01-02T00:00:01Z"), vec!["É".into()]);
        let mut sorted = vec![d.clone(), c.clone(), b.clone(), a.clone()];
        sorted.sort();
        assert_eq!(sorted, [a, b, c, d]);
    }
}
