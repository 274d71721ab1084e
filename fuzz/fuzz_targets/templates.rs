#![no_main]
//! Fuzz target: see `hadir_drivers::zk::fuzzing::templates`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hadir_drivers::zk::fuzzing::templates(data);
});
