//! The demo office: its staff, its config and its morning. Kept apart from the orchestration
//! so the story can be read in one place.

use std::net::SocketAddr;
use std::path::Path;

use hadir_drivers::zk::records::{AttendanceRecord, User};
use hadir_drivers::zk::sim::SimHandle;
use hadir_drivers::zk::time::ZkDateTime;

use crate::tablets::intake::Reply;

/// The office zone: WITA (UTC+8), Kutai Timur.
pub const OFFICE_TZ: &str = "Asia/Makassar";
/// `OFFICE_TZ`'s offset from UTC, hours (WITA, no daylight saving).
const OFFICE_UTC_OFFSET_H: i8 = 8;
/// WITA's offset from UTC, seconds (readers keep local wall time).
pub const WITA_OFFSET_S: i64 = 8 * 3600;
/// The office: Bukit Pelangi, Sangatta.
pub const OFFICE: (f64, f64) = (0.5436, 117.6261);
/// Samarinda, where the travelling employee checks in from.
const SAMARINDA: (f64, f64) = (-0.5022, 117.1536);
/// Serial of the push-mode reader at the back door.
pub const PUSH_SERIAL: &str = "CKPUSH2260002";
/// Index in [`people`] of the employee on official travel.
pub const TRAVELLER: usize = 6;

/// How a demo employee checks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Habit {
    /// Honest, from the front-door tablet.
    Honest,
    /// Uses a fake-GPS app.
    FakeGps,
    /// Sends a colleague's photo from the gallery ("titip absen").
    ReplaysPhoto,
    /// Scans a photo of an old office code.
    ExpiredQr,
    /// On official travel with an SPT.
    Travelling,
    /// Uses the fingerprint reader at the front door (pull mode).
    Finger,
    /// Uses the newer reader at the back door (ADMS push mode).
    FingerPush,
}

/// A demo employee.
#[derive(Debug, Clone)]
pub struct Person {
    /// 18-digit NIP.
    pub nip: &'static str,
    /// Name.
    pub name: &'static str,
    /// Unit (bidang).
    pub unit: &'static str,
    /// Position.
    pub position: &'static str,
    /// Registered home, for WFH.
    pub home: Option<(f64, f64)>,
    /// How they check in.
    pub habit: Habit,
}

/// The staff of the demo office.
pub fn people() -> Vec<Person> {
    let p = |nip, name, unit, position, habit| Person {
        nip,
        name,
        unit,
        position,
        home: None,
        habit,
    };
    vec![
        p(
            "198703152010012002",
            "Siti Rahmawati",
            "Sekretariat",
            "Kasubbag Umum",
            Habit::Honest,
        ),
        p(
            "199001222015031004",
            "Budi Santoso",
            "Bidang Aplikasi Informatika",
            "Pranata Komputer",
            Habit::Honest,
        ),
        p(
            "198512102009021003",
            "Andi Saputra",
            "Bidang Aplikasi Informatika",
            "Analis Sistem",
            Habit::FakeGps,
        ),
        p(
            "199208172019032011",
            "Rina Marlina",
            "Sekretariat",
            "Pengadministrasi Umum",
            Habit::ReplaysPhoto,
        ),
        p(
            "198811302014022001",
            "Dewi Lestari",
            "Bidang Statistik",
            "Statistisi",
            Habit::ExpiredQr,
        ),
        p(
            "198302142008011005",
            "Agus Salim",
            "Sekretariat",
            "Bendahara",
            Habit::Finger,
        ),
        p(
            "197906062005011007",
            "Yusuf Hidayat",
            "Bidang Persandian",
            "Kepala Bidang",
            Habit::Travelling,
        ),
        p(
            "199405052020121002",
            "Hendra Wijaya",
            "Bidang Statistik",
            "Pranata Komputer",
            Habit::FingerPush,
        ),
        p(
            "198907072012032009",
            "Wati Kurniasih",
            "Bidang Persandian",
            "Sandiman",
            Habit::Finger,
        ),
    ]
}

/// What the demo's config needs to know.
pub struct ConfigInputs<'a> {
    /// The gateway's data directory.
    pub data_dir: &'a Path,
    /// Admin UI address.
    pub admin: SocketAddr,
    /// Tablet broker address.
    pub tablets: SocketAddr,
    /// The simulated reader.
    pub reader: SocketAddr,
    /// The reference receiver's HTTP address.
    pub receiver: SocketAddr,
    /// Where push-mode readers post.
    pub push: SocketAddr,
    /// The API token.
    pub api_token: &'a str,
    /// Upstream Basic-auth password.
    pub upstream_password: &'a str,
}

/// The demo office's `hadir.toml`.
pub fn config_toml(i: &ConfigInputs<'_>) -> String {
    format!(
        r#"# Demo office written by `hadir demo`.
[office]
id = "kutim-diskominfo"
name = "Dinas Komunikasi dan Informatika Kabupaten Kutai Timur"
timezone = "{OFFICE_TZ}"

[[office.sites]]
name = "Kantor Bukit Pelangi"
latitude = {lat}
longitude = {lon}
radius_m = 50

[storage]
data_dir = "{data}"
min_free_mb = 16

[admin]
listen = "{admin}"
api_token = "{token}"

[[devices]]
name = "pintu-depan"
kind = "zk-pull"
address = "{reader}"
poll_interval_s = 2
max_drift_s = 30

[[devices]]
name = "pintu-belakang"
kind = "zk-push"
serial = "{PUSH_SERIAL}"

[push]
listen = "{push}"
delay_s = 2

[upstream]
mode = "https"
url = "http://{receiver}/v1/batches"
username = "kutim"
password = "{upstream_password}"
batch_max_records = 100
batch_max_age_s = 1

[tablets]
listen = "{tablets}"
"#,
        lat = OFFICE.0,
        lon = OFFICE.1,
        data = i.data_dir.display(),
        admin = i.admin,
        token = i.api_token,
        reader = i.reader,
        receiver = i.receiver,
        upstream_password = i.upstream_password,
        tablets = i.tablets,
        push = i.push,
    )
}

/// The reader's enrolled users: everyone, by NIP.
pub fn reader_users(people: &[Person]) -> Vec<User> {
    people
        .iter()
        .enumerate()
        .map(|(i, p)| User::new(i as u16 + 1, p.nip, p.name))
        .collect()
}

/// Yesterday afternoon's check-outs, still on the reader when the gateway first reads it.
pub fn overnight_punches(people: &[Person]) -> Vec<AttendanceRecord> {
    let yesterday_16 = {
        let local = jiff::Timestamp::now().as_second() + WITA_OFFSET_S;
        local - local.rem_euclid(86_400) - 86_400 + 16 * 3600
    };
    people
        .iter()
        .enumerate()
        .filter(|(_, p)| p.habit == Habit::Finger)
        .filter_map(|(i, p)| {
            let time = ZkDateTime::from_civil_seconds(yesterday_16 + 60 * i as i64).ok()?;
            Some(AttendanceRecord {
                uid: i as u16 + 1,
                user_id: p.nip.to_string(),
                time,
                status: 1,
                punch: 1,
                workcode: 0,
            })
        })
        .collect()
}

/// A fingerprint punch at the reader's current time.
pub fn punch_now(person: &Person, reader: &SimHandle) -> AttendanceRecord {
    let uid = reader
        .users()
        .iter()
        .find(|u| u.user_id == person.nip)
        .map_or(0, |u| u.uid);
    AttendanceRecord {
        uid,
        user_id: person.nip.to_string(),
        time: reader.device_time(),
        status: 1,
        punch: 0,
        workcode: 0,
    }
}

/// One step of the morning.
#[derive(Debug)]
pub enum Scene {
    /// A tablet check-in by `person` from tablet number `tablet`.
    CheckIn {
        /// Index into [`people`].
        person: usize,
        /// Index of the tablet used.
        tablet: usize,
        /// The check-in as the app builds it.
        payload: serde_json::Value,
    },
    /// A finger on the front-door reader (pull).
    Finger {
        /// Index into [`people`].
        person: usize,
    },
    /// A finger on the back-door reader (push).
    FingerPush {
        /// Index into [`people`].
        person: usize,
    },
}

/// The morning rush: every habit once, in arrival order.
pub fn morning(people: &[Person], qr: &str, old_qr: &str) -> Vec<Scene> {
    let honest_photo_of = |i: usize| 100 + i as u64;
    let siti = 0;
    people
        .iter()
        .enumerate()
        .map(|(i, p)| match p.habit {
            Habit::Finger => Scene::Finger { person: i },
            Habit::FingerPush => Scene::FingerPush { person: i },
            Habit::Honest => Scene::CheckIn {
                person: i,
                tablet: 0,
                payload: checkin(
                    p,
                    "regular",
                    near_office(i),
                    qr,
                    honest_photo_of(i),
                    i as u64,
                ),
            },
            Habit::FakeGps => {
                let mut payload = checkin(
                    p,
                    "regular",
                    near_office(i),
                    qr,
                    honest_photo_of(i),
                    i as u64,
                );
                payload["location"]["mock"] = true.into();
                payload["location"]["provider"] = "fused".into();
                Scene::CheckIn {
                    person: i,
                    tablet: 0,
                    payload,
                }
            }
            Habit::ReplaysPhoto => Scene::CheckIn {
                person: i,
                tablet: 0,
                payload: checkin(
                    p,
                    "regular",
                    near_office(i),
                    qr,
                    honest_photo_of(siti),
                    i as u64,
                ),
            },
            Habit::ExpiredQr => Scene::CheckIn {
                person: i,
                tablet: 0,
                payload: checkin(
                    p,
                    "regular",
                    near_office(i),
                    old_qr,
                    honest_photo_of(i),
                    i as u64,
                ),
            },
            Habit::Travelling => {
                let mut payload =
                    checkin(p, "dinas-luar", SAMARINDA, qr, honest_photo_of(i), i as u64);
                if let Some(m) = payload.as_object_mut() {
                    m.remove("qr");
                }
                Scene::CheckIn {
                    person: i,
                    tablet: 1,
                    payload,
                }
            }
        })
        .collect()
}

/// A later honest check-in (the demo keeps going while it runs).
pub fn another_honest(people: &[Person], qr: &str, round: u64) -> (usize, serde_json::Value) {
    let honest: Vec<usize> = people
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.habit, Habit::Honest | Habit::Finger))
        .map(|(i, _)| i)
        .collect();
    let i = honest[(round as usize / 3) % honest.len().max(1)];
    let payload = checkin(
        &people[i],
        "regular",
        near_office(i + round as usize),
        qr,
        10_000 + round,
        1_000 + round,
    );
    (i, payload)
}

/// A slightly different spot inside the office for each person (real fixes wander).
fn near_office(i: usize) -> (f64, f64) {
    let k = (i % 7) as f64;
    (
        OFFICE.0 + 0.00007 + k * 0.000013,
        OFFICE.1 + 0.00005 - k * 0.000011,
    )
}

fn checkin(
    p: &Person,
    mode: &str,
    (lat, lon): (f64, f64),
    qr: &str,
    photo_seed: u64,
    nonce_seed: u64,
) -> serde_json::Value {
    let photo = super::tablet::selfie(photo_seed);
    super::tablet::Checkin {
        nip: p.nip,
        mode,
        at: (lat, lon),
        accuracy_m: 6.0 + (nonce_seed % 9) as f64,
        qr,
        photo: &photo,
        nonce: format!("demo-{}-{nonce_seed:06}", std::process::id()),
        utc_offset_h: OFFICE_UTC_OFFSET_H,
    }
    .to_json()
}

/// Today in the office zone.
pub fn today() -> jiff::civil::Date {
    match jiff::tz::TimeZone::get(OFFICE_TZ) {
        Ok(tz) => jiff::Timestamp::now().to_zoned(tz).date(),
        Err(_) => jiff::Zoned::now().date(),
    }
}

/// The office clock, HH:MM:SS WITA.
pub fn clock() -> String {
    match jiff::tz::TimeZone::get(OFFICE_TZ) {
        Ok(tz) => jiff::Timestamp::now()
            .to_zoned(tz)
            .strftime("%H:%M:%S")
            .to_string(),
        Err(_) => String::from("--:--:--"),
    }
}

/// One line for the demo's log: who, the verdict in Indonesian, and why.
pub fn describe_reply(p: &Person, reply: &Reply) -> String {
    let verdict = match reply.verdict.as_str() {
        "accepted" => "DITERIMA",
        "needs-review" => "PERLU DITINJAU",
        "rejected" => "DITOLAK",
        _ => "GALAT",
    };
    let reasons: Vec<&str> = reply
        .reasons
        .iter()
        .filter(|r| r.severity != "info")
        .map(|r| r.code.as_str())
        .collect();
    format!(
        "{:<22} {:<14} {}",
        p.name,
        verdict,
        if reasons.is_empty() {
            reply.message_id.clone()
        } else {
            format!("{} — {}", reasons.join(", "), reply.message_id)
        }
    )
}

/// The demo operator's password (printed by the demo; never use it outside the demo).
pub const DEMO_PASSWORD: &str = "Kutim-Demo-2026";

/// Creates the demo operator account (admin role) through the real CLI, before the gateway starts.
pub async fn create_demo_login(exe: &Path, config_path: &Path) -> anyhow::Result<()> {
    let file = config_path.with_file_name("demo-password");
    std::fs::write(&file, format!("{DEMO_PASSWORD}\n"))?;
    let out = tokio::process::Command::new(exe)
        .args([
            "operator",
            "add",
            super::DEMO_USER,
            "--role",
            "admin",
            "--password-file",
        ])
        .arg(&file)
        .arg("--config")
        .arg(config_path)
        .output()
        .await?;
    let _ = std::fs::remove_file(&file);
    anyhow::ensure!(
        out.status.success(),
        "creating the demo login: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}
