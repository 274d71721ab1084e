//! Runs every committed corpus file of the `image_decode` fuzz target (`/fuzz/corpus/`) through
//! the same entry point, so the corpus is a regression suite under plain `cargo test`.

use std::path::PathBuf;

use hadir_face::image::{decode, Accept, Limits};

#[test]
fn every_image_corpus_file_decodes_or_fails_with_a_reason_without_panicking() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/image_decode");
    let limits = Limits {
        max_pixels: 1 << 20,
        max_progressive_pixels: 1 << 18,
        ..Limits::default()
    };
    let mut files = 0;
    let mut decoded = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus folder") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("readable");
        files += 1;
        for accept in [Accept::JpegOnly, Accept::JpegOrPng] {
            match decode(&bytes, &limits, accept) {
                Ok(img) => {
                    assert_eq!(img.data.len(), img.width * img.height * 3, "{path:?}");
                    decoded += 1;
                }
                Err(e) => assert!(!e.code().is_empty() && !e.to_string().is_empty()),
            }
        }
    }
    assert!(files >= 10, "{files} corpus files");
    assert!(decoded >= 8, "the valid seeds decode: {decoded}");
}
