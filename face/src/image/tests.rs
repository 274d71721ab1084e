use super::*;

fn jpeg(w: u16, h: u16, grey: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let (data, ct) = if grey {
        (
            (0..w as usize * h as usize)
                .map(|i| (i % 251) as u8)
                .collect::<Vec<u8>>(),
            jpeg_encoder::ColorType::Luma,
        )
    } else {
        (
            (0..w as usize * h as usize * 3)
                .map(|i| (i % 253) as u8)
                .collect::<Vec<u8>>(),
            jpeg_encoder::ColorType::Rgb,
        )
    };
    jpeg_encoder::Encoder::new(&mut out, 85)
        .encode(&data, w, h, ct)
        .expect("encodes");
    out
}

fn png_bytes(w: u32, h: u32, color: png::ColorType, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().expect("header");
        writer.write_image_data(data).expect("data");
    }
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn any() -> Limits {
    Limits::default()
}

#[test]
fn a_zero_byte_file_is_empty() {
    assert_eq!(
        decode(&[], &any(), Accept::JpegOrPng),
        Err(ImageError::Empty)
    );
}

#[test]
fn a_file_above_the_byte_cap_is_refused_before_decoding() {
    let limits = Limits {
        max_bytes: 100,
        ..any()
    };
    assert_eq!(
        decode(&jpeg(64, 64, false), &limits, Accept::JpegOnly),
        Err(ImageError::TooLarge {
            size: jpeg(64, 64, false).len(),
            max: 100
        })
    );
}

#[test]
fn a_png_renamed_to_jpg_is_named_as_a_png_where_a_jpeg_is_required() {
    let png = png_bytes(4, 4, png::ColorType::Rgb, &[200; 48]);
    let e = decode(&png, &any(), Accept::JpegOnly).unwrap_err();
    assert_eq!(
        e,
        ImageError::WrongFormat {
            found: ImageFormat::Png,
            expected: ImageFormat::Jpeg
        }
    );
    assert_eq!(e.code(), "image.wrong-format");
    assert!(e.to_string().contains("PNG"));
    // Where PNG is accepted (enrollment), the same bytes decode by content.
    let img = decode(&png, &any(), Accept::JpegOrPng).expect("decodes");
    assert_eq!((img.width, img.height, img.pixel(1, 1)), (4, 4, [200; 3]));
}

#[test]
fn other_formats_are_recognised_for_the_message() {
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    assert_eq!(
        decode(&gif, &any(), Accept::JpegOrPng),
        Err(ImageError::UnknownFormat {
            looks_like: Some("GIF")
        })
    );
    assert_eq!(
        decode(b"hello", &any(), Accept::JpegOrPng),
        Err(ImageError::UnknownFormat { looks_like: None })
    );
}

#[test]
fn a_truncated_jpeg_is_named_as_cut_off_at_every_length() {
    let full = jpeg(96, 64, false);
    for len in [3, 20, full.len() / 3, full.len() / 2, full.len() - 2] {
        let e = decode(&full[..len], &any(), Accept::JpegOnly).unwrap_err();
        assert!(
            matches!(e, ImageError::Truncated { .. } | ImageError::Corrupt { .. }),
            "{len}: {e:?}"
        );
    }
    assert_eq!(
        decode(&full[..full.len() / 2], &any(), Accept::JpegOnly),
        Err(ImageError::Truncated {
            format: ImageFormat::Jpeg
        })
    );
}

#[test]
fn a_truncated_png_is_named_as_cut_off() {
    let full = png_bytes(64, 64, png::ColorType::Rgb, &vec![7; 64 * 64 * 3]);
    let e = decode(&full[..full.len() - 30], &any(), Accept::JpegOrPng).unwrap_err();
    assert!(
        matches!(
            e,
            ImageError::Truncated {
                format: ImageFormat::Png
            } | ImageError::Corrupt {
                format: ImageFormat::Png,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_jpeg_declaring_20000_by_20000_pixels_is_refused_before_any_allocation() {
    let mut b = jpeg(16, 16, false);
    let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).expect("SOF0");
    b[sof + 5..sof + 9].copy_from_slice(&[0x4E, 0x20, 0x4E, 0x20]);
    // Also cut the file: the dimension check comes first, so the reason is still the size.
    b.truncate(sof + 40);
    assert_eq!(
        decode(&b, &any(), Accept::JpegOnly),
        Err(ImageError::TooManyPixels {
            width: 20000,
            height: 20000,
            max_pixels: 4096 * 4096
        })
    );
}

#[test]
fn a_png_declaring_20000_by_20000_pixels_is_refused_before_decoding() {
    let mut b = png_bytes(8, 8, png::ColorType::Rgb, &[1; 192]);
    // IHDR data at 16..29 (width, height, ...), its CRC at 29..33.
    b[16..20].copy_from_slice(&20000u32.to_be_bytes());
    b[20..24].copy_from_slice(&20000u32.to_be_bytes());
    let crc = crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(
        decode(&b, &any(), Accept::JpegOrPng),
        Err(ImageError::TooManyPixels {
            width: 20000,
            height: 20000,
            max_pixels: 4096 * 4096
        })
    );
}

#[test]
fn a_progressive_limit_is_stricter_than_the_baseline_one() {
    let limits = Limits {
        max_pixels: 10_000,
        max_progressive_pixels: 100,
        ..any()
    };
    let mut b = jpeg(16, 16, false);
    let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).expect("SOF0");
    assert!(decode(&b, &limits, Accept::JpegOnly).is_ok());
    b[sof + 1] = 0xC2; // declare progressive
    assert!(matches!(
        decode(&b, &limits, Accept::JpegOnly),
        Err(ImageError::TooManyPixels {
            max_pixels: 100,
            ..
        })
    ));
}

#[test]
fn a_large_jpeg_is_decoded_scaled_down_to_the_working_size() {
    let b = jpeg(2048, 1536, false);
    let img = decode(&b, &any(), Accept::JpegOnly).expect("decodes");
    assert_eq!((img.width, img.height), (1024, 768));
    let full = Limits {
        work_side: 0,
        ..any()
    };
    let img = decode(&b, &full, Accept::JpegOnly).expect("decodes");
    assert_eq!((img.width, img.height), (2048, 1536));
}

#[test]
fn grey_jpegs_and_transparent_pngs_become_rgb() {
    let img = decode(&jpeg(32, 16, true), &any(), Accept::JpegOnly).expect("decodes");
    assert_eq!(img.data.len(), 32 * 16 * 3);
    let p = img.pixel(5, 5);
    assert!(p[0] == p[1] && p[1] == p[2]);
    let rgba = png_bytes(2, 1, png::ColorType::Rgba, &[255, 0, 0, 255, 0, 0, 0, 0]);
    let img = decode(&rgba, &any(), Accept::JpegOrPng).expect("decodes");
    assert_eq!(img.pixel(0, 0), [255, 0, 0]);
    assert_eq!(img.pixel(1, 0), [255, 255, 255], "transparent → white");
}

#[test]
fn garbage_after_a_jpeg_signature_never_panics() {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for len in [3usize, 10, 100, 1000, 5000] {
        for _ in 0..50 {
            let mut b = vec![0xFF, 0xD8, 0xFF];
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.push(x as u8);
            }
            assert!(decode(&b, &any(), Accept::JpegOnly).is_err());
        }
    }
}
