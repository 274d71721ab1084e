//! Pull-mode readers end to end: the reader simulator (in this test process, serving the real
//! protocol on 127.0.0.1) and the real `hadir` binary polling it. Also fingerprint templates
//! between pull readers, push readers and the gateway's database.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hadir_drivers::zk::push::PushTemplate;
use hadir_drivers::zk::sim::{synthetic_records, synthetic_users};
use hadir_drivers::zk::{
    AttendanceRecord, FingerTemplate, PushSim, PushSimConfig, SimConfig, SimHandle, Simulator,
    User, UserLayout, ZkDateTime,
};
use support::peers::{free_port, Receiver};
use support::*;

async fn simulator(records: usize, comm_key: u32, clock_offset_secs: i64) -> SimHandle {
    let users = synthetic_users(20, UserLayout::Zk8);
    let start = ZkDateTime::new(2026, 11, 2, 7, 0, 0).unwrap();
    let cfg = SimConfig {
        records: synthetic_records(records, &users, start),
        users,
        comm_key,
        clock_offset_secs,
        serial: "CQZ7232460123".into(),
        ..SimConfig::default()
    };
    Simulator::start(cfg).await.unwrap()
}

fn device_block(sim: &SimHandle, comm_key: u32, extra: &str) -> String {
    format!(
        "[[devices]]\nname = \"pintu-depan\"\nkind = \"zk-pull\"\naddress = \"{}\"\ncomm_key = {comm_key}\npoll_interval_s = 1\nmax_drift_s = 30\n{extra}\n",
        sim.addr()
    )
}

fn health(gw: &Gateway) -> serde_json::Value {
    http(gw.admin, "GET", "/health", &[], b"").unwrap().json()
}

fn wait_for(
    gw: &Gateway,
    what: &str,
    within: Duration,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + within;
    loop {
        let h = health(gw);
        if ok(&h) {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {h:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn extra_record(sim: &SimHandle, i: u32) -> AttendanceRecord {
    let user = &sim.users()[0];
    AttendanceRecord {
        uid: user.uid,
        user_id: user.user_id.clone(),
        time: ZkDateTime::new(2026, 11, 23, 7, 30, i as u8 % 60).unwrap(),
        status: 1,
        punch: 0,
        workcode: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reader_record_is_pulled_once_across_kill_9_and_restart() {
    let sim = simulator(300, 5, 0).await;
    let dir = TempDir::new("pull");
    let config = write_config(dir.path(), &device_block(&sim, 5, ""));
    let gw = Gateway::start(&config);
    let h = wait_for(&gw, "300 records", Duration::from_secs(30), |h| {
        h["store"]["records"] == 300
    });
    let dev = &h["devices"][0];
    assert_eq!(dev["online"], true, "{dev:#}");
    assert_eq!(dev["serial"], "CQZ7232460123");
    assert_eq!(dev["records"], 300);
    gw.kill9();

    // New punches while the gateway is down; the reader keeps them in its log.
    for i in 0..7 {
        sim.push_live_event(extra_record(&sim, i));
    }
    let gw = Gateway::start(&config);
    wait_for(&gw, "307 records", Duration::from_secs(30), |h| {
        h["store"]["records"] == 307
    });
    // A few more poll rounds must not add anything.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(health(&gw)["store"]["records"], 307);
    assert_eq!(gw.terminate(), Some(0));
    let ids = record_ids(dir.path());
    assert_eq!(ids.len(), 307);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 307);
    assert!(sim.is_enabled(), "the reader is left enabled");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_punch_is_stored_without_waiting_for_the_next_poll() {
    let sim = simulator(10, 0, 0).await;
    let dir = TempDir::new("live");
    let block = device_block(&sim, 0, "").replace("poll_interval_s = 1", "poll_interval_s = 120");
    let gw = Gateway::start(&write_config(dir.path(), &block));
    wait_for(&gw, "10 records", Duration::from_secs(30), |h| {
        h["store"]["records"] == 10
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.live_sessions() == 0 {
        assert!(
            Instant::now() < deadline,
            "the gateway never registered for live events"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = Instant::now();
    assert_eq!(sim.push_live_event(extra_record(&sim, 1)), 1);
    wait_for(&gw, "the live punch", Duration::from_secs(5), |h| {
        h["store"]["records"] == 11
    });
    assert!(t.elapsed() < Duration::from_secs(5));
    drop(gw);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drifting_reader_clock_is_set_to_office_time() {
    let sim = simulator(3, 0, 900).await;
    let dir = TempDir::new("drift");
    let gw = Gateway::start(&write_config(dir.path(), &device_block(&sim, 0, "")));
    wait_for(&gw, "the reader online", Duration::from_secs(30), |h| {
        h["devices"][0]["online"] == true
    });
    // The office is in WITA (UTC+8): the reader must now show WITA wall time.
    let wita = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Makassar").unwrap())
        .datetime();
    let wita_s = wita
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_second();
    let device_s = sim.device_time().to_civil_seconds();
    assert!(
        (device_s - wita_s).abs() <= 5,
        "reader shows {}, office time is {wita}",
        sim.device_time()
    );
    drop(gw);
    let conn = rusqlite::Connection::open(dir.path().join("data/hadir.db")).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'reader-clock-set'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(n >= 1);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_comm_key_shows_the_reader_offline_with_a_clear_reason() {
    let sim = simulator(3, 1234, 0).await;
    let dir = TempDir::new("commkey");
    let gw = Gateway::start(&write_config(dir.path(), &device_block(&sim, 4321, "")));
    let h = wait_for(&gw, "a reader error", Duration::from_secs(30), |h| {
        h["devices"][0]["last_error"].is_string()
    });
    let dev = &h["devices"][0];
    assert_eq!(dev["online"], false);
    assert!(
        dev["last_error"].as_str().unwrap().contains("comm key"),
        "{dev:#}"
    );
    assert_eq!(h["store"]["records"], 0);
    drop(gw);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reader_log_is_cleared_only_after_everything_on_it_was_acknowledged_upstream() {
    let sim = simulator(40, 0, 0).await;
    let dir = TempDir::new("clear");
    // Without an upstream nothing is ever acknowledged, so nothing is cleared.
    let config = write_config(
        dir.path(),
        &device_block(&sim, 0, "clear_after_forward = true"),
    );
    let gw = Gateway::start(&config);
    wait_for(&gw, "40 records", Duration::from_secs(30), |h| {
        h["store"]["records"] == 40
    });
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        sim.records().len(),
        40,
        "cleared before anything was acknowledged"
    );
    assert_eq!(gw.terminate(), Some(0));

    let receiver = Receiver::start(
        &dir.path().join("r.db"),
        &["--http", "127.0.0.1:0", "--tofu"],
    );
    let url = format!("http://{}/v1/batches", receiver.http_addr.as_ref().unwrap());
    let extra = format!(
        "{}[upstream]\nmode = \"https\"\nurl = \"{url}\"\nbatch_max_age_s = 0\n",
        device_block(&sim, 0, "clear_after_forward = true")
    );
    write_config(dir.path(), &extra);
    let gw = Gateway::start(&config);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sim.records().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the reader log was never cleared"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(receiver.record_ids().len(), 40);
    // New punches after the clear are still picked up (the cursor was reset).
    for i in 0..3 {
        sim.push_live_event(extra_record(&sim, i));
    }
    wait_for(&gw, "43 records", Duration::from_secs(30), |h| {
        h["store"]["records"] == 43
    });
    drop(gw);
    sim.shutdown().await;
}

// Fingerprint templates (issue 7) on pull readers.

const NIP: &str = "198703152010011002";

/// An empty reader; at `listen` if given (a replacement taking over a broken reader's address,
/// retried for a few seconds while the kernel still holds the old one's sockets).
async fn empty_pull_reader(serial: &str, listen: Option<std::net::SocketAddr>) -> SimHandle {
    let cfg = || {
        let mut cfg = SimConfig {
            serial: serial.into(),
            ..SimConfig::default()
        };
        if let Some(addr) = listen {
            cfg.listen = addr;
        }
        cfg
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Simulator::start(cfg()).await {
            Ok(sim) => return sim,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("replacement reader at {listen:?}: {e}"),
        }
    }
}

fn pull_entry(name: &str, sim: &SimHandle) -> String {
    format!(
        "[[devices]]\nname = \"{name}\"\nkind = \"zk-pull\"\naddress = \"{}\"\npoll_interval_s = 1\n",
        sim.addr()
    )
}

fn push_entry(name: &str, serial: &str) -> String {
    format!("[[devices]]\nname = \"{name}\"\nkind = \"zk-push\"\nserial = \"{serial}\"\n")
}

fn with_sync(port: Option<u16>, devices: &str) -> String {
    let push = match port {
        Some(p) => {
            format!("[push]\nlisten = \"127.0.0.1:{p}\"\ndelay_s = 1\nerror_delay_s = 1\n\n")
        }
        None => String::new(),
    };
    format!("{push}[roster_sync]\ninterval_s = 2\n\n{devices}\n")
}

/// The reader's slot number for a user id.
fn uid_of(sim: &SimHandle, user_id: &str) -> Option<u16> {
    sim.users()
        .iter()
        .find(|u| u.user_id == user_id)
        .map(|u| u.uid)
}

/// Whether the pull reader holds exactly `bytes` for the user's finger.
fn holds(sim: &SimHandle, user_id: &str, fid: u8, bytes: &[u8]) -> bool {
    let Some(uid) = uid_of(sim, user_id) else {
        return false;
    };
    sim.templates()
        .iter()
        .any(|t| t.uid == uid && t.fid == fid && t.template == bytes)
}

fn template_bytes(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(seed) ^ seed)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fingerprints_enrolled_on_pull_and_push_readers_reach_every_other_reader_once() {
    let a = empty_pull_reader("PULLFPA01", None).await;
    let b = empty_pull_reader("PULLFPB01", None).await;
    let dir = TempDir::new("pull-fp");
    let port = free_port();
    let devices = format!(
        "{}{}{}",
        pull_entry("lobi", &a),
        pull_entry("aula", &b),
        push_entry("gerbang", "PUSHFP01")
    );
    let gw = Gateway::start(&write_config(dir.path(), &with_sync(Some(port), &devices)));
    put_employee(&gw, NIP, "Siti Aminah");
    let p = PushSim::start(PushSimConfig {
        server: format!("http://127.0.0.1:{port}"),
        serial: "PUSHFP01".into(),
        poll_interval: Some(Duration::from_millis(200)),
        error_delay: Some(Duration::from_millis(300)),
        request_timeout: Duration::from_secs(5),
        ..PushSimConfig::default()
    })
    .unwrap();
    wait_until(
        "the employee on all three readers",
        Duration::from_secs(30),
        || uid_of(&a, NIP).is_some() && uid_of(&b, NIP).is_some() && p.users().len() == 1,
    )
    .await;

    // Enrolled at reader A's sensor (pull mode).
    let on_a = template_bytes(7, 1234);
    a.enroll(FingerTemplate {
        uid: uid_of(&a, NIP).unwrap(),
        fid: 6,
        valid: 1,
        template: on_a.clone(),
    });
    let pushed = PushTemplate {
        pin: NIP.into(),
        fid: 6,
        size: 1234,
        valid: 1,
        tmp: B64.encode(&on_a),
    };
    wait_until(
        "A's finger on pull reader B and push reader P",
        Duration::from_secs(30),
        || holds(&b, NIP, 6, &on_a) && p.templates().contains(&pushed),
    )
    .await;
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM fingerprint_templates WHERE pin = '198703152010011002' AND fid = 6 AND source_serial = 'PULLFPA01' AND size = 1234"
        ),
        1
    );
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM outbox WHERE kind = 'fingerprint-template'"
        ),
        1
    );

    // Enrolled at push reader P: written to both pull readers.
    let on_p = template_bytes(11, 900);
    p.enroll(PushTemplate {
        pin: NIP.into(),
        fid: 3,
        size: 900,
        valid: 1,
        tmp: B64.encode(&on_p),
    });
    wait_until(
        "P's finger on pull readers A and B",
        Duration::from_secs(30),
        || holds(&a, NIP, 3, &on_p) && holds(&b, NIP, 3, &on_p),
    )
    .await;
    // Several more polls: nothing is stored twice or bounced back as a new enrolment.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM fingerprint_templates"),
        2
    );
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM outbox WHERE kind = 'fingerprint-template'"
        ),
        2
    );
    for sim in [&a, &b] {
        assert_eq!(sim.templates().len(), 2, "{:?}", sim.templates());
    }
    // Each poll disables a reader while it reads and writes; between polls both work again.
    wait_until(
        "both pull readers enabled between polls",
        Duration::from_secs(10),
        || a.is_enabled() && b.is_enabled(),
    )
    .await;
    assert_eq!(p.templates().len(), 2);
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM reader_templates WHERE serial IN ('PULLFPA01', 'PULLFPB01')"
        ),
        4
    );
    p.shutdown().await;
    assert_eq!(gw.terminate(), Some(0));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_pull_reader_gets_the_users_and_fingerprints_of_the_one_it_replaces() {
    let mut siti = User::new(1, NIP, "Siti Aminah");
    siti.group = "1".into();
    let fingers = vec![
        FingerTemplate {
            uid: 1,
            fid: 0,
            valid: 1,
            template: template_bytes(3, 1500),
        },
        FingerTemplate {
            uid: 1,
            fid: 5,
            valid: 1,
            template: template_bytes(5, 700),
        },
    ];
    let old = Simulator::start(SimConfig {
        serial: "PULLOLD01".into(),
        users: vec![siti],
        templates: fingers.clone(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let addr = old.addr();
    let dir = TempDir::new("pull-replace");
    let gw = Gateway::start(&write_config(
        dir.path(),
        &with_sync(None, &pull_entry("lobi", &old)),
    ));
    put_employee(&gw, NIP, "Siti Aminah");
    put_employee(&gw, "199001012015032001", "Budi Santoso");
    wait_until(
        "the old reader's fingers stored",
        Duration::from_secs(30),
        || {
            count(
                dir.path(),
                "SELECT COUNT(*) FROM fingerprint_templates WHERE source_serial = 'PULLOLD01'",
            ) == 2
        },
    )
    .await;

    // The reader breaks; an empty one with another serial takes its place and address.
    old.shutdown().await;
    let new = empty_pull_reader("PULLNEW01", Some(addr)).await;
    wait_until("the replacement restored", Duration::from_secs(40), || {
        new.users().len() == 2 && fingers.iter().all(|f| holds(&new, NIP, f.fid, &f.template))
    })
    .await;
    assert_eq!(new.templates().len(), 2);
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM fingerprint_templates"),
        2
    );
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM reader_templates WHERE serial = 'PULLNEW01'"
        ),
        2
    );
    drop(gw);
    new.shutdown().await;
}
