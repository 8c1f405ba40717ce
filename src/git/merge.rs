//! The merge driver (`merge.sealed.driver = sealed git merge %O %A %B %P`): decrypts the
//! base, ours and theirs (each side's MAC and layout digest verified: a side that fails
//! is refused, not merged), merges the plaintexts three ways **by key path** ([`paths`]),
//! and re-encrypts the result under ours's data key and metadata (never theirs's
//! recipients), reusing the unchanged tokens of both sides. Two branches that change
//! different values of one file merge cleanly however close their lines are — with SOPS
//! they always conflict on `mac` and `lastmodified`. A real conflict leaves standard
//! conflict markers around the conflicting entries in the plaintext written to `%A` (the
//! clean filter then refuses to stage the file until they are resolved) and exits 1.
//! Versions the key-path merge cannot read (several YAML documents, aliases) are merged
//! by line, as `git merge-file` would.

pub mod paths;

use std::path::Path;

use zeroize::Zeroizing;

use crate::engine::{self, Sealed, unwrap_data_key};
use crate::error::{Error, exit};
use crate::format::Syntax;
use crate::keys::IdentitySet;

/// How a merge ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Merged and re-encrypted into `%A`.
    Clean,
    /// Conflict markers written into `%A`.
    Conflict,
}

fn read(path: &Path) -> Result<Zeroizing<String>, Error> {
    crate::fsutil::read_text(path)
}

/// Runs the driver. `pathname` (`%P`) names the file in the repository.
pub fn run(base: &Path, ours: &Path, theirs: &Path, pathname: &str) -> Result<Outcome, Error> {
    let syntax = Syntax::from_path(Path::new(pathname)).ok_or_else(|| {
        Error::file(
            pathname,
            exit::GENERIC,
            "cannot tell YAML, JSON or .env from the name",
        )
    })?;
    let format = syntax.format();
    let (base_text, ours_text, theirs_text) = (read(base)?, read(ours)?, read(theirs)?);
    let ours_sealed = Sealed::parse(&ours_text, format)
        .map_err(|e| Error::file(pathname, e.exit_code(), format!("ours: {e}")))?;
    let theirs_sealed = Sealed::parse(&theirs_text, format)
        .map_err(|e| Error::file(pathname, e.exit_code(), format!("theirs: {e}")))?;
    let identities =
        IdentitySet::discover().map_err(|e| Error::other(exit::NO_KEY, e.to_string()))?;
    let key = unwrap_data_key(&ours_sealed.metadata, &identities)
        .map_err(|e| Error::file(pathname, e.exit_code(), e.to_string()))?;
    let their_key = unwrap_data_key(&theirs_sealed.metadata, &identities)
        .map_err(|e| Error::file(pathname, e.exit_code(), e.to_string()))?;
    let plain = |s: &Sealed<'_>, k, side: &str| {
        s.decrypt(k)
            .map_err(|e| Error::file(pathname, e.exit_code(), format!("{side}: {e}")))
    };
    let ours_plain = plain(&ours_sealed, &key, "ours")?;
    let theirs_plain = plain(&theirs_sealed, &their_key, "theirs")?;
    // The base is empty when both sides added the file.
    let base_plain = if base_text.trim().is_empty() {
        Zeroizing::new(String::new())
    } else {
        let base_sealed = Sealed::parse(&base_text, format)
            .map_err(|e| Error::file(pathname, e.exit_code(), format!("base: {e}")))?;
        let base_key = unwrap_data_key(&base_sealed.metadata, &identities)
            .map_err(|e| Error::file(pathname, e.exit_code(), e.to_string()))?;
        plain(&base_sealed, &base_key, "base")?
    };
    let merged = if ours_plain == theirs_plain || base_plain == theirs_plain {
        paths::Merged::Clean(ours_plain.clone())
    } else if base_plain == ours_plain {
        paths::Merged::Clean(theirs_plain.clone())
    } else {
        paths::merge(&base_plain, &ours_plain, &theirs_plain, syntax)
            .unwrap_or_else(|| by_lines(&base_plain, &ours_plain, &theirs_plain))
    };
    match merged {
        paths::Merged::Clean(merged) => {
            let (out, _) =
                engine::reencrypt_from_many(&merged, &ours_sealed, &[&theirs_sealed], &key)
                    .map_err(|e| {
                        Error::file(pathname, e.exit_code(), format!("merged result: {e}"))
                    })?;
            crate::fsutil::write_atomic(ours, out.as_bytes())?;
            Ok(Outcome::Clean)
        }
        paths::Merged::Conflict(conflicted) => {
            crate::fsutil::write_atomic(ours, conflicted.as_bytes())?;
            Ok(Outcome::Conflict)
        }
    }
}

/// The line merge (`git merge-file`'s), for versions the key-path merge cannot read.
fn by_lines(base: &str, ours: &str, theirs: &str) -> paths::Merged {
    let mut options = diffy::MergeOptions::new();
    options.set_conflict_style(diffy::ConflictStyle::Merge);
    match options.merge(base, ours, theirs) {
        Ok(merged) => paths::Merged::Clean(Zeroizing::new(merged)),
        Err(conflicted) => paths::Merged::Conflict(Zeroizing::new(conflicted)),
    }
}

/// Whether `pathname` is under the `sealed` clean/smudge filter (plaintext in the work
/// tree) in the repository of the current directory, as `git check-attr filter` tells.
fn filtered(pathname: &str) -> bool {
    git2::Repository::open_from_env()
        .ok()
        .and_then(|repo| {
            repo.get_attr(
                Path::new(pathname),
                "filter",
                git2::AttrCheckFlags::default(),
            )
            .ok()
            .flatten()
            .map(|v| v == "sealed" || v == "sealed-rules")
        })
        .unwrap_or(false)
}

/// The one-line message for a conflict in `pathname`: how to finish the merge. Under the
/// filter, `git add` encrypts the resolved file; a file committed encrypted without the
/// filter (sops-style) is encrypted again with `sealed encrypt -i` first.
pub fn conflict_message(pathname: &str) -> String {
    let quoted = super::setup::shell_quote(pathname);
    if filtered(pathname) {
        format!(
            "{pathname}: conflicting changes (markers around the conflicting entries of the decrypted file); resolve them, then `git add {quoted}`"
        )
    } else {
        format!(
            "{pathname}: conflicting changes (markers around the conflicting entries, decrypted); resolve them, then `sealed encrypt -i {quoted} && git add {quoted}`"
        )
    }
}
