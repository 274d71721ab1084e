//! Semantic checks of the `[face]` section.

use super::problem;
use crate::model::{Face, FaceDetector, FaceEmbedder};
use crate::Problem;

/// Appends every problem of the `[face]` section.
pub(super) fn check(f: &Face, p: &mut Vec<Problem>) {
    match (&f.detector_model, &f.embedder_model) {
        (Some(_), None) => p.push(problem(
            "face.embedder_model",
            "required when face.detector_model is set (face verification needs both models)",
        )),
        (None, Some(_)) => p.push(problem(
            "face.detector_model",
            "required when face.embedder_model is set (face verification needs both models)",
        )),
        _ => {}
    }
    for (key, file) in [
        ("face.detector_model", &f.detector_model),
        ("face.embedder_model", &f.embedder_model),
    ] {
        if let Some(path) = file {
            match std::fs::metadata(path) {
                Ok(m) if m.is_file() => {}
                Ok(_) => p.push(problem(key, format!("{} is not a file", path.display()))),
                Err(e) => p.push(problem(key, format!("cannot read {}: {e}", path.display()))),
            }
        }
    }
    if !(f.match_threshold > 0.0 && f.match_threshold < 1.0) {
        p.push(problem(
            "face.match_threshold",
            "must be a cosine similarity between 0 and 1 (exclusive)",
        ));
    }
    if !(f.uncertain_band >= 0.0 && f.uncertain_band < f.match_threshold) {
        p.push(problem(
            "face.uncertain_band",
            "must be at least 0 and below face.match_threshold",
        ));
    }
    if !(1..=16).contains(&f.workers) {
        p.push(problem("face.workers", "must be between 1 and 16"));
    }
    if !(1..=1024).contains(&f.queue) {
        p.push(problem("face.queue", "must be between 1 and 1024"));
    }
    if !(100..=60_000).contains(&f.wait_ms) {
        p.push(problem(
            "face.wait_ms",
            "must be between 100 and 60000 milliseconds",
        ));
    }
    if !(64 * 64..=100_000_000).contains(&f.max_image_pixels) {
        p.push(problem(
            "face.max_image_pixels",
            "must be between 4096 and 100000000",
        ));
    }
    if !(16..=65_536).contains(&f.max_photo_kb) {
        p.push(problem(
            "face.max_photo_kb",
            "must be between 16 and 65536 KiB",
        ));
    }
    if !(16..=4096).contains(&f.min_face_px) {
        p.push(problem("face.min_face_px", "must be between 16 and 4096"));
    }
    detector(&f.detector, p);
    embedder(&f.embedder, p);
}

fn normalisation(prefix: &str, scale: f32, std: &[f32; 3], mean: &[f32; 3], p: &mut Vec<Problem>) {
    if !(scale.is_finite() && scale > 0.0) {
        p.push(problem(format!("{prefix}.scale"), "must be greater than 0"));
    }
    if !std.iter().all(|s| s.is_finite() && *s != 0.0) {
        p.push(problem(
            format!("{prefix}.std"),
            "every value must be non-zero",
        ));
    }
    if !mean.iter().all(|m| m.is_finite()) {
        p.push(problem(
            format!("{prefix}.mean"),
            "every value must be a number",
        ));
    }
}

fn detector(d: &FaceDetector, p: &mut Vec<Problem>) {
    if !(32..=2048).contains(&d.input_size) {
        p.push(problem(
            "face.detector.input_size",
            "must be between 32 and 2048 pixels",
        ));
    }
    normalisation("face.detector", d.scale, &d.std, &d.mean, p);
    if d.strides.is_empty() || d.strides.len() != d.anchors_per_cell.len() {
        p.push(problem(
            "face.detector.anchors_per_cell",
            "needs one entry per face.detector.strides entry (at least one)",
        ));
    }
    if d.strides.iter().any(|s| *s == 0 || d.input_size % *s != 0) {
        p.push(problem(
            "face.detector.strides",
            "every stride must divide face.detector.input_size",
        ));
    }
    if d.anchors_per_cell.iter().any(|n| !(1..=64).contains(n)) {
        p.push(problem(
            "face.detector.anchors_per_cell",
            "every value must be between 1 and 64",
        ));
    }
    if !(d.box_scale.is_finite() && d.box_scale >= 0.0) {
        p.push(problem(
            "face.detector.box_scale",
            "must be 0 (= input_size) or greater",
        ));
    }
    if !(d.score_threshold > 0.0 && d.score_threshold < 1.0) {
        p.push(problem(
            "face.detector.score_threshold",
            "must be a probability between 0 and 1 (exclusive)",
        ));
    }
    if !(d.iou_threshold > 0.0 && d.iou_threshold < 1.0) {
        p.push(problem(
            "face.detector.iou_threshold",
            "must be between 0 and 1 (exclusive)",
        ));
    }
}

fn embedder(e: &FaceEmbedder, p: &mut Vec<Problem>) {
    if !(32..=1024).contains(&e.input_size) {
        p.push(problem(
            "face.embedder.input_size",
            "must be between 32 and 1024 pixels",
        ));
    }
    normalisation("face.embedder", e.scale, &e.std, &e.mean, p);
    if !(e.crop_scale >= 1.0 && e.crop_scale <= 3.0) {
        p.push(problem(
            "face.embedder.crop_scale",
            "must be between 1 and 3",
        ));
    }
    if e.output.as_deref().is_some_and(str::is_empty) {
        p.push(problem(
            "face.embedder.output",
            "must not be empty (leave it out to use the largest output)",
        ));
    }
}
