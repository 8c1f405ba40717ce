//! Keys: age recipients (X25519, ssh-ed25519, ssh-rsa) and PGP keys (through gpg),
//! identities found where SOPS finds them, wrapping and unwrapping of the 32-byte data key
//! per kind of master key ([`wrap_entry`], [`unwrap_entry`]; one module per kind), and key
//! generation. The metadata entries of every kind sops writes are [`MasterKey`]s; the
//! kinds sealed does not reach yet (kms, vault…) are kept as they are.
//!
//! INTERFACE CONTRACT (used by the engine and commands; keep these signatures):
//! - [`Recipient::parse`], [`Recipient::text`], [`wrap_data_key`]
//! - [`IdentitySet::discover`], [`IdentitySet::unwrap`], [`IdentitySet::searched`],
//!   [`IdentitySet::is_empty`]; [`IdentitySet::discover_with`] (injected environment) and
//!   [`IdentitySet::from_keys_text`] for tests and explicit keys
//! - [`generate`] and [`append`] for `sealed keygen`; [`IdentitySet::public_keys`] for
//!   `sealed init`.

pub mod aws;
pub mod http;
mod identity;
mod keygen;
pub mod kms;
mod master;
pub mod pgp;
pub(crate) mod plugin;
pub(crate) mod pq;
mod recipient;
pub mod vault;

pub use identity::IdentitySet;
pub use keygen::{GeneratedKey, KeyKind, append, append_kind, generate, generate_kind};
pub use master::{
    AgeEntry, GROUP_ORDER, KmsEntry, MasterKey, PGP_PREFIX, PgpEntry, SERVICE_KINDS, ServiceEntry,
};

/// The prefix of an AWS KMS recipient's text and label (`kms:ARN[+ROLE]…`, see
/// [`kms::KmsKey::text`]).
pub const KMS_PREFIX: &str = "kms:";
pub use recipient::{Recipient, wrap_data_key};
pub use vault::{VaultEntry, VaultKey};

use zeroize::Zeroizing;

/// Wraps `part` (the data key or its Shamir share) to `recipient`: the metadata entry of
/// the recipient's kind (a PGP entry records the time as its `created_at`).
pub fn wrap_entry(part: &[u8], recipient: &Recipient) -> Result<MasterKey, KeyError> {
    if let Some(key) = recipient.kms_key() {
        return Ok(MasterKey::Kms(KmsEntry {
            fields: kms::encrypt(part, key)?,
        }));
    }
    if let Some(key) = recipient.vault_key() {
        return Ok(MasterKey::Vault(vault::encrypt(part, key)?));
    }
    Ok(match recipient.fingerprint() {
        Some(fp) => MasterKey::Pgp(PgpEntry {
            fp: fp.to_string(),
            enc: pgp::encrypt(part, fp)?,
            created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }),
        None => MasterKey::Age(AgeEntry {
            recipient: recipient.text().to_string(),
            enc: wrap_data_key(part, recipient)?,
        }),
    })
}

/// An entry for a message: its kind and whom it is for (`age age1…`, `ssh ssh-ed25519 …`,
/// `pgp 7F3A…`, `AWS KMS arn:…`).
pub fn describe(entry: &MasterKey) -> String {
    match entry {
        MasterKey::Age(a) => {
            let r = &a.recipient;
            let kind = if r.starts_with("ssh-") {
                "ssh"
            } else if r.starts_with("age1pq1") {
                "pq"
            } else if r.starts_with("age1") && r[4..].contains('1') {
                "plugin"
            } else {
                "age"
            };
            format!("{kind} {r}")
        }
        MasterKey::Pgp(p) => format!("pgp {}", p.fp),
        MasterKey::Kms(k) => format!(
            "{} {}",
            kms::SERVICE,
            kms::KmsKey::from_fields(&k.fields).describe()
        ),
        MasterKey::Vault(v) => format!("{} {}", vault::SERVICE, v.key.uri()),
        MasterKey::Service(_) => {
            let label = entry.label();
            let key = label.split_once(':').map_or("", |(_, k)| k);
            format!("{} {key}", entry.service_name().unwrap_or("service"))
        }
    }
}

/// How costly trying an entry is: age identities in memory first, then gpg (a process),
/// then services.
pub fn unwrap_cost(entry: &MasterKey) -> u8 {
    match entry {
        MasterKey::Age(_) => 0,
        MasterKey::Pgp(_) => 1,
        MasterKey::Kms(_) | MasterKey::Vault(_) => 2,
        MasterKey::Service(_) => 3,
    }
}

/// Unwraps one metadata entry with what is at hand: age entries with `identities`, pgp
/// entries through gpg and the user's keyring, kms entries through AWS KMS. A service entry sealed does not reach is
/// [`KeyError::Unreachable`].
pub fn unwrap_entry(
    identities: &IdentitySet,
    entry: &MasterKey,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    match entry {
        MasterKey::Age(a) => identities.unwrap_for(&a.enc, &a.recipient),
        MasterKey::Pgp(p) => pgp::decrypt(&p.enc),
        MasterKey::Kms(k) => kms::decrypt(&k.fields),
        MasterKey::Vault(v) => vault::decrypt(v),
        MasterKey::Service(_) => Err(KeyError::Unreachable(
            entry.service_name().unwrap_or("a key service").to_string(),
        )),
    }
}

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
    /// A PGP fingerprint that is not one.
    #[error("invalid PGP fingerprint {0:?}: expected 16 to 64 hex digits")]
    BadFingerprint(String),
    /// An AWS KMS key or encryption context that is not one.
    #[error("invalid AWS KMS key {0}")]
    BadKms(String),
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
    /// A tool a key kind needs (gpg) is missing or failed.
    #[error("{0}")]
    Tool(String),
    /// A Vault transit key URI that is not one.
    #[error("invalid Vault transit URI {0}")]
    BadVaultUri(String),
    /// A key service failed, refused, or cannot be asked (one line naming the service
    /// and its address; never a credential).
    #[error("{0}")]
    Service(String),
    /// A key service sealed does not reach yet.
    #[error("the file's {0} key cannot be used: sealed does not reach {0} yet")]
    Unreachable(String),
    /// The key file to create exists already (it is never overwritten).
    #[error("{0}: already exists; refusing to overwrite it")]
    Exists(String),
    /// An I/O failure (key file creation etc.).
    #[error("{0}")]
    Io(String),
}
