//! Store-and-forward with real peers: the real `hadir` binary, Debian's mosquitto broker and the
//! reference receiver, all on 127.0.0.1. The receiver must end up holding every acknowledged
//! record exactly once, with its hash chain intact — through kill -9, broker and receiver
//! restarts, slow and refusing receivers.

mod support;

use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::peers::*;
use support::*;

fn mqtt_upstream(broker: &Mosquitto) -> String {
    format!(
        "[upstream]\nmode = \"mqtt\"\nurl = \"{}\"\nusername = \"{BROKER_USER}\"\npassword = \"{BROKER_PASS}\"\n\
         batch_max_records = 50\nbatch_max_age_s = 1\nack_timeout_s = 3\n",
        broker.url()
    )
}

fn punch(employee: &str, n: u32) -> serde_json::Value {
    serde_json::json!({
        "device": "pintu-depan",
        "employee": employee,
        "time": format!("2026-11-{:02}T07:{:02}:{:02}", 1 + n / 3600 % 28, n / 60 % 60, n % 60),
        "state": 0,
    })
}

/// Posts `n` punches; returns their record ids.
fn post_many(addr: std::net::SocketAddr, employee: &str, n: u32) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let punches: Vec<_> = chunk.iter().map(|&i| punch(employee, i)).collect();
        let r = post_punches(addr, &serde_json::Value::Array(punches)).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        for res in r.json()["results"].as_array().unwrap() {
            ids.push(res["record_id"].as_str().unwrap().to_string());
        }
    }
    ids
}

fn health(addr: std::net::SocketAddr) -> serde_json::Value {
    http(addr, "GET", "/health", &[], b"").unwrap().json()
}

/// Waits until the gateway reports an empty backlog.
fn wait_drained(addr: std::net::SocketAddr, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let h = health(addr);
        if h["store"]["backlog"] == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "backlog not drained: {h:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn assert_exactly_once(receiver: &Receiver, acknowledged: &HashSet<String>) {
    let held = receiver.record_ids();
    let distinct: HashSet<_> = held.iter().cloned().collect();
    assert_eq!(held.len(), distinct.len(), "the receiver holds duplicates");
    let lost: Vec<_> = acknowledged.difference(&distinct).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged records never reached the receiver",
        lost.len()
    );
}

#[test]
fn records_reach_the_receiver_over_mqtt_exactly_once() {
    let dir = TempDir::new("fwd-mqtt");
    let broker = Mosquitto::start(dir.path());
    let receiver = Receiver::start(
        &dir.path().join("receiver.db"),
        &["--mqtt", &broker.url(), "--username", BROKER_USER, "--tofu"],
    );
    let gw = Gateway::start(&write_config(dir.path(), &mqtt_upstream(&broker)));
    let ids: HashSet<_> = post_many(gw.admin, "198703152010011002", 230)
        .into_iter()
        .collect();
    wait_drained(gw.admin, Duration::from_secs(30));
    assert_exactly_once(&receiver, &ids);
    assert_eq!(receiver.record_ids().len(), 230);
    let h = health(gw.admin);
    assert_eq!(h["upstream"]["connected"], true);
    assert!(h["store"]["last_forward_utc"].is_string());
    let metrics = http(gw.admin, "GET", "/metrics", &[], b"").unwrap().body;
    assert!(metrics.contains("hadir_outbox_backlog 0"), "{metrics}");
    // The 230 punches plus the audit records the gateway forwards too (its first admin).
    assert!(
        metrics.contains(&format!(
            "hadir_forward_records_acked_total {}",
            receiver.all_record_count()
        )),
        "{metrics}"
    );
    assert!(receiver.all_record_count() > 230);
}

#[test]
fn a_store_left_with_a_marked_batch_between_unmarked_ones_still_drains_every_record_once() {
    let dir = TempDir::new("fwd-gap");
    let mut broker = Mosquitto::start(dir.path());
    let receiver = Receiver::start(
        &dir.path().join("receiver.db"),
        &["--mqtt", &broker.url(), "--username", BROKER_USER, "--tofu"],
    );
    let config = write_config(dir.path(), &mqtt_upstream(&broker));
    let gw = Gateway::start(&config);
    let mut ids: HashSet<_> = post_many(gw.admin, "198703152010011002", 200)
        .into_iter()
        .collect();
    wait_drained(gw.admin, Duration::from_secs(30));
    let max: i64 = db(dir.path())
        .query_row("SELECT MAX(seq) FROM outbox", [], |r| r.get(0))
        .unwrap();
    // The province goes offline; new records queue up behind the forwarded ones.
    broker.stop();
    ids.extend(post_many(gw.admin, "199001012015032001", 120));
    drop(gw);

    // What a crash between two marks committed out of order (or a lost ack followed by a later
    // one) left behind in older versions: a batch marked forwarded, the one before it not.
    let conn = db(dir.path());
    let unmarked = conn
        .execute(
            "UPDATE outbox SET forwarded_utc = NULL, batch_id = NULL WHERE seq BETWEEN ?1 AND ?2",
            [max - 120, max - 60],
        )
        .unwrap();
    assert_eq!(unmarked, 61);
    drop(conn);

    // Unforwarded now: 61 rows, then the marked ones, then the 120 new ones. Batches must not
    // jump the marked rows (the server would see a chain break inside the batch).
    broker.restart();
    let gw = Gateway::start(&config);
    wait_drained(gw.admin, Duration::from_secs(30));
    assert_exactly_once(&receiver, &ids);
    let h = health(gw.admin);
    assert_eq!(h["upstream"]["batches_rejected"], 0, "{h:#}");
}

#[test]
fn records_reach_the_receiver_over_http_with_basic_auth() {
    let dir = TempDir::new("fwd-http");
    let receiver = Receiver::start(
        &dir.path().join("receiver.db"),
        &[
            "--http",
            "127.0.0.1:0",
            "--http-user",
            BROKER_USER,
            "--tofu",
        ],
    );
    let url = format!("http://{}/v1/batches", receiver.http_addr.as_ref().unwrap());
    let upstream = format!(
        "[upstream]\nmode = \"https\"\nurl = \"{url}\"\nusername = \"{BROKER_USER}\"\npassword = \"{BROKER_PASS}\"\n\
         batch_max_records = 40\nbatch_max_age_s = 1\n"
    );
    let gw = Gateway::start(&write_config(dir.path(), &upstream));
    let ids: HashSet<_> = post_many(gw.admin, "198703152010011003", 120)
        .into_iter()
        .collect();
    wait_drained(gw.admin, Duration::from_secs(30));
    assert_exactly_once(&receiver, &ids);
    assert_eq!(receiver.record_ids().len(), 120);
}

#[test]
fn a_wrong_upstream_password_keeps_records_queued_until_fixed() {
    let dir = TempDir::new("fwd-auth");
    let broker = Mosquitto::start(dir.path());
    let receiver = Receiver::start(
        &dir.path().join("receiver.db"),
        &["--mqtt", &broker.url(), "--username", BROKER_USER, "--tofu"],
    );
    let wrong = mqtt_upstream(&broker).replace(BROKER_PASS, "salah");
    let config = write_config(dir.path(), &wrong);
    let gw = Gateway::start(&config);
    let ids: HashSet<_> = post_many(gw.admin, "198703152010011004", 20)
        .into_iter()
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    let h = health(gw.admin);
    // The 20 punches and the audit record of the first admin, all still queued.
    assert_eq!(h["store"]["backlog"], 21, "{h:#}");
    assert_eq!(h["upstream"]["connected"], false);
    assert!(h["upstream"]["last_error"].is_string());
    assert_eq!(gw.terminate(), Some(0));
    write_config(dir.path(), &mqtt_upstream(&broker));
    let gw = Gateway::start(&config);
    wait_drained(gw.admin, Duration::from_secs(30));
    assert_exactly_once(&receiver, &ids);
}

#[test]
fn an_offline_bundle_is_accepted_as_if_sent_online_and_never_doubled() {
    let dir = TempDir::new("bundle");
    let config = write_config(dir.path(), "[upstream]\nbatch_max_records = 50\n");
    let gw = Gateway::start(&config);
    let ids: HashSet<_> = post_many(gw.admin, "198703152010011005", 75)
        .into_iter()
        .collect();
    // Export while the gateway runs (no connection configured at all).
    let bundle = dir.path().join("kutim.bundle.json");
    let out = Command::new(hadir_bin())
        .args(["export-batches", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The 75 punches and the audit record of the first admin.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("76 record(s)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(gw.terminate(), Some(0));

    let receiver_db = dir.path().join("receiver.db");
    let identity = Command::new(hadir_bin())
        .args(["identity", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let identity = String::from_utf8_lossy(&identity.stdout).to_string();
    let key = identity
        .lines()
        .find_map(|l| l.strip_prefix("public key (ed25519, hex): "))
        .unwrap();
    let reg = Command::new(receiver_bin())
        .args(["register", "--db"])
        .arg(&receiver_db)
        .args(["--gateway", "test-office", "--key", key])
        .output()
        .unwrap();
    assert!(
        reg.status.success(),
        "{}",
        String::from_utf8_lossy(&reg.stderr)
    );
    let import = |expect: &str| {
        let out = Command::new(receiver_bin())
            .args(["import", "--db"])
            .arg(&receiver_db)
            .arg(&bundle)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success() && text.contains(expect),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    import("Stored stored=50 duplicates=0");
    import("Stored stored=0 duplicates=50");

    // Later the office gets online: the same records are forwarded and de-duplicated.
    let mut receiver = Receiver::start(&receiver_db, &["--http", "127.0.0.1:0"]);
    let url = format!("http://{}/v1/batches", receiver.http_addr.as_ref().unwrap());
    write_config(
        dir.path(),
        &format!("[upstream]\nmode = \"https\"\nurl = \"{url}\"\nbatch_max_age_s = 1\n"),
    );
    let gw = Gateway::start(&config);
    wait_drained(gw.admin, Duration::from_secs(30));
    assert_exactly_once(&receiver, &ids);
    assert_eq!(receiver.record_ids().len(), 75);
    receiver.stop();
}

#[test]
fn a_bundle_with_an_altered_record_is_rejected() {
    let dir = TempDir::new("tamper");
    let config = write_config(dir.path(), "");
    let gw = Gateway::start(&config);
    post_many(gw.admin, "198703152010011006", 5);
    assert_eq!(gw.terminate(), Some(0));
    let bundle = dir.path().join("b.json");
    let out = Command::new(hadir_bin())
        .args(["export-batches", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&bundle).unwrap();
    // Change one check-in time inside a record body.
    let altered = text.replacen("07:00:02", "06:59:02", 1);
    assert_ne!(text, altered);
    std::fs::write(&bundle, altered).unwrap();
    let out = Command::new(receiver_bin())
        .args(["import", "--tofu", "--db"])
        .arg(dir.path().join("r.db"))
        .arg(&bundle)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Rejected") && text.contains("hash mismatch"),
        "{text}"
    );
}

#[test]
fn a_record_deleted_on_the_gateway_breaks_the_chain_and_is_detected() {
    let dir = TempDir::new("deleted");
    let config = write_config(dir.path(), "");
    let gw = Gateway::start(&config);
    post_many(gw.admin, "198703152010011007", 10);
    assert_eq!(gw.terminate(), Some(0));
    // Someone with shell access deletes a check-in before it is forwarded.
    let conn = rusqlite::Connection::open(dir.path().join("data/hadir.db")).unwrap();
    conn.execute("DELETE FROM outbox WHERE seq = 4", [])
        .unwrap();
    drop(conn);
    let receiver = Receiver::start(
        &dir.path().join("r.db"),
        &["--http", "127.0.0.1:0", "--tofu"],
    );
    let url = format!("http://{}/v1/batches", receiver.http_addr.as_ref().unwrap());
    write_config(dir.path(), &format!("[upstream]\nmode = \"https\"\nurl = \"{url}\"\nbatch_max_records = 3\nbatch_max_age_s = 0\n"));
    let gw = Gateway::start(&config);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = health(gw.admin);
        if let Some(err) = h["upstream"]["last_error"].as_str() {
            if err.contains("chain break") {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "chain break never reported: {h:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Records before the gap were accepted (the first admin's audit record and two punches),
    // nothing after it.
    assert_eq!(receiver.all_record_count(), 3);
    assert_eq!(receiver.record_ids().len(), 2);
}

/// The chaos run: 20+ rounds of kill -9 during forwarding, with the broker and the receiver
/// restarted along the way and a receiver that is slow and refuses every 7th batch.
#[test]
fn kill_9_broker_and_receiver_restarts_lose_and_double_nothing() {
    let dir = TempDir::new("chaos");
    let mut broker = Mosquitto::start(dir.path());
    let mut receiver = Receiver::start(
        &dir.path().join("receiver.db"),
        &[
            "--mqtt",
            &broker.url(),
            "--username",
            BROKER_USER,
            "--tofu",
            "--delay-ms",
            "15",
            "--reject-every",
            "7",
        ],
    );
    let config = write_config(dir.path(), &mqtt_upstream(&broker));
    let acknowledged = Arc::new(Mutex::new(HashSet::<String>::new()));
    let counter = Arc::new(AtomicU32::new(0));
    let rounds = 21u32;
    for round in 0..rounds {
        let gw = Gateway::start(&config);
        let addr = gw.admin;
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (stop, acknowledged, counter) =
                (stop.clone(), acknowledged.clone(), counter.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let n = counter.fetch_add(10, Ordering::Relaxed);
                    let punches: Vec<_> = (n..n + 10)
                        .map(|i| punch("199001012020121001", i))
                        .collect();
                    match post_punches(addr, &serde_json::Value::Array(punches)) {
                        Ok(r) if r.status == 200 => {
                            let mut a = acknowledged.lock().unwrap();
                            for res in r.json()["results"].as_array().unwrap() {
                                a.insert(res["record_id"].as_str().unwrap().to_string());
                            }
                        }
                        _ => break,
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        std::thread::sleep(Duration::from_millis(400 + (round as u64 * 137) % 900));
        gw.kill9();
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
        if round % 5 == 2 {
            broker.restart();
        }
        if round % 7 == 3 {
            receiver.restart();
        }
    }
    // Final run: everything drains.
    let gw = Gateway::start(&config);
    wait_drained(gw.admin, Duration::from_secs(120));
    let acknowledged = acknowledged.lock().unwrap();
    assert!(
        acknowledged.len() > 500,
        "only {} records generated",
        acknowledged.len()
    );
    assert_exactly_once(&receiver, &acknowledged);
    // Some writes committed just before a kill -9 never got their answer out; those are still
    // forwarded. The receiver holds exactly what the gateway stored.
    let gw_db = rusqlite::Connection::open(dir.path().join("data/hadir.db")).unwrap();
    let mut stmt = gw_db.prepare("SELECT record_id FROM attendance").unwrap();
    let stored: HashSet<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let held: HashSet<String> = receiver.record_ids().into_iter().collect();
    assert_eq!(
        held, stored,
        "the receiver holds exactly the gateway's records"
    );
    // The receiver's chain head is the gateway's.
    let head: String = gw_db
        .query_row("SELECT value FROM meta WHERE key = 'chain_head'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let r_db = rusqlite::Connection::open(&receiver.db).unwrap();
    let r_head: String = r_db
        .query_row("SELECT last_hash FROM chains", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        head, r_head,
        "the receiver's chain ends where the gateway's does"
    );
}

#[test]
fn at_the_storage_cap_intake_is_refused_and_only_forwarded_records_are_evicted() {
    let dir = TempDir::new("cap");
    let config = dir.path().join("hadir.toml");
    let write = |upstream: &str| {
        let text = test_config(dir.path(), upstream)
            .replace("min_free_mb = 1", "min_free_mb = 1\nmax_db_mb = 1");
        std::fs::write(&config, text).unwrap();
    };
    write("");
    let gw = Gateway::start(&config);
    let mut acknowledged = HashSet::new();
    let mut n = 0u32;
    let refusal = loop {
        let punches: Vec<_> = (n..n + 50)
            .map(|i| punch("198703152010011008", i))
            .collect();
        n += 50;
        let r = post_punches(gw.admin, &serde_json::Value::Array(punches)).unwrap();
        if r.status != 200 {
            break r;
        }
        for res in r.json()["results"].as_array().unwrap() {
            acknowledged.insert(res["record_id"].as_str().unwrap().to_string());
        }
        assert!(n < 20_000, "the 1 MiB cap was never reached");
    };
    assert_eq!(refusal.status, 507, "{}", refusal.body);
    assert!(
        refusal.json()["message"]
            .as_str()
            .unwrap()
            .contains("cap is 1 MiB"),
        "{}",
        refusal.body
    );
    let h = health(gw.admin);
    assert_eq!(h["status"], "degraded");
    assert!(h["store"]["intake_refused"].is_string());
    assert_eq!(
        h["store"]["records"],
        acknowledged.len(),
        "nothing unacknowledged was evicted"
    );
    assert_eq!(gw.terminate(), Some(0));

    // Once the records are forwarded, the oldest forwarded ones make room for new intake.
    let receiver = Receiver::start(
        &dir.path().join("r.db"),
        &["--http", "127.0.0.1:0", "--tofu"],
    );
    let url = format!("http://{}/v1/batches", receiver.http_addr.as_ref().unwrap());
    write(&format!(
        "[upstream]\nmode = \"https\"\nurl = \"{url}\"\nbatch_max_age_s = 0\n"
    ));
    let gw = Gateway::start(&config);
    wait_drained(gw.admin, Duration::from_secs(30));
    let more: Vec<_> = (n..n + 50)
        .map(|i| punch("198703152010011008", i))
        .collect();
    let r = post_punches(gw.admin, &serde_json::Value::Array(more)).unwrap();
    assert_eq!(r.status, 200, "intake resumes after eviction: {}", r.body);
    for res in r.json()["results"].as_array().unwrap() {
        acknowledged.insert(res["record_id"].as_str().unwrap().to_string());
    }
    wait_drained(gw.admin, Duration::from_secs(30));
    let h = health(gw.admin);
    assert_eq!(h["status"], "ok", "{h:#}");
    assert!(
        h["store"]["records"].as_u64().unwrap() < acknowledged.len() as u64,
        "forwarded records were evicted"
    );
    assert_exactly_once(&receiver, &acknowledged);
}
