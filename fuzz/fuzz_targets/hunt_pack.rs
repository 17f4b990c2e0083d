#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| huntsman::fuzzing::hunt_pack(data));
