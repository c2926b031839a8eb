//! Configuration, from the environment (and `.env`), validated once at
//! start-up: a bad value stops start-up with a message naming the variable.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::events::Rules;
use crate::feed::massive::{self, MassiveSettings};
use crate::feed::replay::ReplaySpeed;
use crate::feed::{FeedSettings, Source};
use crate::sim::{self, BarLength, EmbeddedSimulator, HealthShape};

/// The market leaders the synthetic feed walks and Massive is subscribed to
/// when neither `SYMBOLS` nor `MASSIVE_SUBSCRIPTIONS` says otherwise.
pub const DEFAULT_SYMBOLS: &str =
    "AAPL,MSFT,NVDA,AMZN,GOOGL,META,TSLA,BRK.B,JPM,V,UNH,XOM,JNJ,WMT,MA,PG,AVGO,HD,COST,LLY";

/// The widest `EVENT_MAX_AGE_SECONDS`: a century.
pub const MAX_EVENT_AGE_SECONDS: u64 = 3_155_760_000;

/// The bootstrap admin's password in `Config::for_tests`.
pub const TEST_ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// `DATA_SOURCE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceChoice {
    Massive,
    Synthetic,
    Replay,
    /// This process produces no ticks (another system feeds TickStockPL).
    None,
}

/// A configuration value that is wrong, named by its variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid {variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

fn invalid(variable: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        reason: reason.into(),
    }
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

/// A comma-separated list of web origins (`scheme://host[:port]`), lower-cased.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Origins(pub Vec<String>);

impl std::str::FromStr for Origins {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let mut origins = Vec::new();
        for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let origin = origin.trim_end_matches('/').to_ascii_lowercase();
            let host = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            match host {
                Some(host) if !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']) => {
                    origins.push(origin)
                }
                _ => {
                    return Err(format!(
                        "{origin:?} is not an origin like https://host[:port]"
                    ));
                }
            }
        }
        Ok(Self(origins))
    }
}

/// A comma-separated list of IP addresses and CIDR networks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Networks(pub Vec<ipnet::IpNet>);

impl std::str::FromStr for Networks {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        value
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<ipnet::IpNet>()
                    .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("{item:?} is not an IP address or CIDR network"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address the HTTP server listens on.
    #[arg(
        long,
        global = true,
        env = "BIND_ADDR",
        value_name = "BIND_ADDR",
        default_value = "127.0.0.1:5000"
    )]
    pub bind_addr: SocketAddr,

    /// Redis URL (redis:// or rediss://). Unset: the in-process bus of the embedded default.
    #[arg(long, global = true, env = "REDIS_URL", value_name = "REDIS_URL", value_parser = Unechoed(parse_redis_url))]
    pub redis_url: Option<String>,

    /// PostgreSQL URL. Unset: accounts and history live in memory (embedded default).
    #[arg(long, global = true, env = "DATABASE_URL", value_name = "DATABASE_URL", value_parser = Unechoed(parse_database_url), hide_env_values = true)]
    pub database_url: Option<String>,

    /// Signs the session cookies. Unset: a random secret per start (sessions end at restart).
    #[arg(long, global = true, env = "SESSION_SECRET", value_name = "SESSION_SECRET", hide_env_values = true, value_parser = Unechoed(parse_secret))]
    pub session_secret: Option<String>,

    /// Mark session cookies Secure (set when TickStock is served over HTTPS).
    #[arg(long, global = true, env = "COOKIE_SECURE", value_name = "COOKIE_SECURE", default_value_t = false, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,

    /// Origins besides the server's own whose pages may open the WebSocket
    /// (comma-separated, e.g. `https://dash.example.com`).
    #[arg(
        long,
        global = true,
        env = "ALLOWED_ORIGINS",
        value_name = "ALLOWED_ORIGINS",
        default_value = ""
    )]
    pub allowed_origins: Origins,

    /// Creates the user `admin` (role super) with this password when no user exists.
    #[arg(
        long,
        global = true,
        env = "TICKSTOCK_ADMIN_PASSWORD",
        value_name = "TICKSTOCK_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    pub tickstock_admin_password: Option<String>,

    /// Failed logins for one name before it is locked.
    #[arg(long, global = true, env = "LOGIN_MAX_FAILURES", value_name = "LOGIN_MAX_FAILURES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub login_max_failures: u32,

    /// Seconds the failures are counted over, and how long a name stays locked.
    #[arg(long, global = true, env = "LOGIN_LOCKOUT_SECONDS", value_name = "LOGIN_LOCKOUT_SECONDS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub login_lockout_seconds: u64,

    /// Login attempts a minute from one client address (an IPv6 /64 counts as one).
    #[arg(
        long,
        global = true,
        env = "LOGIN_RATE_PER_ADDRESS",
        value_name = "LOGIN_RATE_PER_ADDRESS",
        default_value = "30"
    )]
    pub login_rate_per_address: NonZeroU32,

    /// Login attempts a minute for one login name, from any address.
    #[arg(
        long,
        global = true,
        env = "LOGIN_RATE_PER_NAME",
        value_name = "LOGIN_RATE_PER_NAME",
        default_value = "20"
    )]
    pub login_rate_per_name: NonZeroU32,

    /// Reverse proxies (addresses or CIDR networks, comma-separated) whose
    /// `X-Forwarded-For` names the client of a login. Unset: the socket's peer is the client.
    #[arg(
        long,
        global = true,
        env = "TRUSTED_PROXIES",
        value_name = "TRUSTED_PROXIES"
    )]
    pub trusted_proxies: Option<Networks>,

    /// How far a dashboard client may fall behind, in frames, before it is disconnected (close code 4008).
    #[arg(
        long,
        global = true,
        env = "PUSH_CLIENT_QUEUE_FRAMES",
        value_name = "PUSH_CLIENT_QUEUE_FRAMES",
        default_value_t = 1_024,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(4..=65_536)
    )]
    pub push_client_queue_frames: usize,

    /// Seconds without a health event after which an active session is `stale`.
    #[arg(
        long,
        global = true,
        env = "HEALTH_STALE_SECONDS",
        value_name = "HEALTH_STALE_SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub health_stale_seconds: u64,

    /// Seconds an event's own timestamp may lie before its arrival; an older one is refused (decode error `too_old`).
    #[arg(
        long,
        global = true,
        env = "EVENT_MAX_AGE_SECONDS",
        value_name = "EVENT_MAX_AGE_SECONDS",
        default_value_t = Rules::DEFAULT_MAX_AGE_SECONDS,
        value_parser = clap::value_parser!(u64).range(1..=MAX_EVENT_AGE_SECONDS)
    )]
    pub event_max_age_seconds: u64,

    /// Seconds an event's own timestamp may lie after its arrival; a later one is refused (decode error `in_future`).
    #[arg(
        long,
        global = true,
        env = "EVENT_MAX_FUTURE_SECONDS",
        value_name = "EVENT_MAX_FUTURE_SECONDS",
        default_value_t = Rules::DEFAULT_MAX_FUTURE_SECONDS,
        value_parser = clap::value_parser!(u64).range(0..=86_400)
    )]
    pub event_max_future_seconds: u64,

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
        hide_env_values = true
    )]
    pub massive_api_key: Option<String>,

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

    /// The built-in TickStockPL simulator in the embedded default (no REDIS_URL):
    /// auto runs it when this process also produces ticks, on always, off never.
    #[arg(
        long,
        global = true,
        env = "EMBEDDED_SIMULATOR",
        value_name = "EMBEDDED_SIMULATOR",
        value_enum,
        default_value = "auto"
    )]
    pub embedded_simulator: EmbeddedSimulator,

    /// Simulator bar length in seconds; auto: 60 for `tickstock simulate`, 5 embedded.
    #[arg(
        long,
        global = true,
        env = "SIM_BAR_SECONDS",
        value_name = "SIM_BAR_SECONDS",
        default_value = "auto"
    )]
    pub sim_bar_seconds: BarLength,

    /// Seconds between the simulator's health events.
    #[arg(
        long,
        global = true,
        env = "SIM_HEALTH_SECONDS",
        value_name = "SIM_HEALTH_SECONDS",
        default_value = "10",
        value_parser = sim::parse_seconds
    )]
    pub sim_health_seconds: Duration,

    /// Shape of the simulator's health events: a (flat, as TickStockPL sends) or b (seed 004's groups).
    #[arg(
        long,
        global = true,
        env = "SIM_HEALTH_SHAPE",
        value_name = "SIM_HEALTH_SHAPE",
        value_enum,
        default_value = "a"
    )]
    pub sim_health_shape: HealthShape,

    /// Invented past bars (never published) that warm each new symbol's indicators.
    #[arg(
        long,
        global = true,
        env = "SIM_WARMUP_BARS",
        value_name = "SIM_WARMUP_BARS",
        default_value_t = 250,
        value_parser = clap::value_parser!(u64).range(0..=10_000)
    )]
    pub sim_warmup_bars: u64,
}

impl Config {
    pub fn health_stale_after(&self) -> Duration {
        Duration::from_secs(self.health_stale_seconds)
    }

    /// What the subscriber refuses beyond the shapes: the event time window.
    pub fn decode_rules(&self) -> Rules {
        Rules::new(
            Duration::from_secs(self.event_max_age_seconds),
            Duration::from_secs(self.event_max_future_seconds),
        )
    }

    /// The defaults of every variable, on an ephemeral port and with no feed,
    /// for tests to adjust.
    pub fn for_tests() -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            config: Config,
        }
        let mut config = Defaults::parse_from(["tickstock"]).config;
        config.bind_addr = SocketAddr::from(([127, 0, 0, 1], 0));
        config.redis_url = None;
        config.database_url = None;
        config.tickstock_admin_password = Some(TEST_ADMIN_PASSWORD.into());
        config.data_source = Some(SourceChoice::None);
        // The seeds' examples and the mock data are dated 2025: accept them.
        config.event_max_age_seconds = MAX_EVENT_AGE_SECONDS;
        config
    }

    /// The feed this configuration asks for; checks what depends on more
    /// than one variable, and reads `MASSIVE_CA_FILE`.
    pub fn feed_settings(&self) -> Result<FeedSettings, ConfigError> {
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
            SourceChoice::Massive => {
                let api_key = self
                    .massive_api_key
                    .clone()
                    .filter(|key| !key.trim().is_empty())
                    .ok_or_else(|| {
                        invalid("MASSIVE_API_KEY", "required when DATA_SOURCE=massive")
                    })?;
                let subscriptions = match &self.massive_subscriptions {
                    Some(list) => list.0.clone(),
                    None => self.symbols.0.iter().map(|s| format!("A.{s}")).collect(),
                };
                if subscriptions.is_empty() {
                    return Err(invalid("MASSIVE_SUBSCRIPTIONS", "nothing to subscribe to"));
                }
                let connector = massive::tls::connector(self.massive_ca_file.as_deref())
                    .map_err(|e| invalid("MASSIVE_CA_FILE", e.to_string()))?;
                Some(Source::Massive(MassiveSettings {
                    url: self.massive_ws_url.clone(),
                    api_key,
                    subscriptions,
                    read_timeout: Duration::from_secs(self.massive_read_timeout_seconds),
                    reconnect_cap: Duration::from_secs(self.massive_reconnect_max_seconds),
                    connector,
                    record_file: self.massive_record_file.clone(),
                }))
            }
        };
        Ok(FeedSettings {
            source,
            queue_capacity: usize::try_from(self.feed_queue_capacity).unwrap_or(usize::MAX),
            outage_grace: Duration::from_secs(self.massive_alert_grace_seconds),
        })
    }
}

fn parse_secret(value: &str) -> Result<String, String> {
    if value.len() >= 32 {
        Ok(value.to_owned())
    } else {
        Err("use at least 32 characters (e.g. `openssl rand -hex 32`)".into())
    }
}

/// A parser of a value that may hold a secret (a password in a URL, a
/// signing secret): clap's own errors repeat the value, this one names only
/// the variable and the reason.
#[derive(Clone)]
struct Unechoed(fn(&str) -> Result<String, String>);

impl clap::builder::TypedValueParser for Unechoed {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let name = arg
            .and_then(|arg| arg.get_value_names())
            .and_then(|names| names.first())
            .map_or_else(|| "value".to_owned(), ToString::to_string);
        let parsed = value
            .to_str()
            .ok_or_else(|| "not UTF-8".to_owned())
            .and_then(self.0);
        parsed.map_err(|reason| {
            let message = format!("invalid {name}: {reason}\n");
            clap::Error::raw(clap::error::ErrorKind::ValueValidation, message).with_cmd(cmd)
        })
    }
}

fn parse_database_url(value: &str) -> Result<String, String> {
    match value.parse::<sqlx::postgres::PgConnectOptions>() {
        Ok(_) if value.starts_with("postgres://") || value.starts_with("postgresql://") => {
            Ok(value.to_owned())
        }
        Ok(_) => Err("expected a postgres:// or postgresql:// URL".into()),
        Err(error) => Err(format!("not a PostgreSQL URL ({error})")),
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

fn parse_redis_url(value: &str) -> Result<String, String> {
    match redis::Client::open(value) {
        Ok(_) => Ok(value.to_owned()),
        Err(error) => Err(format!("not a Redis URL ({error})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let networks: Networks = " 127.0.0.1, 10.0.0.0/8,::1 ,".parse().unwrap();
        let texts: Vec<String> = networks.0.iter().map(ToString::to_string).collect();
        assert_eq!(texts, ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
        for bad in ["10.0.0.0/33", "proxy.example", "10.0.0"] {
            let error = bad.parse::<Networks>().unwrap_err();
            assert!(error.contains(bad), "{error}");
        }
    }
}
