//! Test fixtures: a Kutai Timur office (WITA) with two sites and an honest check-in.

use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::{CheckIn, Context, FaceOutcome, Location, Mode, PhotoSeen, TravelOrder};

/// Kantor Bupati Kutai Timur, Bukit Pelangi, Sangatta.
pub const BUPATI: (f64, f64) = (0.543_612, 117.626_145);
/// A second building about 600 m north-east.
pub const GEDUNG_B: (f64, f64) = (0.547_480, 117.629_870);
/// A registered home in Sangatta Utara, a few kilometres away.
pub const HOME: (f64, f64) = (0.507_315, 117.578_442);

pub struct Fixture {
    pub policy: hadir_config::Verification,
    pub sites: Vec<hadir_config::Site>,
    pub tz: TimeZone,
    pub orders: Vec<TravelOrder>,
    pub secret: Vec<u8>,
}

impl Fixture {
    pub fn kutim() -> Fixture {
        let policy = hadir_config::Verification {
            office_networks: vec!["192.168.10.0/24".into(), "fd00:10::/64".into()],
            ..Default::default()
        };
        Fixture {
            policy,
            sites: vec![
                hadir_config::Site {
                    name: "Kantor Bupati".into(),
                    latitude: BUPATI.0,
                    longitude: BUPATI.1,
                    radius_m: 50.0,
                },
                hadir_config::Site {
                    name: "Gedung B".into(),
                    latitude: GEDUNG_B.0,
                    longitude: GEDUNG_B.1,
                    radius_m: 80.0,
                },
            ],
            tz: TimeZone::get("Asia/Makassar").expect("bundled tzdb"),
            orders: vec![TravelOrder {
                spt_number: "094/123/SPT/BKPSDM/XI/2026".into(),
                from: jiff::civil::date(2026, 11, 24),
                to: jiff::civil::date(2026, 11, 26),
            }],
            secret: b"kutim-office-qr-secret-0123456789".to_vec(),
        }
    }

    pub fn ctx(&self) -> Context<'_> {
        Context {
            policy: &self.policy,
            sites: &self.sites,
            office_tz: &self.tz,
            home: Some(HOME),
            home_radius_m: 100.0,
            travel_orders: &self.orders,
            previous_fix: None,
            coords_seen_other_day: false,
            photo_seen: PhotoSeen::None,
            qr_secret: &self.secret,
            employee_known: true,
            face: FaceOutcome::NotPerformed,
        }
    }

    /// Monday 23 November 2026, 07:29:05 WITA, 15 m from the Kantor Bupati site.
    pub fn checkin(&self) -> CheckIn {
        let received = received_at("2026-11-23T07:29:05+08:00");
        CheckIn {
            tablet: "tablet-lobi".into(),
            nip: "198703152010011002".into(),
            mode: Mode::Regular,
            client_time: ts_minus(received, 3),
            received,
            location: Some(Location {
                lat: 0.543_731,
                lon: 117.626_214,
                accuracy_m: 12.0,
                provider: Some("fused".into()),
                mock: false,
                speed_mps: Some(0.0),
                altitude_m: Some(41.5),
                fix_time: Some(ts_minus(received, 5)),
            }),
            bssid: Some("a4:2b:b0:11:22:33".into()),
            qr: Some(super::qr::code_at(
                &self.secret,
                self.policy.qr_step_s,
                ts_minus(received, 2),
            )),
            photo_sha256: "ab".repeat(32),
            photo_dhash: 0x0f0f_3c3c_5a5a_7e7e,
            client_ip: Some("192.168.10.57".parse().expect("ip")),
        }
    }
}

pub fn received_at(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

pub fn ts_minus(t: Timestamp, secs: i64) -> Timestamp {
    t.checked_sub(jiff::SignedDuration::from_secs(secs))
        .expect("in range")
}

pub fn codes(fs: &[super::Finding]) -> Vec<&'static str> {
    fs.iter().map(|f| f.code).collect()
}
