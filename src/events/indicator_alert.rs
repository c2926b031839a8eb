//! `indicator_alert`, payload key `alert`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::fields::{self, Object, serialize_timestamp};
use super::{DecodeError, Envelope, payload, rules};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorAlert {
    pub symbol: String,
    /// RSI_OVERBOUGHT, RSI_OVERSOLD, MACD_BULLISH_CROSS, MACD_BEARISH_CROSS,
    /// BB_UPPER_BREAK, BB_LOWER_BREAK, or any other string as sent.
    pub alert_type: String,
    #[serde(serialize_with = "serialize_timestamp")]
    pub timestamp: DateTime<Utc>,
    pub data: AlertData,
    /// `info`, `warning`, `critical`, or as sent.
    pub severity: Option<String>,
    pub message: Option<String>,
    #[serde(flatten)]
    pub extra: Object,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AlertData {
    pub indicator: Option<String>,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub direction: Option<String>,
    #[serde(flatten)]
    pub extra: Object,
}

pub fn decode(obj: Object, envelope: &Envelope) -> Result<IndicatorAlert, DecodeError> {
    let mut p = payload(obj, "alert");
    let symbol = fields::take_symbol(&mut p)?;
    let alert_type = fields::require_id(&mut p, &["alert_type"])?;
    let timestamp = fields::take_timestamp(&mut p, &["timestamp"], &envelope.window)?;
    // The spec nests the reading under `data`; flat senders put it beside the alert.
    let mut data = fields::take_object(&mut p, "data")?;
    let source = data.as_mut().unwrap_or(&mut p);
    let mut alert_data = AlertData {
        indicator: fields::take_id(source, &["indicator", "indicator_type"])?,
        value: fields::take_f64(source, &["value"])?,
        threshold: fields::take_f64(source, &["threshold"])?,
        direction: fields::take_id(source, &["direction"])?,
        extra: Object::new(),
    };
    if let Some(rest) = data {
        alert_data.extra = rules::passthrough(rest);
    }
    Ok(IndicatorAlert {
        symbol,
        alert_type,
        timestamp: envelope.time_of(timestamp),
        data: alert_data,
        severity: fields::take_id(&mut p, &["severity"])?,
        message: fields::take_text(&mut p, &["message"])?,
        extra: rules::passthrough(p),
    })
}
