//! SOPS's codec: value tokens (`ENC[AES256_GCM,...]`), typed plaintext encoding, the MAC
//! and the `sops` metadata block. Nothing here knows about document syntax.

pub mod layout;
pub mod mac;
pub mod metadata;
pub mod selection;
pub mod shamir;
pub mod token;
pub mod value;
pub mod wipe;

/// Errors of the codec. Messages never contain plaintext.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// The text is not a well-formed `ENC[...]` token.
    #[error("malformed ENC[...] value")]
    MalformedToken,
    /// Authentication failed: wrong key, wrong key path (moved or swapped value) or tampering.
    #[error("authentication failed (value altered, moved, or encrypted with another key)")]
    Authentication,
    /// The decrypted bytes do not fit the token's declared type.
    #[error("decrypted value does not match its type {0:?}")]
    BadType(String),
    /// A decrypted string is not UTF-8 text: how sops stores the bytes of a YAML
    /// `!!binary` value, or a .env value's bytes as they were.
    #[error(
        "the decrypted string is not UTF-8 text (sops stores a YAML !!binary value's bytes, or the raw bytes of a .env value, that way); sealed handles UTF-8 text only and cannot write it back"
    )]
    NotText,
    /// The metadata block is missing a field or has a malformed one.
    #[error("sops metadata: {0}")]
    Metadata(String),
}
