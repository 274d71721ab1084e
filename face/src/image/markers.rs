//! A JPEG marker walk that runs before any decoding: it reads the frame header (dimensions,
//! precision, components, coding process) and applies the caps at once, counts the scans, and
//! makes sure the image ends with an EOI marker. It allocates nothing and reads each byte once.

use super::{ImageError, ImageFormat, Limits};

/// What the frame header declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Declared width, pixels.
    pub width: u32,
    /// Declared height, pixels.
    pub height: u32,
    /// Colour components (1 grey, 3 colour).
    pub components: u8,
    /// Progressive coding.
    pub progressive: bool,
    /// Scans counted.
    pub scans: u32,
}

const FORMAT: ImageFormat = ImageFormat::Jpeg;

fn truncated() -> ImageError {
    ImageError::Truncated { format: FORMAT }
}

fn corrupt(reason: &str) -> ImageError {
    ImageError::Corrupt {
        format: FORMAT,
        reason: reason.into(),
    }
}

fn unsupported(feature: impl Into<String>) -> ImageError {
    ImageError::Unsupported {
        format: FORMAT,
        feature: feature.into(),
    }
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// Reads the marker at `i` (skipping fill bytes); returns the marker byte and the index after it.
fn marker(b: &[u8], mut i: usize) -> Result<(u8, usize), ImageError> {
    match b.get(i) {
        None => return Err(truncated()),
        Some(0xFF) => {}
        Some(_) => return Err(corrupt("expected a marker between segments")),
    }
    while b.get(i) == Some(&0xFF) {
        i += 1;
    }
    let m = *b.get(i).ok_or_else(truncated)?;
    Ok((m, i + 1))
}

/// The end of the segment whose length field starts at `i`.
fn segment_end(b: &[u8], i: usize) -> Result<usize, ImageError> {
    let len = usize::from(u16_at(b, i).ok_or_else(truncated)?);
    if len < 2 {
        return Err(corrupt("segment length below 2"));
    }
    let end = i + len;
    if end > b.len() {
        return Err(truncated());
    }
    Ok(end)
}

fn is_sof(m: u8) -> bool {
    matches!(m, 0xC0..=0xCF) && !matches!(m, 0xC4 | 0xC8 | 0xCC)
}

/// Walks the markers of a file that starts with SOI, applying the caps in `limits` before any
/// decoding.
pub fn walk(b: &[u8], limits: &Limits) -> Result<Header, ImageError> {
    let mut i = 2;
    let mut frame: Option<Header> = None;
    loop {
        let (m, next) = marker(b, i)?;
        i = next;
        match m {
            0x01 | 0xD0..=0xD7 => continue,
            0xD8 => return Err(corrupt("a second start-of-image marker")),
            0xD9 => return Err(corrupt("the image ends before any picture data")),
            _ => {}
        }
        let end = segment_end(b, i)?;
        if is_sof(m) {
            if frame.is_some() {
                return Err(unsupported("more than one frame"));
            }
            frame = Some(frame_header(m, &b[i + 2..end], limits)?);
        } else if m == 0xDA {
            if frame.is_none() {
                return Err(corrupt("picture data before the frame header"));
            }
            i = end;
            break;
        }
        i = end;
    }
    // Entropy-coded data: 0xFF is followed by 0x00 (stuffing), a restart marker, fill, or a real
    // marker (more scans and tables in progressive images, then EOI).
    let mut scans = 1u32;
    loop {
        let off = b
            .get(i..)
            .and_then(|rest| rest.iter().position(|&x| x == 0xFF))
            .ok_or_else(truncated)?;
        i += off;
        let (m, next) = marker(b, i)?;
        match m {
            0x00 | 0xD0..=0xD7 => i = next,
            0xD9 => break,
            0xDA => {
                scans += 1;
                if scans > limits.max_scans {
                    return Err(unsupported(format!("more than {} scans", limits.max_scans)));
                }
                i = segment_end(b, next)?;
            }
            m if is_sof(m) => return Err(unsupported("more than one frame")),
            _ => i = segment_end(b, next)?,
        }
    }
    let mut h = frame.ok_or_else(|| corrupt("no frame header"))?;
    h.scans = scans;
    Ok(h)
}

/// Parses a SOFn body (after the length) and applies the dimension caps.
fn frame_header(m: u8, body: &[u8], limits: &Limits) -> Result<Header, ImageError> {
    let (Some(&precision), Some(height), Some(width), Some(&components)) =
        (body.first(), u16_at(body, 1), u16_at(body, 3), body.get(5))
    else {
        return Err(corrupt("frame header too short"));
    };
    let (width, height) = (u32::from(width), u32::from(height));
    let progressive = matches!(m, 0xC2 | 0xC6 | 0xCA | 0xCE);
    let max_pixels = if progressive {
        limits.max_pixels.min(limits.max_progressive_pixels)
    } else {
        limits.max_pixels
    };
    if width > limits.max_side
        || height > limits.max_side
        || u64::from(width) * u64::from(height) > max_pixels
    {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            max_pixels,
        });
    }
    if width == 0 || height == 0 {
        return Err(unsupported(
            "zero width or height (height defined later by DNL)",
        ));
    }
    match m {
        0xC0..=0xC2 => {}
        0xC3 => return Err(unsupported("lossless JPEG")),
        0xC5..=0xC7 | 0xCD..=0xCF => return Err(unsupported("hierarchical JPEG")),
        _ => return Err(unsupported("arithmetic coding")),
    }
    if precision != 8 {
        return Err(unsupported(format!("{precision}-bit samples")));
    }
    if !matches!(components, 1 | 3 | 4) {
        return Err(unsupported(format!("{components} colour components")));
    }
    if body.len() < 6 + 3 * usize::from(components) {
        return Err(corrupt("frame header too short"));
    }
    Ok(Header {
        width,
        height,
        components,
        progressive,
        scans: 0,
    })
}
