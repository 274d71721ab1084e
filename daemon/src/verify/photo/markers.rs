//! A JPEG marker walk that runs before any decoding: it finds the frame header (dimensions,
//! precision, components, coding process), counts the scans and makes sure the image ends with
//! an EOI marker. It allocates nothing and touches each byte at most once.

use super::{PhotoError, MAX_PIXELS, MAX_PROGRESSIVE_PIXELS, MAX_SCANS, MAX_SIDE};

/// What the frame header declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub width: u32,
    pub height: u32,
    pub components: u8,
    pub progressive: bool,
    pub scans: u32,
}

/// Guesses what a non-JPEG file is from its magic bytes (for the message only).
pub(crate) fn sniff(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("PNG")
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some("GIF")
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("WebP")
    } else if b.len() >= 12
        && &b[4..8] == b"ftyp"
        && matches!(&b[8..12], b"heic" | b"heix" | b"mif1" | b"msf1" | b"hevc")
    {
        Some("HEIC")
    } else if b.starts_with(b"%PDF") {
        Some("PDF")
    } else if b.starts_with(b"BM") {
        Some("BMP")
    } else {
        None
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// Reads the next marker at `i` (skipping fill bytes); returns the marker byte and the index
/// after it.
fn marker(b: &[u8], mut i: usize) -> Result<(u8, usize), PhotoError> {
    match b.get(i) {
        None => return Err(PhotoError::Truncated),
        Some(0xFF) => {}
        Some(_) => {
            return Err(PhotoError::Corrupt(
                "expected a marker between segments".into(),
            ))
        }
    }
    while b.get(i) == Some(&0xFF) {
        i += 1;
    }
    let m = *b.get(i).ok_or(PhotoError::Truncated)?;
    Ok((m, i + 1))
}

/// The end of the segment whose length field starts at `i`.
fn segment_end(b: &[u8], i: usize) -> Result<usize, PhotoError> {
    let len = usize::from(u16_at(b, i).ok_or(PhotoError::Truncated)?);
    if len < 2 {
        return Err(PhotoError::Corrupt("segment length below 2".into()));
    }
    let end = i + len;
    if end > b.len() {
        return Err(PhotoError::Truncated);
    }
    Ok(end)
}

fn is_sof(m: u8) -> bool {
    matches!(m, 0xC0..=0xCF) && !matches!(m, 0xC4 | 0xC8 | 0xCC)
}

/// Walks the markers of a file that starts with SOI. Dimensions are checked against the caps as
/// soon as the frame header is read, before anything else.
pub(crate) fn walk(b: &[u8]) -> Result<Header, PhotoError> {
    let mut i = 2;
    let mut frame: Option<Header> = None;
    // Header segments up to the first scan.
    loop {
        let (m, next) = marker(b, i)?;
        i = next;
        match m {
            0x01 | 0xD0..=0xD7 => continue,
            0xD8 => return Err(PhotoError::Corrupt("a second start-of-image marker".into())),
            0xD9 => {
                return Err(PhotoError::Corrupt(
                    "the image ends before any picture data".into(),
                ))
            }
            _ => {}
        }
        let end = segment_end(b, i)?;
        if is_sof(m) {
            if frame.is_some() {
                return Err(PhotoError::Unsupported("more than one frame".into()));
            }
            frame = Some(frame_header(m, &b[i + 2..end])?);
        } else if m == 0xDA {
            if frame.is_none() {
                return Err(PhotoError::Corrupt(
                    "picture data before the frame header".into(),
                ));
            }
            i = end;
            break;
        }
        i = end;
    }
    // Entropy-coded data: a 0xFF byte is followed by 0x00 (stuffing), a restart marker, fill, or
    // a real marker (more scans and tables for progressive images, then EOI).
    let mut scans = 1u32;
    loop {
        let Some(off) = b
            .get(i..)
            .and_then(|rest| rest.iter().position(|&x| x == 0xFF))
        else {
            return Err(PhotoError::Truncated);
        };
        i += off;
        let (m, next) = marker(b, i)?;
        match m {
            0x00 | 0xD0..=0xD7 => i = next,
            0xD9 => break,
            0xDA => {
                scans += 1;
                if scans > MAX_SCANS {
                    return Err(PhotoError::Unsupported(format!(
                        "more than {MAX_SCANS} scans"
                    )));
                }
                i = segment_end(b, next)?;
            }
            m if is_sof(m) => {
                return Err(PhotoError::Unsupported("more than one frame".into()));
            }
            _ => i = segment_end(b, next)?,
        }
    }
    let mut h = frame.ok_or(PhotoError::Corrupt("no frame header".into()))?;
    h.scans = scans;
    Ok(h)
}

/// Parses a SOFn body (after the length) and applies the dimension caps.
fn frame_header(m: u8, body: &[u8]) -> Result<Header, PhotoError> {
    let (Some(&precision), Some(height), Some(width), Some(&components)) =
        (body.first(), u16_at(body, 1), u16_at(body, 3), body.get(5))
    else {
        return Err(PhotoError::Corrupt("frame header too short".into()));
    };
    let (width, height) = (u32::from(width), u32::from(height));
    let progressive = m == 0xC2;
    let pixels = u64::from(width) * u64::from(height);
    let cap = if progressive {
        MAX_PROGRESSIVE_PIXELS
    } else {
        MAX_PIXELS
    };
    if width > MAX_SIDE || height > MAX_SIDE || pixels > cap {
        return Err(PhotoError::TooManyPixels { width, height });
    }
    if width == 0 || height == 0 {
        return Err(PhotoError::Unsupported(
            "zero width or height (height defined later by DNL)".into(),
        ));
    }
    match m {
        0xC0..=0xC2 => {}
        0xC3 => return Err(PhotoError::Unsupported("lossless JPEG".into())),
        0xC5..=0xC7 | 0xCD..=0xCF => {
            return Err(PhotoError::Unsupported("hierarchical JPEG".into()))
        }
        _ => return Err(PhotoError::Unsupported("arithmetic coding".into())),
    }
    if precision != 8 {
        return Err(PhotoError::Unsupported(format!("{precision}-bit samples")));
    }
    if !matches!(components, 1 | 3 | 4) {
        return Err(PhotoError::Unsupported(format!(
            "{components} colour components"
        )));
    }
    if body.len() < 6 + 3 * usize::from(components) {
        return Err(PhotoError::Corrupt("frame header too short".into()));
    }
    Ok(Header {
        width,
        height,
        components,
        progressive,
        scans: 0,
    })
}
