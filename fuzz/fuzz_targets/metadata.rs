//! The `sops` metadata block over arbitrary JSON: reading never panics, and what is read
//! writes back to a tree that reads the same (master keys of other kinds aside).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sealed_fuzz::check_metadata(data));
