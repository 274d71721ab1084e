//! `hadir doctor`, run as the real binary against a temporary office.

mod support;

use std::net::TcpListener;
use std::process::{Command, Output};

use support::*;

fn doctor(config: &std::path::Path) -> Output {
    Command::new(hadir_bin())
        .arg("doctor")
        .arg("--config")
        .arg(config)
        .env_remove("HADIR_CONFIG")
        .output()
        .expect("run hadir doctor")
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn doctor_passes_a_healthy_office_and_sees_the_running_gateway() {
    let dir = TempDir::new("doctor-ok");
    // A "reader" that accepts connections, so the device check passes.
    let reader = TcpListener::bind("127.0.0.1:0").unwrap();
    let reader_addr = reader.local_addr().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "\n[[devices]]\nname = \"Pintu depan\"\nkind = \"zk-pull\"\naddress = \"{reader_addr}\"\n"
        ),
    );

    // Before the first start: no database yet, the port is free.
    let out = doctor(&config);
    let text = lines(&out);
    assert!(out.status.success(), "{text:#?}");
    assert!(text[0].starts_with("OK    config: "), "{text:#?}");
    assert!(
        text.iter()
            .any(|l| l.starts_with("OK    database: ") && l.contains("not created yet")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|l| l.starts_with("OK    device Pintu depan: ")),
        "{text:#?}"
    );
    for l in &text {
        assert!(
            l.starts_with("OK    ") || l.starts_with("WARN  "),
            "unexpected line {l:?}"
        );
    }

    // With the gateway running on a fixed port, doctor recognises it and checks the database.
    let port = closed_port();
    let fixed = std::fs::read_to_string(&config)
        .unwrap()
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    std::fs::write(&config, fixed).unwrap();
    let gw = Gateway::start(&config);
    let out = doctor(&config);
    let text = lines(&out);
    assert!(out.status.success(), "{text:#?}");
    assert!(
        text.iter().any(|l| l.starts_with("OK    admin port: ")
            && l.contains("served by a running hadir (office test-office")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|l| l.starts_with("OK    database: ") && l.contains("passes the integrity check")),
        "{text:#?}"
    );
    assert_eq!(gw.terminate(), Some(0));
}

#[test]
fn doctor_fails_when_a_reader_is_unreachable() {
    let dir = TempDir::new("doctor-fail");
    let port = closed_port();
    let config = write_config(
        dir.path(),
        &format!(
            "\n[[devices]]\nname = \"Pintu depan\"\nkind = \"zk-pull\"\naddress = \"127.0.0.1:{port}\"\n"
        ),
    );
    let out = doctor(&config);
    let text = lines(&out);
    assert_eq!(out.status.code(), Some(1), "{text:#?}");
    let line = text
        .iter()
        .find(|l| l.contains("device Pintu depan"))
        .unwrap_or_else(|| panic!("no device line in {text:#?}"));
    assert!(
        line.starts_with(&format!(
            "FAIL  device Pintu depan: cannot connect to 127.0.0.1:{port}"
        )),
        "{line}"
    );
    // The other checks still ran.
    assert!(text.iter().any(|l| l.contains("  disk: ")), "{text:#?}");
}

#[test]
fn doctor_fails_on_an_invalid_config_and_points_to_check_config() {
    let dir = TempDir::new("doctor-bad");
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[office]\nzona = \"WITA\"\n").unwrap();
    let out = doctor(&path);
    let text = lines(&out);
    assert_eq!(out.status.code(), Some(1), "{text:#?}");
    assert_eq!(text.len(), 1, "{text:#?}");
    assert!(
        text[0].starts_with("FAIL  config: 1 problem(s)"),
        "{text:#?}"
    );
    assert!(text[0].contains("hadir check-config"), "{text:#?}");
}
