//! The feed's configuration group: where ticks come from, and the settings
//! of each source, checked together once at start-up.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use secrecy::{ExposeSecret, SecretString};

use super::massive::{self, MassiveSettings};
use super::replay::ReplaySpeed;
use super::{FeedSettings, Source};
use crate::variables::{ConfigError, Unechoed, invalid, secret};

/// The market leaders the synthetic feed walks and Massive is subscribed to
/// when neither `SYMBOLS` nor `MASSIVE_SUBSCRIPTIONS` says otherwise.
pub const DEFAULT_SYMBOLS: &str =
    "AAPL,MSFT,NVDA,AMZN,GOOGL,META,TSLA,BRK.B,JPM,V,UNH,XOM,JNJ,WMT,MA,PG,AVGO,HD,COST,LLY";

/// `DATA_SOURCE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceChoice {
    Massive,
    Synthetic,
    Replay,
    /// This process produces no ticks (another system feeds TickStockPL).
    None,
}

/// A comma-separated list of tickers or subscriptions, upper-cased.
#[derive(Debug, Clone, PartialEq)]
pub struct List(pub Vec<String>);

impl std::str::FromStr for List {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let items: Vec<String> = value
            .split(',')
            .map(|item| item.trim().to_ascii_uppercase())
            .filter(|item| !item.is_empty())
            .collect();
        if let Some(bad) = items.iter().find(|i| {
            !i.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_*:".contains(c))
        }) {
            return Err(format!("{bad:?} is not a ticker"));
        }
        Ok(Self(items))
    }
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Market feed")]
pub struct FeedConfig {
    /// Where ticks come from: massive, synthetic, replay or none
    /// (default: massive when MASSIVE_API_KEY is set, else synthetic).
    #[arg(
        long,
        global = true,
        env = "DATA_SOURCE",
        value_name = "DATA_SOURCE",
        value_enum
    )]
    pub data_source: Option<SourceChoice>,

    /// The Massive API key.
    #[arg(
        long,
        global = true,
        env = "MASSIVE_API_KEY",
        value_name = "MASSIVE_API_KEY",
        hide_env_values = true,
        value_parser = Unechoed(secret)
    )]
    pub massive_api_key: Option<SecretString>,

    /// The Massive WebSocket (delayed data: wss://delayed.massive.com/stocks).
    #[arg(
        long,
        global = true,
        env = "MASSIVE_WS_URL",
        value_name = "MASSIVE_WS_URL",
        default_value = "wss://socket.massive.com/stocks",
        value_parser = parse_ws_url
    )]
    pub massive_ws_url: String,

    /// A PEM file of extra CA certificates to trust for MASSIVE_WS_URL.
    #[arg(
        long,
        global = true,
        env = "MASSIVE_CA_FILE",
        value_name = "MASSIVE_CA_FILE"
    )]
    pub massive_ca_file: Option<PathBuf>,

    /// Massive subscriptions, e.g. `AM.AAPL,T.MSFT` (default: `A.<symbol>` for every SYMBOLS entry).
    #[arg(
        long,
        global = true,
        env = "MASSIVE_SUBSCRIPTIONS",
        value_name = "MASSIVE_SUBSCRIPTIONS"
    )]
    pub massive_subscriptions: Option<List>,

    /// The symbol universe: what the synthetic feed walks and Massive is subscribed to.
    #[arg(long, global = true, env = "SYMBOLS", value_name = "SYMBOLS", default_value = DEFAULT_SYMBOLS)]
    pub symbols: List,

    /// Seconds without any frame (data or pong) after which the Massive socket counts as dead.
    #[arg(
        long,
        global = true,
        env = "MASSIVE_READ_TIMEOUT_SECONDS",
        value_name = "MASSIVE_READ_TIMEOUT_SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(3..=600)
    )]
    pub massive_read_timeout_seconds: u64,

    /// Longest wait, in seconds, between reconnects to Massive after repeated
    /// losses (the wait doubles from 0.5 s up to it, with jitter).
    #[arg(
        long,
        global = true,
        env = "MASSIVE_RECONNECT_MAX_SECONDS",
        value_name = "MASSIVE_RECONNECT_MAX_SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub massive_reconnect_max_seconds: u64,

    /// Seconds the Massive feed may be down before a critical alert is published.
    #[arg(
        long,
        global = true,
        env = "MASSIVE_ALERT_GRACE_SECONDS",
        value_name = "MASSIVE_ALERT_GRACE_SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(0..=86_400)
    )]
    pub massive_alert_grace_seconds: u64,

    /// Record every raw Massive frame to this file (JSON lines), for REPLAY_FILE.
    #[arg(
        long,
        global = true,
        env = "MASSIVE_RECORD_FILE",
        value_name = "MASSIVE_RECORD_FILE"
    )]
    pub massive_record_file: Option<PathBuf>,

    /// The recorded frames DATA_SOURCE=replay plays.
    #[arg(long, global = true, env = "REPLAY_FILE", value_name = "REPLAY_FILE")]
    pub replay_file: Option<PathBuf>,

    /// Replay pace: 1 is as recorded, 10 ten times faster, `max` as fast as possible.
    #[arg(
        long,
        global = true,
        env = "REPLAY_SPEED",
        value_name = "REPLAY_SPEED",
        default_value = "1"
    )]
    pub replay_speed: ReplaySpeed,

    /// Ticks per second of the synthetic feed, across all symbols.
    #[arg(
        long,
        global = true,
        env = "SYNTHETIC_TICKS_PER_SECOND",
        value_name = "SYNTHETIC_TICKS_PER_SECOND",
        default_value_t = 20.0,
        value_parser = parse_rate
    )]
    pub synthetic_ticks_per_second: f64,

    /// Ticks the forwarder may hold while Redis is slow or away; beyond it the oldest are dropped.
    #[arg(
        long,
        global = true,
        env = "FEED_QUEUE_CAPACITY",
        value_name = "FEED_QUEUE_CAPACITY",
        default_value_t = 65_536,
        value_parser = clap::value_parser!(u64).range(1..=16_777_216)
    )]
    pub feed_queue_capacity: u64,
}

impl FeedConfig {
    /// The feed this group asks for; checks what depends on more than one
    /// variable, and reads `MASSIVE_CA_FILE`.
    pub fn settings(&self) -> Result<FeedSettings, ConfigError> {
        let choice = self
            .data_source
            .unwrap_or(if self.massive_api_key.is_some() {
                SourceChoice::Massive
            } else {
                SourceChoice::Synthetic
            });
        let source = match choice {
            SourceChoice::None => None,
            SourceChoice::Synthetic => Some(Source::Synthetic {
                symbols: self.symbols.0.clone(),
                ticks_per_second: self.synthetic_ticks_per_second,
            }),
            SourceChoice::Replay => {
                let path = self
                    .replay_file
                    .clone()
                    .ok_or_else(|| invalid("REPLAY_FILE", "required when DATA_SOURCE=replay"))?;
                if !path.is_file() {
                    return Err(invalid(
                        "REPLAY_FILE",
                        format!("{} is not a readable file", path.display()),
                    ));
                }
                Some(Source::Replay {
                    path,
                    speed: self.replay_speed,
                })
            }
            SourceChoice::Massive => Some(Source::Massive(self.massive()?)),
        };
        Ok(FeedSettings {
            source,
            queue_capacity: usize::try_from(self.feed_queue_capacity).unwrap_or(usize::MAX),
            outage_grace: Duration::from_secs(self.massive_alert_grace_seconds),
        })
    }

    fn massive(&self) -> Result<MassiveSettings, ConfigError> {
        let api_key = self
            .massive_api_key
            .as_ref()
            .map(ExposeSecret::expose_secret)
            .filter(|key| !key.trim().is_empty())
            .ok_or_else(|| invalid("MASSIVE_API_KEY", "required when DATA_SOURCE=massive"))?;
        let subscriptions = match &self.massive_subscriptions {
            Some(list) => list.0.clone(),
            None => self.symbols.0.iter().map(|s| format!("A.{s}")).collect(),
        };
        if subscriptions.is_empty() {
            return Err(invalid("MASSIVE_SUBSCRIPTIONS", "nothing to subscribe to"));
        }
        let connector = massive::tls::connector(self.massive_ca_file.as_deref())
            .map_err(|e| invalid("MASSIVE_CA_FILE", e.to_string()))?;
        Ok(MassiveSettings {
            url: self.massive_ws_url.clone(),
            api_key: SecretString::from(api_key.to_owned()),
            subscriptions,
            read_timeout: Duration::from_secs(self.massive_read_timeout_seconds),
            reconnect_cap: Duration::from_secs(self.massive_reconnect_max_seconds),
            connector,
            record_file: self.massive_record_file.clone(),
        })
    }
}

fn parse_ws_url(value: &str) -> Result<String, String> {
    if value.starts_with("wss://") || value.starts_with("ws://") {
        Ok(value.to_owned())
    } else {
        Err("expected a ws:// or wss:// URL".into())
    }
}

fn parse_rate(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0 => Ok(rate),
        _ => Err("expected a number of ticks per second above 0 (at most 1000000)".into()),
    }
}
