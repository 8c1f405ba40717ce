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
        let t = TokenText::split(s)?;
        let mut iv = [0u8; 32];
        let mut tag = [0u8; 16];
        t.decode_iv_tag(&mut iv, &mut tag)?;
        Ok(Token {
            data: B64.decode(t.data).map_err(|_| CodecError::MalformedToken)?,
            iv: iv.to_vec(),
            tag: tag.to_vec(),
            kind: t.kind.to_string(),
        })
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

/// The fields of a token as written, borrowed from its text: what decrypting a value
/// needs without allocating.
#[derive(Debug, Clone, Copy)]
pub struct TokenText<'a> {
    /// Base64 ciphertext.
    pub data: &'a str,
    /// Base64 IV (32 bytes).
    pub iv: &'a str,
    /// Base64 tag (16 bytes).
    pub tag: &'a str,
    /// The value type.
    pub kind: &'a str,
}

impl<'a> TokenText<'a> {
    /// Splits a token into its fields. Trailing line breaks are ignored.
    pub fn split(s: &'a str) -> Result<TokenText<'a>, CodecError> {
        let s = s.trim_end();
        let body = s
            .strip_prefix(PREFIX)
            .and_then(|b| b.strip_suffix(']'))
            .ok_or(CodecError::MalformedToken)?;
        // Base64 has no commas: the fields are the first three comma-separated parts and
        // the rest.
        let mut parts = body.splitn(4, ',');
        let mut field = |name: &str| {
            parts
                .next()
                .and_then(|p| p.strip_prefix(name))
                .ok_or(CodecError::MalformedToken)
        };
        let (data, iv, tag, kind) = (field("")?, field("iv:")?, field("tag:")?, field("type:")?);
        if kind.is_empty() {
            return Err(CodecError::MalformedToken);
        }
        Ok(TokenText {
            data,
            iv,
            tag,
            kind,
        })
    }

    /// Decodes the IV and the tag, which must be 32 and 16 bytes.
    pub fn decode_iv_tag(&self, iv: &mut [u8; 32], tag: &mut [u8; 16]) -> Result<(), CodecError> {
        let mut buf = [0u8; 48];
        match B64.decode_slice(self.iv, &mut buf) {
            Ok(32) => iv.copy_from_slice(&buf[..32]),
            _ => return Err(CodecError::MalformedToken),
        }
        match B64.decode_slice(self.tag, &mut buf) {
            Ok(16) => tag.copy_from_slice(&buf[..16]),
            _ => return Err(CodecError::MalformedToken),
        }
        Ok(())
    }

    /// Decrypts into `out` (cleared first) with `key` and the additional data `aad`.
    pub fn open_into(
        &self,
        key: &DataKey,
        aad: &[u8],
        out: &mut Zeroizing<Vec<u8>>,
    ) -> Result<(), CodecError> {
        let mut iv = [0u8; 32];
        let mut tag = [0u8; 16];
        self.decode_iv_tag(&mut iv, &mut tag)?;
        out.clear();
        super::wipe::reserve_bytes(out, self.data.len() / 4 * 3 + 3);
        B64.decode_vec(self.data, out)
            .map_err(|_| CodecError::MalformedToken)?;
        key.cipher()
            .decrypt_in_place_detached(
                Nonce::<U32>::from_slice(&iv),
                aad,
                out.as_mut_slice(),
                Tag::from_slice(&tag),
            )
            .map_err(|_| CodecError::Authentication)
    }
}

/// Seals many values under one data key without allocating per value: the scratch
/// buffer is reused and ends up holding only ciphertext.
pub struct Sealer<'k> {
    key: &'k DataKey,
    scratch: Zeroizing<Vec<u8>>,
}

impl<'k> Sealer<'k> {
    /// A sealer for `key`.
    pub fn new(key: &'k DataKey) -> Sealer<'k> {
        Sealer {
            key,
            scratch: Zeroizing::new(Vec::new()),
        }
    }

    /// Encrypts `plaintext` with `iv` and the additional data `aad`, and appends the
    /// token's text to `out`. Only pass an IV that is fresh, or that sealed this same
    /// (key path, type, plaintext).
    pub fn seal_into(
        &mut self,
        out: &mut String,
        plaintext: &[u8],
        aad: &[u8],
        kind: &str,
        iv: &[u8; 32],
    ) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        super::wipe::reserve_bytes(&mut scratch, plaintext.len());
        scratch.extend_from_slice(plaintext);
        self.seal_buffer_into(out, &mut scratch, aad, kind, iv);
        self.scratch = scratch;
    }

    /// Like [`Sealer::seal_into`], encrypting `buf` in place: it holds the plaintext on
    /// entry and the ciphertext on return (no copy of a large value).
    pub fn seal_buffer_into(
        &self,
        out: &mut String,
        buf: &mut [u8],
        aad: &[u8],
        kind: &str,
        iv: &[u8; 32],
    ) {
        let tag = self
            .key
            .cipher()
            .encrypt_in_place_detached(Nonce::<U32>::from_slice(iv), aad, buf)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        out.push_str(PREFIX);
        push_b64(out, buf);
        out.push_str(",iv:");
        push_b64(out, iv);
        out.push_str(",tag:");
        push_b64(out, &tag);
        out.push_str(",type:");
        out.push_str(kind);
        out.push(']');
    }
}

/// Appends `bytes` in padded base64 (faster than `encode_string` for short inputs).
fn push_b64(out: &mut String, bytes: &[u8]) {
    let mut stack = [0u8; 256];
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(usize::MAX);
    if len <= stack.len()
        && let Ok(n) = B64.encode_slice(bytes, &mut stack)
        && let Ok(text) = std::str::from_utf8(&stack[..n])
    {
        out.push_str(text);
    } else {
        B64.encode_string(bytes, out);
    }
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
}
