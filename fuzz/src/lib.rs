//! Shared properties of sealed's fuzz targets (see `docs/security.md`, "Fuzzing").
//!
//! Every target checks that a parser or decoder never panics, never hangs and never
//! allocates without bound on arbitrary input; the document targets also check that
//! `decrypt(encrypt(x)) == x` byte for byte for every input that encrypt accepts.

use std::path::PathBuf;

use sealed::codec::metadata::default_selection;
use sealed::codec::token::DataKey;
use sealed::config::Selection;
use sealed::engine::{Sealed, encrypt_with_key, reencrypt};
use sealed::format::Syntax;

/// The fixed data key of every fuzz run (fuzzing needs no secrecy, and a fixed key lets
/// seeds encrypted by `fuzz/seed.sh` be decrypted by the targets).
pub fn fixed_key() -> DataKey {
    DataKey::from_slice(&[0x5e; 32]).expect("32 bytes")
}

/// The selection rules used for an input: SOPS's default for most inputs, and now and then
/// the other rule kinds, so the selector and the comment stack are fuzzed too. Chosen from
/// the length so that a seed keeps its rules when it is replayed.
fn selection_for(len: usize) -> Selection {
    let mut sel = default_selection();
    match len % 8 {
        5 => {
            sel.unencrypted_suffix = None;
            sel.encrypted_regex = Some("^(a|pass|db)".into());
        }
        6 => {
            sel.unencrypted_suffix = None;
            sel.encrypted_comment_regex = Some("sops:enc".into());
        }
        7 => sel.mac_only_encrypted = true,
        _ => {}
    }
    sel
}

/// Where `SEALED_FUZZ_EMIT` asks encrypted seeds to be written (seed generation only).
fn emit_dir() -> Option<PathBuf> {
    std::env::var_os("SEALED_FUZZ_EMIT").map(PathBuf::from)
}

fn emit(dir: &std::path::Path, data: &[u8]) {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    data.hash(&mut h);
    let _ = std::fs::write(dir.join(format!("enc-{:016x}", h.finish())), data);
}

/// The document property for one syntax:
///
/// 1. parsing arbitrary text never panics;
/// 2. when `encrypt` accepts the text, the ciphertext parses and decrypts (with the MAC
///    verified) to exactly the same bytes;
/// 3. when the text is itself an encrypted document, decrypting it never panics, and when
///    it decrypts, re-encrypting the unchanged plaintext gives back the same ciphertext and
///    the plaintext passes property 2.
pub fn check_document(syntax: Syntax, data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let format = syntax.format();
    let key = fixed_key();

    // Seed generation (fuzz/seed.sh): only emit ciphertext, check nothing, so that one
    // known failure does not end the pass.
    if let Some(dir) = emit_dir() {
        if let Ok((enc, _)) = encrypt_with_key(
            src,
            format,
            &key,
            vec![vec![]],
            None,
            &selection_for(data.len()),
        ) {
            emit(&dir, enc.as_bytes());
        }
        return;
    }

    // 3. Arbitrary (possibly encrypted) input.
    if let Ok(sealed) = Sealed::parse(src, format) {
        let _ = sealed.unprotected_values();
        if let Ok(plain) = sealed.decrypt(&key) {
            let (again, _) = reencrypt(&plain, &sealed, &key)
                .unwrap_or_else(|e| panic!("re-encrypting a decrypted document failed: {e}"));
            assert_eq!(
                again.as_str(),
                src,
                "re-encrypting unchanged plaintext changed the ciphertext"
            );
            roundtrip(syntax, &plain, &key);
        }
        return;
    }
    roundtrip(syntax, src, &key);
}

/// Property 2: when `encrypt` accepts `src`, `decrypt(encrypt(src)) == src`.
fn roundtrip(syntax: Syntax, src: &str, key: &DataKey) {
    let format = syntax.format();
    let data = src.as_bytes();
    let selection = selection_for(data.len());
    let Ok((enc, _)) = encrypt_with_key(src, format, key, vec![vec![]], None, &selection) else {
        return;
    };
    let sealed = Sealed::parse(&enc, format)
        .unwrap_or_else(|e| panic!("sealed cannot parse its own ciphertext: {e}"));
    let plain = sealed
        .decrypt(key)
        .unwrap_or_else(|e| panic!("sealed cannot decrypt its own ciphertext: {e}"));
    // assert_eq! would print the document; compare without showing it.
    if plain.as_bytes() != data {
        let at = plain
            .bytes()
            .zip(data)
            .position(|(a, &b)| a != b)
            .unwrap_or(plain.len().min(data.len()));
        panic!(
            "decrypt(encrypt(x)) != x: first difference at byte {at} (lengths {} and {})",
            plain.len(),
            data.len()
        );
    }
}
