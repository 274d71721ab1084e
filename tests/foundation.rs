//! The foundation, tested through the real `hadir` binary: start-up on the embedded default,
//! config checking, durability across `kill -9`, corrupt-database recovery, graceful shutdown.

mod support;

use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;

fn punch(employee: &str, minute: u32) -> serde_json::Value {
    serde_json::json!({
        "device": "pintu-depan",
        "employee": employee,
        "time": format!("2026-11-23T07:{:02}:{:02}", minute / 60 % 60, minute % 60),
        "state": 0,
        "verify": 1
    })
}

#[test]
fn the_gateway_runs_on_the_embedded_default_and_answers_health() {
    let dir = TempDir::new("default");
    let mut cmd = Command::new(hadir_bin());
    cmd.arg("run")
        .current_dir(dir.path())
        .env_remove("HADIR_CONFIG");
    let gw = Gateway::start_with(&mut cmd);
    assert_eq!(gw.admin.to_string(), "127.0.0.1:8080");
    let health = http(gw.admin, "GET", "/health", &[], b"").unwrap();
    assert_eq!(health.status, 200, "{}", health.body);
    let json = health.json();
    assert_eq!(json["status"], "ok");
    assert_eq!(json["store"]["records"], 0);
    assert!(dir.path().join("hadir-data/hadir.db").exists());
    let token = dir.path().join("hadir-data/api-token");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&token).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "api-token must be readable by the service user only"
    );
    assert_eq!(gw.terminate(), Some(0));
}

#[test]
fn check_config_names_every_problem_with_its_line_and_exits_non_zero() {
    let dir = TempDir::new("check");
    let cases = [
        (
            "[storage]\nmin_free_mb = \"banyak\"\n",
            "line 2: storage.min_free_mb",
        ),
        (
            "[office]\nname = \"x\"\nzona = \"WITA\"\n",
            "line 3: office.zona: unknown key",
        ),
        (
            "[[office.sites]]\nlatitude = 0.5\nlongitude = 117.6\nradius_m = -5\n",
            "line 4: office.sites[0].radius_m",
        ),
        (
            "[office]\ntimezone = \"Asia/Samarinda\"\n",
            "line 2: office.timezone",
        ),
    ];
    for (text, expected) in cases {
        let path = dir.path().join("broken.toml");
        std::fs::write(&path, text).unwrap();
        let out = Command::new(hadir_bin())
            .arg("check-config")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(78), "{text}: {stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in:\n{stderr}"
        );
    }
    // All four at once: every one is reported.
    let path = dir.path().join("all.toml");
    std::fs::write(
        &path,
        "[storage]\nmin_free_mb = \"banyak\"\n[office]\nzona = \"WITA\"\ntimezone = \"Asia/Samarinda\"\n\
         [[office.sites]]\nlatitude = 0.5\nlongitude = 117.6\nradius_m = -5\n",
    )
    .unwrap();
    let out = Command::new(hadir_bin())
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "storage.min_free_mb",
        "office.zona",
        "radius_m",
        "office.timezone",
    ] {
        assert!(stderr.contains(needle), "{needle} missing from:\n{stderr}");
    }
}

#[test]
fn the_packaged_example_config_passes_check_config() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/hadir.toml");
    let out = Command::new(hadir_bin())
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn run_with_an_invalid_config_exits_with_the_config_error_code() {
    let dir = TempDir::new("badrun");
    let path = dir.path().join("hadir.toml");
    std::fs::write(&path, "[office]\ntimezone = \"Nowhere/City\"\n").unwrap();
    let out = Command::new(hadir_bin())
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("office.timezone"));
}

#[test]
fn every_punch_whose_write_returned_survives_kill_9() {
    let dir = TempDir::new("kill9");
    let config = write_config(dir.path(), "");
    let mut acknowledged: HashSet<String> = HashSet::new();
    for round in 0..6u32 {
        let gw = Gateway::start(&config);
        let addr = gw.admin;
        let acked = Arc::new(Mutex::new(Vec::<String>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4u32)
            .map(|w| {
                let acked = acked.clone();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut i = 0u32;
                    while !stop.load(Ordering::Relaxed) {
                        let employee = format!("19870315201001{round}{w}{:03}", i % 1000);
                        let batch =
                            serde_json::json!([punch(&employee, i), punch(&employee, i + 1)]);
                        match post_punches(addr, &batch) {
                            Ok(r) if r.status == 200 => {
                                let json = r.json();
                                let mut a = acked.lock().unwrap();
                                for res in json["results"].as_array().unwrap() {
                                    a.push(res["record_id"].as_str().unwrap().to_string());
                                }
                            }
                            Ok(r) => panic!("unexpected answer {}: {}", r.status, r.body),
                            Err(_) => break, // the gateway died mid-request: not acknowledged
                        }
                        i += 2;
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300 + 170 * round as u64));
        gw.kill9();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        let acked = acked.lock().unwrap();
        assert!(
            !acked.is_empty(),
            "round {round}: no write was acknowledged"
        );
        acknowledged.extend(acked.iter().cloned());
    }

    // Restart once more: the database opens, passes the integrity check, and holds every
    // acknowledged record.
    let gw = Gateway::start(&config);
    let health = http(gw.admin, "GET", "/health", &[], b"").unwrap().json();
    assert!(health["store"]["records"].as_i64().unwrap() >= acknowledged.len() as i64);
    assert_eq!(gw.terminate(), Some(0));

    let conn = rusqlite::Connection::open(dir.path().join("data/hadir.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let mut stmt = conn.prepare("SELECT record_id FROM attendance").unwrap();
    let stored: HashSet<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let missing: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged records lost: {missing:?}",
        missing.len()
    );
    let outbox: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM attendance a JOIN outbox o USING (record_id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        outbox as usize,
        stored.len(),
        "every stored record is queued for forwarding"
    );
}

#[test]
fn the_same_punch_sent_twice_is_stored_once() {
    let dir = TempDir::new("dup");
    let gw = Gateway::start(&write_config(dir.path(), ""));
    let p = serde_json::json!([punch("198703152010011002", 5)]);
    let first = post_punches(gw.admin, &p).unwrap().json();
    let second = post_punches(gw.admin, &p).unwrap().json();
    assert_eq!(first["stored"], 1);
    assert_eq!(second["stored"], 0);
    assert_eq!(second["duplicates"], 1);
    assert_eq!(
        first["results"][0]["record_id"],
        second["results"][0]["record_id"]
    );
}

#[test]
fn bad_api_requests_get_a_reason_and_store_nothing() {
    let dir = TempDir::new("badapi");
    let gw = Gateway::start(&write_config(dir.path(), ""));
    let no_token = http(gw.admin, "POST", "/api/v1/punches", &[], b"{}").unwrap();
    assert_eq!(no_token.status, 401);
    let garbage = http(
        gw.admin,
        "POST",
        "/api/v1/punches",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        b"{not json",
    )
    .unwrap();
    assert_eq!(garbage.status, 400);
    assert!(garbage.json()["message"]
        .as_str()
        .unwrap()
        .contains("punches"));
    let bad_time = post_punches(
        gw.admin,
        &serde_json::json!([punch("1", 1), {"device":"d","employee":"2","time":"kemarin"}]),
    )
    .unwrap();
    assert_eq!(bad_time.status, 400);
    assert!(bad_time.body.contains("punches[1]"), "{}", bad_time.body);
    let big = vec![b'x'; 2 << 20];
    let oversized = http(
        gw.admin,
        "POST",
        "/api/v1/punches",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        &big,
    );
    if let Ok(r) = oversized {
        assert_eq!(r.status, 413);
    }
    let health = http(gw.admin, "GET", "/health", &[], b"").unwrap().json();
    assert_eq!(health["store"]["records"], 0, "nothing was stored");
}

#[test]
fn a_corrupt_database_is_moved_aside_and_a_fresh_one_created() {
    let dir = TempDir::new("corrupt");
    let config = write_config(dir.path(), "");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("hadir.db"), vec![0xA5u8; 64 * 1024]).unwrap();
    let gw = Gateway::start(&config);
    let health = http(gw.admin, "GET", "/health", &[], b"").unwrap();
    assert_eq!(health.status, 200);
    let moved: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".corrupt-"))
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(gw.terminate(), Some(0));
    let conn = rusqlite::Connection::open(data.join("hadir.db")).unwrap();
    let action: String = conn
        .query_row("SELECT action FROM audit_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(action, "database-quarantined");
}

#[test]
fn sigterm_lets_in_flight_writes_finish_and_exits_zero() {
    let dir = TempDir::new("term");
    let gw = Gateway::start(&write_config(dir.path(), ""));
    let addr = gw.admin;
    let writer = std::thread::spawn(move || {
        let mut acked = 0usize;
        for i in 0..2000u32 {
            match post_punches(addr, &serde_json::json!([punch("199001012020121001", i)])) {
                Ok(r) if r.status == 200 => acked += 1,
                _ => break,
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(gw.terminate(), Some(0));
    let acked = writer.join().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("data/hadir.db")).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM attendance", [], |r| r.get(0))
        .unwrap();
    assert!(n as usize >= acked, "stored {n} < acknowledged {acked}");
    assert!(acked > 0);
}
