//! The selfie: checking the bytes ([`inspect`]: JPEG only, size and dimension caps applied
//! before decoding, SHA-256 and a 64-bit perceptual hash) and freshness ([`freshness`]: the same
//! or nearly the same picture sent again).
//!
//! Decompression bombs: the file size is capped by the caller (`verification.photo_max_kb`), and a
//! marker walk (`hadir_face::image::jpeg_header`, shared with the face pipeline) reads the declared dimensions, coding process and scan count before
//! the decoder is created, so a file declaring 20000×20000 pixels is refused without allocating
//! anything. The decoder then scales by 1/2–1/8 while decoding (the hash needs only 9×8 cells),
//! and runs with an output-size limit as a second fence.

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{CheckIn, Context, Finding, PhotoSeen, Severity};

mod dhash;

use hadir_face::image::{jpeg_header, looks_like, ImageError, JpegHeader, Limits};

/// Largest accepted width or height, pixels.
pub const MAX_SIDE: u32 = 8192;
/// Largest accepted pixel count for baseline JPEGs (4096×4096, about 16.8 MP).
pub const MAX_PIXELS: u64 = 4096 * 4096;
/// Largest accepted pixel count for progressive JPEGs (2048×2048, about 4.2 MP): their decoder
/// keeps every DCT coefficient of the full-size image in memory (2 bytes per sample).
pub const MAX_PROGRESSIVE_PIXELS: u64 = 2048 * 2048;
/// Most scans accepted in one image (a progressive encoder uses about 10).
pub const MAX_SCANS: u32 = 64;
/// The decoder scales down while decoding to at least this width or height.
const DECODE_TARGET: (u16, u16) = (144, 128);

/// What [`inspect`] found in a valid selfie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhotoInfo {
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// 64-bit difference hash (compare with [`distance`] or [`hamming`]).
    pub dhash: u64,
    /// Declared width, pixels.
    pub width: u32,
    /// Declared height, pixels.
    pub height: u32,
}

/// Why a selfie was refused. Every variant means "reject this check-in and ask for a new photo";
/// [`PhotoError::finding`] makes the finding to store and reply with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    /// No bytes at all: the app sent no photo.
    #[error("the photo is empty")]
    Empty,
    /// More bytes than allowed: the app must downscale before sending.
    #[error("the photo is {size} bytes, more than the limit of {max} bytes")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Not a JPEG (no start-of-image marker), e.g. a PNG renamed to .jpg.
    #[error("the photo is not a JPEG{}", looks_like.map(|k| format!(" (it looks like {k})")).unwrap_or_default())]
    NotJpeg {
        /// What it looks like instead, when recognised ("PNG", "HEIC", ...).
        looks_like: Option<&'static str>,
    },
    /// The JPEG ends early: an interrupted upload.
    #[error("the JPEG is cut off (incomplete upload)")]
    Truncated,
    /// The JPEG's structure or data is damaged.
    #[error("the JPEG is damaged: {0}")]
    Corrupt(String),
    /// A valid JPEG using a feature not accepted here (lossless, arithmetic coding, 12-bit, ...).
    #[error("the JPEG uses an unsupported feature: {0}")]
    Unsupported(String),
    /// Declared dimensions above the caps; refused before decoding.
    #[error("the JPEG declares {width}×{height} pixels, above the limit")]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
}

impl From<ImageError> for PhotoError {
    fn from(e: ImageError) -> Self {
        match e {
            ImageError::Empty => PhotoError::Empty,
            ImageError::TooLarge { size, max } => PhotoError::TooLarge { size, max },
            ImageError::UnknownFormat { looks_like } => PhotoError::NotJpeg { looks_like },
            ImageError::WrongFormat { found, .. } => PhotoError::NotJpeg {
                looks_like: Some(found.name()),
            },
            ImageError::Truncated { .. } => PhotoError::Truncated,
            ImageError::Corrupt { reason, .. } => PhotoError::Corrupt(reason),
            ImageError::Unsupported { feature, .. } => PhotoError::Unsupported(feature),
            ImageError::TooManyPixels { width, height, .. } => {
                PhotoError::TooManyPixels { width, height }
            }
        }
    }
}

impl PhotoError {
    /// Stable reason code (`photo.not-jpeg`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            PhotoError::Empty => "photo.empty",
            PhotoError::TooLarge { .. } => "photo.too-large",
            PhotoError::NotJpeg { .. } => "photo.not-jpeg",
            PhotoError::Truncated => "photo.truncated",
            PhotoError::Corrupt(_) => "photo.corrupt",
            PhotoError::Unsupported(_) => "photo.unsupported",
            PhotoError::TooManyPixels { .. } => "photo.too-many-pixels",
        }
    }

    /// The message in Bahasa Indonesia, for the person at the tablet.
    pub fn message_id(&self) -> String {
        match self {
            PhotoError::Empty => "Foto tidak terkirim; ambil swafoto lagi".into(),
            PhotoError::TooLarge { size, max } => format!(
                "Ukuran foto {} KB melebihi batas {} KB",
                size.div_ceil(1024),
                max / 1024
            ),
            PhotoError::NotJpeg { looks_like } => format!(
                "Foto bukan JPEG{}",
                looks_like
                    .map(|k| format!(" (berformat {k})"))
                    .unwrap_or_default()
            ),
            PhotoError::Truncated => "Foto terpotong (unggahan tidak lengkap); kirim ulang".into(),
            PhotoError::Corrupt(_) => "Foto rusak; ambil swafoto lagi".into(),
            PhotoError::Unsupported(_) => "Format foto tidak didukung; ambil swafoto lagi".into(),
            PhotoError::TooManyPixels { width, height } => {
                format!("Resolusi foto {width}×{height} terlalu besar")
            }
        }
    }

    /// The message in English (the same as `Display`).
    pub fn message_en(&self) -> String {
        self.to_string()
    }

    /// The Reject finding for this error.
    pub fn finding(&self) -> Finding {
        let mut detail = json!({ "error": self.to_string() });
        match self {
            PhotoError::TooLarge { size, max } => {
                detail["size"] = json!(size);
                detail["max"] = json!(max);
            }
            PhotoError::TooManyPixels { width, height } => {
                detail["width"] = json!(width);
                detail["height"] = json!(height);
            }
            _ => {}
        }
        Finding::new(
            self.code(),
            Severity::Reject,
            self.message_id(),
            self.message_en(),
            detail,
        )
    }
}

/// Checks selfie bytes and computes their hashes. Refuses empty and oversize input, anything but
/// a JPEG, truncated or corrupt files, and declared dimensions above [`MAX_SIDE`] /
/// [`MAX_PIXELS`] (checked before decoding). CPU-bound (a few milliseconds for a 640×480
/// selfie): call it on a blocking thread.
pub fn inspect(bytes: &[u8], max_bytes: usize) -> Result<PhotoInfo, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.len() > max_bytes {
        return Err(PhotoError::TooLarge {
            size: bytes.len(),
            max: max_bytes,
        });
    }
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err(PhotoError::NotJpeg {
            looks_like: if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                Some("PNG")
            } else {
                looks_like(bytes)
            },
        });
    }
    let limits = Limits {
        max_bytes,
        max_pixels: MAX_PIXELS,
        max_side: MAX_SIDE,
        max_progressive_pixels: MAX_PROGRESSIVE_PIXELS,
        max_scans: MAX_SCANS,
        work_side: 0,
    };
    let header = jpeg_header(bytes, &limits).map_err(PhotoError::from)?;
    let dhash = decode_dhash(bytes, &header)?;
    Ok(PhotoInfo {
        sha256: hex::encode(Sha256::digest(bytes)),
        dhash,
        width: header.width,
        height: header.height,
    })
}

fn decode_dhash(bytes: &[u8], header: &JpegHeader) -> Result<u64, PhotoError> {
    let bpp = usize::from(header.components);
    // The decoder is a well-fuzzed safe-Rust crate; a panic in it would still only mean "corrupt".
    let decoded = std::panic::catch_unwind(|| {
        let mut dec = jpeg_decoder::Decoder::new(bytes);
        let cap = usize::try_from(MAX_PIXELS).unwrap_or(usize::MAX) * bpp;
        dec.set_max_decoding_buffer_size(cap);
        let (w, h) = dec.scale(DECODE_TARGET.0, DECODE_TARGET.1)?;
        dec.decode().map(|px| (px, usize::from(w), usize::from(h)))
    });
    let (pixels, w, h) = match decoded {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return Err(decoder_error(e)),
        Err(_) => return Err(PhotoError::Corrupt("the decoder gave up".into())),
    };
    if w == 0 || h == 0 || pixels.len() != w * h * bpp {
        return Err(PhotoError::Corrupt(
            "decoded size does not match the header".into(),
        ));
    }
    Ok(dhash::from_grid(&dhash::grid(&pixels, w, h, bpp)))
}

fn decoder_error(e: jpeg_decoder::Error) -> PhotoError {
    match e {
        jpeg_decoder::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            PhotoError::Truncated
        }
        jpeg_decoder::Error::Unsupported(f) => PhotoError::Unsupported(format!("{f:?}")),
        other => PhotoError::Corrupt(other.to_string()),
    }
}

/// Number of differing bits between two hashes.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// The hash of the left-right mirror image of a picture with hash `h` (exact except where two
/// neighbouring cells are equally bright). Front cameras and some apps mirror selfies.
pub fn mirror(h: u64) -> u64 {
    u64::from_be_bytes((!h).to_be_bytes().map(u8::reverse_bits))
}

/// Distance between two selfies for near-duplicate search: the smaller of the plain and the
/// mirrored Hamming distance, so a flipped re-send of an old selfie is still found. Compare with
/// `verification.photo_near_duplicate_bits`.
pub fn distance(a: u64, b: u64) -> u32 {
    hamming(a, b).min(hamming(mirror(a), b))
}

/// Freshness of the selfie, from what the store found:
///
/// - the same bytes stored before → `photo.replayed` (Reject)
/// - a stored photo within `photo_near_duplicate_bits` → `photo.near-duplicate` (Review: a re-sent
///   old selfie, or a very still person in front of a fixed tablet; a human compares)
/// - never seen → no finding
pub fn freshness(_c: &CheckIn, ctx: &Context<'_>) -> Vec<Finding> {
    match ctx.photo_seen {
        PhotoSeen::None => Vec::new(),
        PhotoSeen::ExactDuplicate => vec![Finding::new(
            "photo.replayed",
            Severity::Reject,
            "Foto ini sudah pernah dikirim; ambil swafoto baru",
            "This photo was sent before; take a new selfie",
            json!({}),
        )],
        PhotoSeen::NearDuplicate { distance } => vec![Finding::new(
            "photo.near-duplicate",
            Severity::Review,
            "Foto hampir sama dengan foto sebelumnya; menunggu pemeriksaan operator",
            "The photo is nearly identical to an earlier one; waiting for an operator to check",
            json!({
                "distance_bits": distance,
                "threshold_bits": ctx.policy.photo_near_duplicate_bits,
            }),
        )],
    }
}

#[cfg(test)]
mod tests;
