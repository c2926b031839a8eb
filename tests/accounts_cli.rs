//! `tickstock user` and `tickstock token` against a real PostgreSQL, and the
//! tokens they make used on a running server.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::TestApp;
use common::postgres::TestDatabase;
use tickstock::config::Config;

fn tickstock(database_url: Option<&str>, args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tickstock"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    let mut child = command.spawn().expect("run tickstock");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn users_and_tokens_made_on_the_command_line_work_on_the_server() {
    let db = TestDatabase::create().await;
    let url = Some(db.url.as_str());
    let added = tickstock(
        url,
        &[
            "user",
            "add",
            "ops",
            "--email",
            "ops@example.com",
            "--admin",
            "--password-stdin",
        ],
        "ops-password-1\n",
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(stdout(&added).contains("role admin"));
    let viewer = tickstock(
        url,
        &["user", "add", "viewer", "--password-stdin"],
        "viewer-password\n",
    );
    assert!(viewer.status.success());
    let duplicate = tickstock(
        url,
        &["user", "add", "OPS", "--password-stdin"],
        "another-password\n",
    );
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("exists already"));

    let list = stdout(&tickstock(url, &["user", "list"], ""));
    assert!(
        list.contains("ops") && list.contains("ops@example.com") && list.contains("viewer"),
        "{list}"
    );

    let created = tickstock(
        url,
        &["token", "create", "viewer", "--label", "grafana"],
        "",
    );
    assert!(created.status.success());
    let token = stdout(&created).trim().to_owned();
    assert!(token.starts_with("tst_"), "{token}");
    let listed = stdout(&tickstock(url, &["token", "list"], ""));
    assert!(
        listed.contains("grafana") && !listed.contains(&token),
        "{listed}"
    );

    let app = TestApp::spawn({
        let mut config = Config::for_tests();
        config.database.database_url = Some(db.url.clone().into());
        config
    })
    .await;
    assert_eq!(
        app.get_with("/streaming/api/status", Some(&token)).await.0,
        200
    );
    assert_eq!(
        app.get_with("/streaming/api/sessions", Some(&token))
            .await
            .0,
        403,
        "viewer is no admin"
    );

    let id = listed
        .lines()
        .find(|l| l.contains("grafana"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the token's id")
        .to_owned();
    assert!(
        tickstock(url, &["token", "revoke", &id], "")
            .status
            .success()
    );
    assert!(
        !tickstock(url, &["token", "revoke", &id], "")
            .status
            .success(),
        "revoked twice"
    );
    // A new server (no cache) refuses it at once.
    let fresh = TestApp::spawn({
        let mut config = Config::for_tests();
        config.database.database_url = Some(db.url.clone().into());
        config
    })
    .await;
    assert_eq!(
        fresh
            .get_with("/streaming/api/status", Some(&token))
            .await
            .0,
        401
    );
}

#[test]
fn account_commands_need_a_database_and_a_password_on_stdin() {
    let output = tickstock(None, &["user", "list"], "");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("DATABASE_URL"));
    let output = tickstock(None, &["user", "add", "x"], "");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--password-stdin"));
}

#[tokio::test]
async fn the_bootstrap_admin_is_created_once() {
    let db = TestDatabase::create().await;
    let mut config = Config::for_tests();
    config.database.database_url = Some(db.url.clone().into());
    drop(TestApp::spawn(config.clone()).await);
    let again = TestApp::spawn(config).await;
    let users = again.state.accounts.list().await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(
        (users[0].username.as_str(), users[0].role.as_str()),
        ("admin", "super")
    );
    assert_eq!(db.count("users").await, 1);
}
