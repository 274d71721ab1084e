//! Cross-validation of the push (ADMS) text formats against iclockhelper, an independent Python
//! parser of iclock request bodies: what the push simulator sends must read the same there as in
//! our parser.
//!
//! The interpreter comes from `HADIR_PYZK_PYTHON`, else `../target/pyzk-venv/bin/python` (set
//! up by scripts/ensure-deps.sh). Without iclockhelper the test prints SKIPPED and passes.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use hadir_drivers::zk::push::{self, AttLogLine, ColumnOrder, OperLine, PushTemplate, PushUser};
use hadir_drivers::zk::sim::{synthetic_records, synthetic_users};
use hadir_drivers::zk::{UserLayout, ZkDateTime};
use serde_json::Value;

fn python() -> Option<PathBuf> {
    let candidate = match std::env::var_os("HADIR_PYZK_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pyzk-venv/bin/python"),
    };
    let ok = Command::new(&candidate)
        .args(["-c", "import iclockhelper"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then_some(candidate)
}

#[test]
fn iclockhelper_reads_our_attlog_user_and_fingerprint_lines_as_we_do() {
    let Some(python) = python() else {
        println!("SKIPPED: iclockhelper not installed; run scripts/ensure-deps.sh");
        return;
    };
    let users = synthetic_users(7, UserLayout::Zk8);
    let start = ZkDateTime::new(2026, 11, 23, 6, 58, 0).unwrap();
    let lines: Vec<AttLogLine> = synthetic_records(60, &users, start)
        .into_iter()
        .map(|r| AttLogLine {
            pin: r.user_id,
            time: r.time,
            state: r.punch + (r.status % 3),
            verify: r.status,
            workcode: "0".into(),
        })
        .collect();
    let attlog: String = lines
        .iter()
        .map(|l| push::format_attlog_line(l) + "\n")
        .collect();
    let u = PushUser {
        pin: "198703152010011002".into(),
        name: "Siti Aminah".into(),
        privilege: 0,
        card: "12345".into(),
        group: "1".into(),
        ..Default::default()
    };
    let fp = PushTemplate {
        pin: u.pin.clone(),
        fid: 6,
        size: 15,
        valid: 1,
        tmp: "SGFkaXIgdGVtcGxhdGUh".into(),
    };
    let operlog = format!(
        "{}\n{}\n",
        push::format_user_line(&u),
        push::format_fp_line(&fp)
    );

    let mut child = Command::new(&python)
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/iclock_check.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let req = serde_json::json!({ "attlog": attlog, "operlog": operlog });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(req.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();

    // Theirs against ours, line by line.
    let ours: Vec<AttLogLine> = push::parse_attlog(attlog.as_bytes(), ColumnOrder::Push)
        .into_iter()
        .map(|p| p.result.unwrap())
        .collect();
    assert_eq!(ours, lines);
    let theirs = got["attlog"].as_array().unwrap();
    assert_eq!(theirs.len(), ours.len());
    for (t, o) in theirs.iter().zip(&ours) {
        assert_eq!(t["pin"], o.pin.as_str());
        assert_eq!(t["time"], o.time.to_string().as_str());
        assert_eq!(
            t["check_type"],
            o.state.to_string().as_str(),
            "status column"
        );
        assert_eq!(
            t["verify_code"],
            o.verify.to_string().as_str(),
            "verify column"
        );
        assert_eq!(t["work_code"], o.workcode.as_str());
    }
    let parsed: Vec<OperLine> = push::parse_operlog(operlog.as_bytes())
        .into_iter()
        .map(|p| p.result.unwrap())
        .collect();
    assert_eq!(
        parsed,
        vec![OperLine::User(u.clone()), OperLine::Fp(fp.clone())]
    );
    let tu = &got["users"][0];
    assert_eq!(tu["pin"], u.pin.as_str());
    assert_eq!(tu["name"], u.name.as_str());
    assert_eq!(tu["privileges"], "0");
    assert_eq!(tu["card"], "12345");
    assert_eq!(tu["group"], "1");
    let tf = &got["fingerprints"][0];
    assert_eq!(tf["pin"], fp.pin.as_str());
    assert_eq!(tf["fid"], "6");
    assert_eq!(tf["tmp"], fp.tmp.as_str());
}
