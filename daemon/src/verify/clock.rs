//! The client's clock against the gateway's: a check-in dated far from when it arrived was
//! either held back and replayed or sent from a phone with a doctored clock.

use serde_json::json;

use super::gps::{duration_en, duration_id};
use super::{CheckIn, Context, Finding, Severity};

/// `time.client-skew` (Reject) when |`client_time` − `received`| exceeds
/// `verification.max_clock_skew_s`; no finding otherwise.
pub fn client_skew(c: &CheckIn, ctx: &Context<'_>) -> Vec<Finding> {
    let ms = c.client_time.as_millisecond() - c.received.as_millisecond();
    let secs = ms / 1000;
    let max = ctx.policy.max_clock_skew_s;
    if secs.unsigned_abs() <= max {
        return Vec::new();
    }
    let abs = secs.unsigned_abs() as f64;
    let (id_dir, en_dir) = if secs < 0 {
        ("terlambat", "behind")
    } else {
        ("lebih cepat", "ahead")
    };
    vec![Finding::new(
        "time.client-skew",
        Severity::Reject,
        format!(
            "Jam perangkat {id_dir} {} dari jam server (batas {}); atur jam otomatis lalu ulangi",
            duration_id(abs),
            duration_id(max as f64)
        ),
        format!(
            "The device clock is {} {en_dir} of the server (limit {}); set automatic time and retry",
            duration_en(abs),
            duration_en(max as f64)
        ),
        json!({
            "client_time": c.client_time.to_string(),
            "received": c.received.to_string(),
            "skew_s": secs,
            "max_clock_skew_s": max,
        }),
    )]
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{codes, ts_minus, Fixture};
    use super::*;

    #[test]
    fn a_few_seconds_of_skew_is_fine() {
        let f = Fixture::kutim();
        assert!(client_skew(&f.checkin(), &f.ctx()).is_empty());
    }

    #[test]
    fn exactly_the_limit_is_still_fine() {
        let f = Fixture::kutim();
        let mut c = f.checkin();
        c.client_time = ts_minus(c.received, 300);
        assert!(client_skew(&c, &f.ctx()).is_empty());
    }

    #[test]
    fn a_check_in_dated_seven_minutes_before_it_arrived_is_rejected() {
        let f = Fixture::kutim();
        let mut c = f.checkin();
        c.client_time = ts_minus(c.received, 7 * 60);
        let out = client_skew(&c, &f.ctx());
        assert_eq!(codes(&out), ["time.client-skew"]);
        assert_eq!(out[0].severity, Severity::Reject);
        assert_eq!(
            out[0].id,
            "Jam perangkat terlambat 7 menit dari jam server (batas 5 menit); atur jam otomatis lalu ulangi"
        );
        assert_eq!(out[0].detail["skew_s"], -420);
    }

    #[test]
    fn a_phone_clock_set_an_hour_ahead_is_rejected() {
        let f = Fixture::kutim();
        let mut c = f.checkin();
        c.client_time = ts_minus(c.received, -3600);
        let out = client_skew(&c, &f.ctx());
        assert_eq!(codes(&out), ["time.client-skew"]);
        assert!(out[0].en.contains("60 min ahead"), "{}", out[0].en);
    }
}
