//! What every part's configuration group is built from: the error that
//! names a wrong variable, secrets that never show, and a parser whose
//! errors never repeat the value they refuse (CONTRACT §7).

use std::fmt;
use std::ops::Range;

use secrecy::{ExposeSecret, SecretString};

/// A configuration value that is wrong, named by its variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid {variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

pub fn invalid(variable: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        reason: reason.into(),
    }
}

/// A parser of a value that may be or hold a secret: clap's own errors
/// repeat the value, this one names only the variable and the reason.
#[derive(Clone)]
pub struct Unechoed<T>(pub fn(&str) -> Result<T, String>);

impl<T: Clone + Send + Sync + 'static> clap::builder::TypedValueParser for Unechoed<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<T, clap::Error> {
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

/// A secret taken as it is (a password, an API key): for [`Unechoed`].
pub fn secret(value: &str) -> Result<SecretString, String> {
    Ok(value.into())
}

/// A URL that may hold a password (`DATABASE_URL`, `REDIS_URL`): its
/// `Debug` and `Display` show it with every password as `***`;
/// `expose_secret` gives the URL to connect with.
#[derive(Clone)]
pub struct SecretUrl {
    url: SecretString,
    shown: String,
}

impl SecretUrl {
    /// `value` once `check` accepts it. A refusal's reason that holds one
    /// of the URL's passwords (a library's error quoting its input) is
    /// replaced by a generic one.
    pub fn checked(
        value: &str,
        check: impl FnOnce(&str) -> Result<(), String>,
    ) -> Result<Self, String> {
        match check(value) {
            Ok(()) => Ok(Self::from(value.to_owned())),
            Err(reason) => {
                let quotes_a_secret = secret_spans(value)
                    .into_iter()
                    .any(|span| !span.is_empty() && reason.contains(&value[span]));
                Err(if quotes_a_secret {
                    "not a URL of the expected form".to_owned()
                } else {
                    reason
                })
            }
        }
    }
}

/// Unchecked: the configuration's parsers use [`SecretUrl::checked`].
impl From<String> for SecretUrl {
    fn from(url: String) -> Self {
        let mut shown = String::with_capacity(url.len());
        let mut copied = 0;
        for span in secret_spans(&url) {
            shown.push_str(&url[copied..span.start]);
            shown.push_str("***");
            copied = span.end;
        }
        shown.push_str(&url[copied..]);
        Self {
            url: url.into(),
            shown,
        }
    }
}

impl ExposeSecret<str> for SecretUrl {
    fn expose_secret(&self) -> &str {
        self.url.expose_secret()
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.shown, f)
    }
}

/// Query parameters that carry a password (PostgreSQL's `password`, the
/// Redis socket URL's `pass`).
const PASSWORD_PARAMETERS: [&str; 2] = ["password", "pass"];

/// Where `url`'s passwords lie, in order: the userinfo's password and the
/// values of password parameters. Any text is accepted, a malformed URL
/// too: when no `@` ends the authority but one comes later (a password
/// holding an unescaped `/`, `?` or `#`), everything before it is hidden.
fn secret_spans(url: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let start = url.find("://").map_or(0, |scheme| scheme + 3);
    let rest = &url[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let after_userinfo = match rest[..authority_end].rfind('@') {
        Some(at) => {
            if let Some(colon) = rest[..at].find(':') {
                spans.push(start + colon + 1..start + at);
            }
            at
        }
        None => match rest.rfind('@') {
            Some(at) => {
                spans.push(start..start + at);
                at
            }
            None => 0,
        },
    };
    let tail_start = start + after_userinfo;
    let tail = &url[tail_start..];
    if let Some(question) = tail.find('?') {
        let query_start = tail_start + question + 1;
        let query_end = url[query_start..]
            .find('#')
            .map_or(url.len(), |hash| query_start + hash);
        let mut pair_start = query_start;
        for pair in url[query_start..query_end].split('&') {
            if let Some((key, _)) = pair.split_once('=')
                && PASSWORD_PARAMETERS
                    .iter()
                    .any(|name| key.eq_ignore_ascii_case(name))
            {
                spans.push(pair_start + key.len() + 1..pair_start + pair.len());
            }
            pair_start += pair.len() + 1;
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(url: &str) -> String {
        SecretUrl::from(url.to_owned()).to_string()
    }

    #[test]
    fn urls_show_every_password_as_stars() {
        for (url, expected) in [
            (
                "postgres://user:hunter2@host/db",
                "postgres://user:***@host/db",
            ),
            ("redis://:hunter2@host:6379/0", "redis://:***@host:6379/0"),
            ("rediss://user:p%40ss@host", "rediss://user:***@host"),
            ("postgres://u:a@b@host/db", "postgres://u:***@host/db"),
            ("postgres://u:pa/ss@host/db", "postgres://***@host/db"),
            (
                "postgres://host/db?user=u&password=hunter2&sslmode=require",
                "postgres://host/db?user=u&password=***&sslmode=require",
            ),
            (
                "redis+unix:///tmp/redis.sock?db=1&pass=hunter2#x",
                "redis+unix:///tmp/redis.sock?db=1&pass=***#x",
            ),
            ("postgres://user@host/db", "postgres://user@host/db"),
            ("redis://127.0.0.1:6379/", "redis://127.0.0.1:6379/"),
            ("", ""),
        ] {
            assert_eq!(shown(url), expected, "{url}");
        }
    }

    #[test]
    fn debug_and_display_show_the_url_without_its_password() {
        let url = SecretUrl::from("postgres://u:hunter2@host/db".to_owned());
        assert_eq!(format!("{url}"), "postgres://u:***@host/db");
        assert_eq!(format!("{url:?}"), "\"postgres://u:***@host/db\"");
        assert_eq!(url.expose_secret(), "postgres://u:hunter2@host/db");
    }

    #[test]
    fn a_refusal_quoting_a_password_is_replaced() {
        let echoing = |value: &str| Err(format!("cannot parse {value}"));
        let error = SecretUrl::checked("redis://:hunter2@host:x", echoing).unwrap_err();
        assert!(!error.contains("hunter2"), "{error}");
        let plain = |_: &str| Err("invalid port number".to_owned());
        let error = SecretUrl::checked("redis://:hunter2@host:x", plain).unwrap_err();
        assert_eq!(error, "invalid port number");
    }
}
