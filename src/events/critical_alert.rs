//! `critical_alert`, payload key `alert`. A non-null `recovery` means the
//! issue it reports on is resolved.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::fields::{self, Object, serialize_timestamp};
use super::{DecodeError, Envelope, payload, rules};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriticalAlert {
    /// `warning`, `error`, `critical`, `info` (recoveries), or as sent.
    pub severity: Option<String>,
    pub message: String,
    #[serde(serialize_with = "serialize_timestamp")]
    pub timestamp: DateTime<Utc>,
    pub component: Option<String>,
    pub action_required: Option<String>,
    pub recovery: Option<String>,
    #[serde(flatten)]
    pub extra: Object,
}

impl CriticalAlert {
    pub fn is_recovery(&self) -> bool {
        self.recovery.is_some()
    }
}

pub fn decode(obj: Object, envelope: &Envelope) -> Result<CriticalAlert, DecodeError> {
    let mut p = payload(obj, "alert");
    let severity = fields::take_id(&mut p, &["severity"])?;
    let recovery = fields::take_text(&mut p, &["recovery"])?;
    // A recovery may say everything in `recovery` and nothing in `message`.
    let message = match fields::take_text(&mut p, &["message"])? {
        Some(message) => message,
        None => recovery.clone().ok_or(DecodeError::Missing("message"))?,
    };
    let timestamp = fields::take_timestamp(&mut p, &["timestamp"], &envelope.window)?;
    Ok(CriticalAlert {
        severity,
        message,
        timestamp: envelope.time_of(timestamp),
        component: fields::take_id(&mut p, &["component"])?,
        action_required: fields::take_text(&mut p, &["action_required"])?,
        recovery,
        extra: rules::passthrough(p),
    })
}
