//! The merge driver (`merge.sealed.driver = sealed git merge %O %A %B %P`): decrypts the
//! base, ours and theirs, merges the plaintexts three ways, and re-encrypts the result
//! reusing the unchanged tokens of both sides. Two branches that change different values
//! of one file merge cleanly — with SOPS they always conflict on `mac` and `lastmodified`.
//! A real conflict leaves standard conflict markers in the plaintext written to `%A` (the
//! clean filter then refuses to stage the file until they are resolved) and exits 1.

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
    let mut options = diffy::MergeOptions::new();
    options.set_conflict_style(diffy::ConflictStyle::Merge);
    match options.merge(&base_plain, &ours_plain, &theirs_plain) {
        Ok(merged) => {
            let merged = Zeroizing::new(merged);
            let (out, _) =
                engine::reencrypt_from_many(&merged, &ours_sealed, &[&theirs_sealed], &key)
                    .map_err(|e| {
                        Error::file(pathname, e.exit_code(), format!("merged result: {e}"))
                    })?;
            crate::fsutil::write_atomic(ours, out.as_bytes())?;
            Ok(Outcome::Clean)
        }
        Err(conflicted) => {
            let conflicted = Zeroizing::new(conflicted);
            crate::fsutil::write_atomic(ours, conflicted.as_bytes())?;
            Ok(Outcome::Conflict)
        }
    }
}
