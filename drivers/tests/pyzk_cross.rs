//! Cross-validation: pyzk (an independent Python client) must read exactly
//! what the simulator holds, over TCP and UDP, with and without a comm key,
//! and a fingerprint template pyzk saves must read back identically with our client.
//!
//! The interpreter comes from `HADIR_PYZK_PYTHON`, else `../target/pyzk-venv/bin/python`
//! next to this crate. Without pyzk the tests print SKIPPED and pass.

use std::path::PathBuf;
use std::process::Stdio;

use hadir_drivers::zk::sim::{synthetic_records, synthetic_templates, synthetic_users};
use hadir_drivers::zk::{
    AttendanceRecord, ClientOptions, FingerTemplate, RecordLayout, SimConfig, Simulator, Transport,
    User, UserLayout, ZkClient, ZkDateTime,
};
use serde_json::Value;

/// A Python interpreter that can `import zk`, if any.
fn pyzk_python() -> Option<PathBuf> {
    let candidate = match std::env::var_os("HADIR_PYZK_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pyzk-venv/bin/python"),
    };
    let ok = std::process::Command::new(&candidate)
        .args(["-c", "import zk"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then_some(candidate)
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pyzk_check.py")
}

struct Case {
    users: usize,
    records: usize,
    user_layout: UserLayout,
    record_layout: RecordLayout,
    comm_key: u32,
    udp: bool,
    inline_data_max: usize,
    /// Templates per user held by the simulator.
    fingers: usize,
    /// pyzk saves one template (finger 9 of the second user) at the end.
    save_template: bool,
}

fn user_json(u: &User) -> Value {
    serde_json::json!({
        "uid": u.uid,
        "name": u.name,
        "privilege": u.privilege,
        "password": u.password,
        "group_id": u.group,
        "user_id": u.user_id,
        "card": u.card,
    })
}

fn template_json(t: &FingerTemplate) -> Value {
    let hex: String = t.template.iter().map(|b| format!("{b:02x}")).collect();
    serde_json::json!({
        "uid": t.uid,
        "fid": t.fid,
        "valid": t.valid,
        "template": hex,
    })
}

fn record_json(r: &AttendanceRecord) -> Value {
    serde_json::json!({
        "uid": r.uid,
        "user_id": r.user_id,
        "timestamp": r.time.to_string(),
        "status": r.status,
        "punch": r.punch,
    })
}

async fn cross_check(case: Case) {
    let Some(python) = pyzk_python() else {
        println!("SKIPPED: pyzk not installed; run .ci/run or create target/pyzk-venv");
        return;
    };
    let users = synthetic_users(case.users, case.user_layout);
    let start = ZkDateTime::new(2025, 3, 1, 6, 0, 0).unwrap();
    let records = synthetic_records(case.records, &users, start);
    let templates = synthetic_templates(&users, case.fingers);
    let saved = users
        .get(1)
        .filter(|_| case.save_template)
        .map(|u| FingerTemplate {
            uid: u.uid,
            fid: 9,
            valid: 1,
            template: (0..777u32).map(|i| (i * 31 % 251) as u8).collect(),
        });
    let sim = Simulator::start(SimConfig {
        users,
        records,
        templates: templates.clone(),
        comm_key: case.comm_key,
        user_layout: case.user_layout,
        record_layout: case.record_layout,
        inline_data_max: case.inline_data_max,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut cmd = tokio::process::Command::new(&python);
    cmd.arg(script())
        .args(["--port", &sim.addr().port().to_string()])
        .args(["--key", &case.comm_key.to_string()]);
    if case.udp {
        cmd.arg("--udp");
    }
    if let Some(t) = &saved {
        let hex = template_json(t)["template"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        cmd.arg("--save-template")
            .arg(format!("{}:{}:{hex}", t.uid, t.fid));
    }
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
        .await
        .expect("pyzk hung")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pyzk failed: {stderr}");
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let want_users: Vec<Value> = sim.users().iter().map(user_json).collect();
    let want_records: Vec<Value> = sim.records().iter().map(record_json).collect();
    assert_eq!(got["serial"], "HADIRSIM0001");
    assert_eq!(got["users"], Value::Array(want_users), "users differ");
    assert_eq!(
        got["attendance"].as_array().map(Vec::len),
        Some(case.records)
    );
    assert_eq!(
        got["attendance"],
        Value::Array(want_records),
        "attendance differs"
    );
    let want_templates: Vec<Value> = templates.iter().map(template_json).collect();
    assert_eq!(got["template_count"], templates.len());
    assert_eq!(
        got["templates"],
        Value::Array(want_templates),
        "templates differ"
    );
    assert!(sim.is_enabled(), "pyzk left the simulator disabled");
    if let Some(t) = saved {
        // What pyzk saved reads back identically with our client.
        let transport = if case.udp {
            Transport::Udp
        } else {
            Transport::Tcp
        };
        let opts = ClientOptions {
            comm_key: case.comm_key,
            ..ClientOptions::default()
        };
        let mut client = ZkClient::connect(sim.addr(), transport, opts)
            .await
            .unwrap();
        let read = client.templates().await.unwrap();
        client.disconnect().await.unwrap();
        let mut want = templates;
        want.push(t);
        assert_eq!(read, want, "the template pyzk saved");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyzk_reads_72_byte_users_and_40_byte_records_over_tcp() {
    cross_check(Case {
        users: 40,
        records: 5000,
        user_layout: UserLayout::Zk8,
        record_layout: RecordLayout::Full40,
        comm_key: 0,
        udp: false,
        inline_data_max: 0,
        fingers: 0,
        save_template: false,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyzk_reads_28_byte_users_and_16_byte_records_over_udp() {
    cross_check(Case {
        users: 30,
        records: 3000,
        user_layout: UserLayout::Zk6,
        record_layout: RecordLayout::Extended16,
        comm_key: 0,
        udp: true,
        inline_data_max: 0,
        fingers: 0,
        save_template: false,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyzk_authenticates_with_a_comm_key_over_tcp_and_reads_8_byte_records() {
    cross_check(Case {
        users: 12,
        records: 2000,
        user_layout: UserLayout::Zk8,
        record_layout: RecordLayout::Compact8,
        comm_key: 12_345,
        udp: false,
        inline_data_max: 0,
        fingers: 0,
        save_template: false,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyzk_authenticates_with_a_comm_key_over_udp() {
    cross_check(Case {
        users: 20,
        records: 4000,
        user_layout: UserLayout::Zk6,
        record_layout: RecordLayout::Full40,
        comm_key: 987_654,
        udp: true,
        inline_data_max: 0,
        fingers: 0,
        save_template: false,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyzk_accepts_small_datasets_answered_inline() {
    for udp in [false, true] {
        cross_check(Case {
            users: 3,
            records: 5,
            user_layout: UserLayout::Zk8,
            record_layout: RecordLayout::Full40,
            comm_key: 0,
            udp,
            inline_data_max: 1000,
            fingers: 0,
            save_template: false,
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyzk_reads_templates_over_tcp_and_the_one_it_saves_reads_back_identically() {
    cross_check(Case {
        users: 30,
        records: 10,
        user_layout: UserLayout::Zk8,
        record_layout: RecordLayout::Full40,
        comm_key: 0,
        udp: false,
        inline_data_max: 0,
        fingers: 3,
        save_template: true,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyzk_reads_templates_over_udp_with_28_byte_users_and_saves_one_with_a_comm_key() {
    cross_check(Case {
        users: 25,
        records: 10,
        user_layout: UserLayout::Zk6,
        record_layout: RecordLayout::Extended16,
        comm_key: 4321,
        udp: true,
        inline_data_max: 0,
        fingers: 2,
        save_template: true,
    })
    .await;
}
