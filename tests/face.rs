//! Face verification through the real binary: `hadir face enroll` from photo files, then tablet
//! check-ins over the embedded broker whose selfies are compared with the enrolled face. Uses the
//! real models in `../shared/models` (skipped with a message only when absent) and a sample face
//! from the npm package `@vladmandic/human` (`scripts/ensure-deps.sh` puts it in
//! `target/face-samples`).

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hadir_face::{image, Accept, RgbImage};
use support::peers::free_port;
use support::tablet::{b64, provision, Tablet};
use support::*;

const NIP: &str = "198703152010011002";
const OFFICE: (f64, f64) = (0.5436, 117.6261);

fn models_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/models"))
}

fn samples_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/face-samples"
    ))
}

fn models_present() -> bool {
    let ok = models_dir().join("faceres.onnx").exists();
    if !ok {
        eprintln!("SKIPPED: no models in {}", models_dir().display());
    }
    ok
}

fn face_section() -> String {
    format!(
        "[face]\ndetector_model = \"{d}/blazeface.onnx\"\nembedder_model = \"{d}/faceres.onnx\"\n",
        d = models_dir().display()
    )
}

fn astronaut() -> RgbImage {
    let bytes = std::fs::read(models_dir().join("astronaut.png")).unwrap();
    image::decode(&bytes, &Default::default(), Accept::JpegOrPng).unwrap()
}

fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(
            &img.data,
            img.width as u16,
            img.height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    out
}

/// Another person: tile (1, 6) of the "extracted faces" grid in the sample screenshot, padded.
fn another_person() -> Option<RgbImage> {
    let path = samples_dir().join("screenshot-facematch.jpg");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!(
            "SKIPPED (mismatch part): no sample faces at {} (run scripts/ensure-deps.sh)",
            path.display()
        );
        return None;
    };
    let limits = hadir_face::Limits {
        work_side: 0,
        ..Default::default()
    };
    let sheet = image::decode(&bytes, &limits, Accept::JpegOnly).unwrap();
    let x = (6.0 * 1920.0 / 18.0) as usize + 1;
    let y = 283 + 112;
    let mut canvas = RgbImage::filled(320, 320, [120, 120, 120]);
    canvas.paste(&sheet.crop(x, y, 104, 104), 108, 100);
    Some(canvas)
}

struct Office {
    dir: TempDir,
    config: PathBuf,
    gw: Gateway,
    port: u16,
    display_token: String,
}

impl Office {
    fn start(tag: &str) -> Office {
        let dir = TempDir::new(tag);
        let port = free_port();
        let config = dir.path().join("hadir.toml");
        std::fs::write(
            &config,
            test_config(
                dir.path(),
                &format!(
                    "[tablets]\nlisten = \"127.0.0.1:{port}\"\n{}",
                    face_section()
                ),
            ),
        )
        .unwrap();
        let gw = Gateway::start(&config);
        let display_token = std::fs::read_to_string(dir.path().join("data/display-token"))
            .unwrap()
            .trim()
            .to_string();
        let r = http(
            gw.admin,
            "PUT",
            &format!("/api/v1/employees/{NIP}"),
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            br#"{"name": "Siti Rahma", "unit": "Bidang Umum"}"#,
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        Office {
            dir,
            config,
            gw,
            port,
            display_token,
        }
    }

    fn face_cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(hadir_bin())
            .arg("face")
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .unwrap()
    }

    fn qr(&self) -> String {
        let r = http(
            self.gw.admin,
            "GET",
            &format!("/api/v1/qr?token={}", self.display_token),
            &[],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["code"].as_str().unwrap().to_string()
    }

    fn checkin(&self, tablet: &Tablet, nonce: &str, photo: &[u8]) -> serde_json::Value {
        let now = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::get("Asia/Makassar").unwrap())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string();
        tablet.checkin(&serde_json::json!({
            "v": 1,
            "tablet": tablet.id,
            "nip": NIP,
            "client_time": now,
            "mode": "regular",
            "location": {"lat": OFFICE.0 + 0.00011, "lon": OFFICE.1 + 0.00007, "accuracy_m": 8.5, "provider": "gps", "mock": false},
            "qr": self.qr(),
            "photo": b64(photo),
            "nonce": nonce,
        }))
    }

    /// The stored face finding of a check-in.
    fn face_finding(&self, receipt: &str) -> serde_json::Value {
        let conn = rusqlite::Connection::open(self.dir.path().join("data/hadir.db")).unwrap();
        let findings: String = conn
            .query_row(
                "SELECT findings FROM checkins WHERE record_id = ?1",
                [receipt],
                |r| r.get(0),
            )
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&findings).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"].as_str().unwrap().starts_with("face."))
            .cloned()
            .unwrap()
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn an_enrolled_face_matches_its_selfie_and_another_face_is_rejected() {
    if !models_present() {
        return;
    }
    let office = Office::start("face-e2e");
    // Enrollment refuses a photo without a face, with the reason, and stores nothing.
    let blank = write(
        office.dir.path(),
        "blank.jpg",
        &jpeg(&RgbImage::filled(400, 400, [128; 3]), 90),
    );
    let out = office.face_cli(&["enroll", "--nip", NIP, blank.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("enroll.no-face"), "{err}");
    // Enroll from the PNG portrait.
    let portrait = models_dir().join("astronaut.png");
    let out = office.face_cli(&["enroll", "--nip", NIP, portrait.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = office.face_cli(&["list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(rows[0]["nip"], NIP);
    assert_eq!(rows[0]["templates"], 1);

    let p = provision(&office.config, "Tablet Lobi");
    std::thread::sleep(Duration::from_millis(3500));
    let tablet = Tablet::connect(office.port, &p);

    // The same person: the portrait mirrored and moved, as a JPEG selfie.
    let mut selfie = RgbImage::filled(600, 560, [70, 70, 80]);
    selfie.paste(&astronaut().flipped(), 60, 30);
    let reply = office.checkin(&tablet, "face-same-0001", &jpeg(&selfie, 85));
    assert_eq!(reply["verdict"], "accepted", "{reply:#}");
    let f = office.face_finding(reply["receipt"].as_str().unwrap());
    assert_eq!(f["code"], "face.match", "{f:#}");
    assert!(f["detail"]["score"].as_f64().unwrap() >= 0.6, "{f:#}");
    // A re-send (the reply was lost) is answered with the stored reply, not checked again.
    let again = office.checkin(&tablet, "face-same-0001", &jpeg(&selfie, 85));
    assert_eq!(again["receipt"], reply["receipt"], "{again:#}");
    assert_eq!(again["verdict"], "accepted");

    // Someone else holding the tablet: rejected with the face reason.
    if let Some(other) = another_person() {
        let reply = office.checkin(&tablet, "face-other-0002", &jpeg(&other, 90));
        assert_eq!(reply["verdict"], "rejected", "{reply:#}");
        let codes: Vec<&str> = reply["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        assert!(codes.contains(&"face.mismatch"), "{reply:#}");
        let f = office.face_finding(reply["receipt"].as_str().unwrap());
        assert!(f["detail"]["score"].as_f64().unwrap() < 0.5, "{f:#}");
        let conn = rusqlite::Connection::open(office.dir.path().join("data/hadir.db")).unwrap();
        let kept: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM checkin_photos WHERE record_id = ?1",
                [reply["receipt"].as_str().unwrap()],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept, 1, "a rejected selfie is kept for review");
    }

    // After removal the employee is not enrolled: review, never a pass.
    let out = office.face_cli(&["remove", "--nip", NIP]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut again = RgbImage::filled(640, 600, [20, 60, 40]);
    again.paste(&astronaut(), 100, 50);
    let reply = office.checkin(&tablet, "face-none-0003", &jpeg(&again, 80));
    assert_eq!(reply["verdict"], "needs-review", "{reply:#}");
    let f = office.face_finding(reply["receipt"].as_str().unwrap());
    assert_eq!(f["code"], "face.not-enrolled", "{f:#}");
}

#[test]
fn a_burst_of_selfies_gets_busy_answers_instead_of_waiting() {
    if !models_present() {
        return;
    }
    let cfg = hadir_config::Face {
        detector_model: Some(models_dir().join("blazeface.onnx")),
        embedder_model: Some(models_dir().join("faceres.onnx")),
        workers: 1,
        queue: 1,
        wait_ms: 2000,
        ..Default::default()
    };
    let engine = hadir_face::FaceEngine::load(&cfg).unwrap();
    let template = {
        let mut s = engine.session().unwrap();
        s.analyse_image(&astronaut()).unwrap().embedding.unwrap()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let selfie = jpeg(&astronaut(), 85);
    let outcomes = rt.block_on(async {
        let pool = hadir::face::FacePool::start(engine, &cfg, 512 * 1024).unwrap();
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (pool, selfie, t) = (pool.clone(), selfie.clone(), template.clone());
            tasks.push(tokio::spawn(
                async move { pool.check(selfie, vec![t]).await },
            ));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        assert!(
            started.elapsed() < Duration::from_millis(2000 + 1500),
            "nobody waits much past face.wait_ms: {:?}",
            started.elapsed()
        );
        out
    });
    use hadir::verify::FaceOutcome;
    let busy = outcomes.iter().filter(|o| **o == FaceOutcome::Busy).count();
    let matched = outcomes
        .iter()
        .filter(|o| matches!(o, FaceOutcome::Match { .. }))
        .count();
    assert!(matched >= 1, "{outcomes:?}");
    assert!(
        busy >= 8,
        "one running + one queued, the rest busy at once: {outcomes:?}"
    );
    assert_eq!(busy + matched, 12, "{outcomes:?}");
}
