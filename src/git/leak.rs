//! Secrets that leave the protected paths: a protected file renamed or copied to a path
//! the filter does not cover, where git stores it as it is in the work tree — plaintext.
//!
//! Git's own rename detection cannot see these (the old blob is ciphertext, the new one
//! plaintext), so a change is compared document by document:
//!
//! - **with a key** (an identity opens the secret file's data key): an unprotected blob
//!   added or changed by the change that holds, in clear text, one of the file's encrypted
//!   values of at least [`MIN_SECRET_LEN`] bytes — or, when the file left its path in the
//!   same change (a rename), any of its encrypted values at the same key path;
//! - **without a key**, by structure: an added or changed unprotected blob has at least
//!   half of the file's key paths and, for at least half of its string values of
//!   [`MIN_SECRET_LEN`] bytes or more, a value of the same length at the same key path
//!   (GCM ciphertext is as long as its plaintext, so a copy keeps the lengths, an example
//!   file with placeholders does not). When the file left its path in the same change (a
//!   rename) and has no such long value, the key paths are enough.
//!
//! An example file that shares only key names with a secret file is not refused.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use zeroize::Zeroizing;

use crate::codec::token::{TokenText, is_token};
use crate::engine::{Sealed, unwrap_data_key};
use crate::format::{Item, Scalar, Syntax};
use crate::keys::IdentitySet;

/// Encrypted values shorter than this (ports, booleans, `admin`) are not looked for in
/// other files by their text alone: they are too likely to be there by chance.
pub const MIN_SECRET_LEN: usize = 8;

/// The share of key paths two documents must have in common to be the same document.
const SAME_SHAPE: f64 = 0.5;

/// The identities, discovered once and only when a file needs them.
#[derive(Default)]
pub struct Keys {
    ids: Option<Option<IdentitySet>>,
}

impl Keys {
    /// The identities of the environment, if any can be found.
    pub fn get(&mut self) -> Option<&IdentitySet> {
        self.ids
            .get_or_insert_with(|| IdentitySet::discover().ok())
            .as_ref()
    }
}

/// One encrypted value of a secret file.
struct Value {
    /// Its key path (SOPS's additional data, `db:password:`).
    path: String,
    /// Its plaintext, when a key opened the file.
    text: Option<Zeroizing<String>>,
    /// Its plaintext length (from the token: GCM keeps lengths).
    len: usize,
    /// Whether it is a string (other types are short and common).
    is_str: bool,
}

/// A sealed blob of the change's old or new tree.
pub struct SecretDoc {
    /// Its path.
    pub path: String,
    syntax: Syntax,
    /// Every value's key path.
    shape: HashSet<String>,
    values: Vec<Value>,
    /// A key opened it (the values' texts are known).
    opened: bool,
    /// Its path holds no sealed blob after the change (removed, or replaced by plaintext).
    pub left: bool,
}

impl SecretDoc {
    /// Reads a blob as a secret document: `None` unless it is sealed ciphertext. With a
    /// key, the values are decrypted (the MAC verified first).
    pub fn read(path: &str, content: &[u8], keys: &mut Keys) -> Option<SecretDoc> {
        let (mut doc, sealed) = SecretDoc::parse(path, content)?;
        doc.open(&sealed, keys);
        Some(doc)
    }

    /// Reads the sealed blob `content` with its decrypted text `plain` at hand (the
    /// filter has both): the values are paired without a key.
    pub fn with_plaintext(path: &str, content: &[u8], plain: &str) -> Option<SecretDoc> {
        let (mut doc, _) = SecretDoc::parse(path, content)?;
        doc.fill(plain);
        Some(doc)
    }

    /// The structure of a sealed blob, its values not yet opened.
    fn parse<'c>(path: &str, content: &'c [u8]) -> Option<(SecretDoc, Sealed<'c>)> {
        let syntax = Syntax::of_file(Path::new(path));
        let text = std::str::from_utf8(content).ok()?;
        let sealed = Sealed::parse(text, syntax.format()).ok()?;
        let outline = syntax.format().parse_lean(text).ok()?;
        let mut values = Vec::new();
        let mut shape = HashSet::new();
        for doc in &outline.docs {
            for item in &doc.items {
                let Item::Leaf(leaf) = item else { continue };
                let path = leaf.path.aad();
                shape.insert(path.clone());
                if let Scalar::Str(s) = &leaf.value
                    && is_token(s)
                    && let Ok(t) = TokenText::split(s)
                    && t.kind != "comment"
                {
                    values.push(Value {
                        path,
                        text: None,
                        len: base64_len(t.data),
                        is_str: t.kind == "str",
                    });
                }
            }
        }
        let doc = SecretDoc {
            path: path.to_string(),
            syntax,
            shape,
            values,
            opened: false,
            left: false,
        };
        Some((doc, sealed))
    }

    /// Whether a key opened the file (its values' texts are known).
    pub fn opened(&self) -> bool {
        self.opened
    }

    /// The encrypted values a key opened: (key path, plaintext).
    pub fn secrets(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values
            .iter()
            .filter_map(|v| Some((v.path.as_str(), v.text.as_deref()?.as_str())))
    }

    /// Fills in the values' texts when a key opens the file and it verifies.
    fn open(&mut self, sealed: &Sealed<'_>, keys: &mut Keys) {
        let Some(ids) = keys.get() else { return };
        let Ok(key) = unwrap_data_key(&sealed.metadata, ids) else {
            return;
        };
        let Ok(plain) = sealed.decrypt(&key) else {
            return;
        };
        self.fill(&plain);
    }

    /// Pairs the encrypted values with their texts in `plain` (the verified plaintext).
    fn fill(&mut self, plain: &str) {
        let Ok(outline) = self.syntax.format().parse_lean(plain) else {
            return;
        };
        let mut texts = Vec::new();
        for doc in &outline.docs {
            for item in &doc.items {
                if let Item::Leaf(leaf) = item {
                    texts.push((leaf.path.aad(), scalar_text(plain, leaf)));
                }
            }
        }
        // The plaintext has the same values in the same order; pair the encrypted ones.
        let mut next = texts.into_iter();
        for v in &mut self.values {
            match next.by_ref().find(|(p, _)| *p == v.path) {
                Some((_, text)) => v.text = Some(text),
                None => return,
            }
        }
        self.opened = true;
    }

    /// Why `content` (an unprotected blob of the change) exposes this secret file, if it
    /// does: a short reason naming key paths, never values.
    pub fn exposed_in(&self, content: &[u8]) -> Option<String> {
        let plain = Plain::read(content, self.syntax);
        if self.opened {
            let hit = self.values.iter().find(|v| {
                let Some(text) = v.text.as_deref() else {
                    return false;
                };
                contains_secret(content, text)
                    || (self.left
                        && !text.is_empty()
                        && plain.as_ref().is_some_and(|p| p.has(&v.path, text)))
            })?;
            return Some(format!(
                "holds in clear text the value at key path '{}' of the protected file {}",
                hit.path, self.path
            ));
        }
        let plain = plain?;
        if similarity(&self.shape, &plain.shape) < SAME_SHAPE {
            return None;
        }
        if self.left && (self.long_values().next().is_none() || self.same_lengths(&plain)) {
            return Some(format!(
                "has the key paths and value lengths of the protected file {}, which this change removes: a rename out of the protected paths (no identity here opens it to compare values)",
                self.path
            ));
        }
        self.same_lengths(&plain).then(|| {
            format!(
                "has the key paths and value lengths of the protected file {}: a copy out of the protected paths (no identity here opens it to compare values)",
                self.path
            )
        })
    }

    /// The string values long enough to tell a copy from an example by their lengths.
    fn long_values(&self) -> impl Iterator<Item = &Value> {
        self.values
            .iter()
            .filter(|v| v.is_str && v.len >= MIN_SECRET_LEN)
    }

    /// A copy without a key: at least half of the long string values have a value of the
    /// same length at the same key path.
    fn same_lengths(&self, plain: &Plain) -> bool {
        let long: Vec<&Value> = self.long_values().collect();
        let mut lens: HashMap<(&str, usize), usize> = HashMap::new();
        for (p, t) in &plain.values {
            *lens.entry((p.as_str(), t.len())).or_default() += 1;
        }
        let same = long
            .iter()
            .filter(|v| {
                lens.get_mut(&(v.path.as_str(), v.len))
                    .is_some_and(|n| std::mem::replace(n, n.saturating_sub(1)) > 0)
            })
            .count();
        !long.is_empty() && 2 * same >= long.len()
    }
}

/// A plaintext blob read in a secret file's syntax.
struct Plain {
    shape: HashSet<String>,
    values: Vec<(String, Zeroizing<String>)>,
}

impl Plain {
    /// `None` when it does not parse, or is itself sealed ciphertext.
    fn read(content: &[u8], syntax: Syntax) -> Option<Plain> {
        let text = std::str::from_utf8(content).ok()?;
        let outline = syntax.format().parse_lean(text).ok()?;
        if outline.docs.iter().any(|d| d.sops.is_some()) {
            return None;
        }
        let mut plain = Plain {
            shape: HashSet::new(),
            values: Vec::new(),
        };
        for doc in &outline.docs {
            for item in &doc.items {
                if let Item::Leaf(leaf) = item {
                    let path = leaf.path.aad();
                    plain.shape.insert(path.clone());
                    plain.values.push((path, scalar_text(text, leaf)));
                }
            }
        }
        Some(plain)
    }

    fn has(&self, path: &str, text: &str) -> bool {
        self.values
            .iter()
            .any(|(p, t)| p == path && t.as_str() == text)
    }
}

/// A value's text: a string's content, any other scalar as written; empty for null.
fn scalar_text(src: &str, leaf: &crate::format::Leaf<'_>) -> Zeroizing<String> {
    Zeroizing::new(match &leaf.value {
        Scalar::Null => String::new(),
        Scalar::Str(s) => s.to_string(),
        _ => src[leaf.span.clone()].to_string(),
    })
}

/// Whether `haystack` holds the secret `text` (or, for a multi-line value such as a PEM
/// key, one of its lines) of at least [`MIN_SECRET_LEN`] bytes.
fn contains_secret(haystack: &[u8], text: &str) -> bool {
    let found = |s: &str| {
        s.len() >= MIN_SECRET_LEN && memchr::memmem::find(haystack, s.as_bytes()).is_some()
    };
    found(text) || (text.contains('\n') && text.lines().map(str::trim).any(found))
}

/// Shared key paths over all key paths (Jaccard); 0 for two empty documents.
fn similarity(a: &HashSet<String>, b: &HashSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// The decoded length of standard base64 (with padding).
fn base64_len(s: &str) -> usize {
    let pad = s.bytes().rev().take_while(|&b| b == b'=').count();
    (s.len() / 4 * 3).saturating_sub(pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_lengths() {
        assert_eq!(base64_len(""), 0);
        assert_eq!(base64_len("YQ=="), 1);
        assert_eq!(base64_len("YWI="), 2);
        assert_eq!(base64_len("YWJj"), 3);
    }

    #[test]
    fn secrets_are_found_whole_or_by_line() {
        assert!(contains_secret(b"x: fake-pass-1\n", "fake-pass-1"));
        assert!(!contains_secret(b"port: 5432\n", "5432"));
        assert!(contains_secret(
            b"key: |\n    MIIBOgIBAAJBAKj34GkxFhD9\n",
            "-----BEGIN-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END-----"
        ));
    }

    #[test]
    fn similarity_is_jaccard() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<HashSet<_>>();
        assert_eq!(similarity(&s(&[]), &s(&[])), 0.0);
        assert_eq!(similarity(&s(&["a:", "b:"]), &s(&["a:", "c:"])), 1.0 / 3.0);
        assert_eq!(similarity(&s(&["a:"]), &s(&["a:"])), 1.0);
    }
}
