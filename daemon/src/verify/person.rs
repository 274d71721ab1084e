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

/// The face comparison, when one is made:
///
/// | outcome | code | severity |
/// |---|---|---|
/// | not performed | `face.not-performed` | Info (recorded; never a pass) |
/// | match | `face.match` | Info |
/// | uncertain | `face.uncertain` | Review |
/// | mismatch | `face.mismatch` | Reject |
/// | no face in the selfie | `face.no-face` | Review |
/// | nothing enrolled to compare with | `face.no-reference` | Review |
pub fn face(_c: &CheckIn, ctx: &Context<'_>) -> Vec<Finding> {
    let f = match ctx.face {
        FaceOutcome::NotPerformed => Finding::new(
            "face.not-performed",
            Severity::Info,
            "Pencocokan wajah tidak dilakukan",
            "Face check not performed",
            json!({}),
        ),
        FaceOutcome::Match { score } => Finding::new(
            "face.match",
            Severity::Info,
            "Wajah cocok",
            "Face matches",
            json!({ "score": score }),
        ),
        FaceOutcome::Uncertain { score } => Finding::new(
            "face.uncertain",
            Severity::Review,
            "Wajah kurang jelas cocok; menunggu pemeriksaan operator",
            "Face match is uncertain; waiting for an operator to check",
            json!({ "score": score }),
        ),
        FaceOutcome::Mismatch { score } => Finding::new(
            "face.mismatch",
            Severity::Reject,
            "Wajah tidak cocok dengan pegawai terdaftar",
            "The face does not match the registered employee",
            json!({ "score": score }),
        ),
        FaceOutcome::NoFace => Finding::new(
            "face.no-face",
            Severity::Review,
            "Wajah tidak terlihat di foto; ambil swafoto dengan wajah jelas",
            "No face visible in the photo; take a selfie showing your face",
            json!({}),
        ),
        FaceOutcome::NoReference => Finding::new(
            "face.no-reference",
            Severity::Review,
            "Foto wajah acuan belum terdaftar; hubungi operator",
            "No reference face photo is registered; contact the operator",
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
        for (outcome, code, sev) in [
            (
                FaceOutcome::Match { score: 0.91 },
                "face.match",
                Severity::Info,
            ),
            (
                FaceOutcome::Uncertain { score: 0.55 },
                "face.uncertain",
                Severity::Review,
            ),
            (
                FaceOutcome::Mismatch { score: 0.12 },
                "face.mismatch",
                Severity::Reject,
            ),
            (FaceOutcome::NoFace, "face.no-face", Severity::Review),
            (
                FaceOutcome::NoReference,
                "face.no-reference",
                Severity::Review,
            ),
        ] {
            ctx.face = outcome;
            let out = face(&f.checkin(), &ctx);
            assert_eq!((out[0].code, out[0].severity), (code, sev));
        }
    }
}
