#![no_main]
//! Fuzz target: see `hadir_drivers::zk::fuzzing::push_body` (ADMS/iclock and USB attlog lines).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    hadir_drivers::zk::fuzzing::push_body(data);
});
