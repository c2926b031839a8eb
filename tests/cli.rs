//! The binary: a bad configuration value stops start-up naming the variable.

use std::process::Command;

fn tickstock(envs: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tickstock"));
    command.env_remove("REDIS_URL").env_remove("RUST_LOG");
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
