//! `hadir demo` end to end: the real binary plays a morning at a demo office and, within seconds,
//! shows verdicts for every kind of check-in and records acknowledged by the provincial receiver.

mod support;

use std::process::Command;

use support::TempDir;

#[test]
fn the_demo_shows_verdicts_and_records_acknowledged_upstream_within_seconds_then_stops_cleanly() {
    let dir = TempDir::new("demo");
    let out = Command::new(support::hadir_bin())
        .args(["demo", "--port", "0", "--for", "8", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("admin UI      http://127.0.0.1:"),
        "{stdout}"
    );
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

    // The first status line (about 5 s after the morning) already shows records upstream.
    let first_status = stdout
        .lines()
        .find(|l| l.contains("status:"))
        .unwrap_or_else(|| panic!("no status line:\n{stdout}"));
    let held: u64 = first_status
        .split("provinsi holds ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(held >= 4, "{first_status}");

    // The receiver's own database agrees, and the reader's punches reached it too.
    let db = rusqlite::Connection::open(dir.path().join("provinsi.db")).unwrap();
    let (records, punches): (i64, i64) = db
        .query_row(
            "SELECT COUNT(*), SUM(kind = 'punch') FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(records >= 8, "{records} records upstream");
    assert!(punches >= 3, "{punches} reader punches upstream");
}
