//! sealed's own metadata field (`sealed`): what SOPS's format cannot carry, sealed under
//! the data key with the additional data `sealed:`.
//!
//! - `spell`: the original spelling of values whose canonical rendering differs, keyed by
//!   their token's IV (decrypt gives the file back byte for byte);
//! - `doc`: a SHA-256 digest of the whole decrypted document, its **layout**. SOPS's MAC
//!   covers only the bytes of non-null values; key names of null, empty and clear values,
//!   nulls and empty strings themselves, comments in clear, YAML aliases, merge keys and
//!   tags are outside it. The digest covers all of them, so a decrypt of a file sealed
//!   wrote is decided by authenticated data only. SOPS ignores the field, and an editor
//!   can remove it; then the file is read under the rules for unauthenticated layout
//!   (docs/security.md).
//!
//! The digest is taken over the text with CRLF line breaks read as LF and the final line
//! breaks left out, so a checkout that converts line endings, or a file that lost its last
//! line break, keeps an authenticated layout.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use super::CodecError;

/// The plaintext of the `sealed` field.
#[derive(Default)]
pub struct SealedField {
    /// Original spellings by token IV (base64). Wiped on drop.
    pub spell: BTreeMap<String, Zeroizing<String>>,
    /// The layout digest of the decrypted document, when the writer recorded one.
    pub layout: Option<[u8; 32]>,
}

impl SealedField {
    /// The field's plaintext JSON (wiped on drop).
    pub fn to_json(&self) -> Zeroizing<String> {
        let mut spell = serde_json::Map::new();
        for (iv, raw) in &self.spell {
            spell.insert(iv.clone(), serde_json::Value::String(raw.to_string()));
        }
        let mut v = serde_json::json!({ "v": 1, "spell": spell });
        if let Some(d) = &self.layout {
            v["doc"] = hex(d).into();
        }
        let json = Zeroizing::new(v.to_string());
        wipe_json(v);
        json
    }

    /// Reads the field's plaintext JSON.
    pub fn from_json(json: &[u8]) -> Result<SealedField, CodecError> {
        let bad = || CodecError::BadType("json".into());
        let mut v: serde_json::Value = serde_json::from_slice(json).map_err(|_| bad())?;
        let mut out = SealedField::default();
        if let Some(map) = v.get_mut("spell").and_then(|m| m.as_object_mut()) {
            for (iv, raw) in map.iter_mut() {
                if let serde_json::Value::String(s) = raw {
                    out.spell
                        .insert(iv.clone(), Zeroizing::new(std::mem::take(s)));
                }
            }
        }
        if let Some(d) = v.get("doc") {
            out.layout = Some(d.as_str().and_then(unhex).ok_or_else(bad)?);
        }
        wipe_json(v);
        Ok(out)
    }
}

/// The layout digest of a decrypted document (see the module's documentation).
pub fn layout_digest(text: &str) -> [u8; 32] {
    let text = text.trim_end_matches(['\n', '\r']);
    let mut h = Sha256::new();
    let mut parts = text.split("\r\n");
    if let Some(first) = parts.next() {
        h.update(first.as_bytes());
    }
    for part in parts {
        h.update(b"\n");
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// Compares two digests in constant time.
pub fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Wipes the strings of a JSON tree that held spellings.
fn wipe_json(mut v: serde_json::Value) {
    if let Some(map) = v.get_mut("spell").and_then(|m| m.as_object_mut()) {
        for (_, raw) in map.iter_mut() {
            if let serde_json::Value::String(s) = raw {
                s.zeroize();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_round_trips() {
        let mut f = SealedField::default();
        f.spell.insert("iv".into(), Zeroizing::new("'x'".into()));
        f.layout = Some(layout_digest("a: 1\n"));
        let back = SealedField::from_json(f.to_json().as_bytes()).unwrap();
        assert_eq!(back.spell["iv"].as_str(), "'x'");
        assert_eq!(back.layout, f.layout);
        // A field written before the digest existed has none.
        let old = SealedField::from_json(br#"{"v":1,"spell":{}}"#).unwrap();
        assert!(old.layout.is_none());
        assert!(SealedField::from_json(br#"{"v":1,"doc":"zz"}"#).is_err());
    }

    #[test]
    fn the_digest_ignores_line_ending_conversion_and_final_breaks_only() {
        let d = layout_digest("a: 1\nb: ~\n");
        assert_eq!(d, layout_digest("a: 1\r\nb: ~\r\n"));
        assert_eq!(d, layout_digest("a: 1\nb: ~"));
        assert_ne!(d, layout_digest("a: 1\nb: ~\nc: ~\n"));
        assert_ne!(d, layout_digest("a: 1\n\nb: ~\n"));
        assert_ne!(d, layout_digest("a: 1\nb: \"\"\n"));
        assert!(same_digest(&d, &d));
        assert!(!same_digest(&d, &layout_digest("")));
    }
}
