//! The engine's errors: every way encrypting or decrypting can fail, with SOPS's exit codes.

use crate::codec::CodecError;
use crate::format::SyntaxError;
use crate::keys::KeyError;

/// What can go wrong in the engine. Positions are byte offsets into the input; no variant
/// carries plaintext.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The input is not valid in its syntax.
    #[error("{}", .0.msg)]
    Syntax(SyntaxError),
    /// `encrypt` was given a file that already has `sops` metadata.
    #[error("the file is already encrypted (it has sops metadata)")]
    AlreadyEncrypted,
    /// `decrypt` was given a file without `sops` metadata.
    #[error("the file is not encrypted (no sops metadata found)")]
    NotEncrypted,
    /// The metadata block is malformed.
    #[error("{0}")]
    Metadata(CodecError),
    /// Nothing to encrypt to.
    #[error(
        "no recipients: pass --age, set SOPS_AGE_RECIPIENTS, or add a creation rule to .sops.yaml"
    )]
    NoRecipients,
    /// A recipient could not be used.
    #[error("{0}")]
    Key(KeyError),
    /// No identity could recover the data key.
    #[error(
        "no identity opens this file; it is encrypted for: {}{}; looked in: {}. \
         To be let in, ask a teammate who can open it to run `sealed team add <your-name> <your-public-key>` \
         and share the result (`sealed init` creates your key and prints its public key); \
         if your key is elsewhere, point SOPS_AGE_KEY_FILE at it",
        first_few(.recipients), .groups, .searched.join(", ")
    )]
    NoKey {
        /// The file's recipients, each with its kind.
        recipients: Vec<String>,
        /// Where identities were looked for.
        searched: Vec<String>,
        /// With Shamir key groups: which groups could not be opened (else empty).
        groups: String,
    },
    /// An identity that could open the file could not be used.
    #[error("cannot use the identity for this file ({reason}); it is encrypted for: {}", first_few(.recipients))]
    NoKeyBecause {
        /// The file's recipients.
        recipients: Vec<String>,
        /// Why (a locked key file without a terminal, a wrong passphrase…).
        reason: String,
    },
    /// A value token failed to decrypt.
    #[error("cannot decrypt the value at key path '{path}': {cause}")]
    Value {
        /// The key path (`a:b:`); key names are not secret.
        path: String,
        /// Byte offset of the value.
        offset: usize,
        /// Why.
        cause: CodecError,
    },
    /// A value the rules say is encrypted is stored in clear text.
    #[error("the value at key path '{path}' should be encrypted but is not (file altered?)")]
    Unencrypted {
        /// Key path.
        path: String,
        /// Byte offset.
        offset: usize,
    },
    /// An encrypted comment failed to authenticate.
    #[error("an encrypted comment failed authentication (file altered?)")]
    Comment {
        /// Byte offset.
        offset: usize,
    },
    /// The MAC is missing.
    #[error("the file has no MAC")]
    MacMissing,
    /// The MAC does not match the values.
    #[error("MAC mismatch: the file was altered (values changed, swapped, added or removed)")]
    MacMismatch,
    /// The encrypted form would not decrypt back to the input byte for byte (a construct
    /// sealed does not handle yet); nothing is written.
    #[error(
        "this document uses a construct sealed cannot yet encrypt reversibly; nothing was written (please report it)"
    )]
    Unsupported,
    /// A YAML alias, merge key or tag in a file whose layout is not authenticated.
    #[error(
        "{what} that the file's MAC does not cover; sealed refuses it (a file sealed wrote \
         authenticates its layout, one written by sops cannot hold it)"
    )]
    Unauthenticated {
        /// What was found.
        what: &'static str,
        /// Byte offset.
        offset: usize,
    },
    /// A YAML alias or tag in a document encrypted with `mac_only_encrypted`, whose
    /// layout sealed does not authenticate (clear values stay editable by hand).
    #[error(
        "{what} cannot be encrypted with mac_only_encrypted: sealed would not authenticate it \
         (drop mac_only_encrypted, or write the value out in full)"
    )]
    LooseWithMacOnly {
        /// What was found.
        what: &'static str,
        /// Byte offset.
        offset: usize,
    },
    /// `mac_only_encrypted` asked for a syntax whose layout sealed always authenticates.
    #[error(
        "mac_only_encrypted cannot be used for this syntax: its keys and clear values are always \
         authenticated (drop mac_only_encrypted, or use encrypted_regex or the _unencrypted \
         suffix to leave values in clear)"
    )]
    MacOnlyWithoutLayout,
    /// The layout digest sealed recorded does not match the decrypted document.
    #[error(
        "the file was changed outside its encrypted values since it was encrypted (keys, \
         nulls, empty or clear values, comments, YAML aliases or tags: what the MAC does not \
         cover)"
    )]
    LayoutChanged,
    /// The documents of one file carry different metadata blocks.
    #[error(
        "the documents of this file carry different sops metadata blocks, or the first \
         document carries none (sops reads the first document's)"
    )]
    AmbiguousMetadata {
        /// Byte offset of the block that differs.
        offset: usize,
    },
    /// A regular expression of the selection rules is invalid.
    #[error("invalid regular expression in the sops rules: {0}")]
    BadRegex(String),
}

/// The first five recipients, then how many more: a hostile file can list any number, of
/// any length (a long one shows its first and last 40 characters, control characters as ?).
fn first_few(recipients: &[String]) -> String {
    let short = |r: &String| {
        let c: Vec<char> = r
            .chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect();
        match c.len() {
            ..=100 => c.into_iter().collect::<String>(),
            n => format!(
                "{}…{}",
                String::from_iter(&c[..40]),
                String::from_iter(&c[n - 40..])
            ),
        }
    };
    let shown = recipients.iter().take(5).map(short).collect::<Vec<_>>();
    match recipients.len().saturating_sub(shown.len()) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

impl EngineError {
    /// Byte offset of the problem, when there is one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            EngineError::Syntax(e) => Some(e.offset),
            EngineError::Value { offset, .. }
            | EngineError::Unencrypted { offset, .. }
            | EngineError::Comment { offset }
            | EngineError::Unauthenticated { offset, .. }
            | EngineError::LooseWithMacOnly { offset, .. }
            | EngineError::AmbiguousMetadata { offset } => Some(*offset),
            _ => None,
        }
    }

    /// SOPS's exit code for the same failure.
    pub fn exit_code(&self) -> i32 {
        use crate::error::exit;
        match self {
            EngineError::AlreadyEncrypted => exit::ALREADY_ENCRYPTED,
            EngineError::NoKey { .. } | EngineError::NoKeyBecause { .. } => exit::NO_KEY,
            EngineError::NoRecipients => exit::NO_RECIPIENT,
            EngineError::Value { .. }
            | EngineError::Unencrypted { .. }
            | EngineError::Comment { .. } => exit::DECRYPT_TREE,
            EngineError::MacMismatch
            | EngineError::LayoutChanged
            | EngineError::Unauthenticated { .. } => exit::MAC_MISMATCH,
            EngineError::MacMissing => exit::MAC_NOT_FOUND,
            _ => exit::GENERIC,
        }
    }
}
