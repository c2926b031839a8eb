//! The web server's configuration groups: where it listens and who may open
//! the dashboard push, and how logins are signed, bootstrapped and limited.

use std::net::SocketAddr;
use std::num::NonZeroU32;

use clap::Args;
use secrecy::SecretString;

use crate::variables::{Unechoed, secret};

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "HTTP server")]
pub struct ServerConfig {
    /// Address the HTTP server listens on.
    #[arg(
        long,
        global = true,
        env = "BIND_ADDR",
        value_name = "BIND_ADDR",
        default_value = "127.0.0.1:5000"
    )]
    pub bind_addr: SocketAddr,

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
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Logins")]
pub struct LoginConfig {
    /// Signs the session cookies. Unset: a random secret per start (sessions end at restart).
    #[arg(long, global = true, env = "SESSION_SECRET", value_name = "SESSION_SECRET", hide_env_values = true, value_parser = Unechoed(parse_session_secret))]
    pub session_secret: Option<SecretString>,

    /// Mark session cookies Secure (set when TickStock is served over HTTPS).
    #[arg(long, global = true, env = "COOKIE_SECURE", value_name = "COOKIE_SECURE", default_value_t = false, action = clap::ArgAction::Set)]
    pub cookie_secure: bool,

    /// Creates the user `admin` (role super) with this password when no user exists.
    #[arg(
        long,
        global = true,
        env = "TICKSTOCK_ADMIN_PASSWORD",
        value_name = "TICKSTOCK_ADMIN_PASSWORD",
        hide_env_values = true,
        value_parser = Unechoed(secret)
    )]
    pub tickstock_admin_password: Option<SecretString>,

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
}

fn parse_session_secret(value: &str) -> Result<SecretString, String> {
    if value.len() >= 32 {
        Ok(value.into())
    } else {
        Err("use at least 32 characters (e.g. `openssl rand -hex 32`)".into())
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
