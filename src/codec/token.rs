//! The SOPS value token: `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<t>]`.
//!
//! AES-256-GCM with a 32-byte random IV (SOPS's choice; the GCM counter start is then
//! derived with GHASH), a 16-byte tag stored apart from the ciphertext, and the key path
//! (`a:b:c:`) as additional authenticated data. See `aes/cipher.go` in SOPS.

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{AeadInPlace, KeyInit, OsRng, rand_core::RngCore};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce, Tag};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use super::CodecError;

type Cipher = AesGcm<Aes256, U32>;

/// The prefix every token starts with.
pub const PREFIX: &str = "ENC[AES256_GCM,data:";

/// A parsed token. `data` is ciphertext only; nothing here is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Ciphertext (same length as the plaintext).
    pub data: Vec<u8>,
    /// The 32-byte IV.
    pub iv: Vec<u8>,
    /// The 16-byte GCM tag.
    pub tag: Vec<u8>,
    /// `str`, `int`, `float`, `bool`, `time`, `comment` or `bytes`.
    pub kind: String,
}

/// The 32-byte data key of a document, wiped on drop, with its AES key schedule
/// computed once (the `zeroize` feature of `aes`/`aes-gcm` wipes that too).
#[derive(Clone)]
pub struct DataKey {
    bytes: Zeroizing<[u8; 32]>,
    cipher: Cipher,
}

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> DataKey {
        let mut k = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut k[..]);
        DataKey::from_array(k)
    }

    /// A data key from 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<DataKey, CodecError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CodecError::Metadata("data key is not 32 bytes".into()))?;
        Ok(DataKey::from_array(Zeroizing::new(arr)))
    }

    fn from_array(bytes: Zeroizing<[u8; 32]>) -> DataKey {
        let cipher = Cipher::new(aes_gcm::Key::<Cipher>::from_slice(&bytes[..]));
        DataKey { bytes, cipher }
    }

    /// The raw bytes (for wrapping to recipients).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..]
    }

    fn cipher(&self) -> &Cipher {
        &self.cipher
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// Does `s` look like a token (cheap prefix test)?
pub fn is_token(s: &str) -> bool {
    s.starts_with(PREFIX)
}

impl Token {
    /// Parses a token. Trailing line breaks (a YAML block scalar's) are ignored.
    pub fn parse(s: &str) -> Result<Token, CodecError> {
        let s = s.trim_end();
        let body = s
            .strip_prefix(PREFIX)
            .and_then(|b| b.strip_suffix(']'))
            .ok_or(CodecError::MalformedToken)?;
        let (data, rest) = body.split_once(",iv:").ok_or(CodecError::MalformedToken)?;
        let (iv, rest) = rest.split_once(",tag:").ok_or(CodecError::MalformedToken)?;
        let (tag, kind) = rest
            .split_once(",type:")
            .ok_or(CodecError::MalformedToken)?;
        let decode = |x: &str| B64.decode(x).map_err(|_| CodecError::MalformedToken);
        let token = Token {
            data: decode(data)?,
            iv: decode(iv)?,
            tag: decode(tag)?,
            kind: kind.to_string(),
        };
        if token.iv.len() != 32 || token.tag.len() != 16 || kind.is_empty() {
            return Err(CodecError::MalformedToken);
        }
        Ok(token)
    }

    /// The IV in base64, a stable identity of this token.
    pub fn iv_b64(&self) -> String {
        B64.encode(&self.iv)
    }

    /// Decrypts with `key` and the additional data `aad`.
    pub fn open(&self, key: &DataKey, aad: &str) -> Result<Zeroizing<Vec<u8>>, CodecError> {
        let mut buf = Zeroizing::new(self.data.clone());
        key.cipher()
            .decrypt_in_place_detached(
                Nonce::<U32>::from_slice(&self.iv),
                aad.as_bytes(),
                buf.as_mut(),
                Tag::from_slice(&self.tag),
            )
            .map_err(|_| CodecError::Authentication)?;
        Ok(buf)
    }

    /// Encrypts `plaintext` under `key` with a fresh random IV.
    pub fn seal(plaintext: &[u8], key: &DataKey, aad: &str, kind: &str) -> Token {
        let mut iv = vec![0u8; 32];
        OsRng.fill_bytes(&mut iv);
        Token::seal_with_iv(plaintext, key, aad, kind, iv)
    }

    /// Encrypts with a given IV. Only for re-creating the identical token of an unchanged
    /// (key path, plaintext) pair; never call it with an IV used for anything else.
    pub fn seal_with_iv(
        plaintext: &[u8],
        key: &DataKey,
        aad: &str,
        kind: &str,
        iv: Vec<u8>,
    ) -> Token {
        let mut data = plaintext.to_vec();
        let tag = key
            .cipher()
            .encrypt_in_place_detached(Nonce::<U32>::from_slice(&iv), aad.as_bytes(), &mut data)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        Token {
            data,
            iv,
            tag: tag.to_vec(),
            kind: kind.to_string(),
        }
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{PREFIX}{},iv:{},tag:{},type:{}]",
            B64.encode(&self.data),
            B64.encode(&self.iv),
            B64.encode(&self.tag),
            self.kind
        )
    }
}

/// SOPS's additional data for a key path: `a:b:c:` (`:` for the root).
pub fn aad_for(path: &[String]) -> String {
    let mut s = path.join(":");
    s.push(':');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_format() {
        let key = DataKey::generate();
        let t = Token::seal(b"hunter2", &key, "db:password:", "str");
        let text = t.to_string();
        assert!(text.starts_with(PREFIX) && text.ends_with(",type:str]"));
        let back = Token::parse(&text).unwrap();
        assert_eq!(back, t);
        assert_eq!(&back.open(&key, "db:password:").unwrap()[..], b"hunter2");
        assert_eq!(back.open(&key, "db:user:"), Err(CodecError::Authentication));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "ENC[AES256_GCM,data:,iv:,tag:,type:str]",
            "ENC[AES256_GCM,data:YQ==]",
            "plain",
        ] {
            assert_eq!(Token::parse(bad), Err(CodecError::MalformedToken), "{bad}");
        }
    }

    #[test]
    fn aad_matches_sops() {
        assert_eq!(aad_for(&["db".into(), "password".into()]), "db:password:");
        assert_eq!(aad_for(&[]), ":");
    }
}
