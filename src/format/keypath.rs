//! Key paths that share their prefixes.
//!
//! Every value of a document carries the mapping keys from the root down to it (SOPS
//! authenticates each value with `a:b:c:`). Storing a whole `Vec<String>` per value made
//! memory grow with (key length × number of values): a 100 KB key above 16 000 values
//! needed gigabytes. A [`KeyPath`] is a link to its parent plus its own last key, so each
//! key is stored once, however many values sit below it, and cloning is a reference count.

use std::fmt;
use std::sync::Arc;

use compact_str::CompactString;

/// A path of mapping keys from the document root (the root itself is the empty path).
#[derive(Clone, Default)]
pub struct KeyPath(Option<Arc<Link>>);

struct Link {
    parent: KeyPath,
    /// Inline up to 24 bytes (most keys): one allocation per link, not two.
    key: CompactString,
    len: usize,
}

impl KeyPath {
    /// The empty path (the document root).
    pub fn root() -> KeyPath {
        KeyPath(None)
    }

    /// This path extended by `key`.
    pub fn child(&self, key: &str) -> KeyPath {
        KeyPath(Some(Arc::new(Link {
            parent: self.clone(),
            key: key.into(),
            len: self.len() + 1,
        })))
    }

    /// A path from its keys, root first.
    pub fn from_keys<S: AsRef<str>>(keys: impl IntoIterator<Item = S>) -> KeyPath {
        keys.into_iter()
            .fold(KeyPath::root(), |p, k| p.child(k.as_ref()))
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |l| l.len)
    }

    /// Whether this is the root.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The last key.
    pub fn last(&self) -> Option<&str> {
        self.0.as_ref().map(|l| &*l.key)
    }

    /// The first key (the top-level mapping's).
    pub fn first(&self) -> Option<&str> {
        self.get(0)
    }

    /// The path without its last key (None for the root).
    pub fn parent(&self) -> Option<&KeyPath> {
        self.0.as_ref().map(|l| &l.parent)
    }

    /// The prefix of `len` keys (the whole path when `len` is not shorter).
    pub fn prefix(&self, len: usize) -> &KeyPath {
        let mut p = self;
        while p.len() > len {
            p = p.parent().expect("a longer path has a parent");
        }
        p
    }

    /// The key at `index` (0: the top-level key).
    pub fn get(&self, index: usize) -> Option<&str> {
        if index >= self.len() {
            return None;
        }
        self.prefix(index + 1).last()
    }

    /// The keys, root first.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys = Vec::with_capacity(self.len());
        let mut p = self;
        while let Some(l) = &p.0 {
            keys.push(&*l.key);
            p = &l.parent;
        }
        keys.reverse();
        keys
    }

    /// Whether any key satisfies `f` (in no particular order).
    pub fn any(&self, mut f: impl FnMut(&str) -> bool) -> bool {
        let mut p = self;
        while let Some(l) = &p.0 {
            if f(&l.key) {
                return true;
            }
            p = &l.parent;
        }
        false
    }

    /// The keys joined by `sep`.
    pub fn join(&self, sep: &str) -> String {
        self.keys().join(sep)
    }

    /// Appends SOPS's additional data for this path to `out`: `a:b:c:` (`:` for the root).
    pub fn write_aad(&self, out: &mut String) {
        if let Some(l) = &self.0 {
            l.parent.write_aad_prefix(out);
            out.push_str(&l.key);
        }
        out.push(':');
    }

    fn write_aad_prefix(&self, out: &mut String) {
        if let Some(l) = &self.0 {
            l.parent.write_aad_prefix(out);
            out.push_str(&l.key);
            out.push(':');
        }
    }

    /// SOPS's additional data for this path: `a:b:c:` (`:` for the root).
    pub fn aad(&self) -> String {
        let mut s = String::new();
        self.write_aad(&mut s);
        s
    }
}

impl std::ops::Index<usize> for KeyPath {
    type Output = str;
    fn index(&self, index: usize) -> &str {
        self.get(index).expect("key path index out of range")
    }
}

impl PartialEq for KeyPath {
    fn eq(&self, other: &KeyPath) -> bool {
        let (mut a, mut b) = (self, other);
        if a.len() != b.len() {
            return false;
        }
        loop {
            match (&a.0, &b.0) {
                (None, None) => return true,
                (Some(x), Some(y)) if Arc::ptr_eq(x, y) => return true,
                (Some(x), Some(y)) if x.key == y.key => {
                    a = &x.parent;
                    b = &y.parent;
                }
                _ => return false,
            }
        }
    }
}

impl Eq for KeyPath {}

impl<S: AsRef<str>> PartialEq<[S]> for KeyPath {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len() && self.keys().iter().zip(other).all(|(a, b)| *a == b.as_ref())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for KeyPath {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for KeyPath {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

impl fmt::Debug for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_compares_and_spells_aad() {
        // SOPS's additional data: `a:b:c:`, and `:` for the root.
        let root = KeyPath::root();
        assert_eq!(root.aad(), ":");
        let a = root.child("a");
        let ab = a.child("b");
        assert_eq!(ab.len(), 2);
        assert_eq!(ab.keys(), ["a", "b"]);
        assert_eq!(ab, ["a", "b"]);
        assert_eq!(ab, KeyPath::from_keys(["a", "b"]));
        assert_ne!(ab, KeyPath::from_keys(["a", "c"]));
        assert_ne!(ab, a);
        assert_eq!(ab.aad(), "a:b:");
        assert_eq!(&ab[0], "a");
        assert_eq!(ab.last(), Some("b"));
        assert_eq!(ab.first(), Some("a"));
        assert_eq!(ab.prefix(1), &a);
        assert_eq!(ab.parent(), Some(&a));
        assert!(ab.any(|k| k == "a") && !ab.any(|k| k == "z"));
        assert_eq!(ab.join("."), "a.b");
        assert_eq!(format!("{ab:?}"), r#"["a", "b"]"#);
    }

    #[test]
    fn siblings_share_their_parent() {
        let big = KeyPath::root().child(&"K".repeat(100_000));
        let kids: Vec<KeyPath> = (0..16_000).map(|i| big.child(&format!("a{i}"))).collect();
        assert!(kids.iter().all(|k| k.prefix(1) == &big));
        assert_eq!(kids[5].aad().len(), 100_000 + 4);
    }
}
