//! Secrets in the configuration never show: not in a refused value's error,
//! not in a `Debug` of the configuration, not in the logs of a start-up
//! whose database and Redis cannot be reached (CONTRACT §7).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use tickstock::cli::Cli;

const SECRET: &str = "hunter2";

fn tickstock() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tickstock"));
    for variable in [
        "REDIS_URL",
        "DATABASE_URL",
        "RUST_LOG",
        "MASSIVE_API_KEY",
        "DATA_SOURCE",
        "SESSION_SECRET",
    ] {
        command.env_remove(variable);
    }
    command.env("BIND_ADDR", "127.0.0.1:0");
    command
}

#[test]
fn a_refused_value_is_named_and_never_echoed() {
    for (variable, value) in [
        ("DATABASE_URL", "postgres://u:hunter2@[bad/db"),
        ("DATABASE_URL", "postgresql://u:hunter2@host:port/db"),
        ("REDIS_URL", "redis://:hunter2@host:notaport"),
        ("REDIS_URL", "http://u:hunter2@example"),
        ("SESSION_SECRET", SECRET),
    ] {
        let output = tickstock().env(variable, value).output().expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{variable}={value} was accepted");
        assert!(stderr.contains(variable), "{variable}={value}: {stderr}");
        assert!(!stderr.contains(SECRET), "{variable}={value}: {stderr}");
    }
}

#[test]
fn a_refused_flag_is_named_and_never_echoed() {
    let output = tickstock()
        .args(["--redis-url", "redis://:hunter2@host:notaport"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("REDIS_URL"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
}

#[test]
fn a_debug_of_the_configuration_holds_no_secret() {
    let session_secret = format!("{SECRET}-{}", "s".repeat(32));
    let cli = Cli::try_parse_from([
        "tickstock",
        "--database-url",
        "postgres://user:hunter2@localhost/tickstock",
        "--redis-url",
        "redis://:hunter2@localhost:6379/0",
        "--session-secret",
        &session_secret,
        "--tickstock-admin-password",
        SECRET,
        "--massive-api-key",
        SECRET,
    ])
    .expect("a valid configuration");
    let debug = format!("{:?}", cli.config);
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(
        debug.contains("postgres://user:***@localhost/tickstock"),
        "{debug}"
    );
    assert!(debug.contains("redis://:***@localhost:6379/0"), "{debug}");
    let shown = cli.config.database.database_url.expect("set").to_string();
    assert_eq!(shown, "postgres://user:***@localhost/tickstock");
}

#[test]
fn connection_errors_at_start_up_show_no_password() {
    // Nothing listens on port 1: both connections fail, and are logged.
    let mut child = tickstock()
        .env("DATABASE_URL", "postgres://u:hunter2@127.0.0.1:1/tickstock")
        .env("REDIS_URL", "redis://:hunter2@127.0.0.1:1/")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    let (lines, received) = mpsc::channel();
    let readers = [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ]
    .map(|stream| {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        })
    });
    drop(lines);

    let expected = [
        "DATABASE: Unavailable",
        "REDIS-SUBSCRIBER: Connect failed",
        "TickStock listening",
    ];
    let mut seen = [false; 3];
    let mut output = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.iter().all(|&s| s) {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => {
                for (seen, marker) in seen.iter_mut().zip(expected) {
                    *seen |= line.contains(marker);
                }
                output.push(line);
            }
            Err(_) => break,
        }
    }
    child.kill().expect("stop tickstock");
    child.wait().expect("tickstock stopped");
    for reader in readers {
        reader.join().expect("reader");
    }
    output.extend(received.try_iter());
    let output = output.join("\n");
    assert!(
        seen.iter().all(|&s| s),
        "{expected:?} not all logged:\n{output}"
    );
    assert!(!output.contains(SECRET), "{output}");
}
