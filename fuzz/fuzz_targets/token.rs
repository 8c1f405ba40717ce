//! The `ENC[AES256_GCM,...]` token and typed values: parsing never panics, a parsed token
//! prints back to a token that parses to the same value, opening it with a key never
//! panics, and decoding arbitrary bytes as any type never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed::codec::token::Token;
use sealed::codec::value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(token) = Token::parse(text) {
        let again = Token::parse(&token.to_string()).expect("a printed token parses");
        assert_eq!(again, token, "token print/parse is not stable");
        let key = sealed_fuzz::fixed_key();
        if let Ok(plain) = token.open(&key, "a:b:") {
            let _ = value::decode(&plain, &token.kind);
        }
    }
    // Typed decoding of arbitrary plaintext: `kind` is the text before the first NUL.
    let (kind, rest) = data.split_at(data.iter().position(|&b| b == 0).unwrap_or(0));
    if let (Ok(kind), Some(bytes)) = (std::str::from_utf8(kind), rest.get(1..))
        && let Ok(v) = value::decode(bytes, kind)
    {
        let _ = value::encode(&v);
    }
});
