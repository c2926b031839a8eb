//! Who a request is logged in as, and whether an open socket still is: its
//! login session or token, user and role, checked again whenever a change is
//! announced (see [`crate::accounts::changes`]) and every few seconds.
//! Also the `Origin` check of the WebSocket handshake.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use axum_login::AuthUser;
use tokio_util::sync::CancellationToken;
use tower_sessions::session::Id;

use super::login_sessions::{self, LoginSessionStore};
use crate::accounts::changes::AuthChange;
use crate::accounts::{Accounts, Role, User};
use crate::bus::Bus;

/// What a request was authenticated by, placed by the access middleware.
#[derive(Debug, Clone)]
pub enum Credential {
    Session(Id),
    /// A bearer token, by its digest.
    Token(String),
}

/// What an open socket was opened as.
pub struct Login {
    credential: Credential,
    user_id: i64,
    role: Role,
    stamp: Vec<u8>,
}

impl Login {
    pub fn new(credential: Credential, user: &User) -> Self {
        Self {
            credential,
            user_id: user.id,
            role: user.role,
            stamp: user.session_auth_hash().to_vec(),
        }
    }
}

/// What an announced change means for one login.
#[derive(Debug, PartialEq, Eq)]
pub enum Concern {
    /// It ended: this very session logged out.
    Ended,
    /// It may have: look again.
    Recheck,
    Unrelated,
}

#[derive(Clone)]
pub struct Identity {
    accounts: Accounts,
    sessions: LoginSessionStore,
    /// Origins besides the server's own, lower case, without a trailing slash.
    allowed_origins: Arc<[String]>,
}

impl Identity {
    pub fn new(
        accounts: Accounts,
        sessions: LoginSessionStore,
        allowed_origins: Vec<String>,
    ) -> Self {
        Self {
            accounts,
            sessions,
            allowed_origins: allowed_origins.into(),
        }
    }

    pub fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// A browser names the page's origin: the server's own (the Host it was
    /// asked by, either scheme) or one allowed by `ALLOWED_ORIGINS`. No
    /// Origin at all is a client that is not a browser (a script with a token).
    pub fn origin_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.trim_end_matches('/').to_ascii_lowercase();
        let own = headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .map(str::to_ascii_lowercase)
            .is_some_and(|host| {
                origin
                    .strip_prefix("http://")
                    .or_else(|| origin.strip_prefix("https://"))
                    == Some(host.as_str())
            });
        own || self.allowed_origins.contains(&origin)
    }

    pub fn concern(login: &Login, change: &AuthChange) -> Concern {
        match (change, &login.credential) {
            (AuthChange::LoggedOut { session }, Credential::Session(id))
                if *session == login_sessions::digest(id) =>
            {
                Concern::Ended
            }
            (AuthChange::LoggedOut { .. }, _) => Concern::Unrelated,
            (AuthChange::TokenRevoked { .. }, Credential::Token(_)) => Concern::Recheck,
            (AuthChange::TokenRevoked { .. }, Credential::Session(_)) => Concern::Unrelated,
            (AuthChange::UserChanged { user_id }, _) if *user_id == login.user_id => {
                Concern::Recheck
            }
            (AuthChange::UserChanged { .. }, _) => Concern::Unrelated,
        }
    }

    /// Whether `login` still stands: its session or token, its user, role and
    /// password. A store that cannot answer ends nothing.
    pub async fn still_valid(&self, login: &Login) -> bool {
        let user = match &login.credential {
            Credential::Token(digest) => self.accounts.user_for_token_digest(digest).await,
            Credential::Session(id) => {
                use tower_sessions::SessionStore;
                match self.sessions.load(id).await {
                    Ok(Some(_)) => self.accounts.get(login.user_id).await,
                    Ok(None) => return false,
                    Err(_) => return true,
                }
            }
        };
        match user {
            Ok(Some(user)) => {
                user.id == login.user_id
                    && user.role == login.role
                    && user.session_auth_hash() == login.stamp.as_slice()
            }
            Ok(None) => false,
            Err(_) => true,
        }
    }

    /// Applies the other replicas' announcements to this process's caches
    /// (and so to its sockets) until `shutdown`.
    pub async fn follow_replicas(self, bus: Bus, shutdown: CancellationToken) {
        let forget = |change: &AuthChange| {
            self.accounts.forget(change);
            if let AuthChange::LoggedOut { session } = change {
                self.sessions.forget(session);
            }
        };
        self.accounts.changes().listen(&bus, forget, shutdown).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::web::settings::Origins;

    fn identity(allowed: &str) -> Identity {
        let allowed: Origins = allowed.parse().unwrap();
        let sessions = LoginSessionStore::memory();
        Identity::new(Accounts::new(Store::memory()), sessions, allowed.0)
    }

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().unwrap());
        }
        headers
    }

    #[test]
    fn only_the_own_origin_and_the_allowed_ones_pass() {
        let identity = identity(" https://Dash.Example/ ,http://10.0.0.2:8080");
        let host = "tickstock.example:5000";
        for origin in [
            None,
            Some("http://tickstock.example:5000"),
            Some("https://TICKSTOCK.example:5000/"),
            Some("https://dash.example"),
            Some("http://10.0.0.2:8080"),
        ] {
            assert!(
                identity.origin_allowed(&headers(host, origin)),
                "{origin:?}"
            );
        }
        for origin in [
            "null",
            "http://evil.example",
            "http://tickstock.example",
            "http://tickstock.example:5001",
            "http://tickstock.example:5000.evil.example",
            "ws://tickstock.example:5000",
            "https://dash.example:443",
            "",
        ] {
            assert!(
                !identity.origin_allowed(&headers(host, Some(origin))),
                "{origin:?}"
            );
        }
    }

    #[test]
    fn an_allow_list_holds_origins_only() {
        for bad in [
            "dash.example",
            "https://",
            "https://dash.example/path",
            "ftp://x",
        ] {
            assert!(bad.parse::<Origins>().is_err(), "{bad}");
        }
        assert_eq!("".parse::<Origins>().unwrap(), Origins::default());
    }

    #[test]
    fn a_logout_ends_its_own_session_only_and_changes_recheck_whom_they_concern() {
        let id = Id::default();
        let user = |id| Login {
            credential: Credential::Session(Id::default()),
            user_id: id,
            role: Role::User,
            stamp: Vec::new(),
        };
        let session = Login {
            credential: Credential::Session(id),
            ..user(1)
        };
        let token = Login {
            credential: Credential::Token("digest".into()),
            ..user(1)
        };
        let own = AuthChange::LoggedOut {
            session: login_sessions::digest(&id),
        };
        assert_eq!(Identity::concern(&session, &own), Concern::Ended);
        assert_eq!(Identity::concern(&user(1), &own), Concern::Unrelated);
        let revoked = AuthChange::TokenRevoked { token_id: 7 };
        assert_eq!(Identity::concern(&token, &revoked), Concern::Recheck);
        assert_eq!(Identity::concern(&session, &revoked), Concern::Unrelated);
        let changed = AuthChange::UserChanged { user_id: 1 };
        assert_eq!(Identity::concern(&token, &changed), Concern::Recheck);
        assert_eq!(Identity::concern(&user(2), &changed), Concern::Unrelated);
    }
}
