//! The `ENC[AES256_GCM,...]` token and typed values: parsing never panics, a parsed token
//! prints back to a token that parses to the same value, opening it with a key never
//! panics, and decoding arbitrary bytes as any type never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sealed_fuzz::check_token(data));
