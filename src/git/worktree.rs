//! The work tree's copies of protected files, rewritten in place: decrypted after a clone
//! (`sealed git init`, `unlock`) or put back as ciphertext (`lock`), with the index's stat
//! data updated as `git checkout` would, so git sees every file clean.

use std::path::Path;

use git2::Repository;

use super::setup::{InitReport, git_err};
use crate::engine::{Sealed, unwrap_data_key};
use crate::error::Error;
use crate::format::Syntax;
use crate::keys::IdentitySet;

/// Decrypts into the work tree every protected file that still holds its index blob
/// (ciphertext), as git's smudge filter does on checkout, and records each file's new stat
/// data in the index, as checkout does, so that git sees it clean (its blob, the
/// ciphertext, is unchanged).
///
/// The files are rewritten in place rather than removed and checked out again: deleting
/// and creating a thousand files makes ext4 search its recently freed inodes on every
/// creation, which cost more than all the decryption (docs/performance.md).
pub(crate) fn recheckout(
    repo: &Repository,
    root: &Path,
    report: &mut InitReport,
) -> Result<(), Error> {
    let protection = super::check::Protection::new(repo);
    let mut index = repo.index().map_err(git_err)?;
    // Only files this user can open are decrypted; the others stay as they are. The
    // identities are looked for only if there is a candidate.
    let mut identities: Option<Option<IdentitySet>> = None;
    let entries: Vec<git2::IndexEntry> = index.iter().collect();
    for mut entry in entries {
        let path = String::from_utf8_lossy(&entry.path).into_owned();
        // Regular files only: never write through a symbolic link or into a submodule.
        if entry.mode & 0o170000 != 0o100000 || !protection.covers(&path) {
            continue;
        }
        let syntax = Syntax::of_file(Path::new(&path));
        let file = root.join(&path);
        let Ok(work) = std::fs::read(&file) else {
            continue;
        };
        let Ok(blob) = repo.find_blob(entry.id) else {
            continue;
        };
        if work != blob.content() {
            continue;
        }
        let Some(sealed) = std::str::from_utf8(&work)
            .ok()
            .and_then(|t| Sealed::parse(t, syntax.format()).ok())
        else {
            continue;
        };
        let ids = identities.get_or_insert_with(|| IdentitySet::discover().ok());
        let Some(key) = ids
            .as_ref()
            .and_then(|ids| unwrap_data_key(&sealed.metadata, ids).ok())
        else {
            report.left_encrypted += 1;
            continue;
        };
        let plain = sealed
            .decrypt(&key)
            .map_err(|e| e.to_string())
            .and_then(|plain| {
                crate::format::binary::from_engine(syntax, plain).map_err(|e| e.to_string())
            });
        let plain = match plain {
            Ok(plain) => plain,
            Err(e) => {
                eprintln!("sealed: warning: {path}: {e}; left encrypted in the work tree");
                continue;
            }
        };
        rewrite_entry(root, &mut index, &mut entry, plain.as_bytes())?;
        report.decrypted += 1;
    }
    if report.left_encrypted > 0 {
        eprintln!(
            "sealed: warning: no identity opens {} protected file(s); they stay encrypted in the work tree \
             (a member lets you in with `sealed team add`, then `git pull && sealed git init`; \
             if your key is elsewhere, set SOPS_AGE_KEY_FILE and run `sealed git init` again)",
            report.left_encrypted
        );
    }
    if report.decrypted > 0 {
        index.write().map_err(git_err)?;
    }
    Ok(())
}

/// Writes `data` over the work-tree file of `entry` in place and records its new stat
/// data in `index` (the blob is unchanged, so git sees the file clean).
pub(crate) fn rewrite_entry(
    root: &Path,
    index: &mut git2::Index,
    entry: &mut git2::IndexEntry,
    data: &[u8],
) -> Result<(), Error> {
    let path = String::from_utf8_lossy(&entry.path).into_owned();
    let file = root.join(&path);
    write_in_place(&file, data).map_err(|source| Error::Write {
        file: path.clone(),
        source,
    })?;
    let meta =
        std::fs::symlink_metadata(&file).map_err(|source| Error::Read { file: path, source })?;
    restat(entry, &meta);
    index.add(entry).map_err(git_err)
}

/// Replaces the contents of the existing file `path` (same inode, same mode).
fn write_in_place(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    f.write_all(data)
}

/// Copies a file's stat data into its index entry (what git compares to decide that a
/// file is unchanged without reading it).
fn restat(entry: &mut git2::IndexEntry, meta: &std::fs::Metadata) {
    use std::os::unix::fs::MetadataExt;
    entry.ctime = git2::IndexTime::new(meta.ctime() as i32, meta.ctime_nsec() as u32);
    entry.mtime = git2::IndexTime::new(meta.mtime() as i32, meta.mtime_nsec() as u32);
    entry.dev = meta.dev() as u32;
    entry.ino = meta.ino() as u32;
    entry.uid = meta.uid();
    entry.gid = meta.gid();
    entry.file_size = meta.len() as u32;
}
