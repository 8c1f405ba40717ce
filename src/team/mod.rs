//! Team key management over a whole repository: who may decrypt (`.sops.yaml` members and
//! rules), and re-wrapping or rotating the data keys of many files at once.
//!
//! - [`sopsfile`]: the `sealed_members:` registry and the age recipients of each creation
//!   rule, edited in place through the YAML outline's byte spans (nothing else of the file
//!   changes, and every edit is checked by reading the result back);
//! - [`rekey`]: one file's data key, re-wrapped to other recipients (same key, same value
//!   ciphertext) or rotated (new key, every value re-encrypted);
//! - [`files`]: which files a command acts on — the tracked files of the repository around
//!   the working directory that a `.sops.yaml` rule matches and that are sealed, in the work
//!   tree or (with the git filter) in the index;
//! - [`batch`]: runs one operation over many files in parallel, each written atomically,
//!   with progress on a terminal and a list of what was done when something fails;
//! - [`exposure`]: the key paths of a file's encrypted values (what a recipient could read).
//!
//! Errors are [`TeamError`] here and [`crate::error::Error`] per file; neither ever holds a
//! value.

pub mod batch;
pub mod exposure;
pub mod files;
pub mod rekey;
pub mod sopsfile;

use crate::error::{Error, exit};

/// What can go wrong before any file is touched. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    /// `.sops.yaml` is missing, unreadable or invalid.
    #[error("{file}: {msg}")]
    Config {
        /// The config file.
        file: String,
        /// What is wrong (with line:column when known).
        msg: String,
    },
    /// `.sops.yaml` cannot be edited in place as asked; nothing was written.
    #[error(
        "{file}: cannot edit in place: {msg}; nothing was changed (edit it by hand, then run `sealed updatekeys`)"
    )]
    Edit {
        /// The config file.
        file: String,
        /// Why.
        msg: String,
    },
    /// A request that contradicts the configuration (unknown member, name taken, …).
    #[error("{0}")]
    Refused(String),
    /// Reading the repository failed.
    #[error("git: {0}")]
    Git(String),
}

impl TeamError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            TeamError::Config { .. } | TeamError::Edit { .. } => exit::CONFIG,
            TeamError::Refused(_) | TeamError::Git(_) => exit::GENERIC,
        }
    }
}

impl From<TeamError> for Error {
    fn from(e: TeamError) -> Error {
        let code = e.exit_code();
        Error::other(code, e.to_string())
    }
}

impl From<git2::Error> for TeamError {
    fn from(e: git2::Error) -> TeamError {
        TeamError::Git(e.message().to_string())
    }
}

/// The `.sops.yaml` to use: `explicit`, else the nearest one above the working directory.
pub fn config_path(explicit: Option<&std::path::Path>) -> Result<std::path::PathBuf, TeamError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let cwd = std::env::current_dir()
        .map_err(|e| TeamError::Refused(format!("cannot read the working directory: {e}")))?;
    crate::config::Config::discover(&cwd).ok_or_else(|| TeamError::Config {
        file: crate::config::CONFIG_FILE_NAME.to_string(),
        msg: format!(
            "not found in {} or any parent directory (pass --config FILE)",
            cwd.display()
        ),
    })
}

/// The identities SOPS would find.
pub fn identities() -> Result<crate::keys::IdentitySet, Error> {
    crate::keys::IdentitySet::discover().map_err(|e| Error::other(exit::NO_KEY, e.to_string()))
}

/// Whether two paths name the same file.
pub fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Prints a line on stdout. A closed stdout (`… | head`) is not an error: the work goes
/// on and every file is still written.
pub fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
