//! `tickstock user ...` and `tickstock token ...`: managing accounts in the
//! database at `DATABASE_URL` (changes announced on `REDIS_URL` when set),
//! by the same admin actions as the admin page, audited as actor `cli`.

use std::io::BufRead;

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;
use secrecy::ExposeSecret;

use super::admin::Actor;
use super::{Accounts, Role, User};
use crate::bus::settings::BusConfig;
use crate::store::Store;
use crate::store::settings::DatabaseConfig;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (one line).
    Add {
        name: String,
        #[arg(long)]
        email: Option<String>,
        /// Make the user an admin (same as --role admin).
        #[arg(long, conflicts_with = "role")]
        admin: bool,
        #[arg(long, value_enum)]
        role: Option<Role>,
        /// Read the password from standard input (required: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List the users.
    List,
    /// Disable user NAME: no sign-in, and their sessions and tokens stop.
    Disable { name: String },
    /// Enable user NAME again.
    Enable { name: String },
    /// Delete user NAME and their tokens.
    Delete { name: String },
    /// Give user NAME the role ROLE.
    Role {
        name: String,
        #[arg(value_enum)]
        role: Role,
    },
    /// Set a new password of user NAME, read from standard input (one line).
    Password {
        name: String,
        /// Read the password from standard input (required: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for user NAME and print it (shown this once).
    Create {
        name: String,
        #[arg(long, default_value = "api")]
        label: String,
    },
    /// List the tokens (never the tokens themselves).
    List,
    /// Revoke token ID.
    Revoke { id: i64 },
}

async fn accounts(database: &DatabaseConfig, bus: &BusConfig) -> anyhow::Result<Accounts> {
    let Some(url) = &database.database_url else {
        bail!(
            "DATABASE_URL is required: without it accounts live in the server's memory and end with it"
        );
    };
    let store = Store::connect(url.expose_secret())
        .await
        .context("cannot use the database at DATABASE_URL")?;
    let accounts = Accounts::new(store);
    // A revocation reaches the running replicas through their Redis.
    Ok(match &bus.redis_url {
        Some(_) => accounts.announcing_on(&bus.open().context("REDIS_URL")?),
        None => accounts,
    })
}

fn read_password(input: impl BufRead) -> anyhow::Result<String> {
    let line = input
        .lines()
        .next()
        .transpose()
        .context("cannot read the password")?;
    let password = line
        .unwrap_or_default()
        .trim_end_matches(['\r', '\n'])
        .to_owned();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    Ok(password)
}

async fn named(accounts: &Accounts, name: &str) -> anyhow::Result<User> {
    accounts
        .find_by_login(name)
        .await?
        .ok_or_else(|| anyhow!("no user {name:?}"))
}

pub async fn user(
    database: &DatabaseConfig,
    bus: &BusConfig,
    command: UserCommand,
) -> anyhow::Result<()> {
    let accounts = accounts(database, bus).await?;
    let cli = accounts.admin(Actor::cli());
    match command {
        UserCommand::Add {
            name,
            email,
            admin,
            role,
            ..
        } => {
            let role = role.unwrap_or(if admin { Role::Admin } else { Role::User });
            let password = read_password(std::io::stdin().lock())?;
            let user = cli
                .add_user(&name, email.as_deref(), &password, role)
                .await?;
            println!(
                "Added user {} (id {}, role {})",
                user.username,
                user.id,
                user.role.as_str()
            );
        }
        UserCommand::List => {
            println!(
                "{:>4}  {:<24} {:<32} {:<6} {:<20} disabled",
                "id", "username", "email", "role", "created"
            );
            for user in accounts.list().await? {
                println!(
                    "{:>4}  {:<24} {:<32} {:<6} {:<20} {}",
                    user.id,
                    user.username,
                    user.email.as_deref().unwrap_or("-"),
                    user.role.as_str(),
                    user.created_at.format("%Y-%m-%d %H:%M UTC"),
                    user.disabled_at
                        .map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                );
            }
        }
        UserCommand::Disable { name } => {
            let user = cli.disable(named(&accounts, &name).await?.id).await?;
            println!("Disabled user {}", user.username);
        }
        UserCommand::Enable { name } => {
            let user = cli.enable(named(&accounts, &name).await?.id).await?;
            println!("Enabled user {}", user.username);
        }
        UserCommand::Delete { name } => {
            let user = cli.delete(named(&accounts, &name).await?.id).await?;
            println!("Deleted user {}", user.username);
        }
        UserCommand::Role { name, role } => {
            let user = cli
                .set_role(named(&accounts, &name).await?.id, role)
                .await?;
            println!("User {} has role {} now", user.username, user.role.as_str());
        }
        UserCommand::Password { name, .. } => {
            let id = named(&accounts, &name).await?.id;
            let password = read_password(std::io::stdin().lock())?;
            let user = cli.set_password(id, &password).await?;
            println!("Set a new password of {}", user.username);
        }
    }
    Ok(())
}

pub async fn token(
    database: &DatabaseConfig,
    bus: &BusConfig,
    command: TokenCommand,
) -> anyhow::Result<()> {
    let accounts = accounts(database, bus).await?;
    let cli = accounts.admin(Actor::cli());
    match command {
        TokenCommand::Create { name, label } => {
            let (info, token) = cli.create_token(&name, &label).await?;
            eprintln!(
                "Token {} for {} ({}). It is shown this once; store it now:",
                info.id, info.username, info.label
            );
            println!("{token}");
        }
        TokenCommand::List => {
            println!(
                "{:>4}  {:<24} {:<16} {:<20} {:<20} revoked",
                "id", "user", "label", "created", "last used"
            );
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
            };
            for t in accounts.list_tokens().await? {
                println!(
                    "{:>4}  {:<24} {:<16} {:<20} {:<20} {}",
                    t.id,
                    t.username,
                    t.label,
                    time(Some(t.created_at)),
                    time(t.last_used_at),
                    time(t.revoked_at)
                );
            }
        }
        TokenCommand::Revoke { id } => {
            cli.revoke_token(id).await?;
            println!("Revoked token {id}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_the_first_line_without_its_newline() {
        assert_eq!(
            read_password("s3cret pass\r\nignored\n".as_bytes()).unwrap(),
            "s3cret pass"
        );
        assert!(read_password("".as_bytes()).is_err());
        assert!(read_password("\n".as_bytes()).is_err());
    }
}
