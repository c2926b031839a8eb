//! The binary: a bad configuration value stops start-up naming the variable.

use std::process::Command;

fn tickstock(envs: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tickstock"));
    command
        .env_remove("REDIS_URL")
        .env_remove("RUST_LOG")
        .env_remove("MASSIVE_API_KEY")
        .env_remove("DATA_SOURCE");
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().expect("run tickstock")
}

#[test]
fn bad_configuration_values_stop_start_up_naming_the_variable() {
    for (variable, value) in [
        ("HEALTH_STALE_SECONDS", "abc"),
        ("HEALTH_STALE_SECONDS", "0"),
        ("BIND_ADDR", "localhost:port"),
        ("REDIS_URL", "http://example"),
        ("RUST_LOG", "=[nonsense"),
    ] {
        let output = tickstock(&[(variable, value)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{variable}={value} was accepted");
        assert!(stderr.contains(variable), "{variable}={value}: {stderr}");
    }
}

#[test]
fn an_address_in_use_stops_start_up_naming_bind_addr() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let output = tickstock(&[("BIND_ADDR", &addr)]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("BIND_ADDR"));
}

#[test]
fn feed_settings_that_cannot_work_stop_start_up_naming_the_variable() {
    for (envs, variable) in [
        (vec![("DATA_SOURCE", "massive")], "MASSIVE_API_KEY"),
        (vec![("DATA_SOURCE", "replay")], "REPLAY_FILE"),
        (
            vec![
                ("DATA_SOURCE", "replay"),
                ("REPLAY_FILE", "/nonexistent/frames.jsonl"),
            ],
            "REPLAY_FILE",
        ),
        (
            vec![
                ("MASSIVE_API_KEY", "k"),
                ("MASSIVE_CA_FILE", "/nonexistent/ca.pem"),
            ],
            "MASSIVE_CA_FILE",
        ),
        (
            vec![("MASSIVE_WS_URL", "https://socket.massive.com/stocks")],
            "MASSIVE_WS_URL",
        ),
        (vec![("DATA_SOURCE", "carrier-pigeon")], "DATA_SOURCE"),
        (vec![("SYMBOLS", "AAPL,<b>")], "SYMBOLS"),
        (vec![("REPLAY_SPEED", "-2")], "REPLAY_SPEED"),
        (
            vec![("SYNTHETIC_TICKS_PER_SECOND", "0")],
            "SYNTHETIC_TICKS_PER_SECOND",
        ),
    ] {
        let mut all = envs.clone();
        all.push(("BIND_ADDR", "127.0.0.1:0"));
        let output = tickstock(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{envs:?} was accepted");
        assert!(stderr.contains(variable), "{envs:?}: {stderr}");
    }
}
