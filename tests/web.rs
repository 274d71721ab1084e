//! The operator web UI and its JSON API through the real binary over real HTTP: login, sessions,
//! CSRF, roles, lockout, every page and endpoint, bad input answered with a clear 4xx and
//! nothing changed, and the OpenAPI document matching the routes.

mod support;

#[path = "support/web.rs"]
mod web;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use serde_json::json;
use support::*;
use web::{operator, request, with_token, Session};

const NIP: &str = "198703152010011002";
const NIP2: &str = "199001012015032001";

struct Office {
    dir: TempDir,
    config: PathBuf,
    gw: Gateway,
}

impl Office {
    fn start(tag: &str) -> Office {
        let dir = TempDir::new(tag);
        let config = dir.path().join("hadir.toml");
        std::fs::write(&config, test_config(dir.path(), "")).unwrap();
        let gw = Gateway::start(&config);
        Office { dir, config, gw }
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("data/hadir.db")
    }

    fn count(&self, sql: &str) -> i64 {
        let c = rusqlite::Connection::open(self.db()).unwrap();
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn today(&self) -> String {
        // The test office is in Asia/Makassar (WITA, UTC+8, no DST).
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 8 * 3600;
        let days = (now / 86_400) as i64;
        civil_from_days(days)
    }
}

/// Days since 1970-01-01 → `YYYY-MM-DD` (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> String {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    format!("{:04}-{:02}-{:02}", if m <= 2 { y + 1 } else { y }, m, d)
}

#[test]
fn first_start_creates_an_admin_whose_one_time_password_is_printed_once_and_must_be_changed() {
    let office = Office::start("web-first");
    let line = office
        .gw
        .stdout_lines
        .iter()
        .find(|l| l.contains("first start: operator web UI login"))
        .expect("first-start line")
        .clone();
    let file = office.dir.path().join("data/admin-password");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the one-time password file is owner-only");
    let password = std::fs::read_to_string(&file).unwrap().trim().to_string();
    assert!(line.contains(&password), "{line}");

    let admin = Session::login(office.gw.admin, "admin", &password).unwrap();
    assert!(admin.must_change);
    // Nothing but the password change is allowed yet, on the API and on pages.
    let r = admin.get("/api/v1/dashboard");
    assert_eq!(r.status, 403, "{}", r.text());
    let r = admin.get("/");
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/password"));
    let r = admin.send(
        "POST",
        "/api/v1/session/password",
        &json!({"current": password, "new": "short"}),
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("at least 10 characters"), "{}", r.text());
    let r = admin.send(
        "POST",
        "/api/v1/session/password",
        &json!({"current": password, "new": "kata-sandi-baru-1"}),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(
        !file.exists(),
        "the spent one-time password file is removed"
    );
    assert_eq!(admin.get("/api/v1/dashboard").status, 200);
    assert!(Session::login(office.gw.admin, "admin", &password).is_err());

    // A restart does not create or print another one.
    let Office { dir, config, gw } = office;
    assert_eq!(gw.terminate(), Some(0));
    let gw = Gateway::start(&config);
    assert!(!gw
        .stdout_lines
        .iter()
        .any(|l| l.contains("one-time password")));
    assert!(!dir.path().join("data/admin-password").exists());
    assert!(Session::login(gw.admin, "admin", "kata-sandi-baru-1").is_ok());
}

#[test]
fn without_a_session_pages_redirect_to_login_and_the_api_answers_401() {
    let office = Office::start("web-anon");
    let a = office.gw.admin;
    for page in [
        "/",
        "/attendance",
        "/review",
        "/leave",
        "/employees",
        "/schedules",
        "/recap",
        "/audit",
    ] {
        let r = request(a, "GET", page, &[], b"");
        assert_eq!(r.status, 303, "{page}");
        assert!(
            r.header("location").unwrap().starts_with("/login?next="),
            "{page}"
        );
    }
    let r = request(a, "POST", "/review/abc", &[], b"note=x&decision=approve");
    assert_eq!(r.status, 303);
    for path in [
        "/api/v1/dashboard",
        "/api/v1/review",
        "/api/v1/recap",
        "/api/v1/employees",
    ] {
        let r = request(a, "GET", path, &[], b"");
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.json()["error"], "unauthorized");
    }
    let r = request(
        a,
        "GET",
        "/api/v1/dashboard",
        &[("Authorization", "Bearer wrong")],
        b"",
    );
    assert_eq!(r.status, 401);
    let r = request(
        a,
        "GET",
        "/api/v1/dashboard",
        &[("Cookie", "hadir_session=forged")],
        b"",
    );
    assert_eq!(r.status, 401);
    // The login page works, with a CSRF cookie for its form.
    let r = request(a, "GET", "/login", &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("Kata sandi"));
    assert!(r
        .cookies()
        .iter()
        .any(|c| c.starts_with("hadir_login=") && c.contains("HttpOnly")));
}

#[test]
fn the_login_form_sets_an_httponly_strict_session_cookie_and_logout_ends_it() {
    let office = Office::start("web-login");
    let a = office.gw.admin;
    let s = operator(a, "siti", "operator");
    let page = request(a, "GET", "/login", &[], b"");
    let login_cookie = web::cookie_pair(page.cookies()[0]);
    let token = login_cookie.split_once('=').unwrap().1.to_string();
    // Without the form's CSRF token: refused.
    let body = format!(
        "name=siti&password={}&next=%2Fleave",
        web::final_password("siti")
    );
    let r = request(
        a,
        "POST",
        "/login",
        &[
            ("Cookie", &login_cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 403);
    // Wrong password: 401 with a message.
    let bad = format!("_csrf={token}&name=siti&password=salah-sekali-123");
    let r = request(
        a,
        "POST",
        "/login",
        &[
            ("Cookie", &login_cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        bad.as_bytes(),
    );
    assert_eq!(r.status, 401);
    assert!(r.text().contains("salah"), "{}", r.text());
    // Right: redirect to `next` with the session cookie.
    let good = format!("_csrf={token}&{body}");
    let r = request(
        a,
        "POST",
        "/login",
        &[
            ("Cookie", &login_cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        good.as_bytes(),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.header("location"), Some("/leave"));
    let cookie = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("hadir_session="))
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // An off-site `next` is not followed.
    let evil = format!(
        "_csrf={token}&name=siti&password={}&next=%2F%2Fevil.example",
        web::final_password("siti")
    );
    let r = request(
        a,
        "POST",
        "/login",
        &[
            ("Cookie", &login_cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        evil.as_bytes(),
    );
    assert_eq!(r.header("location"), Some("/"));

    // Logout needs CSRF, then the session is gone.
    let r = s.form("/logout", &[], false);
    assert_eq!(r.status, 403);
    assert_eq!(s.get("/api/v1/session").status, 200);
    let r = s.form("/logout", &[], true);
    assert_eq!(r.status, 303);
    assert_eq!(s.get("/api/v1/session").status, 401);
    assert_eq!(s.get("/").status, 303);
}

#[test]
fn repeated_failed_logins_lock_the_account_even_for_the_right_password() {
    let office = Office::start("web-lockout");
    let a = office.gw.admin;
    let _ = operator(a, "budi", "operator");
    for _ in 0..5 {
        let r = Session::login(a, "budi", "bukan-kata-sandinya")
            .err()
            .unwrap();
        assert_eq!(r.status, 401);
    }
    let r = Session::login(a, "budi", &web::final_password("budi"))
        .err()
        .unwrap();
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("locked"), "{}", r.text());
    assert_eq!(
        office.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'operator-locked' AND subject = 'budi'"
        ),
        1
    );
    // An unknown name fails the same way (no hint that it does not exist).
    assert_eq!(
        Session::login(a, "tidakada", "apa-saja-12345")
            .err()
            .unwrap()
            .status,
        401
    );
    // The admin resets the password, which unlocks the account.
    let r = with_token(
        a,
        "POST",
        "/api/v1/operators/budi/reset",
        json!({"password": "sandi-baru-budi-1"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let s = Session::login(a, "budi", "sandi-baru-budi-1").unwrap();
    assert!(s.must_change);
}

#[test]
fn a_viewer_reads_everything_but_every_change_is_refused_with_403_and_nothing_changes() {
    let office = Office::start("web-viewer");
    let a = office.gw.admin;
    web::employee(a, NIP, "Siti Rahma", "Bidang Umum");
    let id = web::seed_review_checkin(
        &office.db(),
        NIP,
        &format!("{}T07:41:00", office.today()),
        "2026-01-01T00:00:00Z",
        "v1",
    );
    let v = operator(a, "tamu", "viewer");
    for path in [
        "/",
        "/attendance",
        "/review",
        "/leave",
        "/employees",
        "/schedules",
        "/recap",
        "/audit",
        "/api/v1/dashboard",
        "/api/v1/review",
        "/api/v1/leave",
        "/api/v1/employees",
        "/api/v1/recap",
    ] {
        let r = v.get(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    // Pages hide the forms.
    assert!(!v.get("/review").text().contains("name=\"decision\""));
    let audit_before = office.count("SELECT COUNT(*) FROM audit_log");
    let holidays_before = office.count("SELECT COUNT(*) FROM holidays");
    let cases: Vec<(&str, String, serde_json::Value)> = vec![
        (
            "POST",
            format!("/api/v1/review/{id}"),
            json!({"decision": "approve", "note": "ok"}),
        ),
        (
            "POST",
            "/api/v1/leave".into(),
            json!({"nip": NIP, "kind": "sakit", "date_from": "2026-11-23", "date_to": "2026-11-23"}),
        ),
        (
            "POST",
            "/api/v1/travel-orders".into(),
            json!({"nip": NIP, "spt_number": "1/SPT", "from": "2026-11-23", "to": "2026-11-24"}),
        ),
        (
            "PUT",
            format!("/api/v1/employees/{NIP}"),
            json!({"name": "Ganti"}),
        ),
        (
            "PUT",
            "/api/v1/holidays/2026-10-07".into(),
            json!({"name": "Hari Jadi"}),
        ),
        (
            "POST",
            "/api/v1/operators".into(),
            json!({"name": "x1", "role": "admin", "password": "abcdefghijkl"}),
        ),
    ];
    for (m, p, b) in &cases {
        let r = v.send(m, p, b);
        assert_eq!(r.status, 403, "{m} {p}: {}", r.text());
        assert_eq!(r.json()["error"], "forbidden");
    }
    let r = v.form(
        &format!("/review/{id}"),
        &[("decision", "approve"), ("note", "ok")],
        true,
    );
    assert_eq!(r.status, 403);
    let r = v.form(
        "/leave",
        &[
            ("nip", NIP),
            ("kind", "izin"),
            ("date_from", "2026-11-23"),
            ("date_to", "2026-11-23"),
        ],
        true,
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        office.count("SELECT COUNT(*) FROM attendance WHERE verdict = 'needs-review'"),
        1
    );
    assert_eq!(office.count("SELECT COUNT(*) FROM manual_entries"), 0);
    assert_eq!(office.count("SELECT COUNT(*) FROM travel_orders"), 0);
    assert_eq!(
        office.count("SELECT COUNT(*) FROM holidays"),
        holidays_before
    );
    assert_eq!(
        office.count("SELECT COUNT(*) FROM employees WHERE name = 'Ganti'"),
        0
    );
    assert_eq!(office.count("SELECT COUNT(*) FROM audit_log"), audit_before);
    // An operator may change attendance data but not schedules or accounts.
    let o = operator(a, "ops", "operator");
    assert_eq!(
        o.send(
            "PUT",
            "/api/v1/holidays/2026-12-25",
            &json!({"name": "Natal"})
        )
        .status,
        403
    );
    assert_eq!(o.get("/api/v1/operators").status, 403);
}

#[test]
fn state_changing_requests_with_a_session_need_the_csrf_token() {
    let office = Office::start("web-csrf");
    let a = office.gw.admin;
    web::employee(a, NIP, "Siti Rahma", "Bidang Umum");
    let s = operator(a, "siti", "operator");
    let entry = json!({"nip": NIP, "kind": "sakit", "date_from": "2026-11-23", "date_to": "2026-11-24", "note": "surat dokter"});
    let r = s.send_without_csrf("POST", "/api/v1/leave", &entry);
    assert_eq!(r.status, 403);
    assert!(r.text().contains("CSRF"), "{}", r.text());
    let mut wrong = s.clone();
    wrong.csrf = "0".repeat(48);
    assert_eq!(wrong.send("POST", "/api/v1/leave", &entry).status, 403);
    let r = s.form(
        "/leave",
        &[
            ("nip", NIP),
            ("kind", "sakit"),
            ("date_from", "2026-11-23"),
            ("date_to", "2026-11-24"),
        ],
        false,
    );
    assert_eq!(r.status, 403);
    assert_eq!(office.count("SELECT COUNT(*) FROM manual_entries"), 0);
    // Another operator's token does not work either.
    let other = operator(a, "budi", "operator");
    let mut crossed = s.clone();
    crossed.csrf = other.csrf.clone();
    assert_eq!(crossed.send("POST", "/api/v1/leave", &entry).status, 403);
    // With the token it works; the bearer API token needs none.
    let r = s.send("POST", "/api/v1/leave", &entry);
    assert_eq!(r.status, 201, "{}", r.text());
    let r = with_token(a, "POST", "/api/v1/travel-orders", json!({"nip": NIP, "spt_number": "094/7/BKD/2026", "from": "2026-11-25", "to": "2026-11-26"}).to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    // Login over the API needs a JSON body, so a cross-site form cannot log anyone in.
    let r = request(
        a,
        "POST",
        "/api/v1/session",
        &[("Content-Type", "text/plain")],
        br#"{"name":"siti","password":"x"}"#,
    );
    assert_eq!(r.status, 400);
}

#[test]
fn a_review_decision_needs_a_note_and_is_audited_and_queued_for_upstream() {
    let office = Office::start("web-review");
    let a = office.gw.admin;
    web::employee(a, NIP, "Siti Rahma", "Bidang Umum");
    let today = office.today();
    let r1 = web::seed_review_checkin(
        &office.db(),
        NIP,
        &format!("{today}T07:41:00"),
        "2026-01-01T00:00:00Z",
        "r1",
    );
    let r2 = web::seed_review_checkin(
        &office.db(),
        NIP,
        &format!("{today}T16:05:00"),
        "2026-01-01T08:00:00Z",
        "r2",
    );
    let s = operator(a, "siti", "operator");
    let q = s.get("/api/v1/review").json();
    assert_eq!(q.as_array().unwrap().len(), 2);
    assert_eq!(q[0]["findings"][0]["detail"]["distance_m"], 212.5);
    assert!(q[0]["photo"].as_bool().unwrap());
    // The page shows the evidence: distance, accuracy, QR, photo.
    let page = s.get("/review").text();
    assert!(
        page.contains("jarak 212 m") || page.contains("jarak 213 m"),
        "{page}"
    );
    assert!(
        page.contains("akurasi ±80 m") && page.contains("QR: qr.valid"),
        "{page}"
    );
    assert!(page.contains(&format!("/photo/{r1}")));
    let photo = s.get(&format!("/photo/{r1}"));
    assert_eq!(photo.status, 200);
    assert_eq!(photo.header("content-type"), Some("image/jpeg"));
    assert_eq!(&photo.body[..2], &[0xFF, 0xD8]);

    let outbox_before = office.count("SELECT COUNT(*) FROM outbox WHERE kind = 'audit'");
    // No note, blank note, unknown decision: 400 and nothing changes.
    for body in [
        json!({"decision": "approve", "note": ""}),
        json!({"decision": "approve", "note": "   "}),
        json!({"decision": "maybe", "note": "x"}),
    ] {
        let r = s.send("POST", &format!("/api/v1/review/{r1}"), &body);
        assert_eq!(r.status, 400, "{}", r.text());
    }
    let r = s.form(
        &format!("/review/{r1}"),
        &[("decision", "approve"), ("note", "")],
        true,
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("note is required"), "{}", r.text());
    assert_eq!(
        office.count("SELECT COUNT(*) FROM attendance WHERE verdict = 'needs-review'"),
        2
    );
    assert_eq!(office.count("SELECT COUNT(*) FROM reviews"), 0);
    // Unknown record: 400 with a message.
    let r = s.send(
        "POST",
        "/api/v1/review/ffff",
        &json!({"decision": "reject", "note": "x"}),
    );
    assert_eq!(r.status, 400);

    // Approve through the API, reject through the page form.
    let r = s.send(
        "POST",
        &format!("/api/v1/review/{r1}"),
        &json!({"decision": "approve", "note": "Dicek dengan kepala bidang"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = s.form(
        &format!("/review/{r2}"),
        &[("decision", "reject"), ("note", "Bukan di kantor")],
        true,
    );
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/review?done=review"));
    let v1: String = rusqlite::Connection::open(office.db())
        .unwrap()
        .query_row(
            "SELECT verdict FROM attendance WHERE record_id = ?1",
            [&r1],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(v1, "accepted");
    assert_eq!(
        office.count("SELECT COUNT(*) FROM attendance WHERE verdict = 'rejected'"),
        1
    );
    // The evidence keeps the rules' verdict; the raw event is untouched.
    assert_eq!(
        office.count("SELECT COUNT(*) FROM checkins WHERE verdict = 'needs-review'"),
        2
    );
    assert_eq!(office.count("SELECT COUNT(*) FROM raw_events"), 2);
    assert_eq!(office.count("SELECT COUNT(*) FROM audit_log WHERE actor = 'siti' AND action = 'review-approved' AND detail = 'Dicek dengan kepala bidang'"), 1);
    assert_eq!(
        office.count(
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'siti' AND action = 'review-rejected'"
        ),
        1
    );
    assert_eq!(
        office.count("SELECT COUNT(*) FROM outbox WHERE kind = 'audit'"),
        outbox_before + 2
    );
    assert_eq!(office.count("SELECT COUNT(*) FROM outbox WHERE kind = 'audit' AND body LIKE '%Bukan di kantor%' AND body LIKE '%review-rejected%'"), 1);
    // Decided once: a second decision is refused.
    let r = s.send(
        "POST",
        &format!("/api/v1/review/{r1}"),
        &json!({"decision": "reject", "note": "lagi"}),
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("not waiting for review"), "{}", r.text());
    assert_eq!(s.get("/api/v1/review").json().as_array().unwrap().len(), 0);
    let rec = s.get(&format!("/api/v1/records/{r1}")).json();
    assert_eq!(rec["review"]["operator"], "siti");
    // The approved check-in now counts: present today.
    let day = s.get(&format!("/api/v1/attendance?date={today}")).json();
    let line = day["employees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["nip"] == NIP)
        .unwrap()
        .clone();
    assert_eq!(line["day"]["first_in"], "07:41:00");
}

#[test]
fn manual_entries_and_travel_orders_validate_input_and_never_delete_the_original() {
    let office = Office::start("web-leave");
    let a = office.gw.admin;
    web::employee(a, NIP, "Siti Rahma", "Bidang Umum");
    web::employee(a, NIP2, "Budi Santoso", "Bidang Keuangan");
    let s = operator(a, "siti", "operator");
    let bad: Vec<serde_json::Value> = vec![
        json!({"nip": NIP, "kind": "sakit", "date_from": "2026-11-24", "date_to": "2026-11-23"}),
        json!({"nip": "999999999999999999", "kind": "sakit", "date_from": "2026-11-23", "date_to": "2026-11-23"}),
        json!({"nip": NIP, "kind": "liburan", "date_from": "2026-11-23", "date_to": "2026-11-23"}),
        json!({"nip": NIP, "kind": "batal", "date_from": "2026-11-23", "date_to": "2026-11-23"}),
        json!({"nip": NIP, "kind": "izin", "date_from": "23-11-2026", "date_to": "2026-11-23"}),
    ];
    for b in &bad {
        let r = s.send("POST", "/api/v1/leave", b);
        assert_eq!(r.status, 400, "{b}: {}", r.text());
        assert!(!r.json()["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(office.count("SELECT COUNT(*) FROM manual_entries"), 0);
    let r = s.form(
        "/leave",
        &[
            ("nip", NIP),
            ("kind", "cuti"),
            ("date_from", "2026-11-23"),
            ("date_to", "2026-11-27"),
            ("note", "Cuti tahunan"),
        ],
        true,
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let r = s.send(
        "POST",
        "/api/v1/leave",
        &json!({"nip": NIP2, "kind": "wfh", "date_from": "2026-11-23", "date_to": "2026-11-23"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // Overlap with an entry in force: 400.
    let r = s.send(
        "POST",
        "/api/v1/leave",
        &json!({"nip": NIP, "kind": "izin", "date_from": "2026-11-25", "date_to": "2026-11-25"}),
    );
    assert_eq!(r.status, 400);
    let list = s.get(&format!("/api/v1/leave?nip={NIP}")).json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let id = list[0]["id"].as_str().unwrap().to_string();
    // Cancelling needs a reason; then the original is kept and superseded.
    assert_eq!(
        s.send(
            "POST",
            &format!("/api/v1/leave/{id}/cancel"),
            &json!({"reason": ""})
        )
        .status,
        400
    );
    let r = s.form(
        &format!("/leave/{id}/cancel"),
        &[("reason", "Batal berangkat")],
        true,
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        s.get(&format!("/api/v1/leave?nip={NIP}"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let hist = s
        .get(&format!("/api/v1/leave?nip={NIP}&history=true"))
        .json();
    assert_eq!(hist.as_array().unwrap().len(), 2, "{hist}");
    assert_eq!(office.count("SELECT COUNT(*) FROM manual_entries"), 3);

    // Travel orders: bad ranges and missing SPT are refused.
    for b in [
        json!({"nip": NIP, "spt_number": "", "from": "2026-11-23", "to": "2026-11-24"}),
        json!({"nip": NIP, "spt_number": "1/SPT", "from": "2026-11-25", "to": "2026-11-24"}),
        json!({"nip": "x", "spt_number": "1/SPT", "from": "2026-11-23", "to": "2026-11-24"}),
    ] {
        assert_eq!(
            s.send("POST", "/api/v1/travel-orders", &b).status,
            400,
            "{b}"
        );
    }
    let r = s.form(
        "/travel",
        &[
            ("nip", NIP),
            ("spt_number", "094/321/BKD/2026"),
            ("from", "2026-11-30"),
            ("to", "2026-12-02"),
        ],
        true,
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let t = s.get("/api/v1/travel-orders?from=2026-11-01").json();
    assert_eq!(t.as_array().unwrap().len(), 1);
    assert_eq!(t[0]["spt_number"], "094/321/BKD/2026");
    assert_eq!(t[0]["created_by"], "siti");
    let page = s.get("/leave").text();
    assert!(
        page.contains("094/321/BKD/2026") && page.contains("WFH"),
        "{page}"
    );
    assert_eq!(
        office.count(
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'siti' AND action = 'travel-order-added'"
        ),
        1
    );
}

#[test]
fn employees_are_edited_and_imported_with_per_row_reports_and_bad_input_changes_nothing() {
    let office = Office::start("web-employees");
    let a = office.gw.admin;
    let s = operator(a, "siti", "operator");
    for (nip, body) in [
        (NIP, json!({"name": ""})),
        (
            NIP,
            json!({"name": "A", "home_lat": 95.0, "home_lon": 117.0}),
        ),
        (NIP, json!({"name": "A", "home_lat": 1.0})),
        (NIP, json!({"name": "A", "schedule_group": "tidak-ada"})),
        ("x!", json!({"name": "A"})),
    ] {
        let r = s.send("PUT", &format!("/api/v1/employees/{nip}"), &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
    }
    assert_eq!(office.count("SELECT COUNT(*) FROM employees"), 0);
    let r = s.form(
        "/employees",
        &[
            ("nip", NIP),
            ("name", "Siti <Rahma>"),
            ("unit", "Bidang Umum"),
            ("position", "Analis"),
            ("schedule_group", ""),
            ("home_lat", "0,5"),
            ("home_lon", "117.1"),
        ],
        true,
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let list = s.get("/api/v1/employees").json();
    assert_eq!(list[0]["name"], "Siti <Rahma>");
    assert_eq!(list[0]["home_lat"], 0.5);
    // Names are escaped on the page.
    let page = s.get("/employees").text();
    assert!(page.contains("Siti &lt;Rahma&gt;") && !page.contains("Siti <Rahma>"));

    // Import over the API (raw body) with a dry run first.
    let csv = format!("NIP;Nama;Unit Kerja;Jabatan\n{NIP2};Budi Santoso;Bidang Keuangan;Bendahara\n12345;Salah NIP;X;Y\n");
    let r = request(
        a,
        "POST",
        "/api/v1/employees/import?filename=simpeg.csv&dry_run=true",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        csv.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["inserted"], 1);
    assert_eq!(office.count("SELECT COUNT(*) FROM employees"), 1);
    // The page upload (multipart) applies it and reports the bad row.
    let boundary = "----hadirtest";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{}\r\n",
            s.csrf
        )
        .as_bytes(),
    );
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"simpeg.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n").as_bytes());
    let ctype = format!("multipart/form-data; boundary={boundary}");
    let r = request(
        a,
        "POST",
        "/employees/import",
        &[("Cookie", &s.cookie), ("Content-Type", &ctype)],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("import-result"), "{}", r.text());
    assert_eq!(office.count("SELECT COUNT(*) FROM employees"), 2);
    // An XLSX export works the same way.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in ["NIP", "Nama", "Unit Kerja", "Jabatan"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (c, v) in [
        "197501012000031003",
        "Agus Salim",
        "Sekretariat",
        "Sekretaris",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(1, c as u16, *v).unwrap();
    }
    let xlsx = wb.save_to_buffer().unwrap();
    let r = request(
        a,
        "POST",
        "/api/v1/employees/import?filename=simpeg.xlsx",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        &xlsx,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["inserted"], 1, "{}", r.text());
    assert_eq!(office.count("SELECT COUNT(*) FROM employees"), 3);
    // Without the CSRF part the upload is refused.
    let no_csrf = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"simpeg.csv\"\r\n\r\n{csv}\r\n--{boundary}--\r\n");
    let r = request(
        a,
        "POST",
        "/employees/import",
        &[("Cookie", &s.cookie), ("Content-Type", &ctype)],
        no_csrf.as_bytes(),
    );
    assert_eq!(r.status, 403);
}

#[test]
fn schedules_and_holidays_are_admin_only_and_validated() {
    let office = Office::start("web-schedules");
    let a = office.gw.admin;
    let before = office.count("SELECT COUNT(*) FROM holidays WHERE day LIKE '2026-%'") as usize;
    let r = with_token(
        a,
        "PUT",
        "/api/v1/holidays/2026-10-07",
        json!({"name": "Hari Jadi Kabupaten", "kind": "libur-daerah"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        with_token(
            a,
            "PUT",
            "/api/v1/holidays/2026-13-01",
            json!({"name": "X"}).to_string().as_bytes()
        )
        .status,
        400
    );
    assert_eq!(
        with_token(
            a,
            "PUT",
            "/api/v1/holidays/2026-10-08",
            json!({"name": "X", "kind": "pesta"}).to_string().as_bytes()
        )
        .status,
        400
    );
    assert_eq!(
        with_token(
            a,
            "PUT",
            "/api/v1/holidays/2026-10-08",
            json!({"name": " "}).to_string().as_bytes()
        )
        .status,
        400
    );
    let hols = with_token(a, "GET", "/api/v1/holidays?year=2026", b"").json();
    assert_eq!(hols.as_array().unwrap().len(), before + 1);
    let r = request(
        a,
        "POST",
        "/api/v1/holidays/import",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        b"tanggal,nama,jenis\n2026-11-02,Libur Pilkada,libur-daerah\nbukan-tanggal,X,\n",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["saved"], 1);
    assert_eq!(r.json()["problems"].as_array().unwrap().len(), 1);
    // A Friday half day through the form.
    let admin = operator(a, "kasubbag", "admin");
    let mut fields = vec![
        ("name", "jumat-pendek"),
        ("label", "Jumat setengah hari"),
        ("late_tolerance_min", "15"),
        ("early_tolerance_min", "0"),
    ];
    let days = [
        ("start0", "07:30"),
        ("end0", "16:00"),
        ("start4", "07:30"),
        ("end4", "11:30"),
    ];
    fields.extend(days);
    let r = admin.form("/schedules", &fields, true);
    assert_eq!(r.status, 303, "{}", r.text());
    let groups = admin.get("/api/v1/schedules").json();
    let g = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "jumat-pendek")
        .unwrap()
        .clone();
    assert_eq!(g["late_tolerance_min"], 15);
    assert_eq!(g["days"][4]["end"], "11:30:00");
    // End before start: 400, nothing saved.
    let r = admin.form(
        "/schedules",
        &[
            ("name", "rusak"),
            ("late_tolerance_min", "0"),
            ("early_tolerance_min", "0"),
            ("start0", "16:00"),
            ("end0", "07:30"),
        ],
        true,
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        office.count("SELECT COUNT(*) FROM schedule_groups WHERE name = 'rusak'"),
        0
    );
    let page = admin.get("/schedules?year=2026").text();
    assert!(
        page.contains("Hari Jadi Kabupaten") && page.contains("Rabu, 7 Oktober 2026"),
        "{page}"
    );
    let r = admin.form("/holidays/2026-10-07/delete", &[], true);
    assert_eq!(r.status, 303);
    assert_eq!(
        office.count("SELECT COUNT(*) FROM holidays WHERE day LIKE '2026-%'") as usize,
        before + 1
    );
}

#[test]
fn the_dashboard_attendance_and_recap_show_the_day_in_indonesian_with_an_english_switch() {
    let office = Office::start("web-pages");
    let a = office.gw.admin;
    web::employee(a, NIP, "Siti Rahma", "Bidang Umum");
    web::employee(a, NIP2, "Budi Santoso", "Bidang Keuangan");
    let today = office.today();
    let r = post_punches(a, &json!([{"device": "pintu-depan", "employee": NIP, "time": format!("{today}T07:52:00"), "state": 0}])).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let s = operator(a, "siti", "viewer");
    let d = s.get("/api/v1/dashboard").json();
    assert_eq!(d["zone"], "WITA");
    assert_eq!(d["today"]["employees"], 2);
    let dash = s.get("/").text();
    let csp = s
        .get("/")
        .header("content-security-policy")
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(
        dash.contains("Dasbor")
            && dash.contains("WITA")
            && dash.contains(r#"http-equiv="refresh""#),
        "{dash}"
    );
    assert!(
        ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"]
            .iter()
            .any(|d| dash.contains(&format!("{d}, ")))
    );
    // English by ?lang=en, remembered in a cookie.
    let r = s.get("/?lang=en");
    assert!(r.text().contains("Dashboard") && r.text().contains("Backlog"));
    let lang = r
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("hadir_lang=en"))
        .expect("language cookie")
        .to_string();
    let r = request(
        a,
        "GET",
        "/attendance",
        &[(
            "Cookie",
            &format!("{}; {}", s.cookie, web::cookie_pair(&lang)),
        )],
        b"",
    );
    assert!(r.text().contains("Attendance by day"), "{}", r.text());

    let day = s.get(&format!("/attendance?date={today}")).text();
    assert!(
        day.contains("Siti Rahma") && day.contains("07:52") && day.contains("pintu-depan"),
        "{day}"
    );
    let emp = s
        .get(&format!("/attendance/employee/{NIP}?month={}", &today[..7]))
        .text();
    assert!(emp.contains("07:52"), "{emp}");
    assert_eq!(s.get("/attendance?date=2026-02-30").status, 400);
    assert_eq!(
        s.get("/api/v1/attendance/employee/199999999999999999")
            .status,
        404
    );

    // The recap: JSON, CSV and XLSX for the same month.
    let month = &today[..7];
    let recap = s.get(&format!("/api/v1/recap?month={month}")).json();
    let siti = recap["employees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["nip"] == NIP)
        .unwrap()
        .clone();
    assert!(siti["totals"]["present"].as_u64().unwrap() <= 1);
    let csv = s.get(&format!("/recap/download?month={month}&format=csv"));
    assert_eq!(csv.status, 200);
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .contains(&format!("rekap-kehadiran-{month}.csv")));
    assert!(csv
        .text()
        .lines()
        .any(|l| l.contains(NIP) && l.contains("Siti Rahma")));
    let xlsx = s.get(&format!("/api/v1/recap.xlsx?month={month}"));
    assert_eq!(xlsx.status, 200);
    assert_eq!(&xlsx.body[..2], b"PK");
    assert_eq!(s.get("/api/v1/recap?month=2026-13").status, 400);
    assert_eq!(s.get("/api/v1/recap.csv?table=nope").status, 400);
    let page = s.get(&format!("/recap?month={month}")).text();
    assert!(page.contains("download-xlsx") && page.contains("Bidang Umum"));
    let audit = s.get("/audit").text();
    assert!(audit.contains("login"));
}

#[test]
fn the_openapi_document_lists_every_route_and_every_listed_route_is_served() {
    let office = Office::start("web-openapi");
    let a = office.gw.admin;
    let r = request(a, "GET", "/api/v1/openapi.json", &[], b"");
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 25, "{}", paths.len());
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path
                .replace("{date}", "2026-11-23")
                .replace("{nip}", NIP)
                .replace(['{', '}'], "");
            let r = request(a, &method.to_uppercase(), &concrete, &[], b"");
            assert!(
                [200, 400, 401].contains(&r.status),
                "{method} {path} answered {} without credentials: {}",
                r.status,
                r.text()
            );
        }
    }
}

#[test]
fn the_operator_command_creates_an_account_with_a_known_password_for_the_demo() {
    let dir = TempDir::new("web-cli");
    let config = dir.path().join("hadir.toml");
    std::fs::write(&config, test_config(dir.path(), "")).unwrap();
    let pwfile = dir.path().join("pw");
    std::fs::write(&pwfile, "demo-password-123\n").unwrap();
    let out = Command::new(hadir_bin())
        .args([
            "operator",
            "add",
            "demo",
            "--role",
            "admin",
            "--password-file",
        ])
        .arg(&pwfile)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(hadir_bin())
        .args(["operator", "add", "demo", "--role", "admin"])
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a duplicate name is refused");
    let out = Command::new(hadir_bin())
        .args(["operator", "list", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("demo"));
    let gw = Gateway::start(&config);
    assert!(!gw
        .stdout_lines
        .iter()
        .any(|l| l.contains("one-time password")));
    let s = Session::login(gw.admin, "demo", "demo-password-123").unwrap();
    assert!(!s.must_change);
    assert_eq!(s.get("/api/v1/operators").json()[0]["name"], "demo");
}

#[test]
fn an_admin_manages_operator_accounts_from_the_operators_page_and_others_cannot() {
    let office = Office::start("web-operators");
    let a = office.gw.admin;
    let admin = operator(a, "kasubbag", "admin");
    let ops = operator(a, "ops", "operator");
    assert_eq!(ops.get("/operators").status, 403);
    assert!(!ops.get("/").text().contains("href=\"/operators\""));
    let r = ops.form(
        "/operators",
        &[
            ("name", "baru"),
            ("role", "admin"),
            ("password", "sandi-awal-1234"),
        ],
        true,
    );
    assert_eq!(r.status, 403);
    assert!(admin.get("/").text().contains("href=\"/operators\""));
    for (name, role, pw) in [
        ("Baru!", "operator", "sandi-awal-1234"),
        ("baru", "raja", "sandi-awal-1234"),
        ("baru", "operator", "pendek"),
    ] {
        let r = admin.form(
            "/operators",
            &[("name", name), ("role", role), ("password", pw)],
            true,
        );
        assert_eq!(r.status, 400, "{name} {role} {pw}");
    }
    let r = admin.form(
        "/operators",
        &[
            ("name", "baru"),
            ("role", "viewer"),
            ("password", "sandi-awal-1234"),
        ],
        true,
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let page = admin.get("/operators").text();
    assert!(
        page.contains("baru") && page.contains("harus ganti kata sandi"),
        "{page}"
    );
    let s = Session::login(a, "baru", "sandi-awal-1234").unwrap();
    assert!(s.must_change);
    // A reset ends that operator's sessions.
    let r = admin.form(
        "/operators/ops/reset",
        &[("password", "sandi-reset-5678")],
        true,
    );
    assert_eq!(r.status, 303);
    assert_eq!(ops.get("/api/v1/session").status, 401);
    assert!(
        Session::login(a, "ops", "sandi-reset-5678")
            .unwrap()
            .must_change
    );
    assert_eq!(
        office.count("SELECT COUNT(*) FROM outbox WHERE kind = 'audit' AND body LIKE '%operator-password-reset%'"),
        1
    );
}

#[test]
fn face_enrollment_from_the_web_needs_an_operator_and_says_so_when_face_checks_are_off() {
    let office = Office::start("web-face");
    let a = office.gw.admin;
    web::employee(a, NIP, "Siti Rahma", "Bidang Umum");
    let boundary = "----face";
    let photo = support::tablet::jpeg(3);
    let upload = |csrf: Option<&str>| {
        let mut body = Vec::new();
        if let Some(t) = csrf {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{t}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"nip\"\r\n\r\n{NIP}\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(&photo);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        body
    };
    let ctype = format!("multipart/form-data; boundary={boundary}");
    let viewer = operator(a, "tamu", "viewer");
    let ops = operator(a, "ops", "operator");
    let r = request(
        a,
        "POST",
        "/employees/face",
        &[("Cookie", &viewer.cookie), ("Content-Type", &ctype)],
        &upload(Some(&viewer.csrf)),
    );
    assert_eq!(r.status, 403);
    let r = request(
        a,
        "POST",
        "/employees/face",
        &[("Cookie", &ops.cookie), ("Content-Type", &ctype)],
        &upload(None),
    );
    assert_eq!(r.status, 403);
    let r = request(
        a,
        "POST",
        "/employees/face",
        &[("Cookie", &ops.cookie), ("Content-Type", &ctype)],
        &upload(Some(&ops.csrf)),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("face verification is off"),
        "{}",
        r.text()
    );
    let r = request(
        a,
        "POST",
        &format!("/api/v1/employees/{NIP}/face"),
        &[
            ("Authorization", &format!("Bearer {TOKEN}")),
            ("Content-Type", &ctype),
        ],
        &upload(None),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("face.detector_model"));
    assert!(ops
        .get("/employees")
        .text()
        .contains("Verifikasi wajah tidak aktif"));
}

#[test]
fn an_operator_enrolls_a_face_from_an_uploaded_photo_and_only_the_template_is_stored() {
    let models = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/models"));
    if !models.join("faceres.onnx").exists() {
        eprintln!("SKIPPED: no face models in {}", models.display());
        return;
    }
    let dir = TempDir::new("web-face-enroll");
    let config = dir.path().join("hadir.toml");
    let face = format!(
        "[face]\ndetector_model = \"{d}/blazeface.onnx\"\nembedder_model = \"{d}/faceres.onnx\"\n",
        d = models.display()
    );
    std::fs::write(&config, test_config(dir.path(), &face)).unwrap();
    let gw = Gateway::start(&config);
    let a = gw.admin;
    web::employee(a, NIP, "Siti Rahma", "Bidang Umum");
    let ops = operator(a, "ops", "operator");
    assert!(ops.get("/employees").text().contains("face-form"));
    let photo = std::fs::read(models.join("astronaut.png")).unwrap();
    let boundary = "----enroll";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"nip\"\r\n\r\n{NIP}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"siti.png\"\r\nContent-Type: image/png\r\n\r\n",
            ops.csrf
        )
        .as_bytes(),
    );
    body.extend_from_slice(&photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let ctype = format!("multipart/form-data; boundary={boundary}");
    let r = request(
        a,
        "POST",
        "/employees/face",
        &[("Cookie", &ops.cookie), ("Content-Type", &ctype)],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("face-result"), "{}", r.text());
    let db = rusqlite::Connection::open(dir.path().join("data/hadir.db")).unwrap();
    let n: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM face_templates WHERE nip = ?1",
            [NIP],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
    let audited: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM audit_log WHERE actor LIKE '%ops%' AND subject = ?1",
            [NIP],
            |r| r.get(0),
        )
        .unwrap();
    assert!(audited >= 1);
}
