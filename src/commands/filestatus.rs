//! `sealed filestatus FILE`: whether a file is SOPS-encrypted, printed as sops prints it
//! (`{"encrypted":true}` or `{"encrypted":false}`, exit 0). Encrypted means: the file
//! parses, has SOPS metadata, and the metadata has a version and a MAC (sops's
//! `filestatus` rule). No key is needed and nothing is decrypted. A file that cannot be
//! read or parsed is an error (exit 1, as sops).

use std::path::PathBuf;

use super::Io;
use crate::engine::{EngineError, Sealed};
use crate::error::{Error, exit};

/// `sealed filestatus`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The syntax: yaml, json, dotenv, ini, toml or binary (default: from the file name).
    #[arg(long, value_name = "TYPE")]
    input_type: Option<String>,
}

/// Runs `sealed filestatus`.
pub fn run(args: &Args) -> Result<(), Error> {
    let io = Io {
        file: args.file.clone(),
        in_place: false,
        output: None,
        input_type: args.input_type.clone(),
        filename_override: None,
    };
    let encrypted = status(&io).map_err(|e| {
        // sops exits 1 whatever the cause.
        Error::other(exit::GENERIC, format!("cannot check file status: {e}"))
    })?;
    crate::fsutil::write_stdout(format!("{{\"encrypted\":{encrypted}}}\n").as_bytes())
}

/// Whether the file `io` names carries SOPS metadata with a version and a MAC.
fn status(io: &Io) -> Result<bool, Error> {
    let syntax = io.syntax()?;
    let src = crate::fsutil::read_text(&io.file)?;
    let name = io.name();
    match Sealed::parse(&src, syntax.format()) {
        Err(EngineError::NotEncrypted) => Ok(false),
        Err(e) => Err(super::engine_error(&name, &src, e)),
        Ok(sealed) => Ok(!sealed.metadata.version.is_empty() && !sealed.metadata.mac.is_empty()),
    }
}
