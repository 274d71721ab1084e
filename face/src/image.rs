//! Decoding photos with limits: the format is recognised from the bytes (never the file name),
//! the file size is capped, and the declared dimensions are checked against a pixel cap before
//! the decoder allocates anything, so a small file declaring 20000×20000 pixels costs nothing.
//!
//! JPEG: a marker walk ([`markers`]) reads the frame header and counts the scans first; the
//! decoder then scales by 1/2–1/8 while decoding when the photo is much larger than the face
//! pipeline needs, with an output-size limit as a second fence. PNG: the header is read first and
//! the decoder runs with an allocation limit. A panic inside a decoder is caught and reported as a
//! corrupt image.

use std::io::Cursor;

mod markers;

pub use markers::{walk as jpeg_header, Header as JpegHeader};

/// An 8-bit RGB image, rows top to bottom, 3 bytes per pixel.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width, pixels.
    pub width: usize,
    /// Height, pixels.
    pub height: usize,
    /// `width × height × 3` bytes.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}×{})", self.width, self.height)
    }
}

impl RgbImage {
    /// A blank image of one colour.
    pub fn filled(width: usize, height: usize, rgb: [u8; 3]) -> RgbImage {
        let mut data = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            data.extend_from_slice(&rgb);
        }
        RgbImage {
            width,
            height,
            data,
        }
    }

    /// The pixel at (x, y); black outside the image.
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        if x >= self.width || y >= self.height {
            return [0; 3];
        }
        let i = (y * self.width + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Copies `src` into this image with its top-left corner at (x, y), clipped to the bounds.
    pub fn paste(&mut self, src: &RgbImage, x: usize, y: usize) {
        for sy in 0..src.height {
            let ty = y + sy;
            if ty >= self.height {
                break;
            }
            let n = src.width.min(self.width.saturating_sub(x));
            if n == 0 {
                break;
            }
            let from = sy * src.width * 3;
            let to = (ty * self.width + x) * 3;
            self.data[to..to + n * 3].copy_from_slice(&src.data[from..from + n * 3]);
        }
    }

    /// The rectangle (x, y, w, h), clipped to the bounds.
    pub fn crop(&self, x: usize, y: usize, w: usize, h: usize) -> RgbImage {
        let w = w.min(self.width.saturating_sub(x));
        let h = h.min(self.height.saturating_sub(y));
        let mut out = RgbImage::filled(w, h, [0; 3]);
        for row in 0..h {
            let from = ((y + row) * self.width + x) * 3;
            out.data[row * w * 3..(row + 1) * w * 3]
                .copy_from_slice(&self.data[from..from + w * 3]);
        }
        out
    }

    /// The left-right mirror image.
    pub fn flipped(&self) -> RgbImage {
        let mut out = self.clone();
        for y in 0..self.height {
            for x in 0..self.width {
                let from = (y * self.width + x) * 3;
                let to = (y * self.width + (self.width - 1 - x)) * 3;
                out.data[to..to + 3].copy_from_slice(&self.data[from..from + 3]);
            }
        }
        out
    }
}

/// A recognised image file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// JPEG (JFIF/Exif).
    Jpeg,
    /// PNG.
    Png,
}

impl ImageFormat {
    /// The usual name ("JPEG", "PNG").
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "JPEG",
            ImageFormat::Png => "PNG",
        }
    }
}

/// Which formats a caller accepts: check-in selfies are JPEG by protocol, enrollment photos may
/// be JPEG or PNG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// JPEG only (a PNG is refused with [`ImageError::WrongFormat`]).
    JpegOnly,
    /// JPEG or PNG.
    JpegOrPng,
}

/// Caps applied before and while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file, bytes.
    pub max_bytes: usize,
    /// Largest declared width × height.
    pub max_pixels: u64,
    /// Largest declared width or height.
    pub max_side: u32,
    /// Largest declared width × height of a progressive JPEG (its decoder keeps every
    /// coefficient of the full-size image: 2 bytes per sample).
    pub max_progressive_pixels: u64,
    /// Most scans in a JPEG (a progressive encoder uses about 10).
    pub max_scans: u32,
    /// Decode JPEGs scaled down (1/2..1/8) while keeping the longer side at least this long; 0 =
    /// full size. The face pipeline needs no more than about 1024 pixels.
    pub work_side: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 8 << 20,
            max_pixels: 4096 * 4096,
            max_side: 8192,
            max_progressive_pixels: 2048 * 2048,
            max_scans: 64,
            work_side: 1024,
        }
    }
}

/// Why a photo could not be decoded. Every variant means "this photo cannot be used; send or
/// choose another"; [`ImageError::code`] is the stable reason code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// No bytes at all (a 0-byte file or an empty upload).
    #[error("the photo is empty (0 bytes)")]
    Empty,
    /// More bytes than allowed.
    #[error("the photo is {size} bytes, more than the limit of {max} bytes")]
    TooLarge {
        /// Bytes given.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Neither JPEG nor PNG (recognised from the bytes, whatever the file is called).
    #[error("the photo is not a JPEG or PNG image{}", looks_like.map(|k| format!(" (it looks like {k})")).unwrap_or_default())]
    UnknownFormat {
        /// What it looks like instead, when recognised ("HEIC", "GIF", ...).
        looks_like: Option<&'static str>,
    },
    /// A valid image of a format the caller does not accept, such as a PNG renamed to .jpg sent
    /// as a selfie.
    #[error("the photo is a {} file, but a {} is required", found.name(), expected.name())]
    WrongFormat {
        /// The format the bytes are in.
        found: ImageFormat,
        /// The format required.
        expected: ImageFormat,
    },
    /// The file ends early: an interrupted upload or copy.
    #[error("the {} file is cut off (incomplete upload or copy)", format.name())]
    Truncated {
        /// The format.
        format: ImageFormat,
    },
    /// The file's structure or data is damaged.
    #[error("the {} file is damaged: {reason}", format.name())]
    Corrupt {
        /// The format.
        format: ImageFormat,
        /// What is wrong.
        reason: String,
    },
    /// A valid file using a feature not accepted here (12-bit, lossless, arithmetic coding, ...).
    #[error("the {} file uses an unsupported feature: {feature}", format.name())]
    Unsupported {
        /// The format.
        format: ImageFormat,
        /// The feature.
        feature: String,
    },
    /// Declared dimensions above the caps; refused before decoding.
    #[error("the photo declares {width}×{height} pixels, above the limit of {max_pixels} pixels")]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The pixel limit that applied.
        max_pixels: u64,
    },
}

impl ImageError {
    /// Stable reason code (`image.truncated`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            ImageError::Empty => "image.empty",
            ImageError::TooLarge { .. } => "image.too-large",
            ImageError::UnknownFormat { .. } => "image.unknown-format",
            ImageError::WrongFormat { .. } => "image.wrong-format",
            ImageError::Truncated { .. } => "image.truncated",
            ImageError::Corrupt { .. } => "image.corrupt",
            ImageError::Unsupported { .. } => "image.unsupported",
            ImageError::TooManyPixels { .. } => "image.too-many-pixels",
        }
    }

    /// The message in Bahasa Indonesia.
    pub fn message_id(&self) -> String {
        match self {
            ImageError::Empty => "Foto kosong (0 byte)".into(),
            ImageError::TooLarge { size, max } => format!(
                "Ukuran foto {} KB melebihi batas {} KB",
                size.div_ceil(1024),
                max / 1024
            ),
            ImageError::UnknownFormat { looks_like } => format!(
                "Foto bukan JPEG atau PNG{}",
                looks_like
                    .map(|k| format!(" (berformat {k})"))
                    .unwrap_or_default()
            ),
            ImageError::WrongFormat { found, expected } => format!(
                "Foto berformat {}, padahal harus {}",
                found.name(),
                expected.name()
            ),
            ImageError::Truncated { .. } => "Foto terpotong (unggahan tidak lengkap)".into(),
            ImageError::Corrupt { .. } => "Foto rusak".into(),
            ImageError::Unsupported { .. } => "Format foto tidak didukung".into(),
            ImageError::TooManyPixels { width, height, .. } => {
                format!("Resolusi foto {width}×{height} terlalu besar")
            }
        }
    }
}

/// Recognises the format from the first bytes.
pub fn sniff(b: &[u8]) -> Option<ImageFormat> {
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else {
        None
    }
}

/// Guesses what an unsupported file is, for the message only.
pub fn looks_like(b: &[u8]) -> Option<&'static str> {
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Some("GIF")
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Some("WebP")
    } else if b.len() >= 12
        && &b[4..8] == b"ftyp"
        && matches!(
            &b[8..12],
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"hevc" | b"avif"
        )
    {
        Some("HEIC/AVIF")
    } else if b.starts_with(b"%PDF") {
        Some("PDF")
    } else if b.starts_with(b"BM") {
        Some("BMP")
    } else if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        Some("TIFF")
    } else {
        None
    }
}

/// Decodes a photo within `limits`. Never panics; every failure is an [`ImageError`].
/// CPU-bound (milliseconds): call it off the async runtime.
pub fn decode(bytes: &[u8], limits: &Limits, accept: Accept) -> Result<RgbImage, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(ImageError::TooLarge {
            size: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let format = sniff(bytes).ok_or(ImageError::UnknownFormat {
        looks_like: looks_like(bytes),
    })?;
    match (format, accept) {
        (ImageFormat::Jpeg, _) => decode_jpeg(bytes, limits),
        (ImageFormat::Png, Accept::JpegOrPng) => decode_png(bytes, limits),
        (ImageFormat::Png, Accept::JpegOnly) => Err(ImageError::WrongFormat {
            found: ImageFormat::Png,
            expected: ImageFormat::Jpeg,
        }),
    }
}

fn check_png_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt {
            format: ImageFormat::Png,
            reason: "zero width or height".into(),
        });
    }
    if width > limits.max_side
        || height > limits.max_side
        || u64::from(width) * u64::from(height) > limits.max_pixels
    {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            max_pixels: limits.max_pixels,
        });
    }
    Ok(())
}

fn decode_jpeg(bytes: &[u8], limits: &Limits) -> Result<RgbImage, ImageError> {
    let header = markers::walk(bytes, limits)?;
    let max_pixels = if header.progressive {
        limits.max_pixels.min(limits.max_progressive_pixels)
    } else {
        limits.max_pixels
    };
    let (req_w, req_h) = scale_request(header.width, header.height, limits.work_side);
    let components = usize::from(header.components);
    let cap = usize::try_from(max_pixels)
        .unwrap_or(usize::MAX)
        .saturating_mul(components.max(1));
    let decoded = std::panic::catch_unwind(|| {
        let mut dec = jpeg_decoder::Decoder::new(bytes);
        dec.set_max_decoding_buffer_size(cap);
        let (w, h) = dec.scale(req_w, req_h)?;
        let pixels = dec.decode()?;
        let format = dec.info().map(|i| i.pixel_format);
        Ok::<_, jpeg_decoder::Error>((pixels, usize::from(w), usize::from(h), format))
    });
    let (pixels, w, h, format) = match decoded {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return Err(jpeg_error(e)),
        Err(_) => {
            return Err(ImageError::Corrupt {
                format: ImageFormat::Jpeg,
                reason: "the decoder gave up".into(),
            })
        }
    };
    let corrupt = |reason: &str| ImageError::Corrupt {
        format: ImageFormat::Jpeg,
        reason: reason.into(),
    };
    let data = match format {
        Some(jpeg_decoder::PixelFormat::RGB24) => pixels,
        Some(jpeg_decoder::PixelFormat::L8) => pixels.iter().flat_map(|&v| [v, v, v]).collect(),
        Some(jpeg_decoder::PixelFormat::L16) => pixels
            .chunks_exact(2)
            .flat_map(|c| [c[0], c[0], c[0]])
            .collect(),
        Some(jpeg_decoder::PixelFormat::CMYK32) => pixels
            .chunks_exact(4)
            .flat_map(|c| {
                let k = u16::from(c[3]);
                let f = |v: u8| ((u16::from(v) * k) / 255) as u8;
                [f(c[0]), f(c[1]), f(c[2])]
            })
            .collect(),
        None => return Err(corrupt("no frame decoded")),
    };
    if w == 0 || h == 0 || data.len() != w * h * 3 {
        return Err(corrupt("decoded size does not match the header"));
    }
    Ok(RgbImage {
        width: w,
        height: h,
        data,
    })
}

/// The size to ask the JPEG decoder for: the image scaled so its longer side is at least
/// `work_side` (the decoder picks the smallest 1/1..1/8 scale at or above it).
fn scale_request(width: u32, height: u32, work_side: u32) -> (u16, u16) {
    let long = width.max(height);
    if work_side == 0 || long <= work_side {
        return (clamp16(width), clamp16(height));
    }
    let f = f64::from(work_side) / f64::from(long);
    (
        clamp16((f64::from(width) * f).ceil() as u32),
        clamp16((f64::from(height) * f).ceil() as u32),
    )
}

fn clamp16(v: u32) -> u16 {
    u16::try_from(v.max(1)).unwrap_or(u16::MAX)
}

fn jpeg_error(e: jpeg_decoder::Error) -> ImageError {
    let format = ImageFormat::Jpeg;
    match e {
        jpeg_decoder::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImageError::Truncated { format }
        }
        jpeg_decoder::Error::Unsupported(f) => ImageError::Unsupported {
            format,
            feature: format!("{f:?}"),
        },
        other => ImageError::Corrupt {
            format,
            reason: other.to_string(),
        },
    }
}

fn decode_png(bytes: &[u8], limits: &Limits) -> Result<RgbImage, ImageError> {
    let format = ImageFormat::Png;
    let decoded = std::panic::catch_unwind(|| -> Result<RgbImage, ImageError> {
        // The allocation limit: the 8-bit RGBA output of the largest accepted image plus slack
        // for one row of filtering, so a zlib bomb cannot inflate past it.
        let alloc = usize::try_from(limits.max_pixels)
            .unwrap_or(usize::MAX)
            .saturating_mul(4)
            .saturating_add(1 << 20);
        let mut dec =
            png::Decoder::new_with_limits(Cursor::new(bytes), png::Limits { bytes: alloc });
        dec.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = dec.read_info().map_err(png_error)?;
        let (width, height) = {
            let info = reader.info();
            (info.width, info.height)
        };
        check_png_dimensions(width, height, limits)?;
        let size = reader
            .output_buffer_size()
            .ok_or(ImageError::TooManyPixels {
                width,
                height,
                max_pixels: limits.max_pixels,
            })?;
        let mut buf = vec![0u8; size];
        let frame = reader.next_frame(&mut buf).map_err(png_error)?;
        let (w, h) = (frame.width as usize, frame.height as usize);
        let data: Vec<u8> = match frame.color_type {
            png::ColorType::Rgb => buf[..w * h * 3].to_vec(),
            png::ColorType::Rgba => buf[..w * h * 4]
                .chunks_exact(4)
                .flat_map(|c| {
                    // Composite on white: transparent areas of a cut-out photo become background.
                    let a = u16::from(c[3]);
                    let f = |v: u8| ((u16::from(v) * a + 255 * (255 - a)) / 255) as u8;
                    [f(c[0]), f(c[1]), f(c[2])]
                })
                .collect(),
            png::ColorType::Grayscale => buf[..w * h].iter().flat_map(|&v| [v, v, v]).collect(),
            png::ColorType::GrayscaleAlpha => buf[..w * h * 2]
                .chunks_exact(2)
                .flat_map(|c| {
                    let a = u16::from(c[1]);
                    let v = ((u16::from(c[0]) * a + 255 * (255 - a)) / 255) as u8;
                    [v, v, v]
                })
                .collect(),
            png::ColorType::Indexed => {
                return Err(ImageError::Unsupported {
                    format,
                    feature: "palette output after expansion".into(),
                })
            }
        };
        Ok(RgbImage {
            width: w,
            height: h,
            data,
        })
    });
    match decoded {
        Ok(r) => r,
        Err(_) => Err(ImageError::Corrupt {
            format,
            reason: "the decoder gave up".into(),
        }),
    }
}

fn png_error(e: png::DecodingError) -> ImageError {
    let format = ImageFormat::Png;
    match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImageError::Truncated { format }
        }
        png::DecodingError::LimitsExceeded => ImageError::Corrupt {
            format,
            reason: "decompresses to more data than the image declares".into(),
        },
        png::DecodingError::Format(f) => {
            let reason = f.to_string();
            if reason.contains("EOF") || reason.contains("end of") || reason.contains("eof") {
                ImageError::Truncated { format }
            } else {
                ImageError::Corrupt { format, reason }
            }
        }
        other => ImageError::Corrupt {
            format,
            reason: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
