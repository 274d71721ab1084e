//! Fake-GPS signs visible from the gateway. The client's own mock flag can be hidden on rooted
//! phones, so the fix itself is examined too: accuracy that is too perfect or too poor, round or
//! (0,0) coordinates, the same coordinates on different days, impossible speed since the
//! previous fix, and a fix time far from the gateway's clock.

use serde_json::json;

use super::geo::{haversine_m, usable};
use super::{metres, round1, CheckIn, Context, Finding, Severity};

/// Extra distance allowed between two fixes for the unknown accuracy of the previous one, metres.
pub const PREVIOUS_FIX_SLACK_M: f64 = 100.0;

/// Whether a coordinate has at most three decimals (…, 0.543, 117.626): typed in or produced by
/// a fake-GPS app, since a real fix has five or more. Random real coordinates pass this for both
/// axes about once in 10¹¹ fixes.
pub fn at_most_three_decimals(x: f64) -> bool {
    let s = x * 1000.0;
    (s - s.round()).abs() < 1e-6
}

/// All fake-GPS signs for a check-in with a location (any mode); none without one.
///
/// | code | when | severity |
/// |---|---|---|
/// | `gps.invalid` | coordinates out of range / not numbers, or accuracy negative / not a number | Reject |
/// | `gps.mock` | the client says the fix is mocked | Reject |
/// | `gps.zero` | (0, 0) | Reject |
/// | `gps.round-coordinates` | both coordinates have ≤ 3 decimals | Review |
/// | `gps.accuracy-too-perfect` | accuracy < `min_accuracy_m` | Review |
/// | `gps.accuracy-poor` | accuracy > `max_accuracy_m` | Review |
/// | `gps.repeated-coordinates` | exactly the same lat/lon on another day | Review |
/// | `gps.impossible-speed` | faster than `max_speed_kmh` since the previous fix | Reject |
/// | `gps.stale-fix` | fix time more than `max_clock_skew_s` from `received` | Review |
pub fn signs(c: &CheckIn, ctx: &Context<'_>) -> Vec<Finding> {
    let Some(loc) = &c.location else {
        return Vec::new();
    };
    let p = ctx.policy;
    let mut out = Vec::new();
    let here = json!({ "lat": loc.lat, "lon": loc.lon, "accuracy_m": loc.accuracy_m });

    if loc.mock {
        let mut d = here.clone();
        d["provider"] = json!(loc.provider);
        out.push(Finding::new(
            "gps.mock",
            Severity::Reject,
            "Lokasi palsu terdeteksi (mock location); matikan aplikasi pengubah lokasi",
            "Fake location detected (mock location); turn off location-changing apps",
            d,
        ));
    }

    let accuracy_ok = loc.accuracy_m.is_finite() && loc.accuracy_m >= 0.0;
    if !usable(loc) || !accuracy_ok {
        out.push(Finding::new(
            "gps.invalid",
            Severity::Reject,
            "Data lokasi tidak valid",
            "The location data is not valid",
            json!({
                "lat": loc.lat.to_string(),
                "lon": loc.lon.to_string(),
                "accuracy_m": loc.accuracy_m.to_string(),
            }),
        ));
        return out;
    }

    if loc.lat.abs() < 1e-7 && loc.lon.abs() < 1e-7 {
        out.push(Finding::new(
            "gps.zero",
            Severity::Reject,
            "Lokasi (0, 0) tidak valid; GPS belum mendapat posisi",
            "Location (0, 0) is not valid; GPS has no fix yet",
            here.clone(),
        ));
    } else if at_most_three_decimals(loc.lat) && at_most_three_decimals(loc.lon) {
        out.push(Finding::new(
            "gps.round-coordinates",
            Severity::Review,
            "Koordinat terlalu bulat (3 angka desimal atau kurang), tanda lokasi diketik atau dipalsukan",
            "Coordinates are too round (3 decimals or fewer), a sign of a typed or faked location",
            here.clone(),
        ));
    }

    if loc.accuracy_m < p.min_accuracy_m {
        let mut d = here.clone();
        d["min_accuracy_m"] = json!(p.min_accuracy_m);
        out.push(Finding::new(
            "gps.accuracy-too-perfect",
            Severity::Review,
            format!(
                "Akurasi GPS terlalu sempurna (±{} m), tanda lokasi palsu",
                loc.accuracy_m
            ),
            format!(
                "GPS accuracy is too perfect (±{} m), a sign of a fake location",
                loc.accuracy_m
            ),
            d,
        ));
    } else if loc.accuracy_m > p.max_accuracy_m {
        let mut d = here.clone();
        d["max_accuracy_m"] = json!(p.max_accuracy_m);
        out.push(Finding::new(
            "gps.accuracy-poor",
            Severity::Review,
            format!(
                "Sinyal GPS lemah (akurasi ±{}, batas {}); coba di dekat jendela atau di luar",
                metres(loc.accuracy_m, true),
                metres(p.max_accuracy_m, true)
            ),
            format!(
                "Weak GPS fix (accuracy ±{}, limit {}); try near a window or outside",
                metres(loc.accuracy_m, false),
                metres(p.max_accuracy_m, false)
            ),
            d,
        ));
    }

    if ctx.coords_seen_other_day {
        out.push(Finding::new(
            "gps.repeated-coordinates",
            Severity::Review,
            "Koordinat persis sama dengan absen di hari lain, tanda lokasi palsu",
            "Exactly the same coordinates as a check-in on another day, a sign of a fake location",
            here.clone(),
        ));
    }

    if let Some(prev) = ctx
        .previous_fix
        .filter(|f| f.lat.is_finite() && f.lon.is_finite())
    {
        let moved = haversine_m(prev.lat, prev.lon, loc.lat, loc.lon);
        let beyond_noise = moved - loc.accuracy_m - PREVIOUS_FIX_SLACK_M;
        let secs =
            (c.received.as_millisecond() - prev.at.as_millisecond()).unsigned_abs() as f64 / 1000.0;
        let kmh = beyond_noise / secs.max(1.0) * 3.6;
        if beyond_noise > 0.0 && kmh > p.max_speed_kmh {
            out.push(Finding::new(
                "gps.impossible-speed",
                Severity::Reject,
                format!(
                    "Berpindah {} dalam {} dari absen sebelumnya (≈{:.0} km/jam), tidak mungkin",
                    metres(moved, true),
                    duration_id(secs),
                    kmh
                ),
                format!(
                    "Moved {} in {} since the previous check-in (≈{:.0} km/h), impossible",
                    metres(moved, false),
                    duration_en(secs),
                    kmh
                ),
                json!({
                    "distance_m": round1(moved),
                    "seconds": round1(secs),
                    "speed_kmh": round1(kmh),
                    "max_speed_kmh": p.max_speed_kmh,
                    "previous": { "lat": prev.lat, "lon": prev.lon, "at": prev.at.to_string() },
                }),
            ));
        }
    }

    if let Some(fix) = loc.fix_time {
        let secs = (c.received.as_millisecond() - fix.as_millisecond()) / 1000;
        if secs.unsigned_abs() > p.max_clock_skew_s {
            out.push(Finding::new(
                "gps.stale-fix",
                Severity::Review,
                format!(
                    "Posisi GPS diambil {} {} diterima; perbarui lokasi",
                    duration_id(secs.unsigned_abs() as f64),
                    if secs > 0 { "sebelum" } else { "setelah" }
                ),
                format!(
                    "The GPS fix was taken {} {} it was received; refresh the location",
                    duration_en(secs.unsigned_abs() as f64),
                    if secs > 0 { "before" } else { "after" }
                ),
                json!({
                    "fix_time": fix.to_string(),
                    "received": c.received.to_string(),
                    "skew_s": secs,
                    "max_clock_skew_s": p.max_clock_skew_s,
                }),
            ));
        }
    }
    out
}

/// "45 detik", "7 menit", "3 jam", "2 hari".
pub(crate) fn duration_id(secs: f64) -> String {
    let (n, unit) = split_duration(secs);
    format!("{n} {}", ["detik", "menit", "jam", "hari"][unit])
}

/// "45 s", "7 min", "3 h", "2 days".
pub(crate) fn duration_en(secs: f64) -> String {
    let (n, unit) = split_duration(secs);
    match unit {
        0 => format!("{n} s"),
        1 => format!("{n} min"),
        2 => format!("{n} h"),
        _ if n == 1 => "1 day".into(),
        _ => format!("{n} days"),
    }
}

fn split_duration(secs: f64) -> (u64, usize) {
    let s = if secs.is_finite() && secs > 0.0 {
        secs.round() as u64
    } else {
        0
    };
    if s < 120 {
        (s, 0)
    } else if s < 2 * 3600 {
        (s / 60, 1)
    } else if s < 2 * 86_400 {
        (s / 3600, 2)
    } else {
        (s / 86_400, 3)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{codes, ts_minus, Fixture, BUPATI};
    use super::super::{Location, PreviousFix};
    use super::*;

    fn with(f: &Fixture, edit: impl FnOnce(&mut Location)) -> CheckIn {
        let mut c = f.checkin();
        if let Some(l) = c.location.as_mut() {
            edit(l);
        }
        c
    }

    fn severity_of(out: &[Finding], code: &str) -> Severity {
        out.iter()
            .find(|f| f.code == code)
            .map(|f| f.severity)
            .unwrap_or_else(|| panic!("no {code} in {:?}", codes(out)))
    }

    #[test]
    fn an_honest_fix_shows_no_signs() {
        let f = Fixture::kutim();
        assert!(signs(&f.checkin(), &f.ctx()).is_empty());
    }

    #[test]
    fn no_location_shows_no_signs() {
        let f = Fixture::kutim();
        let mut c = f.checkin();
        c.location = None;
        assert!(signs(&c, &f.ctx()).is_empty());
    }

    #[test]
    fn the_mock_flag_is_rejected() {
        let f = Fixture::kutim();
        let out = signs(&with(&f, |l| l.mock = true), &f.ctx());
        assert_eq!(codes(&out), ["gps.mock"]);
        assert_eq!(out[0].severity, Severity::Reject);
    }

    #[test]
    fn null_island_is_rejected() {
        let f = Fixture::kutim();
        let out = signs(
            &with(&f, |l| {
                l.lat = 0.0;
                l.lon = 0.0
            }),
            &f.ctx(),
        );
        assert_eq!(codes(&out), ["gps.zero"]);
        assert_eq!(out[0].severity, Severity::Reject);
    }

    #[test]
    fn coordinates_with_three_decimals_go_to_review() {
        let f = Fixture::kutim();
        let out = signs(
            &with(&f, |l| {
                l.lat = 0.544;
                l.lon = 117.626
            }),
            &f.ctx(),
        );
        assert_eq!(codes(&out), ["gps.round-coordinates"]);
        assert_eq!(out[0].severity, Severity::Review);
        // Jayapura, typed as -2.5 / 140.7.
        let out = signs(
            &with(&f, |l| {
                l.lat = -2.5;
                l.lon = 140.7
            }),
            &f.ctx(),
        );
        assert_eq!(codes(&out), ["gps.round-coordinates"]);
    }

    #[test]
    fn only_one_round_coordinate_is_not_a_sign() {
        let f = Fixture::kutim();
        let out = signs(&with(&f, |l| l.lat = 0.544), &f.ctx());
        assert!(out.is_empty(), "{:?}", codes(&out));
        assert!(at_most_three_decimals(117.626));
        assert!(!at_most_three_decimals(117.626_214));
    }

    #[test]
    fn accuracy_below_one_metre_is_too_perfect() {
        let f = Fixture::kutim();
        let out = signs(&with(&f, |l| l.accuracy_m = 0.0), &f.ctx());
        assert_eq!(codes(&out), ["gps.accuracy-too-perfect"]);
        assert_eq!(out[0].severity, Severity::Review);
    }

    #[test]
    fn accuracy_worse_than_the_limit_is_poor() {
        let f = Fixture::kutim();
        let out = signs(&with(&f, |l| l.accuracy_m = 350.0), &f.ctx());
        assert_eq!(codes(&out), ["gps.accuracy-poor"]);
        assert_eq!(out[0].severity, Severity::Review);
        assert!(out[0].id.contains("350 m"), "{}", out[0].id);
    }

    #[test]
    fn negative_or_nan_accuracy_and_out_of_range_coordinates_are_invalid() {
        let f = Fixture::kutim();
        for c in [
            with(&f, |l| l.accuracy_m = -1.0),
            with(&f, |l| l.accuracy_m = f64::NAN),
            with(&f, |l| l.lat = 91.0),
            with(&f, |l| l.lon = f64::INFINITY),
        ] {
            let out = signs(&c, &f.ctx());
            assert_eq!(codes(&out), ["gps.invalid"]);
            assert_eq!(out[0].severity, Severity::Reject);
        }
    }

    #[test]
    fn the_same_coordinates_as_on_another_day_go_to_review() {
        let f = Fixture::kutim();
        let mut ctx = f.ctx();
        ctx.coords_seen_other_day = true;
        let out = signs(&f.checkin(), &ctx);
        assert_eq!(
            severity_of(&out, "gps.repeated-coordinates"),
            Severity::Review
        );
    }

    #[test]
    fn jumping_from_jakarta_to_sangatta_in_ten_minutes_is_impossible() {
        let f = Fixture::kutim();
        let c = f.checkin();
        let mut ctx = f.ctx();
        ctx.previous_fix = Some(PreviousFix {
            lat: -6.175_392,
            lon: 106.827_153,
            at: ts_minus(c.received, 600),
        });
        let out = signs(&c, &ctx);
        assert_eq!(severity_of(&out, "gps.impossible-speed"), Severity::Reject);
        assert!(out[0].id.contains("10 menit"), "{}", out[0].id);
    }

    #[test]
    fn driving_from_home_to_the_office_is_a_possible_speed() {
        let f = Fixture::kutim();
        let c = f.checkin();
        let mut ctx = f.ctx();
        // About 7 km in 15 minutes (28 km/h).
        ctx.previous_fix = Some(PreviousFix {
            lat: super::super::testkit::HOME.0,
            lon: super::super::testkit::HOME.1,
            at: ts_minus(c.received, 900),
        });
        assert!(signs(&c, &ctx).is_empty());
    }

    #[test]
    fn gps_jitter_between_two_quick_check_ins_is_not_speed() {
        let f = Fixture::kutim();
        let c = f.checkin();
        let mut ctx = f.ctx();
        // 80 m apart, one second apart: inside accuracy plus slack.
        ctx.previous_fix = Some(PreviousFix {
            lat: BUPATI.0 + 0.0007,
            lon: BUPATI.1,
            at: c.received,
        });
        assert!(signs(&c, &ctx).is_empty());
    }

    #[test]
    fn a_fix_taken_long_before_it_was_received_is_stale() {
        let f = Fixture::kutim();
        let c = f.checkin();
        let old = ts_minus(c.received, 3 * 3600);
        let out = signs(&with(&f, |l| l.fix_time = Some(old)), &f.ctx());
        assert_eq!(codes(&out), ["gps.stale-fix"]);
        assert_eq!(out[0].severity, Severity::Review);
        assert_eq!(
            out[0].id,
            "Posisi GPS diambil 3 jam sebelum diterima; perbarui lokasi"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_id(45.0), "45 detik");
        assert_eq!(duration_id(420.0), "7 menit");
        assert_eq!(duration_en(2.0 * 86_400.0), "2 days");
        assert_eq!(duration_en(f64::NAN), "0 s");
    }
}
