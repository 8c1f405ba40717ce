//! The properties of sealed's fuzz targets (see `docs/security.md`, "Fuzzing"): one
//! function per target, which panics when the property fails.
//!
//! Every target checks that a parser or decoder never panics, never hangs and never
//! allocates without bound on arbitrary input; the document targets also check that
//! `decrypt(encrypt(x)) == x` byte for byte for every input that encrypt accepts.
//!
//! Two users: the cargo-fuzz targets in `fuzz_targets/` (libFuzzer, AddressSanitizer), and
//! the fuzz smoke test of the main crate (`tests/fuzz_smoke.rs`, which includes this file
//! as a module and runs every property on the seed corpora and deterministic mutations of
//! them, in the ordinary `cargo test` build). So this file uses only `sealed`, `serde_json`
//! and the standard library.

use std::path::{Path, PathBuf};

use sealed::codec::metadata::{Metadata, default_selection};
use sealed::codec::token::{DataKey, Token};
use sealed::codec::{mac, value};
use sealed::config::{Config, Selection};
use sealed::engine::{Sealed, encrypt_with_key, reencrypt};
use sealed::format::{Syntax, yaml_value};
use sealed::git::filter::Filter;
use sealed::git::process;
use sealed::keys::Recipient;

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

/// `data` encrypted under [`fixed_key`] with the rules [`check_document`] gives it, when
/// encrypt accepts it: a seed from which the decrypt paths start.
pub fn encrypt_seed(syntax: Syntax, data: &[u8]) -> Option<String> {
    let src = std::str::from_utf8(data).ok()?;
    let selection = selection_for(data.len());
    encrypt_with_key(
        src,
        syntax.format(),
        &fixed_key(),
        vec![vec![]],
        None,
        &selection,
    )
    .ok()
    .map(|(enc, _)| enc.to_string())
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
///    the plaintext passes property 2;
/// 4. sealed's own ciphertext has an authenticated layout, and with an entry added outside
///    its values (YAML, .env) it never decrypts.
pub fn check_document(syntax: Syntax, data: &[u8]) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let format = syntax.format();
    let key = fixed_key();

    // Seed generation (fuzz/seed.sh): only emit ciphertext, check nothing, so that one
    // known failure does not end the pass.
    if let Some(dir) = emit_dir() {
        if let Some(enc) = encrypt_seed(syntax, data) {
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
    if selection.mac_only_encrypted {
        return; // no layout digest then, by design
    }
    assert!(
        sealed.layout_authenticated(),
        "sealed's own ciphertext has no authenticated layout"
    );
    // 4. The layout digest: an entry added outside the values (a null, an empty value)
    // never decrypts (as a duplicate metadata block never parses).
    let added = match syntax {
        Syntax::Yaml => Some(format!("zz_fuzz_added: ~\n{}", enc.as_str())),
        Syntax::Dotenv => Some(format!("ZZ_FUZZ_ADDED=\n{}", enc.as_str())),
        Syntax::Toml => Some(format!("zz_fuzz_added = \"\"\n{}", enc.as_str())),
        Syntax::Ini => Some(format!("zz_fuzz_added =\n{}", enc.as_str())),
        Syntax::Json | Syntax::Binary => None,
    };
    if let Some(added) = added
        && let Ok(tampered) = Sealed::parse(&added, format)
    {
        assert!(
            tampered.decrypt(key).is_err(),
            "an entry added outside the values decrypted"
        );
    }
}

/// The `token` property: `Token::parse` never panics, a parsed token prints back to a token
/// that parses to the same value, opening it with a key never panics, and decoding
/// arbitrary bytes as any type never panics.
pub fn check_token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(token) = Token::parse(text) {
        let again = Token::parse(&token.to_string()).expect("a printed token parses");
        assert_eq!(again, token, "token print/parse is not stable");
        if let Ok(plain) = token.open(&fixed_key(), "a:b:") {
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
}

/// The `metadata` property over arbitrary JSON: reading never panics, and what is read
/// writes back to a tree that reads the same (master keys of every kind).
pub fn check_metadata(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(md) = Metadata::from_value(&value) else {
        return;
    };
    let back = Metadata::from_value(&md.to_value()).expect("written metadata reads back");
    assert_eq!(back, md, "metadata write/read is not stable");
    // The MAC check path: its additional data from an arbitrary `lastmodified`, and
    // opening an arbitrary `mac` field.
    let _ = mac::mac_aad(&md.lastmodified);
    let _ = mac::open_mac(&md.mac, &fixed_key(), &md.lastmodified);
    let _ = md.recipients().count();
}

/// The `sops_config` property: the YAML value loader and the config parser never panic on
/// arbitrary text (written to `path`, a `.sops.yaml` in a directory of the caller's own);
/// rule matching and recipient parsing of whatever rules load never panic either.
pub fn check_sops_config(data: &[u8], path: &Path) {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(docs) = yaml_value::load(src) {
        for doc in &docs {
            let _ = serde_json::to_string(doc).expect("loaded values serialize");
        }
    }
    std::fs::write(path, data).expect("write the config");
    let Ok(config) = Config::load(path) else {
        return;
    };
    let dir = path.parent().expect("has a directory");
    for file in ["secrets.yaml", "prod/db.env", "a/b/c.json"] {
        let _ = config.rule_for(&dir.join(file));
    }
    for rule in config.rules.iter().take(8) {
        for recipient in rule.key_groups.iter().flatten().take(16) {
            let _ = Recipient::parse(recipient);
        }
    }
}

/// The `pktline` property: git's long-running filter protocol over arbitrary bytes,
/// `git::process::serve` with a real `Filter`, never panics and ends (the stream is
/// finite). The caller provides the environment: an empty working directory (no
/// repository, no `.sops.yaml`) and no identity of the user running it.
pub fn check_pktline(data: &[u8]) {
    let mut filter = Filter::new();
    let mut out = Vec::new();
    let _ = process::serve(data, &mut out, &mut filter);
}
