#![no_main]
//! A batch as the provincial receiver gets it: parsing and verification never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = serde_json::from_slice::<hadir_upstream::Batch>(data) {
        let _ = batch.verify();
        let _ = batch.signing_bytes();
    }
});
