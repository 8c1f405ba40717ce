//! Where a command finds a file's document. A file is either SOPS ciphertext itself, or —
//! in a repository where `sealed git init` set up the filter — the plaintext that the
//! filter keeps in the work tree and encrypts on `git add`. [`filter_plaintext`] tells the
//! second kind from an ordinary unencrypted file given by mistake (which keeps its error).
//!
//! A work-tree file counts as the filter's plaintext only when git would encrypt it on
//! `git add` (docs/git.md, "Commands on plaintext work-tree files"):
//! - it is a regular file (not a symbolic link) in the work tree of a git repository;
//! - the repository's configuration has the sealed filter (`filter.sealed.process` or
//!   `filter.sealed.clean`, written by `sealed git init`);
//! - its path has the `filter=sealed` (or `filter=sealed-rules`) attribute, and the guard counts it as protected
//!   ([`crate::git::check::Protection`]).
//!
//! The plaintext is the user's own file (smudged after verification, or edited locally),
//! but values that came from a commit must not steer a program unless the commit
//! authenticated them: [`weak_source`] reads the index blob (else HEAD's) to tell which
//! variables an editor of that commit could have chosen (docs/security.md).

use std::path::Path;

use git2::{AttrCheckFlags, Repository};

use super::decrypt::Identities;
use crate::engine::{Sealed, unwrap_data_key};
use crate::format::Syntax;

/// A work-tree file that the git filter keeps in plaintext.
pub struct Protected {
    repo: Repository,
    /// Its path relative to the work tree's root, `/`-separated.
    rel: String,
}

/// Which variables of a document an editor of a commit could have chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeakSource {
    /// None: the values were authenticated (sealed's layout digest), or the user wrote
    /// them (no commit holds the file).
    Nothing,
    /// Those that [`crate::data::trust::weak_names`] finds in this ciphertext (written by
    /// sops, or without sealed's layout digest).
    Cipher(String),
    /// All of them: the commit holds the file in clear text.
    Everything,
}

/// The file as the git filter's plaintext, or `None` when git would not encrypt it.
pub fn filter_plaintext(file: &Path) -> Option<Protected> {
    if file.as_os_str() == "-" || !std::fs::symlink_metadata(file).ok()?.is_file() {
        return None;
    }
    let abs = std::path::absolute(file).ok()?;
    let dir = std::fs::canonicalize(abs.parent()?).ok()?;
    let repo = Repository::discover(&dir).ok()?;
    let root = std::fs::canonicalize(repo.workdir()?).ok()?;
    let rel = dir
        .join(abs.file_name()?)
        .strip_prefix(&root)
        .ok()?
        .to_str()?
        .replace('\\', "/");
    if rel.starts_with(".git/") {
        return None;
    }
    let config = repo.config().ok()?;
    let configured = ["filter.sealed.process", "filter.sealed.clean"]
        .iter()
        .any(|k| config.get_string(k).is_ok_and(|v| !v.trim().is_empty()));
    if !configured {
        return None;
    }
    let attr = repo
        .get_attr(Path::new(&rel), "filter", AttrCheckFlags::FILE_THEN_INDEX)
        .ok()
        .flatten();
    // `sealed` (a named pattern) or `sealed-rules` (a `.sops.yaml` rule's glob, the filter
    // deciding per path as the guard does: `covers`).
    if !matches!(attr, Some("sealed" | "sealed-rules"))
        || !crate::git::check::Protection::new(&repo).covers(&rel)
    {
        return None;
    }
    Some(Protected { repo, rel })
}

impl Protected {
    /// What the last commit-side version holds: the index's blob (stage 0), else HEAD's.
    fn blob(&self) -> Option<Vec<u8>> {
        let path = Path::new(&self.rel);
        let id = self
            .repo
            .index()
            .ok()
            .and_then(|i| i.get_path(path, 0).map(|e| e.id))
            .or_else(|| {
                let tree = self.repo.head().ok()?.peel_to_tree().ok()?;
                tree.get_path(path).ok().map(|e| e.id())
            })?;
        Some(self.repo.find_blob(id).ok()?.content().to_vec())
    }

    /// Which variables of the plaintext an editor of the commit-side version could have
    /// chosen. A sealed blob whose layout sealed authenticated (checked with the user's
    /// identities, only when the blob has a null, empty or clear value at all) gives none;
    /// one written by sops, or that does not verify, gives its weak names; a blob in clear
    /// text gives every name; no blob (a new file) gives none.
    pub fn weak_source(&self, syntax: Syntax, identities: &mut Identities) -> WeakSource {
        let Some(blob) = self.blob() else {
            return WeakSource::Nothing;
        };
        let Ok(text) = String::from_utf8(blob) else {
            return WeakSource::Everything;
        };
        let Ok(sealed) = Sealed::parse(&text, syntax.format()) else {
            return WeakSource::Everything;
        };
        // Every value is a token: nothing to authenticate beyond the MAC.
        if crate::data::trust::weak_names(&text, syntax).is_ok_and(|w| w.is_empty()) {
            return WeakSource::Nothing;
        }
        let authenticated = identities
            .get()
            .ok()
            .and_then(|ids| unwrap_data_key(&sealed.metadata, ids).ok())
            .is_some_and(|key| sealed.decrypt(&key).is_ok() && sealed.layout_authenticated());
        drop(sealed);
        if authenticated {
            WeakSource::Nothing
        } else {
            WeakSource::Cipher(text)
        }
    }
}
