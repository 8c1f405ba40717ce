//! Keys: age recipients (X25519, ssh-ed25519, ssh-rsa), identities found where SOPS finds
//! them, wrapping and unwrapping of the 32-byte data key as armored age files, and key
//! generation.
//!
//! INTERFACE CONTRACT (used by the engine and commands; keep these signatures):
//! - [`Recipient::parse`], [`Recipient::text`], [`wrap_data_key`]
//! - [`IdentitySet::discover`], [`IdentitySet::unwrap`], [`IdentitySet::searched`],
//!   [`IdentitySet::is_empty`]; [`IdentitySet::discover_with`] (injected environment) and
//!   [`IdentitySet::from_keys_text`] for tests and explicit keys
//! - [`generate`] and [`append`] for `sealed keygen`; [`IdentitySet::public_keys`] for
//!   `sealed init`.

mod identity;
mod keygen;
pub(crate) mod plugin;
pub(crate) mod pq;
mod recipient;

pub use identity::IdentitySet;
pub use keygen::{GeneratedKey, KeyKind, append, append_kind, generate, generate_kind};
pub use recipient::{Recipient, wrap_data_key};

/// The longest `enc` entry (armored text) that is handed to age. Real entries are far
/// shorter: ~0.4 KB for X25519 and ssh-ed25519, ~1.3 KB for ssh-rsa 4096, ~4 KB for
/// ssh-rsa 16384, ~2.3 KB for age's post-quantum hybrid stanza. age parses a header in time
/// quadratic in its length, so a longer (hostile) entry is refused before age sees it
/// (`codec::metadata` refuses the file, [`IdentitySet::unwrap`] the entry).
pub const MAX_ENC_LEN: usize = 64 * 1024;

/// Errors of the keys module. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A recipient string is not an age, ssh-ed25519 or ssh-rsa public key.
    #[error("invalid recipient {0:?}: expected an age1… key, ssh-ed25519 or ssh-rsa public key")]
    BadRecipient(String),
    /// An identity source could not be read or parsed.
    #[error("{source_name}: {msg}")]
    BadIdentity {
        /// Where the identity came from (env var name or file path).
        source_name: String,
        /// What is wrong, without key material.
        msg: String,
    },
    /// Wrapping the data key failed.
    #[error("cannot wrap the data key: {0}")]
    Wrap(String),
    /// An `enc` entry is not a readable age file (malformed armor or header, tampered).
    #[error("the wrapped data key (enc) is not a valid age file: {0}")]
    BadWrappedKey(String),
    /// The binary of an age plugin named by an identity or recipient is not on `PATH`.
    #[error("`{0}` not found on PATH: install the plugin, or add its directory to PATH")]
    MissingPlugin(String),
    /// No identity could unwrap the data key.
    #[error("no identity could unwrap the data key")]
    NoMatchingIdentity,
    /// The key file to create exists already (it is never overwritten).
    #[error("{0}: already exists; refusing to overwrite it")]
    Exists(String),
    /// An I/O failure (key file creation etc.).
    #[error("{0}")]
    Io(String),
}
