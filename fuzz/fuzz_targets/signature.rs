//! Fuzz target: `hookwire_core::fuzz_checks::signature` on every generated input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hookwire_core::fuzz_checks::signature(data));
