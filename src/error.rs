//! The crate-wide error type. Every module has its own error enum; this one wraps them
//! with the file they concern and maps each to an exit code (SOPS's where SOPS has one),
//! so `main` only has to print one line and exit.
//!
//! No variant ever carries a secret value: syntax errors carry a position and a fixed
//! description, never the offending source text.

/// Exit codes shared with SOPS (`cmd/sops/codes`), so scripts written for sops keep working.
pub mod exit {
    /// Anything without a more specific code.
    pub const GENERIC: i32 = 1;
    /// The input file could not be read.
    pub const READ: i32 = 2;
    /// The output file could not be written.
    pub const WRITE: i32 = 3;
    /// `.sops.yaml` could not be read or has no matching rule.
    pub const CONFIG: i32 = 5;
    /// Flags that contradict each other.
    pub const CONFLICT: i32 = 8;
    /// A value could not be decrypted (wrong key path, swapped or altered ciphertext).
    pub const DECRYPT_TREE: i32 = 25;
    /// The MAC does not match the document.
    pub const MAC_MISMATCH: i32 = 51;
    /// The document has no MAC.
    pub const MAC_NOT_FOUND: i32 = 52;
    /// No identity could unwrap the data key.
    pub const NO_KEY: i32 = 128;
    /// No recipient to encrypt to.
    pub const NO_RECIPIENT: i32 = 111;
    /// The input is already encrypted.
    pub const ALREADY_ENCRYPTED: i32 = 203;
}

/// A position in a source file, 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl Pos {
    /// The position of byte offset `at` in `src`.
    pub fn of_offset(src: &str, at: usize) -> Pos {
        let at = at.min(src.len());
        let before = &src.as_bytes()[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let col = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        Pos { line, col }
    }
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// Everything that can go wrong, with the file it concerns when there is one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The document is not valid in its syntax.
    #[error("{file}:{pos}: {msg}")]
    Syntax {
        /// The file (or `-` for stdin).
        file: String,
        /// Where.
        pos: Pos,
        /// A fixed description; never the source text.
        msg: String,
    },
    /// A failure at a position in a file, with its own exit code.
    #[error("{file}:{pos}: {msg}")]
    Positioned {
        /// The file.
        file: String,
        /// Where.
        pos: Pos,
        /// What went wrong, without secrets.
        msg: String,
        /// Exit code.
        code: i32,
    },
    /// Reading the input failed.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing the output failed.
    #[error("{file}: cannot write: {source}")]
    Write {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A failure with a message and an exit code, about one file.
    #[error("{file}: {msg}")]
    File {
        /// The file.
        file: String,
        /// What went wrong, without secrets.
        msg: String,
        /// Exit code.
        code: i32,
    },
    /// A failure not tied to one file.
    #[error("{msg}")]
    Other {
        /// What went wrong, without secrets.
        msg: String,
        /// Exit code.
        code: i32,
    },
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Syntax { .. } => exit::GENERIC,
            Error::Read { .. } => exit::READ,
            Error::Write { .. } => exit::WRITE,
            Error::File { code, .. }
            | Error::Other { code, .. }
            | Error::Positioned { code, .. } => *code,
        }
    }

    /// The same error with another exit code (positioned errors default to 1).
    pub fn with_code(self, code: i32) -> Error {
        match self {
            Error::Syntax { file, pos, msg } if code != exit::GENERIC => Error::Positioned {
                file,
                pos,
                msg,
                code,
            },
            other => other,
        }
    }

    /// A failure about `file` with an exit code.
    pub fn file(file: impl Into<String>, code: i32, msg: impl Into<String>) -> Error {
        Error::File {
            file: file.into(),
            msg: msg.into(),
            code,
        }
    }

    /// A failure not tied to one file.
    pub fn other(code: i32, msg: impl Into<String>) -> Error {
        Error::Other {
            msg: msg.into(),
            code,
        }
    }
}

/// Display helper for paths in messages.
pub fn display_path(p: &std::path::Path) -> String {
    if p.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        p.display().to_string()
    }
}

/// Result with the crate error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
