//! `sealed git lock` (as `git-crypt lock`): every protected file of the work tree becomes
//! the ciphertext its index entry holds again, and the filter and merge drivers are removed
//! from `.git/config`, so git reads and writes those files as they are. `sealed git unlock`
//! is `sealed git init`: drivers back, files decrypted.
//!
//! A file whose work-tree text is not exactly what its index blob decrypts to has changes
//! that locking would lose: nothing is touched and the files are named with the fix.

use std::path::Path;

use git2::Repository;

use super::check::Protection;
use super::setup::{git_err, shell_quote, unconfigure};
use super::worktree::rewrite_entry;
use crate::engine::{Sealed, unwrap_data_key};
use crate::error::{Error, exit};
use crate::format::Syntax;
use crate::keys::IdentitySet;

/// What `lock` did.
#[derive(Debug, Default)]
pub struct LockReport {
    /// Files turned back into ciphertext.
    pub locked: usize,
    /// Protected files that were ciphertext already.
    pub already: usize,
}

/// Locks the repository around the working directory.
pub fn lock() -> Result<LockReport, Error> {
    let repo = Repository::open_from_env().map_err(git_err)?;
    let root = repo
        .workdir()
        .ok_or_else(|| Error::other(exit::GENERIC, "a bare repository has no work tree"))?
        .to_path_buf();
    let protection = Protection::new(&repo);
    let mut index = repo.index().map_err(git_err)?;
    let mut identities: Option<Option<IdentitySet>> = None;
    let mut report = LockReport::default();
    let mut to_lock = Vec::new();
    let mut dirty = Vec::new();
    for entry in index.iter() {
        let path = String::from_utf8_lossy(&entry.path).into_owned();
        if (entry.flags >> 12) & 3 != 0
            || entry.mode & 0o170000 != 0o100000
            || !protection.covers(&path)
        {
            continue;
        }
        let Ok(work) = std::fs::read(root.join(&path)) else {
            continue;
        };
        let blob = repo.find_blob(entry.id).map_err(git_err)?;
        if work == blob.content() {
            report.already += 1;
            continue;
        }
        let ids = identities.get_or_insert_with(|| IdentitySet::discover().ok());
        let syntax = Syntax::of_file(Path::new(&path));
        let plain = std::str::from_utf8(blob.content())
            .ok()
            .and_then(|text| Sealed::parse(text, syntax.format()).ok())
            .and_then(|sealed| {
                let key = unwrap_data_key(&sealed.metadata, ids.as_ref()?).ok()?;
                let plain = sealed.decrypt(&key).ok()?;
                crate::format::binary::from_engine(syntax, plain).ok()
            });
        match plain {
            Some(plain) if plain.as_bytes() == work.as_slice() => {
                to_lock.push((entry, blob.content().to_vec()));
            }
            _ => dirty.push(path),
        }
    }
    if !dirty.is_empty() {
        let paths: Vec<String> = dirty.iter().map(|p| shell_quote(p)).collect();
        return Err(Error::other(
            exit::GENERIC,
            format!(
                "{} protected file(s) differ from what is staged, and locking would lose the changes: {}; \
                 stage them (`git add -- {}`) or stash them (`git stash`), then lock again",
                dirty.len(),
                dirty.join(", "),
                paths.join(" ")
            ),
        ));
    }
    for (mut entry, blob) in to_lock {
        rewrite_entry(&root, &mut index, &mut entry, &blob)?;
        report.locked += 1;
    }
    if report.locked > 0 {
        index.write().map_err(git_err)?;
    }
    unconfigure(&repo)?;
    Ok(report)
}
