#![no_main]
//! The configuration parser must report problems, never panic, on any text.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = hadir_config::parse(text, "fuzz.toml");
    }
});
