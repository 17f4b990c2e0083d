#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| huntsman::fuzzing::allow_list(data));
