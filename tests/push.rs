//! Push-mode (ADMS/iclock) readers end to end: the push reader simulator (in this test process,
//! talking HTTP to 127.0.0.1 the way firmware does) and the real `hadir` binary. Also the USB
//! import, roster sync to push and pull readers, fingerprint template copies, unknown serials and
//! the push reader clock.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use hadir_drivers::zk::push::{self, AttLogLine, PushTemplate, PushUser};
use hadir_drivers::zk::sim::{synthetic_records, synthetic_users};
use hadir_drivers::zk::{
    PushSim, PushSimConfig, SimConfig, SimHandle, Simulator, UserLayout, ZkDateTime,
};
use support::peers::free_port;
use support::*;

fn push_block(port: u16, extra: &str) -> String {
    format!(
        "[push]\nlisten = \"127.0.0.1:{port}\"\ndelay_s = 1\nerror_delay_s = 1\n\n\
         [roster_sync]\ninterval_s = 2\n\n{extra}\n"
    )
}

fn push_device(name: &str, serial: &str) -> String {
    format!("[[devices]]\nname = \"{name}\"\nkind = \"zk-push\"\nserial = \"{serial}\"\n")
}

fn sim_config(serial: &str, port: u16, records: Vec<AttLogLine>) -> PushSimConfig {
    PushSimConfig {
        server: format!("http://127.0.0.1:{port}"),
        serial: serial.into(),
        records,
        poll_interval: Some(Duration::from_millis(200)),
        error_delay: Some(Duration::from_millis(300)),
        request_timeout: Duration::from_secs(5),
        ..PushSimConfig::default()
    }
}

/// `n` punches by 10 users on 2026-11-02 from 07:00 WITA, 37 s apart.
fn punches(n: usize) -> Vec<AttLogLine> {
    let users = synthetic_users(10, UserLayout::Zk8);
    let start = ZkDateTime::new(2026, 11, 2, 7, 0, 0).unwrap();
    synthetic_records(n, &users, start)
        .into_iter()
        .map(|r| AttLogLine {
            pin: r.user_id,
            time: r.time,
            state: r.punch,
            verify: r.status,
            workcode: "0".into(),
        })
        .collect()
}

fn push_addr(gw: &Gateway) -> SocketAddr {
    gw.push_addr().expect("push listener line on stdout")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_punches_are_stored_once_and_the_reader_is_answered_ok() {
    let dir = TempDir::new("push-basic");
    let port = free_port();
    let config = write_config(
        dir.path(),
        &push_block(port, &push_device("lobi", "PUSHA001")),
    );
    let gw = Gateway::start(&config);
    assert_eq!(push_addr(&gw).port(), port);
    let sim = PushSim::start(sim_config("PUSHA001", port, punches(250))).unwrap();
    wait_until("250 lines acknowledged", Duration::from_secs(30), || {
        sim.stats().lines_acked == 250
    })
    .await;
    assert_eq!(sim.pending(), 0);
    assert_eq!(sim.stats().posts_failed, 0);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM attendance"), 250);
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM attendance WHERE source = 'zk-push' AND device = 'PUSHA001'"
        ),
        250
    );
    // A real-time punch arrives within a poll cycle.
    let line = sim.punch("1001", 1, 15);
    wait_until("the real-time punch", Duration::from_secs(10), || {
        count(dir.path(), "SELECT COUNT(*) FROM attendance") == 251
    })
    .await;
    assert_eq!(
        count(
            dir.path(),
            &format!(
                "SELECT COUNT(*) FROM attendance WHERE employee = '1001' AND occurred_local = '{}' AND verify = 15",
                line.time.to_string().replace(' ', "T")
            )
        ),
        1
    );
    // The stamp is remembered for the next handshake.
    let stamp: String = db(dir.path())
        .query_row(
            "SELECT stamp FROM push_stamps WHERE serial = 'PUSHA001' AND tbl = 'ATTLOG'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stamp, "251");
    let health = http(gw.admin, "GET", "/health", &[], b"").unwrap().json();
    let dev = &health["devices"][0];
    assert_eq!(dev["kind"], "zk-push", "{dev:#}");
    assert_eq!(dev["name"], "lobi");
    assert_eq!(dev["online"], true);
    sim.shutdown().await;
    assert_eq!(gw.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_before_answering_ok_gets_the_lines_again_and_stores_them_once() {
    let dir = TempDir::new("push-kill");
    let port = free_port();
    let config = write_config(
        dir.path(),
        &push_block(port, &push_device("lobi", "PUSHK001")),
    );
    // First run: every upload commits, then waits 60 s before answering OK.
    let gw = Gateway::start_with(
        Command::new(hadir_bin())
            .args(["run", "--config"])
            .arg(&config)
            .env("HADIR_TEST_PUSH_ACK_DELAY_MS", "60000"),
    );
    let sim = PushSim::start(sim_config("PUSHK001", port, punches(120))).unwrap();
    wait_until("the first batch committed", Duration::from_secs(30), || {
        count(dir.path(), "SELECT COUNT(*) FROM attendance") > 0
    })
    .await;
    // Stored, but the reader has no OK: it still holds every line.
    assert_eq!(sim.stats().lines_acked, 0);
    assert_eq!(sim.pending(), 120);
    gw.kill9();
    wait_until("the reader to notice", Duration::from_secs(10), || {
        sim.stats().posts_failed >= 1
    })
    .await;
    // Punches made while the gateway is down stay on the reader.
    for pin in ["1001", "1002", "1003"] {
        sim.punch(pin, 0, 1);
    }
    let gw = Gateway::start(&config);
    wait_until("every line acknowledged", Duration::from_secs(30), || {
        sim.pending() == 0
    })
    .await;
    let ids = record_ids(dir.path());
    assert_eq!(ids.len(), 123, "nothing doubled, nothing lost");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 123);
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM outbox WHERE kind = 'punch'"
        ),
        123
    );
    sim.shutdown().await;
    assert_eq!(gw.terminate(), Some(0));
}

async fn pull_simulator(
    serial: &str,
    records: Vec<hadir_drivers::zk::AttendanceRecord>,
) -> SimHandle {
    Simulator::start(SimConfig {
        users: synthetic_users(10, UserLayout::Zk8),
        records,
        serial: serial.into(),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

fn pull_device(sim: &SimHandle) -> String {
    format!(
        "[[devices]]\nname = \"pintu-depan\"\nkind = \"zk-pull\"\naddress = \"{}\"\npoll_interval_s = 1\n",
        sim.addr()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_serial_is_refused_and_listed_and_after_approval_its_pushed_punches_match_the_pulled_ones(
) {
    // One reader that does both: pulled over the binary protocol and pushing over HTTP.
    let users = synthetic_users(10, UserLayout::Zk8);
    let start = ZkDateTime::new(2026, 11, 2, 7, 0, 0).unwrap();
    let records = synthetic_records(80, &users, start);
    let pull = pull_simulator("BOTHWAYS01", records.clone()).await;
    let dir = TempDir::new("push-pull");
    let port = free_port();
    let gw = Gateway::start(&write_config(
        dir.path(),
        &push_block(port, &pull_device(&pull)),
    ));
    let lines: Vec<AttLogLine> = records
        .iter()
        .map(|r| AttLogLine {
            pin: r.user_id.clone(),
            time: r.time,
            state: r.punch,
            verify: r.status,
            workcode: "0".into(),
        })
        .collect();
    let sim = PushSim::start(sim_config("BOTHWAYS01", port, lines)).unwrap();
    wait_until("the push refused", Duration::from_secs(10), || {
        sim.stats().last_status == 403
    })
    .await;
    let listed = api(
        &gw,
        "GET",
        "/api/v1/readers/unknown",
        &serde_json::json!(null),
    )
    .json();
    assert_eq!(listed[0]["serial"], "BOTHWAYS01", "{listed:#}");
    assert_eq!(listed[0]["approved_utc"], serde_json::Value::Null);
    assert!(listed[0]["requests"].as_i64().unwrap() >= 1);
    wait_until("the pulled records", Duration::from_secs(30), || {
        count(dir.path(), "SELECT COUNT(*) FROM attendance") == 80
    })
    .await;
    assert_eq!(
        sim.pending(),
        80,
        "nothing acknowledged to an unknown reader"
    );
    let r = api(
        &gw,
        "POST",
        "/api/v1/readers/unknown/BOTHWAYS01/approve",
        &serde_json::json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api(
        &gw,
        "POST",
        "/api/v1/readers/unknown/NEVERSEEN/approve",
        &serde_json::json!({}),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    sim.wake();
    wait_until(
        "the pushed lines acknowledged",
        Duration::from_secs(30),
        || sim.pending() == 0,
    )
    .await;
    // Both copies of each punch are kept as raw evidence; each punch is one record.
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM attendance"), 80);
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM raw_events WHERE source = 'zk-push'"
        ),
        80
    );
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM raw_events WHERE source = 'zk-pull'"
        ),
        80
    );
    sim.shutdown().await;
    assert_eq!(gw.terminate(), Some(0));
    pull.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_usb_export_is_imported_once_beside_pushed_punches_and_bad_lines_are_reported() {
    let dir = TempDir::new("push-usb");
    let port = free_port();
    let config = write_config(
        dir.path(),
        &push_block(port, &push_device("lobi", "USBREADER1")),
    );
    let gw = Gateway::start(&config);
    let all = punches(30);
    let sim = PushSim::start(sim_config("USBREADER1", port, all[..20].to_vec())).unwrap();
    wait_until("20 pushed", Duration::from_secs(30), || sim.pending() == 0).await;

    // The import runs beside the running gateway. The USB export holds all 30 (20 already pushed) plus two damaged lines.
    let mut file = String::new();
    for (i, l) in all.iter().enumerate() {
        file.push_str(&push::format_usb_line(l));
        file.push_str("\r\n");
        if i == 4 {
            file.push_str("      77\t2026-02-30 07:00:00\t1\t0\t0\t0\r\n");
        }
    }
    file.push_str("garbage without tabs\r\n");
    let dat = dir.path().join("1_attlog.dat");
    std::fs::write(&dat, &file).unwrap();
    let import = || {
        Command::new(hadir_bin())
            .args(["zk", "import"])
            .arg(&dat)
            .args(["--device", "USBREADER1", "--json", "--config"])
            .arg(&config)
            .output()
            .unwrap()
    };
    let out = import();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(":6: rejected: bad time"), "{stderr}");
    assert!(
        stderr.contains(":32: rejected: expected at least 4"),
        "{stderr}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["new"], 10, "{summary:#}");
    assert_eq!(summary["duplicates"], 20);
    assert_eq!(summary["rejected"].as_array().unwrap().len(), 2);
    // Importing the same file again adds nothing.
    let again: serde_json::Value = serde_json::from_slice(&import().stdout).unwrap();
    assert_eq!(again["new"], 0);
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM attendance"), 30);
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM attendance WHERE source = 'zk-usb'"
        ),
        10
    );
    sim.shutdown().await;
    assert_eq!(gw.terminate(), Some(0));
}

fn users_of(sim: &PushSim) -> Vec<(String, String)> {
    let mut u: Vec<(String, String)> = sim.users().into_iter().map(|u| (u.pin, u.name)).collect();
    u.sort();
    u
}

fn pull_users(sim: &SimHandle) -> Vec<(String, String)> {
    let mut u: Vec<(String, String)> = sim
        .users()
        .into_iter()
        .map(|u| (u.user_id, u.name))
        .collect();
    u.sort();
    u
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roster_changes_reach_push_and_pull_readers() {
    let pull = Simulator::start(SimConfig {
        serial: "PULLSYNC01".into(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = TempDir::new("push-roster");
    let port = free_port();
    let devices = format!(
        "{}\n{}",
        push_device("lobi", "PUSHSYNC01"),
        pull_device(&pull)
    );
    let gw = Gateway::start(&write_config(dir.path(), &push_block(port, &devices)));
    // A user enrolled locally on the push reader (not on the roster) is left alone.
    let mut cfg = sim_config("PUSHSYNC01", port, Vec::new());
    cfg.users = vec![PushUser {
        pin: "9".into(),
        name: "Admin Lokal".into(),
        privilege: 14,
        ..Default::default()
    }];
    let sim = PushSim::start(cfg).unwrap();

    let a = "198703152010011002";
    let b = "199001012015032001";
    put_employee(&gw, a, "Siti Aminah");
    put_employee(&gw, b, "Budi Santoso");
    let want = vec![
        (a.to_string(), "Siti Aminah".to_string()),
        (b.to_string(), "Budi Santoso".to_string()),
    ];
    let mut with_admin = want.clone();
    with_admin.push(("9".into(), "Admin Lokal".into()));
    with_admin.sort();
    wait_until(
        "both readers to hold the roster",
        Duration::from_secs(30),
        || users_of(&sim) == with_admin && pull_users(&pull) == want,
    )
    .await;

    // Rename.
    put_employee(&gw, a, "Siti Aminah Lubis");
    wait_until(
        "the rename on both readers",
        Duration::from_secs(30),
        || {
            let p = pull_users(&pull);
            users_of(&sim).contains(&(a.into(), "Siti Aminah Lubis".into()))
                && p.contains(&(a.into(), "Siti Aminah Lubis".into()))
        },
    )
    .await;

    // Remove.
    let r = api(
        &gw,
        "POST",
        &format!("/api/v1/employees/{b}/deactivate"),
        &serde_json::json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    wait_until(
        "the removal on both readers",
        Duration::from_secs(30),
        || !users_of(&sim).iter().any(|u| u.0 == b) && !pull_users(&pull).iter().any(|u| u.0 == b),
    )
    .await;
    assert!(
        users_of(&sim).iter().any(|u| u.0 == "9"),
        "the local admin stays"
    );
    assert_eq!(pull_users(&pull).len(), 1);
    // Every queued command got a successful result.
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM reader_commands WHERE return_code IS NOT 0"
        ),
        0
    );
    sim.shutdown().await;
    assert_eq!(gw.terminate(), Some(0));
    pull.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fingerprint_enrolled_on_one_reader_is_copied_to_the_other_and_queued_upstream() {
    let dir = TempDir::new("push-fp");
    let port = free_port();
    let devices = format!(
        "{}\n{}",
        push_device("lobi", "FPREADERA"),
        push_device("aula", "FPREADERB")
    );
    let gw = Gateway::start(&write_config(dir.path(), &push_block(port, &devices)));
    let nip = "198703152010011002";
    put_employee(&gw, nip, "Siti Aminah");
    let a = PushSim::start(sim_config("FPREADERA", port, Vec::new())).unwrap();
    let b = PushSim::start(sim_config("FPREADERB", port, Vec::new())).unwrap();
    wait_until("the user on both readers", Duration::from_secs(30), || {
        a.users().len() == 1 && b.users().len() == 1
    })
    .await;
    let template = PushTemplate {
        pin: nip.into(),
        fid: 6,
        size: 12,
        valid: 1,
        tmp: "SGFkaXIgdGVtcGxhdGU=".into(),
    };
    a.enroll(template.clone());
    wait_until("the template on reader B", Duration::from_secs(30), || {
        b.templates() == vec![template.clone()]
    })
    .await;
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM fingerprint_templates"),
        1
    );
    assert_eq!(
        count(
            dir.path(),
            "SELECT COUNT(*) FROM outbox WHERE kind = 'fingerprint-template'"
        ),
        1
    );
    // Reader A is not sent its own template back.
    assert!(a
        .executed()
        .iter()
        .all(|(_, c, _)| !matches!(c, push::Command::UpdateTemplate(_))));
    // A replacement reader (new serial, approved by the operator) gets user and finger.
    let c = PushSim::start(sim_config("FPREADERC", port, Vec::new())).unwrap();
    wait_until("the replacement refused", Duration::from_secs(10), || {
        c.stats().last_status == 403
    })
    .await;
    let r = api(
        &gw,
        "POST",
        "/api/v1/readers/unknown/FPREADERC/approve",
        &serde_json::json!({}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    wait_until("the replacement restored", Duration::from_secs(30), || {
        c.templates() == vec![template.clone()] && c.users().len() == 1
    })
    .await;
    for s in [a, b, c] {
        s.shutdown().await;
    }
    assert_eq!(gw.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_reader_clock_that_drifts_is_measured_and_set() {
    let dir = TempDir::new("push-clock");
    let port = free_port();
    let dev = format!("{}max_drift_s = 30\n", push_device("lobi", "CLOCK0001"));
    let gw = Gateway::start(&write_config(dir.path(), &push_block(port, &dev)));
    let mut cfg = sim_config("CLOCK0001", port, Vec::new());
    cfg.clock_skew_secs = 3600;
    cfg.sync_clock_from_date = false;
    let sim = PushSim::start(cfg).unwrap();
    wait_until("the handshake", Duration::from_secs(10), || {
        sim.stats().handshakes >= 1
    })
    .await;
    sim.punch("1001", 0, 1);
    wait_until("the clock set", Duration::from_secs(20), || {
        sim.clock_skew().abs() <= 2
    })
    .await;
    let drift: i64 = db(dir.path())
        .query_row("SELECT drift_s FROM devices WHERE name = 'lobi'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!((3590..=3610).contains(&drift), "recorded drift {drift}");
    // The next real-time punch shows the corrected clock.
    sim.punch("1002", 1, 1);
    wait_until("the drift back near zero", Duration::from_secs(20), || {
        let d: i64 = db(dir.path())
            .query_row("SELECT drift_s FROM devices WHERE name = 'lobi'", [], |r| {
                r.get(0)
            })
            .unwrap();
        d.abs() <= 5
    })
    .await;
    sim.shutdown().await;
    assert_eq!(gw.terminate(), Some(0));
}

/// Golden requests: the request and answer shapes of ZKTeco's "Attendance PUSH Communication
/// Protocol", as quoted with their sources (the protocol document, iclockhelper's
/// requests.py/models.py) in ../shared/zk-protocol.md §2 items 1–5, sent byte for byte over a
/// raw socket to the real binary. They are written from those documented shapes, not captured
/// from a physical reader (none was available); the serial number is illustrative.
#[test]
fn golden_requests_from_the_push_protocol_document_get_the_documented_answers() {
    let dir = TempDir::new("push-golden");
    let port = free_port();
    let gw = Gateway::start(&write_config(
        dir.path(),
        &push_block(port, &push_device("lobi", "0316144680030")),
    ));
    let addr = push_addr(&gw);

    // §2.1 handshake: `GET /iclock/cdata?SN=…&options=all&pushver=…`
    let r = http(
        addr,
        "GET",
        "/iclock/cdata?SN=0316144680030&options=all&pushver=2.4.1&language=69",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(
        r.body.starts_with("GET OPTION FROM: 0316144680030\n"),
        "{}",
        r.body
    );
    for key in [
        "ATTLOGStamp=0",
        "OPERLOGStamp=0",
        "Delay=1",
        "ErrorDelay=1",
        "TransInterval=",
        "TransFlag=",
        "TimeZone=8",
        "Realtime=1",
    ] {
        assert!(r.body.contains(key), "{key} missing in {}", r.body);
    }

    // §2.2 ATTLOG upload: `PIN\tYYYY-MM-DD HH:MM:SS\tStatus\tVerify\tWorkcode\tReserved1\tReserved2`
    // → `OK:<count>`; the malformed third line is rejected alone.
    let body = b"1\t2026-11-23 07:31:02\t0\t1\t0\t0\t0\n2\t2026-11-23 07:32:10\t0\t15\t0\t0\t0\nbroken line\n";
    let r = http(
        addr,
        "POST",
        "/iclock/cdata?SN=0316144680030&table=ATTLOG&Stamp=9999",
        &[],
        body,
    )
    .unwrap();
    assert_eq!((r.status, r.body.trim()), (200, "OK: 2"));

    // §2.3 OPERLOG with `USER PIN=` and `FP PIN=` lines.
    let body = b"USER PIN=1\tName=Siti\tPri=0\tPasswd=\tCard=\tGrp=1\tTZ=0000000000000000\tVerify=0\nFP PIN=1\tFID=6\tSize=9\tValid=1\tTMP=SGFkaXIgRlAh\n";
    let r = http(
        addr,
        "POST",
        "/iclock/cdata?SN=0316144680030&table=OPERLOG&Stamp=77",
        &[],
        body,
    )
    .unwrap();
    assert_eq!((r.status, r.body.trim()), (200, "OK: 2"));

    // §2.4 command poll: `OK` when nothing is queued.
    let r = http(addr, "GET", "/iclock/getrequest?SN=0316144680030", &[], b"").unwrap();
    assert_eq!((r.status, r.body.trim()), (200, "OK"));

    // §2.5 command result: `ID=<id>&Return=<code>&CMD=<desc>` → `OK`.
    let r = http(
        addr,
        "POST",
        "/iclock/devicecmd?SN=0316144680030",
        &[],
        b"ID=1&Return=0&CMD=DATA\n",
    )
    .unwrap();
    assert_eq!((r.status, r.body.trim()), (200, "OK"));

    // The stamps come back in the next handshake.
    let r = http(
        addr,
        "GET",
        "/iclock/cdata?SN=0316144680030&options=all",
        &[],
        b"",
    )
    .unwrap();
    assert!(
        r.body.contains("ATTLOGStamp=9999\n") && r.body.contains("OPERLOGStamp=77\n"),
        "{}",
        r.body
    );

    // An unknown serial gets no `OK`.
    let r = http(
        addr,
        "POST",
        "/iclock/cdata?SN=NOTREGISTERED&table=ATTLOG",
        &[],
        b"1\t2026-11-23 07:31:02\t0\t1\t0\t0\t0\n",
    )
    .unwrap();
    assert_eq!(r.status, 403);
    // Oversized bodies are refused.
    let big = vec![b'1'; 3 << 20];
    let r = http(
        addr,
        "POST",
        "/iclock/cdata?SN=0316144680030&table=ATTLOG",
        &[],
        &big,
    );
    assert!(r.map(|r| r.status == 413).unwrap_or(true));
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM attendance"), 2);
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM fingerprint_templates"),
        1
    );
    assert_eq!(gw.terminate(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_18_digit_nip_is_skipped_on_28_byte_firmware_while_a_short_numeric_id_is_set() {
    // The reader has its own admin, so the gateway learns its 28-byte user layout.
    let mut admin = hadir_drivers::zk::User::new(1, "1", "Admin");
    admin.privilege = 14;
    admin.group = "1".into();
    let pull = Simulator::start(SimConfig {
        serial: "OLDFW00001".into(),
        user_layout: UserLayout::Zk6,
        users: vec![admin],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = TempDir::new("push-zk6");
    let port = free_port();
    let gw = Gateway::start(&write_config(
        dir.path(),
        &push_block(port, &pull_device(&pull)),
    ));
    put_employee(&gw, "198703152010011002", "Siti Aminah");
    put_employee(&gw, "12345", "Budi Santoso");
    wait_until(
        "the short id on the old reader",
        Duration::from_secs(30),
        || !pull.users().is_empty(),
    )
    .await;
    // Give it two more polls: the long NIP must still be absent, nothing else added.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let users = pull_users(&pull);
    assert_eq!(
        users,
        vec![
            ("1".to_string(), "Admin".to_string()),
            ("12345".to_string(), "Budi Sa".to_string())
        ]
    );
    assert_eq!(gw.terminate(), Some(0));
    pull.shutdown().await;
}
