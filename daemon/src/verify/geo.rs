//! Where the person is, by working mode: the office geofence (regular), the registered home
//! (WFH) and the travel order (dinas luar).

use hadir_config::Site;
use serde_json::json;

use super::{metres, round1, CheckIn, Context, Finding, Location, Mode, Severity};

/// Mean Earth radius (IUGG), metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance between two WGS84 points, metres (haversine; error well under 0.5 %,
/// i.e. under 1 m at geofence distances).
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().clamp(0.0, 1.0).asin()
}

/// The site whose geofence edge is nearest to a point (for equal radii, simply the nearest site),
/// with the distance to its centre in metres. Sites with unusable coordinates are skipped.
pub fn nearest_site(sites: &[Site], lat: f64, lon: f64) -> Option<(&Site, f64)> {
    sites
        .iter()
        .filter(|s| s.latitude.is_finite() && s.longitude.is_finite() && s.radius_m >= 0.0)
        .map(|s| (s, haversine_m(lat, lon, s.latitude, s.longitude)))
        .min_by(|a, b| (a.1 - a.0.radius_m).total_cmp(&(b.1 - b.0.radius_m)))
}

/// Where a point lies relative to a circle, given the fix's reported accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// distance ≤ radius.
    Inside,
    /// Outside, but within the reported accuracy of the edge: distance − accuracy ≤ radius.
    Borderline,
    /// distance − accuracy > radius.
    Outside,
}

/// Classifies a distance against a radius. An unusable accuracy (negative, NaN) counts as 0; the
/// GPS rules report it separately.
pub fn fit(distance_m: f64, radius_m: f64, accuracy_m: f64) -> Fit {
    let acc = if accuracy_m.is_finite() && accuracy_m > 0.0 {
        accuracy_m
    } else {
        0.0
    };
    if distance_m <= radius_m {
        Fit::Inside
    } else if distance_m - acc <= radius_m {
        Fit::Borderline
    } else {
        Fit::Outside
    }
}

/// Whether a fix has coordinates the distance rules can use (finite, within range). Unusable
/// fixes are reported by [`super::gps::signs`] as `gps.invalid`.
pub fn usable(l: &Location) -> bool {
    l.lat.is_finite() && l.lon.is_finite() && l.lat.abs() <= 90.0 && l.lon.abs() <= 180.0
}

fn location_missing(severity: Severity, mode: Mode) -> Finding {
    Finding::new(
        "location.missing",
        severity,
        "Lokasi tidak terkirim; nyalakan GPS dan izinkan akses lokasi",
        "No location was sent; turn on GPS and allow location access",
        json!({ "mode": mode.as_str() }),
    )
}

/// Regular mode: the office geofence around the nearest site.
///
/// - inside (distance ≤ radius) → `geofence.inside` (Info)
/// - outside but distance − accuracy ≤ radius → `geofence.borderline` (Review)
/// - farther → `geofence.outside` (Reject)
/// - no site configured → `geofence.no-sites` (Review)
/// - no location → `location.missing` (Reject)
///
/// Other modes: no findings.
pub fn geofence(c: &CheckIn, ctx: &Context<'_>) -> Vec<Finding> {
    if c.mode != Mode::Regular {
        return Vec::new();
    }
    let Some(loc) = &c.location else {
        return vec![location_missing(Severity::Reject, c.mode)];
    };
    if !usable(loc) {
        return Vec::new();
    }
    let Some((site, d)) = nearest_site(ctx.sites, loc.lat, loc.lon) else {
        return vec![Finding::new(
            "geofence.no-sites",
            Severity::Review,
            "Lokasi kantor belum diatur di gateway",
            "No office location is configured on the gateway",
            json!({}),
        )];
    };
    let detail = json!({
        "site": site.name,
        "distance_m": round1(d),
        "radius_m": site.radius_m,
        "accuracy_m": loc.accuracy_m,
    });
    let (r, a) = (site.radius_m, loc.accuracy_m);
    let name = if site.name.is_empty() {
        "kantor"
    } else {
        &site.name
    };
    let en_name = if site.name.is_empty() {
        "the office"
    } else {
        &site.name
    };
    let f = match fit(d, r, a) {
        Fit::Inside => Finding::new(
            "geofence.inside",
            Severity::Info,
            format!("Di area {name} (jarak {})", metres(d, true)),
            format!("Inside {en_name} ({} away)", metres(d, false)),
            detail,
        ),
        Fit::Borderline => Finding::new(
            "geofence.borderline",
            Severity::Review,
            format!(
                "Di tepi area {name} (jarak {}, akurasi GPS ±{}, batas {})",
                metres(d, true),
                metres(a, true),
                metres(r, true)
            ),
            format!(
                "At the edge of {en_name} ({} away, GPS accuracy ±{}, limit {})",
                metres(d, false),
                metres(a, false),
                metres(r, false)
            ),
            detail,
        ),
        Fit::Outside => Finding::new(
            "geofence.outside",
            Severity::Reject,
            format!(
                "Di luar area kantor (jarak {} dari {name}, batas {})",
                metres(d, true),
                metres(r, true)
            ),
            format!(
                "Outside the office area ({} from {en_name}, limit {})",
                metres(d, false),
                metres(r, false)
            ),
            detail,
        ),
    };
    vec![f]
}

/// WFH mode: the fix against the employee's registered home (`home_radius_m`), with the same
/// accuracy allowance as the geofence.
///
/// - at home → `wfh.home` (Info); within accuracy of the edge → `wfh.borderline` (Review)
/// - farther → `wfh.far-from-home` (Reject: WFH counts only at the registered home, exactly as a
///   regular check-in counts only at the office. A stale home registration is fixed by the
///   operator, and the stored raw check-in can then be verified again.)
/// - no home registered → `wfh.no-home` (Review)
/// - no location → `location.missing` (Reject)
///
/// Other modes: no findings.
pub fn wfh(c: &CheckIn, ctx: &Context<'_>) -> Vec<Finding> {
    if c.mode != Mode::Wfh {
        return Vec::new();
    }
    let Some(loc) = &c.location else {
        return vec![location_missing(Severity::Reject, c.mode)];
    };
    let Some((hlat, hlon)) = ctx.home.filter(|(a, b)| a.is_finite() && b.is_finite()) else {
        return vec![Finding::new(
            "wfh.no-home",
            Severity::Review,
            "Lokasi rumah untuk WFH belum terdaftar; hubungi operator",
            "No home location is registered for WFH; contact the operator",
            json!({}),
        )];
    };
    if !usable(loc) {
        return Vec::new();
    }
    let d = haversine_m(loc.lat, loc.lon, hlat, hlon);
    let (r, a) = (ctx.home_radius_m, loc.accuracy_m);
    let detail = json!({
        "distance_m": round1(d),
        "radius_m": r,
        "accuracy_m": a,
    });
    let f = match fit(d, r, a) {
        Fit::Inside => Finding::new(
            "wfh.home",
            Severity::Info,
            format!("Di rumah terdaftar (jarak {})", metres(d, true)),
            format!("At the registered home ({} away)", metres(d, false)),
            detail,
        ),
        Fit::Borderline => Finding::new(
            "wfh.borderline",
            Severity::Review,
            format!(
                "Di tepi area rumah terdaftar (jarak {}, akurasi GPS ±{}, batas {})",
                metres(d, true),
                metres(a, true),
                metres(r, true)
            ),
            format!(
                "At the edge of the registered home ({} away, GPS accuracy ±{}, limit {})",
                metres(d, false),
                metres(a, false),
                metres(r, false)
            ),
            detail,
        ),
        Fit::Outside => Finding::new(
            "wfh.far-from-home",
            Severity::Reject,
            format!(
                "Jauh dari rumah terdaftar untuk WFH (jarak {}, batas {})",
                metres(d, true),
                metres(r, true)
            ),
            format!(
                "Far from the registered WFH home ({} away, limit {})",
                metres(d, false),
                metres(r, false)
            ),
            detail,
        ),
    };
    vec![f]
}

/// Dinas luar (official travel): accepted away from the office only with an operator-entered
/// travel order (SPT) covering the day. The day is the office-calendar date of `received`; the
/// date of `client_time` is also accepted so a check-in sent just before midnight and received
/// just after still counts (a client clock off by more than `max_clock_skew_s` is rejected by
/// [`super::clock::client_skew`] anyway).
///
/// - covered → `travel.covered` (Info, with the SPT number)
/// - no order → `travel.no-order` (**Review**, not Reject): orders are signed on paper before the
///   trip but often typed into the gateway afterwards, so a missing order usually means late data
///   entry, not absence. Review keeps the check-in out of the accepted count until an operator
///   enters the SPT or decides, without telling an honest traveller they were absent. Nothing is
///   accepted without a human or an order.
/// - no location → `location.missing` (Info): the order, not the place, is what counts; the
///   location is evidence only.
///
/// Other modes: no findings.
pub fn travel(c: &CheckIn, ctx: &Context<'_>) -> Vec<Finding> {
    if c.mode != Mode::DinasLuar {
        return Vec::new();
    }
    let mut out = Vec::new();
    let day = ctx.office_tz.to_datetime(c.received).date();
    let client_day = ctx.office_tz.to_datetime(c.client_time).date();
    let order = ctx
        .travel_orders
        .iter()
        .find(|o| o.from <= day && day <= o.to)
        .or_else(|| {
            ctx.travel_orders
                .iter()
                .find(|o| o.from <= client_day && client_day <= o.to)
        });
    let mut detail = json!({ "date": day.to_string() });
    if let Some(loc) = c.location.as_ref().filter(|l| usable(l)) {
        if let Some((site, d)) = nearest_site(ctx.sites, loc.lat, loc.lon) {
            detail["nearest_site"] = json!(site.name);
            detail["distance_m"] = json!(round1(d));
        }
    }
    match order {
        Some(o) => {
            detail["spt_number"] = json!(o.spt_number);
            out.push(Finding::new(
                "travel.covered",
                Severity::Info,
                format!("Dinas luar sesuai SPT {}", o.spt_number),
                format!("Official travel under order {}", o.spt_number),
                detail,
            ));
        }
        None => out.push(Finding::new(
            "travel.no-order",
            Severity::Review,
            format!("Tidak ada SPT dinas luar untuk tanggal {day}; menunggu pemeriksaan operator"),
            format!("No travel order (SPT) for {day}; waiting for an operator to check"),
            detail,
        )),
    }
    if c.location.is_none() {
        out.push(location_missing(Severity::Info, c.mode));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{codes, received_at, Fixture, BUPATI, GEDUNG_B, HOME};
    use super::*;

    fn at(f: &Fixture, lat: f64, lon: f64, accuracy_m: f64) -> CheckIn {
        let mut c = f.checkin();
        if let Some(l) = c.location.as_mut() {
            l.lat = lat;
            l.lon = lon;
            l.accuracy_m = accuracy_m;
        }
        c
    }

    /// A point `m` metres due north of (lat, lon).
    fn north(p: (f64, f64), m: f64) -> (f64, f64) {
        (p.0 + (m / EARTH_RADIUS_M).to_degrees(), p.1)
    }

    #[test]
    fn haversine_matches_known_distances_between_indonesian_cities() {
        // Monas, Jakarta → Kantor Gubernur Papua, Jayapura: about 3,780 km.
        let d = haversine_m(-6.175_392, 106.827_153, -2.533_100, 140.717_700);
        assert!((3_750_000.0..3_810_000.0).contains(&d), "{d}");
        // One thousandth of a degree of latitude is about 111 m.
        let d = haversine_m(0.543, 117.626, 0.544, 117.626);
        assert!((d - 111.2).abs() < 0.5, "{d}");
        assert_eq!(haversine_m(1.0, 2.0, 1.0, 2.0), 0.0);
    }

    #[test]
    fn a_check_in_fifteen_metres_from_the_bupati_office_is_inside() {
        let f = Fixture::kutim();
        let out = geofence(&f.checkin(), &f.ctx());
        assert_eq!(codes(&out), ["geofence.inside"]);
        assert_eq!(out[0].severity, Severity::Info);
        assert_eq!(out[0].detail["site"], "Kantor Bupati");
    }

    #[test]
    fn the_nearest_of_several_sites_is_used() {
        let f = Fixture::kutim();
        let p = north(GEDUNG_B, 60.0);
        let out = geofence(&at(&f, p.0, p.1, 10.0), &f.ctx());
        assert_eq!(codes(&out), ["geofence.inside"]);
        assert_eq!(out[0].detail["site"], "Gedung B");
    }

    #[test]
    fn just_outside_but_within_the_reported_accuracy_is_borderline() {
        let f = Fixture::kutim();
        let p = north(BUPATI, 65.0);
        let out = geofence(&at(&f, p.0, p.1, 20.0), &f.ctx());
        assert_eq!(codes(&out), ["geofence.borderline"]);
        assert_eq!(out[0].severity, Severity::Review);
        assert!(out[0].id.contains("batas 50 m"), "{}", out[0].id);
    }

    #[test]
    fn two_hundred_thirty_metres_away_is_rejected_with_the_distance_in_the_message() {
        let f = Fixture::kutim();
        let p = north(BUPATI, -230.0);
        let out = geofence(&at(&f, p.0, p.1, 10.0), &f.ctx());
        assert_eq!(codes(&out), ["geofence.outside"]);
        assert_eq!(out[0].severity, Severity::Reject);
        assert_eq!(
            out[0].id,
            "Di luar area kantor (jarak 230 m dari Kantor Bupati, batas 50 m)"
        );
        assert_eq!(
            out[0].en,
            "Outside the office area (230 m from Kantor Bupati, limit 50 m)"
        );
    }

    #[test]
    fn a_check_in_from_jakarta_is_far_outside_a_kalimantan_office() {
        let f = Fixture::kutim();
        let out = geofence(&at(&f, -6.175_392, 106.827_153, 5.0), &f.ctx());
        assert_eq!(codes(&out), ["geofence.outside"]);
        assert!(out[0].id.contains(" km"), "{}", out[0].id);
    }

    #[test]
    fn no_configured_site_sends_a_regular_check_in_to_review() {
        let mut f = Fixture::kutim();
        f.sites.clear();
        let out = geofence(&f.checkin(), &f.ctx());
        assert_eq!(codes(&out), ["geofence.no-sites"]);
        assert_eq!(out[0].severity, Severity::Review);
    }

    #[test]
    fn a_regular_check_in_without_location_is_rejected() {
        let f = Fixture::kutim();
        let mut c = f.checkin();
        c.location = None;
        let out = geofence(&c, &f.ctx());
        assert_eq!(codes(&out), ["location.missing"]);
        assert_eq!(out[0].severity, Severity::Reject);
    }

    #[test]
    fn the_geofence_does_not_apply_to_wfh_or_travel() {
        let f = Fixture::kutim();
        for mode in [Mode::Wfh, Mode::DinasLuar] {
            let mut c = f.checkin();
            c.mode = mode;
            assert!(geofence(&c, &f.ctx()).is_empty());
        }
    }

    fn wfh_at(f: &Fixture, p: (f64, f64), acc: f64) -> CheckIn {
        let mut c = at(f, p.0, p.1, acc);
        c.mode = Mode::Wfh;
        c
    }

    #[test]
    fn wfh_at_the_registered_home_is_accepted() {
        let f = Fixture::kutim();
        let out = wfh(&wfh_at(&f, north(HOME, 30.0), 15.0), &f.ctx());
        assert_eq!(codes(&out), ["wfh.home"]);
        assert_eq!(out[0].severity, Severity::Info);
    }

    #[test]
    fn wfh_from_the_office_is_far_from_home_and_rejected() {
        let f = Fixture::kutim();
        let out = wfh(&wfh_at(&f, BUPATI, 10.0), &f.ctx());
        assert_eq!(codes(&out), ["wfh.far-from-home"]);
        assert_eq!(out[0].severity, Severity::Reject);
    }

    #[test]
    fn wfh_just_past_the_home_radius_within_accuracy_is_borderline() {
        let f = Fixture::kutim();
        let out = wfh(&wfh_at(&f, north(HOME, 120.0), 30.0), &f.ctx());
        assert_eq!(codes(&out), ["wfh.borderline"]);
    }

    #[test]
    fn wfh_without_a_registered_home_goes_to_review() {
        let f = Fixture::kutim();
        let mut ctx = f.ctx();
        ctx.home = None;
        let out = wfh(&wfh_at(&f, HOME, 10.0), &ctx);
        assert_eq!(codes(&out), ["wfh.no-home"]);
        assert_eq!(out[0].severity, Severity::Review);
    }

    #[test]
    fn wfh_without_location_is_rejected() {
        let f = Fixture::kutim();
        let mut c = wfh_at(&f, HOME, 10.0);
        c.location = None;
        let out = wfh(&c, &f.ctx());
        assert_eq!(codes(&out), ["location.missing"]);
        assert_eq!(out[0].severity, Severity::Reject);
    }

    fn travelling(f: &Fixture, received: &str) -> CheckIn {
        // Balikpapan, far from the office.
        let mut c = at(f, -1.265_386, 116.831_200, 8.0);
        c.mode = Mode::DinasLuar;
        c.received = received_at(received);
        c.client_time = c.received;
        c
    }

    #[test]
    fn travel_on_a_day_covered_by_an_order_is_accepted_with_its_number() {
        let f = Fixture::kutim();
        let out = travel(&travelling(&f, "2026-11-25T08:00:00+08:00"), &f.ctx());
        assert_eq!(codes(&out), ["travel.covered"]);
        assert!(out[0].id.contains("094/123/SPT"), "{}", out[0].id);
        assert_eq!(out[0].detail["nearest_site"], "Kantor Bupati");
    }

    #[test]
    fn travel_on_the_last_day_of_the_order_in_office_time_is_covered() {
        let f = Fixture::kutim();
        // 23:30 WITA on the 26th is 15:30 UTC; the office date is what counts.
        let out = travel(&travelling(&f, "2026-11-26T15:30:00Z"), &f.ctx());
        assert_eq!(codes(&out), ["travel.covered"]);
        // 00:30 WITA on the 27th is 16:30 UTC on the 26th: not covered.
        let out = travel(&travelling(&f, "2026-11-26T16:30:00Z"), &f.ctx());
        assert_eq!(codes(&out), ["travel.no-order"]);
    }

    #[test]
    fn travel_without_an_order_goes_to_review() {
        let f = Fixture::kutim();
        let out = travel(&travelling(&f, "2026-11-23T08:00:00+08:00"), &f.ctx());
        assert_eq!(codes(&out), ["travel.no-order"]);
        assert_eq!(out[0].severity, Severity::Review);
        assert!(out[0].id.contains("2026-11-23"), "{}", out[0].id);
    }

    #[test]
    fn travel_without_location_still_counts_on_the_order() {
        let f = Fixture::kutim();
        let mut c = travelling(&f, "2026-11-24T08:00:00+08:00");
        c.location = None;
        let out = travel(&c, &f.ctx());
        assert_eq!(codes(&out), ["travel.covered", "location.missing"]);
        assert_eq!(out[1].severity, Severity::Info);
    }
}
