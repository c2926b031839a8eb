//! What admins do to accounts, from the admin page and the CLI alike: add a
//! user, disable, enable or delete one, change a role or a password, create
//! and revoke API tokens. Each action is checked against the guards below,
//! ends the logins it concerns (announced on `tickstock:auth:changes`, see
//! [`super::changes`]: sessions end and sockets close with 4401) and is
//! recorded in the audit trail under the name of who did it.
//!
//! Guards: nobody disables, deletes or changes the role of themselves, and
//! the last active admin (admin or super, not disabled) is never disabled,
//! deleted or made a plain user, so that someone is left to undo a mistake.

use chrono::Utc;

use super::changes::AuthChange;
use super::tokens::TokenInfo;
use super::{AccountError, Accounts, Role, User};
use crate::store::accounts::{AuditEntry, NewAuditEntry, UserChange};

/// Lines of the audit trail one read answers at most.
pub const AUDIT_PAGE_MAX: usize = 200;

/// Who does an admin action, as the audit trail names them.
#[derive(Debug, Clone)]
pub struct Actor {
    name: String,
    /// The acting user; `None` for the CLI and start-up, who are nobody's login.
    user_id: Option<i64>,
}

impl Actor {
    /// `tickstock user ...` and `tickstock token ...`.
    pub fn cli() -> Self {
        Self {
            name: "cli".into(),
            user_id: None,
        }
    }

    /// The server creating the bootstrap admin.
    pub fn startup() -> Self {
        Self {
            name: "startup".into(),
            user_id: None,
        }
    }

    /// A signed-in admin.
    pub fn user(user: &User) -> Self {
        Self {
            name: user.username.clone(),
            user_id: Some(user.id),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The admin actions, done as one actor.
pub struct Admin<'a> {
    accounts: &'a Accounts,
    actor: Actor,
}

impl Accounts {
    pub fn admin(&self, actor: Actor) -> Admin<'_> {
        Admin {
            accounts: self,
            actor,
        }
    }

    /// At most `limit` lines of the audit trail (and never more than
    /// [`AUDIT_PAGE_MAX`]), newest first, older than line `before` when given.
    pub async fn audit(
        &self,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, AccountError> {
        let limit = limit.min(AUDIT_PAGE_MAX);
        Ok(self.store.audit().audit_page(before, limit).await?)
    }
}

fn token_target(info: &TokenInfo) -> String {
    format!("token {} ({})", info.id, info.label)
}

impl Admin<'_> {
    pub async fn add_user(
        &self,
        username: &str,
        email: Option<&str>,
        password: &str,
        role: Role,
    ) -> Result<User, AccountError> {
        let user = self
            .accounts
            .create_user(username, email, password, role)
            .await?;
        let detail = format!("role {}", role.as_str());
        self.record("user.add", &user.username, &detail).await;
        Ok(user)
    }

    /// A new token of `username`; the returned string is the only copy.
    pub async fn create_token(
        &self,
        username: &str,
        label: &str,
    ) -> Result<(TokenInfo, String), AccountError> {
        let (info, token) = self.accounts.create_token(username, label).await?;
        let detail = format!("owner {}", info.username);
        self.record("token.create", &token_target(&info), &detail)
            .await;
        Ok((info, token))
    }

    /// Revokes the live token `id`; what it was.
    pub async fn revoke_token(&self, id: i64) -> Result<TokenInfo, AccountError> {
        let no_token = || AccountError::NotFound(format!("no live token with id {id}"));
        let info = self
            .accounts
            .list_tokens()
            .await?
            .into_iter()
            .find(|t| t.id == id && t.revoked_at.is_none())
            .ok_or_else(no_token)?;
        if !self.accounts.revoke_token(id).await? {
            return Err(no_token());
        }
        let detail = format!("owner {}", info.username);
        self.record("token.revoke", &token_target(&info), &detail)
            .await;
        Ok(info)
    }

    /// The user cannot sign in any more; their sessions and tokens stop.
    pub async fn disable(&self, id: i64) -> Result<User, AccountError> {
        let target = self.target(id).await?;
        self.not_oneself(&target, "disable")?;
        if target.is_disabled() {
            return Err(AccountError::Invalid(format!(
                "{} is disabled already",
                target.username
            )));
        }
        self.keep_an_admin(&target, "disable").await?;
        let user = self
            .change(&target, UserChange::Disabled(Some(Utc::now())))
            .await?;
        self.record("user.disable", &user.username, "").await;
        Ok(user)
    }

    pub async fn enable(&self, id: i64) -> Result<User, AccountError> {
        let target = self.target(id).await?;
        if !target.is_disabled() {
            return Err(AccountError::Invalid(format!(
                "{} is not disabled",
                target.username
            )));
        }
        let user = self.change(&target, UserChange::Disabled(None)).await?;
        self.record("user.enable", &user.username, "").await;
        Ok(user)
    }

    /// Deletes the user and their tokens; who they were.
    pub async fn delete(&self, id: i64) -> Result<User, AccountError> {
        let target = self.target(id).await?;
        self.not_oneself(&target, "delete")?;
        self.keep_an_admin(&target, "delete").await?;
        if !self.accounts.store.users().delete_user(id).await? {
            return Err(no_user(id));
        }
        self.accounts
            .announce(AuthChange::UserChanged { user_id: id })
            .await;
        let detail = format!("role {}", target.role.as_str());
        self.record("user.delete", &target.username, &detail).await;
        Ok(target)
    }

    pub async fn set_role(&self, id: i64, role: Role) -> Result<User, AccountError> {
        let target = self.target(id).await?;
        self.not_oneself(&target, "change the role of")?;
        if target.role == role {
            return Err(AccountError::Invalid(format!(
                "{} has role {} already",
                target.username,
                role.as_str()
            )));
        }
        if !role.is_admin() {
            self.keep_an_admin(&target, "make a plain user of").await?;
        }
        let user = self.change(&target, UserChange::Role(role)).await?;
        let detail = format!("{} -> {}", target.role.as_str(), role.as_str());
        self.record("user.role", &user.username, &detail).await;
        Ok(user)
    }

    /// Every login of the user ends with the old password.
    pub async fn set_password(&self, id: i64, password: &str) -> Result<User, AccountError> {
        let target = self.target(id).await?;
        let (hash, stamp) = self
            .accounts
            .new_password(&target.username, password)
            .await?;
        let change = UserChange::Password {
            hash: &hash,
            session_stamp: Some(&stamp),
        };
        let user = self.change(&target, change).await?;
        self.record("user.password", &user.username, "").await;
        Ok(user)
    }

    /// The user as stored now (not as cached).
    async fn target(&self, id: i64) -> Result<User, AccountError> {
        self.accounts
            .store
            .users()
            .user_by_id(id)
            .await?
            .ok_or_else(|| no_user(id))
    }

    fn not_oneself(&self, target: &User, what: &str) -> Result<(), AccountError> {
        if self.actor.user_id == Some(target.id) {
            return Err(AccountError::Refused(format!(
                "you cannot {what} yourself: ask another admin"
            )));
        }
        Ok(())
    }

    /// Refuses to leave no active admin when `target` stops being one.
    async fn keep_an_admin(&self, target: &User, what: &str) -> Result<(), AccountError> {
        if !target.is_active_admin() {
            return Ok(());
        }
        let others = self
            .accounts
            .list()
            .await?
            .iter()
            .filter(|user| user.id != target.id && user.is_active_admin())
            .count();
        if others == 0 {
            return Err(AccountError::Refused(format!(
                "cannot {what} {}: it is the last active admin",
                target.username
            )));
        }
        Ok(())
    }

    /// Applies `change`, then ends the logins it concerns.
    async fn change(&self, target: &User, change: UserChange<'_>) -> Result<User, AccountError> {
        let user = self
            .accounts
            .store
            .users()
            .update_user(target.id, change)
            .await?
            .ok_or_else(|| no_user(target.id))?;
        self.accounts
            .announce(AuthChange::UserChanged { user_id: user.id })
            .await;
        Ok(user)
    }

    /// The action is done already: a line that cannot be written is logged
    /// in full instead (and the action still answers as done).
    async fn record(&self, action: &str, target: &str, detail: &str) {
        let entry = NewAuditEntry {
            actor: self.actor.name(),
            action,
            target,
            detail,
        };
        tracing::info!("AUDIT: {} {action} {target} {detail}", self.actor.name());
        if let Err(error) = self.accounts.store.audit().record(entry).await {
            tracing::error!(
                "AUDIT: cannot record {action} of {target} by {} ({detail}): {error}",
                self.actor.name()
            );
        }
    }
}

fn no_user(id: i64) -> AccountError {
    AccountError::NotFound(format!("no user with id {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    async fn accounts_with(names: &[(&str, Role)]) -> (Accounts, Vec<User>) {
        let accounts = Accounts::new(Store::memory());
        let mut users = Vec::new();
        for (name, role) in names {
            let user = accounts
                .admin(Actor::cli())
                .add_user(name, None, "a-long-password", *role)
                .await
                .unwrap();
            users.push(user);
        }
        (accounts, users)
    }

    #[tokio::test]
    async fn nobody_demotes_disables_or_deletes_themselves_or_the_last_active_admin() {
        let (accounts, users) = accounts_with(&[("root", Role::Super), ("ops", Role::Admin)]).await;
        let (root, ops) = (&users[0], &users[1]);
        let as_root = accounts.admin(Actor::user(root));
        for refused in [
            as_root.disable(root.id).await,
            as_root.delete(root.id).await,
            as_root.set_role(root.id, Role::Admin).await,
        ] {
            assert!(
                matches!(refused, Err(AccountError::Refused(_))),
                "{refused:?}"
            );
        }
        as_root.disable(ops.id).await.unwrap();
        // ops is disabled: root is the last active admin, which the CLI cannot remove either.
        let cli = accounts.admin(Actor::cli());
        let last = cli.set_role(root.id, Role::User).await;
        assert!(
            matches!(&last, Err(AccountError::Refused(m)) if m.contains("last active admin")),
            "{last:?}"
        );
        assert!(matches!(
            cli.delete(root.id).await,
            Err(AccountError::Refused(_))
        ));
        // Super to admin keeps an admin.
        cli.set_role(root.id, Role::Admin).await.unwrap();
        cli.enable(ops.id).await.unwrap();
        cli.delete(root.id).await.unwrap();
        assert!(matches!(
            cli.delete(root.id).await,
            Err(AccountError::NotFound(_))
        ));
        let actions: Vec<_> = accounts
            .audit(None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.actor, e.action, e.target))
            .collect();
        let line = |actor: &str, action: &str, target: &str| {
            (actor.to_owned(), action.to_owned(), target.to_owned())
        };
        assert_eq!(
            actions,
            [
                line("cli", "user.delete", "root"),
                line("cli", "user.enable", "ops"),
                line("cli", "user.role", "root"),
                line("root", "user.disable", "ops"),
                line("cli", "user.add", "ops"),
                line("cli", "user.add", "root"),
            ],
            "refusals are not recorded"
        );
    }

    #[tokio::test]
    async fn a_disabled_user_has_no_login_and_a_new_password_ends_the_old_one() {
        let (accounts, users) =
            accounts_with(&[("root", Role::Super), ("viewer", Role::User)]).await;
        let viewer = &users[1];
        let (_, token) = accounts.create_token("viewer", "api").await.unwrap();
        let admin = accounts.admin(Actor::user(&users[0]));
        admin.disable(viewer.id).await.unwrap();
        assert!(accounts.get(viewer.id).await.unwrap().is_none());
        assert!(accounts.user_for_token(&token).await.unwrap().is_none());
        let login = accounts.authenticate("viewer", "a-long-password").await;
        assert!(login.unwrap().is_none());
        assert!(matches!(
            accounts.create_token("viewer", "api").await,
            Err(AccountError::Invalid(_))
        ));
        admin.enable(viewer.id).await.unwrap();
        assert!(accounts.user_for_token(&token).await.unwrap().is_some());
        let before = accounts.get(viewer.id).await.unwrap().unwrap();
        let short = admin.set_password(viewer.id, "short").await;
        assert!(matches!(short, Err(AccountError::Invalid(_))), "{short:?}");
        let after = admin
            .set_password(viewer.id, "another-long-password")
            .await
            .unwrap();
        assert_ne!(before.session_stamp(), after.session_stamp());
        let old = accounts.authenticate("viewer", "a-long-password").await;
        assert!(old.unwrap().is_none());
        let new = accounts
            .authenticate("viewer", "another-long-password")
            .await;
        assert!(new.unwrap().is_some());
    }
}
