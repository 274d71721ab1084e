//! The face pipeline with the real models in `../shared/models` (skipped with a message only when
//! that folder is absent) and sample faces from the npm package `@vladmandic/human`, fetched into
//! `target/face-samples` by `scripts/ensure-deps.sh` (those tests skip when absent).

use std::path::PathBuf;
use std::sync::OnceLock;

use hadir_face::{
    image, Accept, Check, Decision, Embedding, FaceEngine, FaceError, ImageError, ImageFormat,
    Rejection, RgbImage,
};

fn models_dir() -> PathBuf {
    std::env::var_os("HADIR_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/models"))
        })
}

fn samples_dir() -> PathBuf {
    std::env::var_os("HADIR_FACE_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/face-samples"
            ))
        })
}

fn config() -> hadir_config::Face {
    let dir = models_dir();
    hadir_config::Face {
        detector_model: Some(dir.join("blazeface.onnx")),
        embedder_model: Some(dir.join("faceres.onnx")),
        ..Default::default()
    }
}

/// The engine, loaded once per test binary; `None` (with a message) when the models are absent.
fn engine() -> Option<&'static FaceEngine> {
    static ENGINE: OnceLock<Option<FaceEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            if !models_dir().join("faceres.onnx").exists() {
                eprintln!(
                    "SKIPPED: no models in {} (set HADIR_MODELS_DIR)",
                    models_dir().display()
                );
                return None;
            }
            Some(FaceEngine::load(&config()).expect("the reference models load"))
        })
        .as_ref()
}

fn astronaut() -> RgbImage {
    let bytes = std::fs::read(models_dir().join("astronaut.png")).expect("astronaut.png");
    image::decode(&bytes, &Default::default(), Accept::JpegOrPng).expect("decodes")
}

fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(
            &img.data,
            img.width as u16,
            img.height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("encodes");
    out
}

fn embed_largest(engine: &FaceEngine, img: &RgbImage) -> Embedding {
    let mut s = engine.session().expect("session");
    let a = s.analyse_image(img).expect("analysis");
    a.embedding.expect("a face")
}

/// Tiles of the "extracted faces" grid in `screenshot-facematch.jpg` (1920×954: 18 columns of
/// 106.7 px, rows of 112.5 px from y = 283), each padded into a grey square so the detector sees
/// the face at a normal scale. Hand-picked tiles of visibly different people.
const DIFFERENT_PEOPLE: [(usize, usize); 7] =
    [(0, 0), (1, 5), (1, 6), (2, 3), (3, 2), (4, 8), (5, 5)];

fn facematch_tile(sheet: &RgbImage, row: usize, col: usize) -> RgbImage {
    let x = (col as f32 * 1920.0 / 18.0) as usize + 1;
    let y = 283 + (row as f32 * 112.5) as usize;
    let tile = sheet.crop(x, y, 104, 104);
    let mut canvas = RgbImage::filled(208, 208, [128, 128, 128]);
    canvas.paste(&tile, 52, 52);
    canvas
}

fn facematch_sheet() -> Option<RgbImage> {
    let path = samples_dir().join("screenshot-facematch.jpg");
    let Ok(bytes) = std::fs::read(&path) else {
        eprintln!(
            "SKIPPED: no sample faces at {} (run scripts/ensure-deps.sh)",
            path.display()
        );
        return None;
    };
    let limits = hadir_face::Limits {
        work_side: 0,
        ..Default::default()
    };
    Some(image::decode(&bytes, &limits, Accept::JpegOnly).expect("sample sheet decodes"))
}

fn iou(a: (f32, f32, f32, f32), b: (f32, f32, f32, f32)) -> f32 {
    let ix = (a.2.min(b.2) - a.0.max(b.0)).max(0.0);
    let iy = (a.3.min(b.3) - a.1.max(b.1)).max(0.0);
    let inter = ix * iy;
    inter / ((a.2 - a.0) * (a.3 - a.1) + (b.2 - b.0) * (b.3 - b.1) - inter)
}

#[test]
fn the_detector_finds_the_astronauts_face_where_a_person_sees_it() {
    let Some(engine) = engine() else { return };
    let img = astronaut();
    let faces = engine.session().unwrap().detect(&img).unwrap();
    assert_eq!(faces.len(), 1, "{faces:#?}");
    let f = &faces[0];
    // Checked by eye on the 512×512 image: forehead below the hairline to the chin, cheek to
    // cheek: (176, 76)–(278, 180).
    let hand = (176.0, 76.0, 278.0, 180.0);
    let found = (f.x, f.y, f.x + f.width, f.y + f.height);
    assert!(
        iou(hand, found) > 0.75,
        "box {found:?} vs hand-checked {hand:?}"
    );
    assert!(f.score > 0.8, "score {}", f.score);
    // Keypoints: the eyes in the upper half of the box, right eye (image left) first.
    let (re, le) = (f.keypoints[0], f.keypoints[1]);
    assert!(re.0 < le.0, "right eye {re:?} left of left eye {le:?}");
    for eye in [re, le] {
        assert!(
            eye.1 > f.y && eye.1 < f.y + f.height / 2.0,
            "eye {eye:?} in {found:?}"
        );
    }
}

#[test]
fn a_blank_image_has_no_face() {
    let Some(engine) = engine() else { return };
    let mut s = engine.session().unwrap();
    for colour in [[128, 128, 128], [255, 255, 255], [0, 0, 0]] {
        let blank = RgbImage::filled(640, 480, colour);
        assert!(s.detect(&blank).unwrap().is_empty(), "{colour:?}");
        assert_eq!(s.verify_image(&blank, &[]).unwrap(), Check::NoFace);
    }
}

#[test]
fn two_faces_in_a_composed_image_are_both_found_and_the_check_says_so() {
    let Some(engine) = engine() else { return };
    let face = astronaut().crop(120, 20, 220, 220);
    let mut two = RgbImage::filled(560, 300, [90, 110, 130]);
    two.paste(&face, 20, 40);
    two.paste(&face.flipped(), 320, 40);
    let mut s = engine.session().unwrap();
    let faces = s.detect(&two).unwrap();
    assert_eq!(faces.len(), 2, "{faces:#?}");
    let mut xs: Vec<f32> = faces.iter().map(|f| f.centre().0).collect();
    xs.sort_by(f32::total_cmp);
    assert!(xs[0] < 280.0 && xs[1] > 280.0, "one face per half: {xs:?}");
    let t = embed_largest(engine, &astronaut());
    assert_eq!(
        s.verify_image(&two, &[t]).unwrap(),
        Check::SeveralFaces { count: 2 }
    );
}

#[test]
fn the_same_face_flipped_shifted_or_recompressed_matches_itself() {
    let Some(engine) = engine() else { return };
    let img = astronaut();
    let reference = embed_largest(engine, &img);
    let threshold = engine.thresholds().match_threshold;
    let mut shifted = RgbImage::filled(640, 600, [40, 40, 40]);
    shifted.paste(&img, 90, 70);
    let recompressed = {
        let bytes = jpeg(&img.crop(60, 0, 400, 400), 70);
        image::decode(&bytes, &Default::default(), Accept::JpegOnly).unwrap()
    };
    for (name, variant) in [
        ("flipped", img.flipped()),
        ("shifted", shifted),
        ("cropped and recompressed", recompressed),
    ] {
        let e = embed_largest(engine, &variant);
        let score = reference.cosine(&e).unwrap();
        eprintln!("{name}: cosine {score:.3}");
        assert!(score >= threshold, "{name}: {score} < {threshold}");
        let mut s = engine.session().unwrap();
        match s
            .verify_image(&variant, std::slice::from_ref(&reference))
            .unwrap()
        {
            Check::Scored { decision, .. } => assert_eq!(decision, Decision::Match, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn different_people_score_below_the_threshold() {
    let Some(engine) = engine() else { return };
    let Some(sheet) = facematch_sheet() else {
        return;
    };
    let mut people: Vec<(String, Embedding)> = DIFFERENT_PEOPLE
        .iter()
        .map(|&(r, c)| {
            (
                format!("tile {r},{c}"),
                embed_largest(engine, &facematch_tile(&sheet, r, c)),
            )
        })
        .collect();
    people.push(("astronaut".into(), embed_largest(engine, &astronaut())));
    let t = engine.thresholds();
    let mut worst = -1f32;
    for (i, (na, a)) in people.iter().enumerate() {
        for (nb, b) in &people[i + 1..] {
            let score = a.cosine(b).unwrap();
            worst = worst.max(score);
            assert!(score < t.match_threshold, "{na} vs {nb}: {score}");
            assert_eq!(t.decide(score), Decision::Mismatch, "{na} vs {nb}: {score}");
        }
    }
    eprintln!("highest cosine between different people: {worst:.3}");
}

#[test]
fn adversarial_selfies_get_a_clear_reason_and_no_panic() {
    let Some(engine) = engine() else { return };
    let mut s = engine.session().unwrap();
    let limits = engine.limits(512 * 1024);
    let good = jpeg(&astronaut(), 85);
    let png = std::fs::read(models_dir().join("astronaut.png")).unwrap();
    let mut huge = good.clone();
    // Rewrite the frame header's height and width to 20000×20000.
    let sof = huge.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    huge[sof + 5..sof + 9].copy_from_slice(&[0x4E, 0x20, 0x4E, 0x20]);
    let cases: [(&str, Vec<u8>, ImageError); 4] = [
        (
            "truncated JPEG",
            good[..good.len() / 2].to_vec(),
            ImageError::Truncated {
                format: ImageFormat::Jpeg,
            },
        ),
        (
            "20k×20k declared",
            huge,
            ImageError::TooManyPixels {
                width: 20000,
                height: 20000,
                max_pixels: 4096 * 4096,
            },
        ),
        (
            "PNG renamed .jpg",
            png,
            ImageError::WrongFormat {
                found: ImageFormat::Png,
                expected: ImageFormat::Jpeg,
            },
        ),
        ("0-byte", Vec::new(), ImageError::Empty),
    ];
    for (name, bytes, want) in cases {
        match s.verify(&bytes, &limits, Accept::JpegOnly, &[]) {
            Err(FaceError::Image(e)) => {
                assert_eq!(e, want, "{name}");
                eprintln!("{name}: {} ({e})", e.code());
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn enrollment_accepts_a_good_portrait_and_rejects_unusable_photos_with_a_reason() {
    let Some(engine) = engine() else { return };
    let mut s = engine.session().unwrap();
    let img = astronaut();
    let ok = s
        .enroll_candidate(&jpeg(&img, 90))
        .expect("a good portrait");
    assert!(ok.face.width > 90.0);
    let two = {
        let face = img.crop(120, 20, 220, 220);
        let mut c = RgbImage::filled(560, 300, [90, 110, 130]);
        c.paste(&face, 20, 40);
        c.paste(&face.flipped(), 320, 40);
        c
    };
    let small = {
        // The whole portrait shrunk to 160×160: the face is about 33 pixels wide.
        let mut out = RgbImage::filled(160, 160, [0; 3]);
        for y in 0..160 {
            for x in 0..160 {
                let p = img.pixel(x * 512 / 160, y * 512 / 160);
                let i = (y * 160 + x) * 3;
                out.data[i..i + 3].copy_from_slice(&p);
            }
        }
        out
    };
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "blank",
            jpeg(&RgbImage::filled(400, 400, [128; 3]), 90),
            "enroll.no-face",
        ),
        ("two faces", jpeg(&two, 90), "enroll.several-faces"),
        ("small face", jpeg(&small, 95), "enroll.face-too-small"),
        ("0-byte", Vec::new(), "image.empty"),
    ];
    for (name, bytes, code) in cases {
        let err = s.enroll_candidate(&bytes).expect_err(name);
        eprintln!("{name}: {} — {err}", err.code());
        assert_eq!(err.code(), code, "{name}: {err}");
        assert!(!err.message_id().is_empty());
    }
    let dark: RgbImage = RgbImage {
        data: img.data.iter().map(|&v| v / 4).collect(),
        ..img.clone()
    };
    match s.enroll_candidate(&jpeg(&dark, 95)) {
        Err(e @ Rejection::TooDark { .. }) => eprintln!("dark: {} — {e}", e.code()),
        other => panic!("dark: {other:?}"),
    }
    match s.enroll_candidate(&jpeg(&box_blur(&img, 4), 95)) {
        Err(e @ Rejection::Blurry { .. }) => eprintln!("blurred: {} — {e}", e.code()),
        other => panic!("blurred: {other:?}"),
    }
}

/// A (2r+1)² box blur: an out-of-focus photo.
fn box_blur(img: &RgbImage, r: usize) -> RgbImage {
    let mut out = img.clone();
    for y in 0..img.height {
        for x in 0..img.width {
            let (mut sum, mut n) = ([0u32; 3], 0u32);
            for yy in y.saturating_sub(r)..(y + r + 1).min(img.height) {
                for xx in x.saturating_sub(r)..(x + r + 1).min(img.width) {
                    for (acc, v) in sum.iter_mut().zip(img.pixel(xx, yy)) {
                        *acc += u32::from(v);
                    }
                    n += 1;
                }
            }
            let i = (y * img.width + x) * 3;
            for (o, acc) in out.data[i..i + 3].iter_mut().zip(sum) {
                *o = (acc / n) as u8;
            }
        }
    }
    out
}

#[test]
fn the_model_identity_is_the_sha256_of_the_embedder_file() {
    let Some(engine) = engine() else { return };
    let sums = std::fs::read_to_string(models_dir().join("SHA256SUMS")).unwrap();
    let want = sums
        .lines()
        .find(|l| l.ends_with("faceres.onnx"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap();
    assert_eq!(engine.model_sha256(), want);
}

#[test]
fn a_model_that_does_not_fit_the_config_is_refused_with_the_reason() {
    if engine().is_none() {
        return;
    }
    let mut wrong_output = config();
    wrong_output.embedder.output = Some("no/such/output".into());
    let e = FaceEngine::load(&wrong_output).unwrap_err().to_string();
    assert!(
        e.contains("no/such/output") && e.contains("global_pooling/Mean"),
        "{e}"
    );
    let mut wrong_anchors = config();
    wrong_anchors.detector.strides = vec![8, 16];
    let e = FaceEngine::load(&wrong_anchors).unwrap_err().to_string();
    assert!(e.contains("[1024, 256]") || e.contains("N ="), "{e}");
    let mut missing = config();
    missing.detector_model = Some(models_dir().join("nope.onnx"));
    let e = FaceEngine::load(&missing).unwrap_err().to_string();
    assert!(e.contains("cannot read the detector model"), "{e}");
}
