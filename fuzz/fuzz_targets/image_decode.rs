#![no_main]
//! Fuzz target: `hadir_face::image::decode`, the entry point for selfies and enrollment photos
//! (format sniffing, byte and pixel caps, JPEG marker walk, JPEG and PNG decoders).

use hadir_face::image::{decode, Accept, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_pixels: 1 << 20,
        max_progressive_pixels: 1 << 18,
        ..Limits::default()
    };
    for accept in [Accept::JpegOnly, Accept::JpegOrPng] {
        if let Ok(img) = decode(data, &limits, accept) {
            assert_eq!(img.data.len(), img.width * img.height * 3);
            assert!((img.width * img.height) as u64 <= limits.max_pixels);
        }
    }
});
