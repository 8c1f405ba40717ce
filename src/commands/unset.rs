//! `sealed unset FILE PATH`: remove one value (with its key, line or comma) from an
//! encrypted file; every other token stays as it was.

use std::path::PathBuf;

use super::edit::{open_encrypted, syntax_of, tree_path};
use crate::edit::EditError;
use crate::error::Error;

/// `sealed unset`: remove the value at a path like `["db"]["password"]`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The encrypted file, changed in place.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where: SOPS's path syntax, e.g. '["db"]["password"]' or '["hosts"][0]'.
    #[arg(value_name = "PATH")]
    path: String,
    /// Succeed without change when the path does not exist.
    #[arg(long)]
    idempotent: bool,
    /// The syntax: yaml, json, dotenv, ini, toml or binary (default: from the file name).
    #[arg(long, value_name = "TYPE")]
    input_type: Option<String>,
}

/// Runs `sealed unset`.
pub fn run(args: &Args) -> Result<(), Error> {
    let syntax = syntax_of(&args.file, args.input_type.as_deref())?;
    let steps = tree_path(&args.path)?;
    let opened = open_encrypted(&args.file, syntax)?;
    let plain = match crate::edit::unset(&opened.plain, syntax, &steps) {
        Ok(p) => p,
        Err(EditError::NotFound { .. }) if args.idempotent => return Ok(()),
        Err(e) => return Err(Error::file(&opened.name, e.exit_code(), e.to_string())),
    };
    opened.commit(&plain)
}
