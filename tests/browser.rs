//! The operator web UI in a real headless Chromium driven over WebDriver (Debian `chromium` and
//! `chromium-driver`; installed by `scripts/ensure-deps.sh`): log in with the one-time password
//! and change it, see the dashboard, add a sick-leave entry, approve a check-in from the review
//! queue, download the monthly recap as XLSX and check its cells against the JSON recap.
//! Screenshots of the main pages go to `target/screenshots/` (and to `docs/screenshots/` with
//! `HADIR_SCREENSHOTS=docs`).
//!
//! The WebDriver client is a few JSON calls over the plain HTTP client in `support`.

mod support;

#[path = "support/web.rs"]
mod web;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use support::peers::free_port;
use support::*;

const NIP: &str = "198703152010011002";
const NIP2: &str = "199001012015032001";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver, stopped on drop.
struct Driver {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_driver() -> Option<PathBuf> {
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn find_chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/lib/chromium/chromium"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

impl Driver {
    fn start(bin: &Path) -> Driver {
        let port = free_port();
        let mut child = Command::new(bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || for _ in BufReader::new(out).lines() {});
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { child, addr }
    }
}

/// One WebDriver session.
struct Browser {
    driver: SocketAddr,
    id: String,
    /// Chromium's process id, to stop it should the driver not.
    pid: Option<u64>,
}

impl Browser {
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.id);
        wd(self.driver, method, &path, body)
    }

    fn open(driver: SocketAddr, chromium: &Path, profile: &Path, downloads: &Path) -> Browser {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=id",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                },
            },
        }}});
        let v = wd(driver, "POST", "/session", caps);
        let id = v["sessionId"].as_str().expect("session id").to_string();
        let pid = v["capabilities"]["goog:processID"].as_u64();
        let b = Browser { driver, id, pid };
        // Headless Chromium saves downloads only when told to.
        b.call(
            "POST",
            "/goog/cdp/execute",
            json!({"cmd": "Browser.setDownloadBehavior", "params": {"behavior": "allow", "downloadPath": downloads.display().to_string()}}),
        );
        b
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", json!({ "url": url }));
    }

    fn url(&self) -> String {
        self.call("GET", "/url", json!(null))
            .as_str()
            .unwrap()
            .to_string()
    }

    fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            json!({ "text": text }),
        );
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{e}/click"), json!({}));
    }

    /// Clicks a submit button or link and waits until the next page has loaded (the old
    /// document's marker is gone and the new one is complete).
    fn submit(&self, css: &str) {
        self.script("window.__hadirOld = true;");
        self.click(css);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let done = self.script(
                "return window.__hadirOld === undefined && document.readyState === 'complete';",
            );
            if done == json!(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no new page after clicking {css}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.call("GET", &format!("/element/{e}/text"), json!(null))
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    fn script(&self, js: &str) -> Value {
        self.call("POST", "/execute/sync", json!({"script": js, "args": []}))
    }

    fn screenshot(&self, name: &str) {
        let b64 = self.call("GET", "/screenshot", json!(null));
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut dirs = vec![root.join("target/screenshots")];
        if std::env::var("HADIR_SCREENSHOTS").as_deref() == Ok("docs") {
            dirs.push(root.join("docs/screenshots"));
        }
        for d in dirs {
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(format!("{name}.png")), &png).unwrap();
        }
    }
}

impl Drop for Browser {
    /// Ends the session, which quits Chromium (also when a step failed).
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| {
            wd(
                self.driver,
                "DELETE",
                &format!("/session/{}", self.id),
                json!(null),
            )
        });
        if let Some(pid) = self.pid {
            // Only if that process is still our Chromium (its profile is a hadir test dir).
            let ours = std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("hadir-test-browser"));
            if ours {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
    }
}

/// One WebDriver call; panics with the driver's message on an error. (chromedriver keeps the
/// connection open, so the body is read by its Content-Length.)
fn wd(driver: SocketAddr, method: &str, path: &str, body: Value) -> Value {
    use std::io::{Read, Write};
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let mut s = std::net::TcpStream::connect(driver).expect("connect to chromedriver");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {driver}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&bytes).unwrap();
    let mut r = BufReader::new(s);
    let mut status_line = String::new();
    r.read_line(&mut status_line)
        .expect("webdriver status line");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("webdriver status");
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("webdriver header");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).expect("webdriver body");
    let text = String::from_utf8_lossy(&buf);
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(
        status == 200,
        "webdriver {method} {path} → {status}: {text}"
    );
    v["value"].clone()
}

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Today in the test office (Asia/Makassar, UTC+8) as (y, m, d).
fn today() -> (i64, i64, i64) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 8 * 3600;
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[test]
fn an_operator_logs_in_enters_leave_approves_a_check_in_and_downloads_the_recap_in_chromium() {
    let (Some(driver_bin), Some(chromium)) = (find_driver(), find_chromium()) else {
        eprintln!(
            "\n!!!!!!!! SKIPPED browser test: chromedriver or chromium not installed \
             (apt-get install chromium chromium-driver; scripts/ensure-deps.sh does it) !!!!!!!!\n"
        );
        return;
    };
    let dir = TempDir::new("browser");
    let config = dir.path().join("hadir.toml");
    std::fs::write(&config, test_config(dir.path(), "")).unwrap();
    let gw = Gateway::start(&config);
    let base = format!("http://{}", gw.admin);
    let a = gw.admin;
    let db = dir.path().join("data/hadir.db");

    // An office with two employees, a reader, a tablet, a punch and a check-in to review.
    web::employee(a, NIP, "Siti Rahma, S.Kom.", "Bidang Umum");
    web::employee(a, NIP2, "Budi Santoso", "Bidang Keuangan");
    let (y, m, d) = today();
    let today_s = format!("{y:04}-{m:02}-{d:02}");
    let r = post_punches(a, &json!([{"device": "pintu-depan", "employee": NIP2, "time": format!("{today_s}T07:52:00"), "state": 0}])).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let review_id = web::seed_review_checkin(
        &db,
        NIP,
        &format!("{today_s}T07:41:00"),
        "2026-01-01T00:00:00Z",
        "b1",
    );
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        c.execute(
            "INSERT INTO devices (name, kind, serial, address, online, last_seen_utc, drift_s, updated_utc)
             VALUES ('pintu-depan', 'zk-pull', 'CEXJ201960012', '192.168.1.201:4370', 1, strftime('%Y-%m-%dT%H:%M:%SZ','now'), 2, strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
            [],
        )
        .unwrap();
        c.execute(
            "INSERT INTO tablets (id, name, password_sha256, public_key, created_utc) VALUES ('tab-1', 'Tablet lobi', 'x', 'y', '2026-01-01T00:00:00Z')",
            [],
        )
        .unwrap();
    }
    let one_time = std::fs::read_to_string(dir.path().join("data/admin-password"))
        .unwrap()
        .trim()
        .to_string();

    let driver = Driver::start(&driver_bin);
    let profile = dir.path().join("chromium-profile");
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let b = Browser::open(driver.addr, &chromium, &profile, &downloads);

    // Log in with the one-time password; the UI asks for a new one first.
    b.go(&format!("{base}/"));
    assert!(b.url().contains("/login"), "{}", b.url());
    b.screenshot("login");
    b.type_into("#name", "admin");
    b.type_into("#password", &one_time);
    b.submit("#login");
    assert!(b.url().ends_with("/password"), "{}", b.url());
    b.type_into("#current", &one_time);
    b.type_into("#new", "Kantor-Uji-2026!");
    b.type_into("#confirm", "Kantor-Uji-2026!");
    b.submit("#save-password");

    // The dashboard.
    assert_eq!(b.text("h1"), "Dasbor");
    let cards = b.text("#today");
    assert!(
        cards.contains("Hadir") && cards.contains("Perlu ditinjau"),
        "{cards}"
    );
    assert!(b.text("#devices").contains("pintu-depan"));
    assert!(b.text("#upstream").contains("Antrean belum terkirim"));
    b.screenshot("dashboard");

    // Sick leave for Siti on the first Monday and Tuesday of the previous month.
    let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    let first = days_from_civil(py, pm, 1);
    let monday = (0..7)
        .map(|i| first + i)
        .find(|dd| (dd + 3).rem_euclid(7) == 0)
        .unwrap()
        - first
        + 1;
    let (from, to) = (
        format!("{py:04}-{pm:02}-{monday:02}"),
        format!("{py:04}-{pm:02}-{:02}", monday + 1),
    );
    b.go(&format!("{base}/leave"));
    b.script(&format!(
        "document.getElementById('nip').value='{NIP}';document.getElementById('kind').value='sakit';\
         document.getElementById('date_from').value='{from}';document.getElementById('date_to').value='{to}';"
    ));
    b.type_into("#note", "Surat keterangan dokter");
    b.submit("#leave-save");
    assert!(
        b.text(".notice").contains("Entri disimpan"),
        "{}",
        b.text("main")
    );
    let entries = b.text("#entries");
    assert!(
        entries.contains("Siti Rahma") && entries.contains("Sakit"),
        "{entries}"
    );
    b.screenshot("leave");

    // The review queue: evidence and photo, then approve with a note.
    b.go(&format!("{base}/review"));
    let queue = b.text("#review");
    assert!(
        queue.contains("Siti Rahma") && queue.contains("jarak"),
        "{queue}"
    );
    let loaded =
        b.script("return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)");
    assert_eq!(loaded, json!(true), "the retained selfie is shown");
    b.screenshot("review");
    b.type_into(
        "textarea[name=note]",
        "Dicek: di tepi area kantor, sesuai foto",
    );
    b.submit("button.approve");
    assert!(b.text(".notice").contains("Keputusan tinjauan disimpan"));
    assert!(b.text("#review-empty").contains("Tidak ada"));
    let verdict: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT verdict FROM attendance WHERE record_id = ?1",
            [&review_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(verdict, "accepted");

    // Attendance of the day and the roster, for the screenshots.
    b.go(&format!("{base}/attendance?date={today_s}"));
    assert!(b.text("#day").contains("07:41"), "{}", b.text("#day"));
    b.screenshot("attendance");
    b.go(&format!("{base}/employees"));
    assert!(b.text("#employees").contains("Budi Santoso"));
    b.screenshot("employees");
    b.go(&format!("{base}/schedules"));
    b.screenshot("schedules");

    // The previous month's recap, downloaded as XLSX by clicking the link.
    let month = format!("{py:04}-{pm:02}");
    b.go(&format!("{base}/recap"));
    assert!(b.text("#recap-units").contains("Bidang Keuangan"));
    b.screenshot("recap");
    b.go(&format!("{base}/recap?month={month}"));
    assert!(b.text("#recap-employees").contains("Siti Rahma"));
    b.click("#download-xlsx");
    let file = downloads.join(format!("rekap-kehadiran-{month}.xlsx"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !file.exists() {
        assert!(
            Instant::now() < deadline,
            "the XLSX was not downloaded: {:?}",
            std::fs::read_dir(&downloads).unwrap().collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let bytes = std::fs::read(&file).unwrap();
    b.go(&format!("{base}/?lang=en"));
    assert_eq!(b.text("h1"), "Dashboard");
    drop(b);

    // Its cells hold the same numbers as the JSON recap, and Siti's two sick days.
    use calamine::{Data, DataType, Reader, Xlsx};
    let mut wb: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = wb.worksheet_range("Rekap Pegawai").unwrap();
    let header: Vec<String> = sheet
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
    };
    let recap = web::with_token(a, "GET", &format!("/api/v1/recap?month={month}"), b"").json();
    let mut seen = 0;
    for row in sheet.rows().skip(1) {
        let nip = row[col("NIP")].to_string();
        let Some(e) = recap["employees"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["nip"] == nip.as_str())
        else {
            continue;
        };
        seen += 1;
        assert_eq!(row[col("Nama")].to_string(), e["name"].as_str().unwrap());
        let num = |c: &Data| c.as_f64().unwrap_or(-1.0);
        for (h, k) in [
            ("Hari Kerja", "working_days"),
            ("Hadir", "present"),
            ("Sakit", "sakit"),
            ("Tanpa Keterangan", "tanpa_keterangan"),
            ("Terlambat (menit)", "late_minutes"),
        ] {
            assert_eq!(
                num(&row[col(h)]),
                e["totals"][k].as_f64().unwrap(),
                "{nip} {h}"
            );
        }
        if nip == NIP {
            let holidays_on_leave = recap["holidays"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| h[0] == from.as_str() || h[0] == to.as_str())
                .count();
            assert_eq!(
                num(&row[col("Sakit")]),
                (2 - holidays_on_leave) as f64,
                "two sick days entered in the browser"
            );
        }
    }
    assert_eq!(seen, 2);
}
