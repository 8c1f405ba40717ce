//! Post-quantum hybrid age keys: the `mlkem768x25519` recipient type of the age spec
//! (C2SP age.md, age 1.3; recipients `age1pq1…`, identities `AGE-SECRET-KEY-PQ-1…`),
//! behind the `age` crate's [`age::Recipient`] and [`age::Identity`] traits.
//!
//! The stanza is `-> mlkem768x25519 <base64 enc>` with a 32-byte body: the file key sealed
//! with HPKE base mode (RFC 9180: KEM MLKEM768-X25519 [`kem`], KDF HKDF-SHA256, AEAD
//! ChaCha20Poly1305, info `age-encryption.org/mlkem768x25519`, empty aad), run by the
//! `hpke` crate through `age_core`'s `hpke_seal`/`hpke_open`, as age does for `tagpq`.
//! age 0.12 has no such recipient type yet (rage PR #632).

mod kem;

use age::secrecy::SecretString;
use age_core::format::{FILE_KEY_BYTES, FileKey, Stanza};
use age_core::primitives::{bech32_decode, bech32_encode, hpke_open, hpke_seal};
use base64::Engine;
use base64::prelude::BASE64_STANDARD_NO_PAD;
use hpke::{Deserializable, HpkeError, Kem as _, Serializable};
use std::collections::HashSet;
use std::fmt;
use zeroize::Zeroizing;

use kem::MlKem768X25519;

/// The stanza type.
pub const STANZA_TAG: &str = "mlkem768x25519";
/// The HPKE `info`.
const HPKE_INFO: &[u8] = b"age-encryption.org/mlkem768x25519";
/// The Bech32 prefix (HRP) of a recipient; its text starts with `age1pq1`.
const RECIPIENT_HRP: bech32::Hrp = bech32::Hrp::parse_unchecked("age1pq");
/// The Bech32 prefix (HRP) of an identity; its text starts with `AGE-SECRET-KEY-PQ-1`.
const IDENTITY_HRP: bech32::Hrp = bech32::Hrp::parse_unchecked("AGE-SECRET-KEY-PQ-");
/// How a recipient's text starts.
pub const RECIPIENT_PREFIX: &str = "age1pq1";
/// How an identity's text starts.
pub const IDENTITY_PREFIX: &str = "AGE-SECRET-KEY-PQ-1";
/// The label age puts on post-quantum stanzas: an age file may not mix them with
/// recipients that would defeat their post-quantum security.
const PQ_LABEL: &str = "postquantum";
/// Bytes of `enc` (ML-KEM-768 ciphertext 1088 + X25519 share 32).
const ENC_LEN: usize = 1120;
/// Bytes of the stanza body (the 16-byte file key and a 16-byte tag).
const BODY_LEN: usize = FILE_KEY_BYTES + 16;

/// A hybrid ML-KEM-768 + X25519 recipient (`age1pq1…`).
#[derive(Clone, PartialEq, Eq)]
pub struct Recipient(kem::PublicKey);

impl std::str::FromStr for Recipient {
    type Err = &'static str;

    /// Parses an `age1pq1…` recipient (lower case, as age writes it; age's Bech32 without
    /// the length limit). The ML-KEM key must be canonical.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.starts_with(RECIPIENT_PREFIX) {
            return Err("not an age1pq1 recipient");
        }
        bech32_decode(
            s,
            |_| "invalid Bech32 encoding",
            |hrp| {
                (hrp == RECIPIENT_HRP)
                    .then_some(())
                    .ok_or("incorrect Bech32 prefix")
            },
            |_, bytes| {
                kem::PublicKey::from_bytes(&bytes.collect::<Vec<u8>>())
                    .map(Recipient)
                    .map_err(|_| "invalid MLKEM768-X25519 public key")
            },
        )
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bech32_encode(RECIPIENT_HRP, &self.0.to_bytes()))
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pq::Recipient({self})")
    }
}

impl age::Recipient for Recipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        use age::secrecy::ExposeSecret;
        let (enc, body) = hpke_seal::<MlKem768X25519, _>(
            &self.0,
            HPKE_INFO,
            file_key.expose_secret(),
            &mut rand::rngs::OsRng,
        );
        let stanza = Stanza {
            tag: STANZA_TAG.to_owned(),
            args: vec![BASE64_STANDARD_NO_PAD.encode(enc.to_bytes())],
            body,
        };
        Ok((vec![stanza], HashSet::from([PQ_LABEL.to_owned()])))
    }
}

/// A hybrid ML-KEM-768 + X25519 identity (`AGE-SECRET-KEY-PQ-1…`).
#[derive(Clone)]
pub struct Identity(kem::PrivateKey);

impl std::str::FromStr for Identity {
    type Err = &'static str;

    /// Parses an `AGE-SECRET-KEY-PQ-1…` identity (a 32-byte seed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.starts_with(IDENTITY_PREFIX) {
            return Err("not an AGE-SECRET-KEY-PQ-1 identity");
        }
        bech32_decode(
            s,
            |_| "invalid Bech32 encoding",
            |hrp| {
                (hrp == IDENTITY_HRP)
                    .then_some(())
                    .ok_or("incorrect Bech32 prefix")
            },
            |_, bytes| {
                let buf = Zeroizing::new(bytes.collect::<Vec<u8>>());
                let seed: [u8; 32] = buf[..]
                    .try_into()
                    .map_err(|_| "incorrect identity length")?;
                Ok(Identity(kem::PrivateKey::from_seed(seed)))
            },
        )
    }
}

impl Identity {
    /// A new random identity.
    pub fn generate() -> Identity {
        use rand::RngCore;
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut seed[..]);
        Identity(kem::PrivateKey::from_seed(*seed))
    }

    /// The identity as written in a keys file (`AGE-SECRET-KEY-PQ-1…`).
    pub fn to_string(&self) -> SecretString {
        let lower = Zeroizing::new(bech32_encode(IDENTITY_HRP, self.0.seed()));
        SecretString::from(lower.to_uppercase())
    }

    /// Its recipient (`age1pq1…`).
    pub fn to_public(&self) -> Recipient {
        Recipient(MlKem768X25519::sk_to_pk(&self.0))
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pq::Identity(..)")
    }
}

impl age::Identity for Identity {
    /// As age's `HybridIdentity`: another stanza type is not ours (`None`); a malformed
    /// stanza, or an `enc` whose X25519 share is of low order, is a header error; a
    /// stanza that does not authenticate was for someone else (`None`).
    fn unwrap_stanza(&self, stanza: &Stanza) -> Option<Result<FileKey, age::DecryptError>> {
        if stanza.tag != STANZA_TAG {
            return None;
        }
        let invalid = || Some(Err(age::DecryptError::InvalidHeader));
        let [arg] = &stanza.args[..] else {
            return invalid();
        };
        let Ok(enc) = BASE64_STANDARD_NO_PAD.decode(arg) else {
            return invalid();
        };
        if enc.len() != ENC_LEN || stanza.body.len() != BODY_LEN {
            return invalid();
        }
        let Ok(enc) = kem::EncappedKey::from_bytes(&enc) else {
            return invalid();
        };
        match hpke_open::<MlKem768X25519>(&enc, &self.0, HPKE_INFO, &stanza.body) {
            Ok(plain) => {
                let plain = Zeroizing::new(plain);
                if plain.len() != FILE_KEY_BYTES {
                    return invalid();
                }
                Some(Ok(FileKey::init_with_mut(|k| k.copy_from_slice(&plain))))
            }
            Err(HpkeError::DecapError) => invalid(),
            // ML-KEM rejects implicitly: a stanza for another key fails only here.
            Err(_) => None,
        }
    }
}

/// The post-quantum identities of a keys file, collected line by line beside age's own
/// identity-file parser (which refuses the whole file on a line it does not know).
#[derive(Default)]
pub struct IdentityLines {
    identities: Vec<Identity>,
}

impl IdentityLines {
    /// Takes `line` (trimmed; `number` counts from 1) when it is a post-quantum identity:
    /// `Ok(true)` when taken, `Ok(false)` when the line is something else, an error naming
    /// the line (never its content) when it is a malformed one.
    pub fn take(&mut self, line: &str, number: usize) -> Result<bool, String> {
        if !line.starts_with(IDENTITY_PREFIX) {
            return Ok(false);
        }
        let id = line.parse::<Identity>().map_err(|why| {
            format!("line {number}: malformed post-quantum identity (AGE-SECRET-KEY-PQ-1…): {why}")
        })?;
        self.identities.push(id);
        Ok(true)
    }

    /// Adds the identities taken, and their recipients, to the end of the lists.
    pub fn append_to(
        self,
        identities: &mut Vec<Box<dyn age::Identity + Send + Sync>>,
        publics: &mut Vec<String>,
    ) {
        for id in self.identities {
            publics.push(id.to_public().to_string());
            identities.push(Box::new(id));
        }
    }
}

#[cfg(test)]
mod tests;
