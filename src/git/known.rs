//! Known values: keyed digests of the secret values of the repository's sealed files, so
//! that the pre-commit guard finds them in staged files without decrypting every sealed
//! file at each commit (docs/security.md, "Known values").
//!
//! `.git/sealed/known` (mode 0600, in the common directory of all work trees) holds a
//! random 256-bit key of its own and, for each sealed path, the blob id of the ciphertext
//! its values were learned from and, per value of at least [`MIN_SECRET_LEN`] bytes (and
//! per such line of a multi-line value), its key path, its length, a 64-bit digest of its
//! first 8 bytes and a 128-bit digest of the whole value, both SHA-256 keyed by the key.
//! The guard learns a sealed blob it does not know (one decryption) and then never
//! decrypts it again; the filter learns each file it cleans or smudges, for free (it has
//! both texts). No value is written in clear.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use aes_gcm::aead::{OsRng, rand_core::RngCore};
use git2::Repository;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::leak::{MIN_SECRET_LEN, SecretDoc};

/// The prefix whose digest finds a candidate position.
const PREFIX: usize = MIN_SECRET_LEN;

/// The file, under the repository's common directory.
const FILE: &str = "sealed/known";

/// One value's digests.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Value {
    key_path: String,
    len: usize,
    /// Keyed digest of the first [`PREFIX`] bytes, hex.
    prefix: String,
    /// Keyed digest of the whole value (128 bits), hex.
    full: String,
}

/// The values of one sealed path.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Source {
    /// The ciphertext blob they were learned from.
    blob: String,
    values: Vec<Value>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct OnDisk {
    version: u32,
    /// The key, hex.
    key: String,
    sources: BTreeMap<String, Source>,
}

/// The store, loaded.
pub struct Known {
    path: PathBuf,
    key: Zeroizing<[u8; 32]>,
    sources: BTreeMap<String, Source>,
    changed: bool,
}

impl Known {
    /// The store of `repo`; a new, empty one (with a new key) when there is none or it
    /// cannot be read.
    pub fn load(repo: &Repository) -> Known {
        let path = repo.commondir().join(FILE);
        let disk: Option<OnDisk> = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .filter(|d: &OnDisk| d.version == 1);
        let key = disk.as_ref().and_then(|d| {
            let bytes = hex_decode(&d.key)?;
            <[u8; 32]>::try_from(bytes.as_slice()).ok()
        });
        match (disk, key) {
            (Some(d), Some(key)) => Known {
                path,
                key: Zeroizing::new(key),
                sources: d.sources,
                changed: false,
            },
            _ => {
                let mut key = Zeroizing::new([0u8; 32]);
                OsRng.fill_bytes(&mut key[..]);
                Known {
                    path,
                    key,
                    sources: BTreeMap::new(),
                    changed: false,
                }
            }
        }
    }

    /// Whether the values of the sealed blob `blob` at `path` are known.
    pub fn knows(&self, path: &str, blob: git2::Oid) -> bool {
        self.sources
            .get(path)
            .is_some_and(|s| s.blob == blob.to_string())
    }

    /// Learns the values of `doc` (opened by a key), the sealed blob `blob` at its path,
    /// in place of what was known for that path.
    pub fn learn(&mut self, blob: git2::Oid, doc: &SecretDoc) {
        if !doc.opened() || self.knows(&doc.path, blob) {
            return;
        }
        let mut values = Vec::new();
        for (key_path, text) in doc.secrets() {
            let lines = text.contains('\n').then(|| text.lines().map(str::trim));
            for t in std::iter::once(text).chain(lines.into_iter().flatten()) {
                if t.len() >= MIN_SECRET_LEN {
                    values.push(self.value(key_path, t));
                }
            }
        }
        self.sources.insert(
            doc.path.clone(),
            Source {
                blob: blob.to_string(),
                values,
            },
        );
        self.changed = true;
    }

    /// The digests of `text` (at least [`PREFIX`] bytes) at `key_path`.
    fn value(&self, key_path: &str, text: &str) -> Value {
        Value {
            key_path: key_path.to_string(),
            len: text.len(),
            prefix: hex(&self.digest(b'p', &text.as_bytes()[..PREFIX])[..8]),
            full: hex(&self.digest(b'f', text.as_bytes())[..16]),
        }
    }

    /// The first known value in `content`: (sealed path, key path). Every position is
    /// looked up by the digest of its next 8 bytes; a hit is confirmed by the whole
    /// value's digest.
    pub fn find(&self, content: &[u8]) -> Option<(String, String)> {
        let mut by_prefix: HashMap<u64, Vec<(&str, &Value)>> = HashMap::new();
        for (path, s) in &self.sources {
            for v in &s.values {
                if let Ok(p) = u64::from_str_radix(&v.prefix, 16) {
                    by_prefix.entry(p).or_default().push((path, v));
                }
            }
        }
        if by_prefix.is_empty() || content.len() < PREFIX {
            return None;
        }
        let keyed = self.keyed(b'p');
        for i in 0..=content.len() - PREFIX {
            let mut h = keyed.clone();
            h.update(&content[i..i + PREFIX]);
            let d = h.finalize();
            let d = u64::from_be_bytes(d[..8].try_into().unwrap_or_default());
            let Some(candidates) = by_prefix.get(&d) else {
                continue;
            };
            for (path, v) in candidates {
                if let Some(text) = content.get(i..i + v.len)
                    && hex(&self.digest(b'f', text)[..16]) == v.full
                {
                    return Some((path.to_string(), v.key_path.clone()));
                }
            }
        }
        None
    }

    /// Writes the store back when it changed: a new file of mode 0600 renamed over it.
    pub fn save(&mut self) {
        if !self.changed {
            return;
        }
        let disk = OnDisk {
            version: 1,
            key: hex(&self.key[..]),
            sources: std::mem::take(&mut self.sources),
        };
        let text = Zeroizing::new(serde_json::to_vec(&disk).unwrap_or_default());
        self.sources = disk.sources;
        let Some(dir) = self.path.parent() else {
            return;
        };
        let _ = std::fs::create_dir_all(dir);
        let tmp = dir.join(format!(".known-{}.tmp", std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&text).and_then(|()| f.sync_all()));
        if written.is_ok() && std::fs::rename(&tmp, &self.path).is_ok() {
            self.changed = false;
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// SHA-256 keyed by the store's key (one block: the key, a domain byte, padding),
    /// ready for the data.
    fn keyed(&self, domain: u8) -> Sha256 {
        let mut block = Zeroizing::new([0u8; 64]);
        block[..32].copy_from_slice(&self.key[..]);
        block[32] = domain;
        let mut h = Sha256::new();
        h.update(&block[..]);
        h
    }

    fn digest(&self, domain: u8, data: &[u8]) -> Vec<u8> {
        let mut h = self.keyed(domain);
        h.update(data);
        h.finalize().to_vec()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(key: u8, values: &[(&str, &str)]) -> Known {
        let mut k = Known {
            path: PathBuf::from("/nonexistent/known"),
            key: Zeroizing::new([key; 32]),
            sources: BTreeMap::new(),
            changed: false,
        };
        let values = values.iter().map(|(p, t)| k.value(p, t)).collect();
        k.sources.insert(
            "secrets/a.yaml".into(),
            Source {
                blob: "0".repeat(40),
                values,
            },
        );
        k
    }

    #[test]
    fn values_are_found_anywhere_by_their_digests_only() {
        let k = store(
            7,
            &[("db:password:", "fake-pass-98765"), ("b:", "abcdefgh")],
        );
        let text = serde_json::to_string(&k.sources).unwrap();
        assert!(!text.contains("fake-pass") && !text.contains("abcdefgh"));
        let hit = |c: &str| k.find(c.as_bytes()).map(|(_, p)| p);
        assert_eq!(hit("x fake-pass-98765 y").as_deref(), Some("db:password:"));
        assert_eq!(hit("fake-pass-98765").as_deref(), Some("db:password:"));
        assert_eq!(hit("xxabcdefgh").as_deref(), Some("b:"));
        assert_eq!(hit("fake-pass-9876"), None, "a prefix is not the value");
        assert_eq!(hit("abcdefg"), None);
        assert_eq!(hit(""), None);
        // Another repository's key gives other digests.
        let other = store(8, &[]);
        assert_ne!(
            other.value("a:", "abcdefgh").full,
            k.value("a:", "abcdefgh").full
        );
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(
            hex_decode(&hex(&[0, 1, 254, 255])),
            Some(vec![0, 1, 254, 255])
        );
        assert_eq!(hex_decode("zz"), None);
    }
}
