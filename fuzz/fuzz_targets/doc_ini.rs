//! INI documents: parsing never panics, `decrypt(encrypt(x)) == x` for every input that
//! encrypt accepts, and encrypted inputs decrypt without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed::format::Syntax;

fuzz_target!(|data: &[u8]| sealed_fuzz::check_document(Syntax::Ini, data));
