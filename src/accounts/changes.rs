//! Changes to who is logged in (a logout, a revoked token, a user changed or
//! removed), announced to this process at once and, with Redis, to every
//! replica on `tickstock:auth:changes`. Each process drops what it cached
//! about the change and its open sockets check their login again.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::bus::Bus;

pub const CHANNEL: &str = "tickstock:auth:changes";
/// Changes are rare; a socket that misses some checks its login anyway.
const LOCAL_QUEUE: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum AuthChange {
    /// A login session ended; `session` is the SHA-256 of its id (the id
    /// itself is a credential and never leaves the process).
    LoggedOut {
        session: String,
    },
    TokenRevoked {
        token_id: i64,
    },
    /// Role, password or existence changed.
    UserChanged {
        user_id: i64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
struct Announcement {
    /// The announcing process: it applied the change already.
    origin: uuid::Uuid,
    #[serde(flatten)]
    change: AuthChange,
}

pub struct Changes {
    origin: uuid::Uuid,
    local: broadcast::Sender<AuthChange>,
    /// Redis, when replicas share one.
    bus: Option<Bus>,
}

impl Default for Changes {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Changes {
    /// Announces on `bus` too when it is Redis (the in-process bus reaches
    /// nobody the local announcement does not).
    pub fn new(bus: Option<&Bus>) -> Self {
        Self {
            origin: uuid::Uuid::new_v4(),
            local: broadcast::channel(LOCAL_QUEUE).0,
            bus: bus.filter(|bus| matches!(bus, Bus::Redis(_))).cloned(),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<AuthChange> {
        self.local.subscribe()
    }

    /// Tells this process, then the other replicas. Redis being away loses
    /// the cross-replica message only: their periodic checks still see it.
    pub async fn announce(&self, change: AuthChange) {
        let _ = self.local.send(change.clone());
        let Some(bus) = &self.bus else { return };
        let announcement = Announcement {
            origin: self.origin,
            change,
        };
        let payload = match serde_json::to_vec(&announcement) {
            Ok(payload) => Bytes::from(payload),
            Err(error) => {
                tracing::error!("AUTH: cannot encode an auth change: {error}");
                return;
            }
        };
        if let Err(error) = bus.publish(CHANNEL, payload).await {
            tracing::warn!("AUTH: cannot announce an auth change to the replicas: {error}");
        }
    }

    /// Delivers the other replicas' announcements to `apply` (which drops
    /// what is cached) and then to this process's subscribers, until `shutdown`.
    pub async fn listen(
        &self,
        bus: &Bus,
        apply: impl Fn(&AuthChange),
        shutdown: CancellationToken,
    ) {
        if self.bus.is_none() {
            return;
        }
        let mut subscription = bus.subscribe(&[CHANNEL], shutdown);
        while let Some(message) = subscription.messages.recv().await {
            match serde_json::from_slice::<Announcement>(&message.payload) {
                Ok(announcement) if announcement.origin != self.origin => {
                    apply(&announcement.change);
                    let _ = self.local.send(announcement.change);
                }
                Ok(_) => {}
                Err(error) => tracing::warn!("AUTH: ignored a malformed auth change: {error}"),
            }
        }
    }
}
