//! Photo tests on JPEGs encoded here from synthetic "selfies".

use jpeg_encoder::{ColorType, Encoder};

use super::super::testkit::{codes, Fixture};
use super::*;

const MAX: usize = 512 * 1024;

/// A deterministic pseudo-random byte for a scene coordinate.
fn noise(x: i64, y: i64, seed: u64) -> f64 {
    let mut v = (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ seed;
    v ^= v >> 33;
    v = v.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    v ^= v >> 29;
    (v % 17) as f64 - 8.0
}

/// A 320×240 "selfie": a lit background, a face-like ellipse off centre, a dark shoulder band.
/// `variant` 1 is a different room and pose.
fn scene(x: i64, y: i64, variant: u8) -> [u8; 3] {
    let (xf, yf) = (x as f64, y as f64);
    let v = match variant {
        0 => {
            let mut v = 50.0 + 120.0 * xf / 320.0 + 25.0 * (yf / 19.0).sin();
            let (dx, dy) = ((xf - 135.0) / 55.0, (yf - 105.0) / 72.0);
            if dx * dx + dy * dy < 1.0 {
                v += 70.0 - 30.0 * dy;
            }
            if yf > 190.0 && xf > 60.0 && xf < 250.0 {
                v -= 40.0;
            }
            v
        }
        _ => {
            let mut v = 200.0 - 140.0 * yf / 240.0 + 30.0 * (xf / 11.0).cos();
            let (dx, dy) = ((xf - 230.0) / 40.0, (yf - 140.0) / 60.0);
            if dx * dx + dy * dy < 1.0 {
                v -= 90.0;
            }
            v
        }
    } + noise(x, y, u64::from(variant));
    let g = v.clamp(0.0, 255.0);
    [
        (g * 1.05).clamp(0.0, 255.0) as u8,
        g as u8,
        (g * 0.85) as u8,
    ]
}

fn encode(w: u16, h: u16, quality: u8, px: impl Fn(i64, i64) -> [u8; 3]) -> Vec<u8> {
    let mut data = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
    for y in 0..i64::from(h) {
        for x in 0..i64::from(w) {
            data.extend_from_slice(&px(x, y));
        }
    }
    let mut out = Vec::new();
    Encoder::new(&mut out, quality)
        .encode(&data, w, h, ColorType::Rgb)
        .expect("encodes");
    out
}

fn selfie() -> Vec<u8> {
    encode(320, 240, 85, |x, y| scene(x, y, 0))
}

fn info(bytes: &[u8]) -> PhotoInfo {
    inspect(bytes, MAX).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_real_jpeg_is_accepted_with_its_size_and_hashes() {
    let bytes = selfie();
    let i = info(&bytes);
    assert_eq!((i.width, i.height), (320, 240));
    assert_eq!(i.sha256, hex::encode(Sha256::digest(&bytes)));
    assert_eq!(i.sha256.len(), 64);
    assert_ne!(i.dhash, 0);
    assert_ne!(i.dhash, u64::MAX);
}

#[test]
fn the_same_bytes_always_give_the_same_hashes() {
    let bytes = selfie();
    assert_eq!(info(&bytes), info(&bytes));
}

#[test]
fn grayscale_and_progressive_jpegs_are_accepted() {
    let w = 160u16;
    let h = 120u16;
    let grey: Vec<u8> = (0..i64::from(h))
        .flat_map(|y| (0..i64::from(w)).map(move |x| scene(x * 2, y * 2, 0)[1]))
        .collect();
    let mut out = Vec::new();
    Encoder::new(&mut out, 80)
        .encode(&grey, w, h, ColorType::Luma)
        .expect("encodes");
    assert_eq!(info(&out).width, 160);

    let data: Vec<u8> = (0..240i64)
        .flat_map(|y| (0..320i64).flat_map(move |x| scene(x, y, 0)))
        .collect();
    let mut prog = Vec::new();
    let mut enc = Encoder::new(&mut prog, 85);
    enc.set_progressive(true);
    enc.encode(&data, 320, 240, ColorType::Rgb)
        .expect("encodes");
    let p = info(&prog);
    assert_eq!((p.width, p.height), (320, 240));
    assert!(hamming(p.dhash, info(&selfie()).dhash) <= 4);
}

#[test]
fn zero_bytes_are_refused_as_empty() {
    assert_eq!(inspect(&[], MAX), Err(PhotoError::Empty));
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_parsing() {
    let bytes = selfie();
    let err = inspect(&bytes, 1000).expect_err("too large");
    assert_eq!(
        err,
        PhotoError::TooLarge {
            size: bytes.len(),
            max: 1000
        }
    );
    assert_eq!(err.code(), "photo.too-large");
}

#[test]
fn a_png_renamed_to_jpg_is_not_a_jpeg() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\x40\0\0\0\xf0\x08\x02\0\0\0";
    let err = inspect(png, MAX).expect_err("png");
    assert_eq!(
        err,
        PhotoError::NotJpeg {
            looks_like: Some("PNG")
        }
    );
    assert_eq!(
        err.to_string(),
        "the photo is not a JPEG (it looks like PNG)"
    );
    assert_eq!(err.message_id(), "Foto bukan JPEG (berformat PNG)");
    assert_eq!(
        inspect(b"hello", MAX),
        Err(PhotoError::NotJpeg { looks_like: None })
    );
}

#[test]
fn a_jpeg_cut_off_in_the_middle_is_truncated() {
    let bytes = selfie();
    for cut in [bytes.len() / 2, bytes.len() - 2, 3, 21] {
        assert_eq!(
            inspect(&bytes[..cut], MAX),
            Err(PhotoError::Truncated),
            "cut at {cut} of {}",
            bytes.len()
        );
    }
}

/// Index of the first `FF m` marker.
fn find_marker(bytes: &[u8], m: u8) -> usize {
    bytes
        .windows(2)
        .position(|w| w == [0xFF, m])
        .expect("marker present")
}

#[test]
fn a_frame_declaring_20000_by_20000_pixels_is_refused_before_decoding() {
    let mut bytes = selfie();
    let sof = find_marker(&bytes, 0xC0);
    // FF C0, length (2), precision (1), height (2), width (2).
    bytes[sof + 5..sof + 7].copy_from_slice(&20_000u16.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&20_000u16.to_be_bytes());
    let err = inspect(&bytes, MAX).expect_err("bomb");
    assert_eq!(
        err,
        PhotoError::TooManyPixels {
            width: 20_000,
            height: 20_000
        }
    );
    // The header alone is enough: nothing after the frame header is read, so no decoder (and no
    // 1.2 GB pixel buffer) is ever created.
    let header_only = &bytes[..sof + 2 + 17];
    assert_eq!(inspect(header_only, MAX), Err(err));
}

#[test]
fn a_wide_banner_or_a_large_progressive_image_is_refused_too() {
    let mut bytes = selfie();
    let sof = find_marker(&bytes, 0xC0);
    bytes[sof + 5..sof + 7].copy_from_slice(&100u16.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&9000u16.to_be_bytes());
    assert!(matches!(
        inspect(&bytes, MAX),
        Err(PhotoError::TooManyPixels { width: 9000, .. })
    ));
    bytes[sof + 1] = 0xC2; // progressive, 3000×3000: 9 MP > 4.2 MP
    bytes[sof + 5..sof + 7].copy_from_slice(&3000u16.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&3000u16.to_be_bytes());
    assert!(matches!(
        inspect(&bytes, MAX),
        Err(PhotoError::TooManyPixels { width: 3000, .. })
    ));
}

#[test]
fn a_damaged_scan_header_is_corrupt() {
    let mut bytes = selfie();
    let sos = find_marker(&bytes, 0xDA);
    // FF DA, length (2), component count (1), first component selector: point it nowhere.
    bytes[sos + 5] = 0x09;
    assert!(
        matches!(inspect(&bytes, MAX), Err(PhotoError::Corrupt(_))),
        "{:?}",
        inspect(&bytes, MAX)
    );
}

#[test]
fn garbage_between_segments_is_corrupt() {
    let mut bytes = selfie();
    bytes.insert(2, 0x00);
    assert!(matches!(inspect(&bytes, MAX), Err(PhotoError::Corrupt(_))));
}

#[test]
fn lossless_and_twelve_bit_jpegs_are_unsupported() {
    let mut bytes = selfie();
    let sof = find_marker(&bytes, 0xC0);
    bytes[sof + 1] = 0xC3;
    assert!(matches!(
        inspect(&bytes, MAX),
        Err(PhotoError::Unsupported(_))
    ));
    bytes[sof + 1] = 0xC1;
    bytes[sof + 4] = 12;
    assert!(matches!(
        inspect(&bytes, MAX),
        Err(PhotoError::Unsupported(_))
    ));
}

#[test]
fn data_after_the_end_of_image_is_ignored() {
    let mut bytes = selfie();
    let before = info(&bytes);
    bytes.extend_from_slice(b"\xFF\xDA trailing motion-photo data \xFF\xDA");
    let after = info(&bytes);
    assert_eq!(before.dhash, after.dhash);
    assert_ne!(before.sha256, after.sha256);
}

#[test]
fn a_shifted_and_recompressed_copy_has_a_small_distance() {
    let a = info(&selfie()).dhash;
    let shifted = info(&encode(320, 240, 60, |x, y| scene(x + 4, y + 3, 0))).dhash;
    let d = hamming(a, shifted);
    assert!(d <= 6, "shifted distance {d}");
}

#[test]
fn a_mirrored_copy_is_found_by_the_mirror_aware_distance() {
    let a = info(&selfie()).dhash;
    let flipped = info(&encode(320, 240, 85, |x, y| scene(319 - x, y, 0))).dhash;
    let plain = hamming(a, flipped);
    let d = distance(a, flipped);
    assert!(d <= 6, "mirror-aware distance {d}");
    assert!(plain > 20, "plain distance {plain}");
    assert_eq!(distance(a, flipped), distance(flipped, a));
}

#[test]
fn a_different_picture_has_a_large_distance() {
    let a = info(&selfie()).dhash;
    let b = info(&encode(320, 240, 85, |x, y| scene(x, y, 1))).dhash;
    let d = distance(a, b);
    assert!(d >= 20, "different-picture distance {d}");
}

#[test]
fn hamming_counts_differing_bits_and_mirror_is_an_involution() {
    assert_eq!(hamming(0, 0), 0);
    assert_eq!(hamming(0, u64::MAX), 64);
    assert_eq!(hamming(0b1011, 0b0001), 2);
    for h in [0u64, 0x0123_4567_89ab_cdef, u64::MAX, 0x8000_0000_0000_0001] {
        assert_eq!(mirror(mirror(h)), h);
    }
    // Row 0 "brighter to the right at every step" mirrors to "darker at every step".
    assert_eq!(mirror(0xFF00_0000_0000_0000), 0x00FF_FFFF_FFFF_FFFF);
}

#[test]
fn photo_errors_become_reject_findings_in_both_languages() {
    let f = PhotoError::TooLarge {
        size: 700 * 1024,
        max: 512 * 1024,
    }
    .finding();
    assert_eq!(f.code, "photo.too-large");
    assert_eq!(f.severity, Severity::Reject);
    assert_eq!(f.id, "Ukuran foto 700 KB melebihi batas 512 KB");
    assert_eq!(f.detail["max"], 512 * 1024);
    assert_eq!(PhotoError::Truncated.code(), "photo.truncated");
}

#[test]
fn a_replayed_photo_is_rejected_and_a_near_duplicate_goes_to_review() {
    let f = Fixture::kutim();
    let c = f.checkin();
    let mut ctx = f.ctx();
    assert!(freshness(&c, &ctx).is_empty());
    ctx.photo_seen = PhotoSeen::ExactDuplicate;
    let out = freshness(&c, &ctx);
    assert_eq!(codes(&out), ["photo.replayed"]);
    assert_eq!(out[0].severity, Severity::Reject);
    ctx.photo_seen = PhotoSeen::NearDuplicate { distance: 3 };
    let out = freshness(&c, &ctx);
    assert_eq!(codes(&out), ["photo.near-duplicate"]);
    assert_eq!(out[0].severity, Severity::Review);
    assert_eq!(out[0].detail["distance_bits"], 3);
}
