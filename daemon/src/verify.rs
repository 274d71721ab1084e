//! Local verification of tablet and phone check-ins: pure rule functions with stable reason
//! codes, so a verdict can be explained to the person at the tablet, stored beside the record and
//! re-run later on the raw data.
//!
//! Every rule family lives in its own module and is a pure function of a [`CheckIn`] and the
//! [`Context`] the caller gathered from the store and config. [`verify`] runs all of them; the
//! verdict is the worst severity found. Nothing here does I/O or reads a clock.
//!
//! | family | module | codes |
//! |---|---|---|
//! | where the person is | [`geo`] | `geofence.*`, `wfh.*`, `travel.*`, `location.missing` |
//! | fake-GPS signs | [`gps`] | `gps.*` |
//! | office LAN | [`net`] | `net.*` |
//! | rotating office QR | [`qr`] | `qr.*` |
//! | selfie | [`photo`] | `photo.*` (and [`photo::inspect`] for the bytes) |
//! | clocks | [`clock`] | `time.client-skew` |
//! | who | [`person`] | `employee.unknown`, `face.*` |
//!
//! Repeats within `verification.repeat_window_min` and "one per day" are decided by the store,
//! not here.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub mod clock;
pub mod geo;
pub mod gps;
pub mod net;
pub mod person;
pub mod photo;
pub mod qr;

#[cfg(test)]
mod testkit;

/// How the person says they are working today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// In the office: geofence, office QR and office LAN apply.
    Regular,
    /// Work from home: checked against the registered home location.
    Wfh,
    /// Official travel ("dinas luar"): needs an operator-entered travel order (SPT) for the day.
    DinasLuar,
}

impl Mode {
    /// The name used in payloads and stored findings.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Regular => "regular",
            Mode::Wfh => "wfh",
            Mode::DinasLuar => "dinas-luar",
        }
    }
}

/// A GPS fix as the client reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// WGS84 latitude, degrees.
    pub lat: f64,
    /// WGS84 longitude, degrees.
    pub lon: f64,
    /// Reported horizontal accuracy (radius), metres.
    pub accuracy_m: f64,
    /// Location provider name as reported ("gps", "fused", "network"), if any.
    #[serde(default)]
    pub provider: Option<String>,
    /// The client's own mock-location flag (Android `isMock()`, iOS `isSimulatedBySoftware`).
    #[serde(default)]
    pub mock: bool,
    /// Reported speed, m/s.
    #[serde(default)]
    pub speed_mps: Option<f64>,
    /// Reported altitude, metres.
    #[serde(default)]
    pub altitude_m: Option<f64>,
    /// When the fix was taken, by the client's clock.
    #[serde(default)]
    pub fix_time: Option<Timestamp>,
}

/// One check-in as the rules see it (decrypted and parsed by the intake).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckIn {
    /// Tablet id it came through.
    pub tablet: String,
    /// Employee NIP.
    pub nip: String,
    /// Working mode claimed.
    pub mode: Mode,
    /// When the person checked in, by the client's clock.
    pub client_time: Timestamp,
    /// When the gateway received it (the trusted clock).
    pub received: Timestamp,
    /// GPS fix, if the client sent one.
    pub location: Option<Location>,
    /// Wi-Fi BSSID the client was associated with, if sent (recorded; not yet checked).
    pub bssid: Option<String>,
    /// The scanned office QR string, if any.
    pub qr: Option<String>,
    /// SHA-256 (hex) of the selfie bytes ([`photo::inspect`]).
    pub photo_sha256: String,
    /// 64-bit perceptual hash of the selfie ([`photo::inspect`]).
    pub photo_dhash: u64,
    /// The client's address as the broker saw it.
    pub client_ip: Option<std::net::IpAddr>,
}

/// An operator-entered official travel order (SPT) of the employee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TravelOrder {
    /// SPT number as written on the order.
    pub spt_number: String,
    /// First day, office calendar.
    pub from: jiff::civil::Date,
    /// Last day (inclusive), office calendar.
    pub to: jiff::civil::Date,
}

/// The employee's previous located check-in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PreviousFix {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// When the gateway received that check-in (compared with [`CheckIn::received`]).
    pub at: Timestamp,
}

/// Whether the store has seen this selfie before (the caller looks it up and applies
/// `verification.photo_near_duplicate_bits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "seen")]
pub enum PhotoSeen {
    /// Never seen.
    #[default]
    None,
    /// The same bytes (SHA-256) were stored before.
    ExactDuplicate,
    /// A stored photo's perceptual hash is within the threshold ([`photo::distance`]).
    NearDuplicate {
        /// Hamming distance to the closest stored photo, bits of 64.
        distance: u32,
    },
}

/// The result of the face check ([`crate::face`]): recorded with the check-in, shown in the
/// reply and the review queue. Only `Match` is a pass; `NotPerformed` never counts as one.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "face")]
pub enum FaceOutcome {
    /// No face check configured (`[face]` has no models). Reported as Info; never a pass.
    #[default]
    NotPerformed,
    /// The selfie matches the enrolled face.
    Match {
        /// Best cosine similarity to the enrolled templates.
        score: f32,
        /// `face.match_threshold`.
        threshold: f32,
    },
    /// Just below the threshold (within `face.uncertain_band`): review.
    Uncertain {
        /// Best cosine similarity.
        score: f32,
        /// `face.match_threshold`.
        threshold: f32,
    },
    /// Below the threshold and the uncertain band: someone else, reject.
    Mismatch {
        /// Best cosine similarity.
        score: f32,
        /// `face.match_threshold`.
        threshold: f32,
    },
    /// No face was found in the selfie: review.
    NoFace,
    /// More than one prominent face in the selfie: review.
    SeveralFaces {
        /// How many.
        count: u32,
    },
    /// No enrolled face for this employee and model: review.
    NotEnrolled {
        /// Templates the employee has for other models (never compared).
        other_models: u32,
    },
    /// Every face-check worker was busy (queue full or waited too long): review.
    Busy,
    /// The face engine failed on this selfie: review.
    Failed,
}

/// Everything the rules need that comes from the store or config (the caller gathers it).
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The `[verification]` policy.
    pub policy: &'a hadir_config::Verification,
    /// The office sites with their geofences.
    pub sites: &'a [hadir_config::Site],
    /// The office time zone (for "which day" questions).
    pub office_tz: &'a jiff::tz::TimeZone,
    /// The employee's registered home (lat, lon) for WFH.
    pub home: Option<(f64, f64)>,
    /// Radius around the home that counts as "at home", metres.
    pub home_radius_m: f64,
    /// The employee's travel orders (all, or at least those around the day).
    pub travel_orders: &'a [TravelOrder],
    /// The employee's last located check-in.
    pub previous_fix: Option<PreviousFix>,
    /// The exact same lat/lon was used by this employee on another day.
    pub coords_seen_other_day: bool,
    /// Whether this selfie was seen before.
    pub photo_seen: PhotoSeen,
    /// The office QR secret.
    pub qr_secret: &'a [u8],
    /// The NIP is on the roster (false → review).
    pub employee_known: bool,
    /// The face comparison result.
    pub face: FaceOutcome,
}

/// How much a finding weighs. Ordered: `Info < Review < Reject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Recorded for the audit trail; does not affect the verdict.
    Info,
    /// An operator has to look at it.
    Review,
    /// The check-in does not count.
    Reject,
}

/// One rule's observation about a check-in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable reason code, `family.reason` (`geofence.outside`).
    pub code: &'static str,
    /// How much it weighs.
    pub severity: Severity,
    /// Message for the person, Bahasa Indonesia.
    pub id: String,
    /// The same message in English.
    pub en: String,
    /// Machine-readable numbers behind the message (distances, limits, ...).
    pub detail: serde_json::Value,
}

impl Finding {
    /// Builds a finding.
    pub fn new(
        code: &'static str,
        severity: Severity,
        id: impl Into<String>,
        en: impl Into<String>,
        detail: serde_json::Value,
    ) -> Finding {
        Finding {
            code,
            severity,
            id: id.into(),
            en: en.into(),
            detail,
        }
    }
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Counts as attendance.
    Accepted,
    /// Counts only once an operator approves it.
    NeedsReview,
    /// Does not count.
    Rejected,
}

impl Verdict {
    /// The verdict a set of findings leads to: the worst severity wins.
    pub fn from_findings(findings: &[Finding]) -> Verdict {
        match findings.iter().map(|f| f.severity).max() {
            Some(Severity::Reject) => Verdict::Rejected,
            Some(Severity::Review) => Verdict::NeedsReview,
            Some(Severity::Info) | None => Verdict::Accepted,
        }
    }

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::NeedsReview => "needs-review",
            Verdict::Rejected => "rejected",
        }
    }
}

/// The verdict with every finding behind it (stored with the record as JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// Worst severity among the findings.
    pub verdict: Verdict,
    /// All findings, in rule order.
    pub findings: Vec<Finding>,
}

impl Outcome {
    /// Builds an outcome from findings.
    pub fn from_findings(findings: Vec<Finding>) -> Outcome {
        Outcome {
            verdict: Verdict::from_findings(&findings),
            findings,
        }
    }

    /// The findings that decided the verdict (those of the worst severity above Info); what the
    /// reply to the tablet should list. Empty when accepted.
    pub fn reasons(&self) -> impl Iterator<Item = &Finding> {
        let worst = self.findings.iter().map(|f| f.severity).max();
        self.findings
            .iter()
            .filter(move |f| f.severity > Severity::Info && Some(f.severity) == worst)
    }

    /// Whether a finding with this code is present.
    pub fn has(&self, code: &str) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
}

/// Runs every rule on a check-in. The verdict is the worst severity found.
pub fn verify(c: &CheckIn, ctx: &Context<'_>) -> Outcome {
    let mut findings = Vec::new();
    findings.extend(person::employee(c, ctx));
    findings.extend(clock::client_skew(c, ctx));
    findings.extend(geo::geofence(c, ctx));
    findings.extend(geo::wfh(c, ctx));
    findings.extend(geo::travel(c, ctx));
    findings.extend(gps::signs(c, ctx));
    findings.extend(net::office_lan(c, ctx));
    findings.extend(qr::office_code(c, ctx));
    findings.extend(photo::freshness(c, ctx));
    findings.extend(person::face(c, ctx));
    Outcome::from_findings(findings)
}

/// Metres for a message: "230 m", or "12,3 km" / "12.3 km" from 10 km on.
pub(crate) fn metres(m: f64, indonesian: bool) -> String {
    if !m.is_finite() {
        return "?".into();
    }
    if m < 10_000.0 {
        format!("{:.0} m", m)
    } else {
        let km = format!("{:.1} km", m / 1000.0);
        if indonesian {
            km.replace('.', ",")
        } else {
            km
        }
    }
}

/// Rounds to 0.1 for `detail` values (keeps stored JSON readable).
pub(crate) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::testkit::Fixture;
    use super::*;

    #[test]
    fn an_honest_regular_check_in_at_the_office_is_accepted() {
        let f = Fixture::kutim();
        let out = verify(&f.checkin(), &f.ctx());
        assert_eq!(out.verdict, Verdict::Accepted, "{:#?}", out.findings);
        assert!(out.has("geofence.inside"));
        assert!(out.has("qr.valid"));
        assert!(out.has("face.not-performed"));
        assert_eq!(out.reasons().count(), 0);
    }

    #[test]
    fn the_worst_finding_decides_and_is_listed_as_the_reason() {
        let f = Fixture::kutim();
        let mut c = f.checkin();
        c.qr = None; // review
        if let Some(l) = c.location.as_mut() {
            l.mock = true; // reject
        }
        let out = verify(&c, &f.ctx());
        assert_eq!(out.verdict, Verdict::Rejected);
        let reasons: Vec<_> = out.reasons().map(|f| f.code).collect();
        assert_eq!(reasons, ["gps.mock"]);
        assert!(out.has("qr.missing"));
    }

    #[test]
    fn an_unknown_employee_goes_to_review() {
        let f = Fixture::kutim();
        let mut ctx = f.ctx();
        ctx.employee_known = false;
        let out = verify(&f.checkin(), &ctx);
        assert_eq!(out.verdict, Verdict::NeedsReview);
        assert!(out.has("employee.unknown"));
    }

    #[test]
    fn the_outcome_serializes_with_kebab_case_names() {
        let f = Fixture::kutim();
        let out = verify(&f.checkin(), &f.ctx());
        let json = serde_json::to_value(&out).unwrap_or_default();
        assert_eq!(json["verdict"], "accepted");
        assert_eq!(json["findings"][0]["severity"], "info");
        let mode = serde_json::to_value(Mode::DinasLuar).unwrap_or_default();
        assert_eq!(mode, "dinas-luar");
        let v = serde_json::to_value(Verdict::NeedsReview).unwrap_or_default();
        assert_eq!(v, "needs-review");
    }

    #[test]
    fn a_check_in_round_trips_through_json() {
        let f = Fixture::kutim();
        let c = f.checkin();
        let text = serde_json::to_string(&c).unwrap_or_default();
        let back: CheckIn = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, c);
    }

    #[test]
    fn every_finding_has_both_languages_and_a_dotted_code() {
        let f = Fixture::kutim();
        let mut c = f.checkin();
        c.qr = Some("H1-1-00000000".into());
        c.client_ip = Some("10.9.9.9".parse().expect("ip"));
        let out = verify(&c, &f.ctx());
        for x in &out.findings {
            assert!(x.code.contains('.'), "{}", x.code);
            assert!(!x.id.is_empty() && !x.en.is_empty(), "{}", x.code);
            assert_ne!(x.id, x.en, "{} is not translated", x.code);
        }
    }

    #[test]
    fn distances_are_written_in_metres_then_kilometres_with_a_decimal_comma() {
        assert_eq!(metres(229.6, true), "230 m");
        assert_eq!(metres(12_345.0, true), "12,3 km");
        assert_eq!(metres(12_345.0, false), "12.3 km");
    }
}
