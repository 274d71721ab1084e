//! The rotating office QR code: proof that the person stood in front of the office screen within
//! the last step or two.
//!
//! A code is `H1-<step>-<digits>`: `H1` names the scheme (version 1), `<step>` is the decimal
//! step counter `floor(unix_seconds / step_s)`, and `<digits>` are 8 decimal digits of
//! HMAC-SHA256(secret, step as u64 big-endian), truncated as in RFC 4226 §5.3 (the TOTP of
//! RFC 6238 with SHA-256). For example `H1-58945127-04718254`. The display page renders the
//! string as a QR code and refreshes it at [`next_change`]; the tablet sends the scanned string
//! back unchanged. Carrying the step lets the gateway tell an old genuine code (expired) from a
//! made-up one (forged) without trying every step of the day.

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde_json::json;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{CheckIn, Context, Finding, Mode, Severity};

/// The scheme tag at the start of every code.
pub const SCHEME: &str = "H1";

/// Longest string [`check`] looks at; anything longer is forged.
pub const MAX_TOKEN_LEN: usize = 64;

/// The result of checking a scanned code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrResult {
    /// A genuine code of the current or the previous step.
    Valid,
    /// A genuine code of an older step within the last day (a photo of the screen, or a
    /// check-in that waited too long on the tablet).
    Expired,
    /// Not a code this office issued in the last day (wrong format, wrong digits, from the
    /// future or older than a day).
    Forged,
    /// No code was sent.
    Missing,
}

/// The step counter at `t`: `floor(unix_seconds / step_s)`; 0 before 1970. A `step_s` of 0 is
/// treated as 1 (config validation keeps it within 10–600).
pub fn step_at(step_s: u32, t: Timestamp) -> u64 {
    let s = i64::from(step_s.max(1));
    u64::try_from(t.as_second().div_euclid(s)).unwrap_or(0)
}

/// When the code shown at `t` is replaced by the next one.
pub fn next_change(step_s: u32, t: Timestamp) -> Timestamp {
    let s = u64::from(step_s.max(1));
    let next = (step_at(step_s, t) + 1).saturating_mul(s);
    i64::try_from(next)
        .ok()
        .and_then(|secs| Timestamp::from_second(secs).ok())
        .unwrap_or(Timestamp::MAX)
}

/// The 8 digits for one step: HMAC-SHA256(secret, step BE) with RFC 4226 dynamic truncation.
pub fn digits(secret: &[u8], step: u64) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts any key");
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = usize::from(h[h.len() - 1] & 0x0f);
    let bin = u32::from_be_bytes([h[off] & 0x7f, h[off + 1], h[off + 2], h[off + 3]]);
    format!("{:08}", bin % 100_000_000)
}

/// The code for one step: `H1-<step>-<digits>`.
pub fn code_for_step(secret: &[u8], step: u64) -> String {
    format!("{SCHEME}-{step}-{}", digits(secret, step))
}

/// The code the office screen shows at `t`.
pub fn code_at(secret: &[u8], step_s: u32, t: Timestamp) -> String {
    code_for_step(secret, step_at(step_s, t))
}

/// Checks a scanned code at `now` (the gateway's receive time). The current and the previous
/// step are valid; a genuine older code from the last 24 hours is expired; anything else is
/// forged. The digits are compared in constant time.
pub fn check(secret: &[u8], step_s: u32, token: Option<&str>, now: Timestamp) -> QrResult {
    examine(secret, step_s, token, now).0
}

/// [`check`], plus how many steps old a genuine code is.
fn examine(secret: &[u8], step_s: u32, token: Option<&str>, now: Timestamp) -> (QrResult, u64) {
    let token = token.map(str::trim).unwrap_or("");
    if token.is_empty() {
        return (QrResult::Missing, 0);
    }
    if token.len() > MAX_TOKEN_LEN {
        return (QrResult::Forged, 0);
    }
    let mut parts = token.split('-');
    let (Some(scheme), Some(step), Some(given), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return (QrResult::Forged, 0);
    };
    let well_formed = scheme == SCHEME
        && !step.is_empty()
        && step.len() <= 20
        && step.bytes().all(|b| b.is_ascii_digit())
        && given.len() == 8
        && given.bytes().all(|b| b.is_ascii_digit());
    let step = match step.parse::<u64>() {
        Ok(s) if well_formed => s,
        _ => return (QrResult::Forged, 0),
    };
    let now_step = step_at(step_s, now);
    let per_day = (86_400 / u64::from(step_s.max(1))).max(2);
    let Some(age) = now_step.checked_sub(step).filter(|a| *a <= per_day) else {
        return (QrResult::Forged, 0);
    };
    let expected = digits(secret, step);
    if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return (QrResult::Forged, age);
    }
    if age <= 1 {
        (QrResult::Valid, age)
    } else {
        (QrResult::Expired, age)
    }
}

/// Regular mode only (the code is shown in the office): the scanned code at `received`.
///
/// - valid → `qr.valid` (Info)
/// - missing → `qr.missing` (Review: a camera or scanning problem is likely; the other rules
///   still apply)
/// - expired → `qr.expired` (Review: a check-in that waited on a tablet without network, or a
///   photo of the screen passed on; a human decides)
/// - forged → `qr.forged` (Reject)
/// - no office secret → `qr.not-configured` (Review)
///
/// WFH and travel check-ins are not expected to carry the office code: no findings.
pub fn office_code(c: &CheckIn, ctx: &Context<'_>) -> Vec<Finding> {
    if c.mode != Mode::Regular {
        return Vec::new();
    }
    if ctx.qr_secret.is_empty() {
        return vec![Finding::new(
            "qr.not-configured",
            Severity::Review,
            "Kode QR kantor belum diatur di gateway",
            "The office QR code is not set up on the gateway",
            json!({}),
        )];
    }
    let step_s = ctx.policy.qr_step_s;
    let (result, age) = examine(ctx.qr_secret, step_s, c.qr.as_deref(), c.received);
    let detail = json!({ "step_s": step_s, "age_steps": age });
    let f = match result {
        QrResult::Valid => Finding::new(
            "qr.valid",
            Severity::Info,
            "Kode QR kantor sah",
            "Office QR code is valid",
            detail,
        ),
        QrResult::Missing => Finding::new(
            "qr.missing",
            Severity::Review,
            "Kode QR kantor tidak dipindai; pindai kode QR di layar kantor",
            "The office QR code was not scanned; scan the code on the office screen",
            detail,
        ),
        QrResult::Expired => Finding::new(
            "qr.expired",
            Severity::Review,
            "Kode QR kantor sudah kedaluwarsa; pindai kode yang sedang tampil di layar",
            "The office QR code has expired; scan the code now on the screen",
            detail,
        ),
        QrResult::Forged => Finding::new(
            "qr.forged",
            Severity::Reject,
            "Kode QR tidak sah (bukan dari layar kantor ini)",
            "The QR code is not valid (not from this office's screen)",
            detail,
        ),
    };
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{codes, Fixture};
    use super::*;

    const SECRET: &[u8] = b"kutim-office-qr-secret-0123456789";

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn plus(t: Timestamp, secs: i64) -> Timestamp {
        t.checked_add(jiff::SignedDuration::from_secs(secs))
            .expect("in range")
    }

    /// 07:29:00 WITA, a step boundary for 30-second steps.
    fn boundary() -> Timestamp {
        t("2026-11-23T07:29:00+08:00")
    }

    #[test]
    fn digits_match_the_rfc_6238_sha256_test_vectors() {
        let key = b"12345678901234567890123456789012";
        for (unix, want) in [
            (59, "46119246"),
            (1_111_111_109, "68084774"),
            (1_111_111_111, "67062674"),
            (1_234_567_890, "91819424"),
            (2_000_000_000, "90698825"),
            (20_000_000_000, "77737706"),
        ] {
            let at = Timestamp::from_second(unix).expect("in range");
            let code = code_at(key, 30, at);
            assert_eq!(code, format!("H1-{}-{want}", unix / 30), "at {unix}");
        }
    }

    #[test]
    fn a_code_is_valid_for_its_own_step_and_the_next() {
        let t0 = boundary();
        let code = code_at(SECRET, 30, t0);
        assert!(code.starts_with("H1-"), "{code}");
        for secs in [0, 29, 30, 59] {
            assert_eq!(
                check(SECRET, 30, Some(&code), plus(t0, secs)),
                QrResult::Valid,
                "{secs}s after"
            );
        }
    }

    #[test]
    fn a_code_two_steps_old_is_expired() {
        let t0 = boundary();
        let code = code_at(SECRET, 30, t0);
        assert_eq!(
            check(SECRET, 30, Some(&code), plus(t0, 60)),
            QrResult::Expired
        );
        assert_eq!(
            check(SECRET, 30, Some(&code), plus(t0, 6 * 3600)),
            QrResult::Expired
        );
    }

    #[test]
    fn a_code_older_than_a_day_is_forged() {
        let t0 = boundary();
        let code = code_at(SECRET, 30, t0);
        assert_eq!(
            check(SECRET, 30, Some(&code), plus(t0, 86_400 + 60)),
            QrResult::Forged
        );
    }

    #[test]
    fn a_code_from_the_future_is_forged() {
        let t0 = boundary();
        let code = code_at(SECRET, 30, t0);
        assert_eq!(
            check(SECRET, 30, Some(&code), plus(t0, -1)),
            QrResult::Forged
        );
    }

    #[test]
    fn changed_digits_a_changed_step_or_another_office_secret_are_forged() {
        let t0 = boundary();
        let code = code_at(SECRET, 30, t0);
        let (head, last) = code.split_at(code.len() - 1);
        let flipped = if last == "0" { "1" } else { "0" };
        let step = step_at(30, t0);
        let other_step = format!("H1-{}-{}", step - 1, &code[code.len() - 8..]);
        for bad in [
            format!("{head}{flipped}"),
            other_step,
            code_at(b"another-office-secret", 30, t0),
        ] {
            assert_eq!(check(SECRET, 30, Some(&bad), t0), QrResult::Forged, "{bad}");
        }
    }

    #[test]
    fn malformed_strings_are_forged_and_nothing_is_missing() {
        let t0 = boundary();
        let code = code_at(SECRET, 30, t0);
        let long = "9".repeat(200);
        for bad in [
            "hello",
            "H1--12345678",
            "H2-1-12345678",
            "h1-1-12345678",
            "H1-+5-12345678",
            "H1-5-1234567",
            "H1-5-123456789",
            "H1-5-1234567a",
            "H1-99999999999999999999999-12345678",
            long.as_str(),
            &format!("{code}-extra"),
            "https://example.invalid/?q=H1-1-12345678",
        ] {
            assert_eq!(check(SECRET, 30, Some(bad), t0), QrResult::Forged, "{bad}");
        }
        assert_eq!(check(SECRET, 30, None, t0), QrResult::Missing);
        assert_eq!(check(SECRET, 30, Some(""), t0), QrResult::Missing);
        assert_eq!(check(SECRET, 30, Some("  \n"), t0), QrResult::Missing);
    }

    #[test]
    fn surrounding_whitespace_from_a_scanner_is_tolerated() {
        let t0 = boundary();
        let code = format!(" {}\n", code_at(SECRET, 30, t0));
        assert_eq!(check(SECRET, 30, Some(&code), t0), QrResult::Valid);
    }

    #[test]
    fn the_screen_knows_when_to_show_the_next_code() {
        let t0 = boundary();
        assert_eq!(next_change(30, plus(t0, 7)), plus(t0, 30));
        assert_eq!(next_change(30, t0), plus(t0, 30));
        assert_eq!(step_at(0, t0), step_at(1, t0));
    }

    #[test]
    fn check_in_findings_follow_the_qr_result() {
        let f = Fixture::kutim();
        let ctx = f.ctx();
        let mut c = f.checkin();
        assert_eq!(codes(&office_code(&c, &ctx)), ["qr.valid"]);
        c.qr = Some(code_at(&f.secret, 30, plus(c.received, -120)));
        let out = office_code(&c, &ctx);
        assert_eq!(codes(&out), ["qr.expired"]);
        assert_eq!(out[0].severity, Severity::Review);
        assert_eq!(out[0].detail["age_steps"], 4);
        c.qr = Some("H1-1-12345678".into());
        let out = office_code(&c, &ctx);
        assert_eq!(codes(&out), ["qr.forged"]);
        assert_eq!(out[0].severity, Severity::Reject);
        c.qr = None;
        let out = office_code(&c, &ctx);
        assert_eq!(codes(&out), ["qr.missing"]);
        assert_eq!(out[0].severity, Severity::Review);
        c.mode = Mode::Wfh;
        assert!(office_code(&c, &ctx).is_empty());
    }

    #[test]
    fn an_office_without_a_qr_secret_goes_to_review() {
        let f = Fixture::kutim();
        let mut ctx = f.ctx();
        ctx.qr_secret = b"";
        assert_eq!(
            codes(&office_code(&f.checkin(), &ctx)),
            ["qr.not-configured"]
        );
    }
}
