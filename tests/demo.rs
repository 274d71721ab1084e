//! `hadir demo` end to end: the real binary plays a morning at a demo office and, within seconds,
//! shows verdicts for every kind of check-in, a dashboard the demo login can open, and records
//! acknowledged by the provincial receiver; then it stops cleanly.

mod support;

#[path = "support/web.rs"]
mod web;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::TempDir;

#[test]
fn the_demo_shows_verdicts_a_dashboard_and_records_acknowledged_upstream_within_seconds() {
    let dir = TempDir::new("demo");
    let started = Instant::now();
    let mut child = Command::new(support::hadir_bin())
        .args(["demo", "--port", "0", "--for", "12", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = String::new();
    let mut admin = None;
    let mut first_status = None;
    // Read until the first status line, about five seconds after the morning was played.
    for line in lines.by_ref() {
        let line = line.unwrap();
        stdout.push_str(&line);
        stdout.push('\n');
        if let Some(rest) = line.trim().strip_prefix("admin UI      http://") {
            admin = rest.trim_end_matches('/').parse().ok();
        }
        if line.contains("status:") {
            first_status = Some(line);
            break;
        }
    }
    let first_status = first_status.unwrap_or_else(|| panic!("no status line:\n{stdout}"));
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "the demo took {:?} to show its first status",
        started.elapsed()
    );

    // The demo login opens the dashboard, which shows both readers and the review item.
    let admin = admin.unwrap_or_else(|| panic!("no admin URL:\n{stdout}"));
    let session = web::Session::login(admin, "demo", "Kutim-Demo-2026")
        .unwrap_or_else(|r| panic!("demo login refused: {} {}", r.status, r.text()));
    let dashboard = session.get("/").text();
    assert!(dashboard.contains("pintu-depan"), "{dashboard}");
    assert!(dashboard.contains("pintu-belakang"), "{dashboard}");

    for line in lines {
        let line = line.unwrap();
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{stdout}");

    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.contains(name) && l.contains("tablet"))
            .unwrap_or_else(|| panic!("no line for {name}:\n{stdout}"))
            .to_string()
    };
    assert!(line("Siti Rahmawati").contains("DITERIMA"));
    assert!(line("Andi Saputra").contains("gps.mock"));
    assert!(line("Rina Marlina").contains("photo.replayed"));
    assert!(line("Dewi Lestari").contains("qr.expired"));
    assert!(
        line("Yusuf Hidayat").contains("DITERIMA"),
        "travel with SPT"
    );
    assert!(stdout.contains("gateway stopped cleanly"), "{stdout}");

    // The first status line already shows records held by the provincial receiver.
    let held: u64 = first_status
        .split("provinsi holds ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(held >= 4, "{first_status}");

    // The receiver's own database agrees; both readers' punches reached it.
    let db = rusqlite::Connection::open(dir.path().join("provinsi.db")).unwrap();
    let (checkins, punches): (i64, i64) = db
        .query_row(
            "SELECT SUM(kind = 'checkin'), SUM(kind = 'punch') FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(checkins >= 6, "{checkins} check-ins upstream");
    assert!(punches >= 4, "{punches} reader punches upstream");
    let pushed: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM records WHERE kind = 'punch' AND body LIKE '%CKPUSH2260002%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(pushed >= 1, "the push reader's punch is upstream");
}
