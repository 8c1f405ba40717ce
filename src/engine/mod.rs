//! The format-preserving engine, shared by every syntax.
//!
//! Encrypting parses the document once into an [`Outline`], encrypts each selected value
//! and comment, and splices the tokens into the original text in one pass; every other
//! byte stays where it was. Decrypting does the reverse, verifying the MAC before any
//! plaintext leaves this module, and removes exactly the metadata that encrypting added.
//! When the canonical spelling of a value (what [`Format::render`] writes) differs from
//! how it was written, the original spelling travels encrypted in the metadata's
//! `sealed` field, keyed by the value token's IV, so decrypt restores it byte for byte.
//!
//! The parts, each over the ones below it (no part imports one above):
//! - [`error`](EngineError): what can go wrong, with SOPS's exit codes;
//! - `select`: SOPS's `shouldBeEncrypted` rules and comment stack;
//! - `splice`: applying replacement texts in one pass, and where bytes land;
//! - `keys`: wrapping the data key to recipients ([`KeyPlan`]) and unwrapping it;
//! - `check`: the verification of every encryption's output (and its cut tokens);
//! - `seal`: the encryption pass, IVs and their reuse ([`Reuse`]);
//! - `open`: [`Sealed`], parsing and decrypting an encrypted document;
//! - this module: the public entry points that combine them (`reencrypt` opens and seals).

mod check;
mod error;
mod keys;
mod message;
mod open;
mod seal;
mod select;
mod splice;
#[cfg(test)]
mod tests;

use zeroize::Zeroizing;

use crate::codec::metadata::{MasterKey, Metadata, SOPS_VERSION};
use crate::codec::token::DataKey;
use crate::config::Selection;
use crate::format::Format;

pub use error::EngineError;
pub use keys::{KeyPlan, unwrap_data_key};
pub use message::{conflict_marker_line, engine_error};
pub use open::{ALLOW_UNAUTHENTICATED_VAR, Sealed};
pub use seal::{ADOPTED_LAYOUT, EncryptReport, Reuse};
pub use splice::{Overlap, apply_splices};

use seal::seal_document;

/// Encrypts a plaintext document.
pub fn encrypt(
    src: &str,
    format: &dyn Format,
    plan: &KeyPlan,
    selection: &Selection,
) -> Result<(Zeroizing<String>, EncryptReport), EngineError> {
    let key = DataKey::generate();
    let (groups, shamir_threshold) = plan.wrap(&key)?;
    encrypt_with_key(src, format, &key, groups, shamir_threshold, selection)
}

/// Encrypts a plaintext document under a given data key, with the key already wrapped.
pub fn encrypt_with_key(
    src: &str,
    format: &dyn Format,
    key: &DataKey,
    groups: Vec<Vec<MasterKey>>,
    shamir_threshold: Option<usize>,
    selection: &Selection,
) -> Result<(Zeroizing<String>, EncryptReport), EngineError> {
    let template = Metadata {
        groups,
        shamir_threshold,
        mac: String::new(),
        lastmodified: String::new(),
        selection: selection.clone(),
        version: SOPS_VERSION.to_string(),
        sealed: None,
    }
    .to_value();
    seal_document(src, format, key, selection, &template, None)
}

/// Re-encrypts `plain` — an edited decryption of `old` — under `old`'s data key and
/// metadata (recipients, rules, and any field sealed does not know, such as pgp keys).
/// Every value and comment whose key path and plaintext are unchanged keeps its exact
/// token (same IV, so the same ciphertext); only changed or new ones get fresh IVs.
/// When `plain` is exactly `old`'s decryption, `old` is returned unchanged.
pub fn reencrypt(
    plain: &str,
    old: &Sealed<'_>,
    key: &DataKey,
) -> Result<(Zeroizing<String>, EncryptReport), EngineError> {
    reencrypt_from_many(plain, old, &[], key)
}

/// Like [`reencrypt`], reusing tokens from `old` and from `others` (other versions of the
/// same file, e.g. both sides of a merge) that are under the same data key; `old` gives
/// the metadata.
pub fn reencrypt_from_many(
    plain: &str,
    old: &Sealed<'_>,
    others: &[&Sealed<'_>],
    key: &DataKey,
) -> Result<(Zeroizing<String>, EncryptReport), EngineError> {
    let mut reuse = Reuse::default();
    let old_plain = old.decrypt_inner(key, Some(&mut reuse))?;
    if old_plain.as_str() == plain {
        return Ok((
            Zeroizing::new(old.src.to_string()),
            EncryptReport {
                aliases: old.outline.aliases,
                adopted_layout: false,
            },
        ));
    }
    for other in others {
        // A version under another data key (rotated on one branch) cannot share tokens.
        let _ = other.decrypt_inner(key, Some(&mut reuse));
    }
    let template = old.metadata_value();
    let (out, mut report) = seal_document(
        plain,
        old.format,
        key,
        &old.metadata.selection,
        &template,
        Some(&reuse),
    )?;
    report.adopted_layout =
        !old.layout_authenticated() && !old.metadata.selection.mac_only_encrypted;
    Ok((out, report))
}
