//! The command-line verbs. Each takes its parsed options, does its work through the
//! engine, and returns an [`Error`] that `main` prints as one line.

pub mod completion;
pub mod decrypt;
pub mod edit;
pub mod encrypt;
pub mod exec;
pub mod filestatus;
pub mod git;
pub mod groups;
pub mod init;
pub mod keygen;
pub mod man;
pub mod publish;
pub mod rotate;
pub mod scan;
pub mod set;
pub mod sops_style;
pub mod source;
pub mod team;
pub mod unset;
pub mod updatekeys;

use std::path::{Path, PathBuf};

use crate::error::{Error, display_path, exit};
use crate::format::Syntax;

/// Where a command reads and writes (the flags shared by encrypt and decrypt).
#[derive(Debug, Clone, clap::Args)]
pub struct Io {
    /// The file, or `-` for standard input (the default, as with sops).
    #[arg(value_name = "FILE", default_value = "-")]
    pub file: PathBuf,
    /// Write the result back to the file, atomically.
    #[arg(short, long)]
    pub in_place: bool,
    /// Write the result to this file.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The syntax: yaml, json, dotenv, ini, toml or binary (default: from the file name).
    #[arg(long, value_name = "TYPE")]
    pub input_type: Option<String>,
    /// Use this name to pick the format and the .sops.yaml rule (useful with stdin).
    #[arg(long, value_name = "PATH")]
    pub filename_override: Option<PathBuf>,
}

impl Io {
    /// The path used for format detection and rule matching.
    pub fn logical_path(&self) -> &Path {
        self.filename_override.as_deref().unwrap_or(&self.file)
    }

    /// The name used in messages.
    pub fn name(&self) -> String {
        display_path(&self.file)
    }

    /// The syntax: `--input-type`, else the file name.
    pub fn syntax(&self) -> Result<Syntax, Error> {
        if let Some(t) = &self.input_type {
            return Syntax::from_name(t).ok_or_else(|| {
                Error::other(
                    exit::CONFLICT,
                    format!("unknown --input-type {t:?}: use yaml, json, dotenv, ini or binary"),
                )
            });
        }
        if let Some(syntax) = Syntax::from_path(self.logical_path()) {
            return Ok(syntax);
        }
        if self.logical_path().as_os_str() == "-" {
            // As sops: standard input needs its type named.
            return Err(Error::file(
                self.name(),
                exit::GENERIC,
                "cannot tell the format of standard input; pass --input-type yaml|json|dotenv|ini|toml|binary or --filename-override",
            ));
        }
        // As sops: a file of no known syntax is one value (the binary store).
        Ok(Syntax::Binary)
    }

    /// Checks flag combinations.
    pub fn validate(&self) -> Result<(), Error> {
        if self.in_place && self.output.is_some() {
            return Err(Error::other(
                exit::CONFLICT,
                "--in-place and --output cannot be used together",
            ));
        }
        if self.in_place && self.file.as_os_str() == "-" {
            return Err(Error::other(
                exit::CONFLICT,
                "--in-place needs a file, not stdin",
            ));
        }
        Ok(())
    }

    /// With `--in-place`, locks the file for the read-modify-write ([`crate::fsutil::lock`]):
    /// hold the result until the file is written.
    pub fn lock_in_place(&self) -> Result<Option<crate::fsutil::FileLock>, Error> {
        if self.in_place {
            crate::fsutil::lock(&self.file)
        } else {
            Ok(None)
        }
    }

    /// Writes the result where the options say.
    pub fn write(&self, data: &[u8]) -> Result<(), Error> {
        if self.in_place {
            crate::fsutil::write_atomic(&self.file, data)
        } else if let Some(out) = &self.output {
            crate::fsutil::write_atomic(out, data)
        } else {
            crate::fsutil::write_stdout(data)
        }
    }
}

pub use crate::engine::{conflict_marker_line, engine_error};
