//! Who is checking in: the roster and the face comparison slot.

use serde_json::json;

use super::{CheckIn, Context, FaceOutcome, Finding, Severity};

/// `employee.unknown` (Review) when the NIP is not on the roster: a new employee not yet
/// imported, or a typo; an operator decides.
pub fn employee(c: &CheckIn, ctx: &Context<'_>) -> Vec<Finding> {
    if ctx.employee_known {
        return Vec::new();
    }
    vec![Finding::new(
        "employee.unknown",
        Severity::Review,
        format!("NIP {} belum terdaftar di gateway; hubungi operator", c.nip),
        format!(
            "NIP {} is not registered on the gateway; contact the operator",
            c.nip
        ),
        json!({ "nip": c.nip }),
    )]
}

/// The face check ([`crate::face`]):
///
/// | outcome | code | severity |
/// |---|---|---|
/// | not performed (no models configured) | `face.not-performed` | Info (recorded; never a pass) |
/// | match | `face.match` | Info |
/// | uncertain (just below the threshold) | `face.uncertain` | Review |
/// | below the threshold | `face.mismatch` | Reject |
/// | no face in the selfie | `face.no-face` | Review |
/// | several faces in the selfie | `face.several-faces` | Review |
/// | nothing enrolled for this model | `face.not-enrolled` | Review |
/// | every worker busy | `face.busy` | Review |
/// | the engine failed | `face.error` | Review |
pub fn face(_c: &CheckIn, ctx: &Context<'_>) -> Vec<Finding> {
    let round = |x: f32| (f64::from(x) * 1000.0).round() / 1000.0;
    let f = match ctx.face {
        FaceOutcome::NotPerformed => Finding::new(
            "face.not-performed",
            Severity::Info,
            "Pencocokan wajah tidak dilakukan",
            "Face check not performed",
            json!({}),
        ),
        FaceOutcome::Match { score, threshold } => Finding::new(
            "face.match",
            Severity::Info,
            "Wajah cocok",
            "Face matches",
            json!({ "score": round(score), "threshold": round(threshold) }),
        ),
        FaceOutcome::Uncertain { score, threshold } => Finding::new(
            "face.uncertain",
            Severity::Review,
            "Wajah kurang jelas cocok; menunggu pemeriksaan operator",
            "Face match is uncertain; waiting for an operator to check",
            json!({ "score": round(score), "threshold": round(threshold) }),
        ),
        FaceOutcome::Mismatch { score, threshold } => Finding::new(
            "face.mismatch",
            Severity::Reject,
            "Wajah tidak cocok dengan pegawai terdaftar",
            "The face does not match the registered employee",
            json!({ "score": round(score), "threshold": round(threshold) }),
        ),
        FaceOutcome::NoFace => Finding::new(
            "face.no-face",
            Severity::Review,
            "Wajah tidak terlihat di foto; ambil swafoto dengan wajah jelas",
            "No face visible in the photo; take a selfie showing your face",
            json!({}),
        ),
        FaceOutcome::SeveralFaces { count } => Finding::new(
            "face.several-faces",
            Severity::Review,
            format!("Ada {count} wajah di foto; swafoto harus hanya berisi Anda"),
            format!("{count} faces in the photo; the selfie must show only you"),
            json!({ "count": count }),
        ),
        FaceOutcome::NotEnrolled { other_models } => Finding::new(
            "face.not-enrolled",
            Severity::Review,
            "Foto wajah acuan belum terdaftar; hubungi operator",
            "No reference face is enrolled; contact the operator",
            json!({ "templates_of_other_models": other_models }),
        ),
        FaceOutcome::Busy => Finding::new(
            "face.busy",
            Severity::Review,
            "Pemeriksaan wajah sedang sibuk; menunggu pemeriksaan operator",
            "The face check was busy; waiting for an operator to check",
            json!({}),
        ),
        FaceOutcome::Failed => Finding::new(
            "face.error",
            Severity::Review,
            "Pemeriksaan wajah gagal; menunggu pemeriksaan operator",
            "The face check failed; waiting for an operator to check",
            json!({}),
        ),
    };
    vec![f]
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{codes, Fixture};
    use super::*;

    #[test]
    fn a_known_employee_has_no_roster_finding() {
        let f = Fixture::kutim();
        assert!(employee(&f.checkin(), &f.ctx()).is_empty());
    }

    #[test]
    fn an_unknown_nip_goes_to_review_and_is_named() {
        let f = Fixture::kutim();
        let mut ctx = f.ctx();
        ctx.employee_known = false;
        let out = employee(&f.checkin(), &ctx);
        assert_eq!(codes(&out), ["employee.unknown"]);
        assert_eq!(out[0].severity, Severity::Review);
        assert!(out[0].id.contains("198703152010011002"));
    }

    #[test]
    fn a_face_check_not_performed_is_recorded_but_never_a_pass() {
        let f = Fixture::kutim();
        let out = face(&f.checkin(), &f.ctx());
        assert_eq!(codes(&out), ["face.not-performed"]);
        assert_eq!(out[0].severity, Severity::Info);
        assert_eq!(out[0].en, "Face check not performed");
    }

    #[test]
    fn face_outcomes_map_to_their_severities() {
        let f = Fixture::kutim();
        let mut ctx = f.ctx();
        let t = 0.6;
        for (outcome, code, sev) in [
            (
                FaceOutcome::Match {
                    score: 0.91,
                    threshold: t,
                },
                "face.match",
                Severity::Info,
            ),
            (
                FaceOutcome::Uncertain {
                    score: 0.55,
                    threshold: t,
                },
                "face.uncertain",
                Severity::Review,
            ),
            (
                FaceOutcome::Mismatch {
                    score: 0.12,
                    threshold: t,
                },
                "face.mismatch",
                Severity::Reject,
            ),
            (FaceOutcome::NoFace, "face.no-face", Severity::Review),
            (
                FaceOutcome::SeveralFaces { count: 2 },
                "face.several-faces",
                Severity::Review,
            ),
            (
                FaceOutcome::NotEnrolled { other_models: 1 },
                "face.not-enrolled",
                Severity::Review,
            ),
            (FaceOutcome::Busy, "face.busy", Severity::Review),
            (FaceOutcome::Failed, "face.error", Severity::Review),
        ] {
            ctx.face = outcome;
            let out = face(&f.checkin(), &ctx);
            assert_eq!((out[0].code, out[0].severity), (code, sev));
            assert_ne!(out[0].id, out[0].en, "{code} is translated");
        }
    }

    #[test]
    fn a_face_score_is_recorded_with_its_threshold() {
        let f = Fixture::kutim();
        let mut ctx = f.ctx();
        ctx.face = FaceOutcome::Mismatch {
            score: 0.312_345,
            threshold: 0.6,
        };
        let out = face(&f.checkin(), &ctx);
        assert_eq!(out[0].detail["score"], 0.312);
        assert_eq!(out[0].detail["threshold"], 0.6);
    }
}
