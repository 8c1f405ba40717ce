//! `sealed rotate [FILE…]`: a new data key for each file and every value encrypted again
//! under it, for the same recipients, key groups and selection rules; the plaintext stays
//! the same. Use it when a data key may have leaked (e.g. after `team remove --no-rotate`).

use std::path::PathBuf;

use crate::error::Error;
use crate::team::batch::{self, Step};
use crate::team::files;
use crate::team::say;
use crate::team::{identities, rekey};

/// `sealed rotate`: new data keys, every value re-encrypted.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The files (default: every tracked sealed file a `.sops.yaml` rule matches).
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Use this .sops.yaml to pick the files instead of the nearest one above each.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Runs `sealed rotate`.
pub fn run(args: &Args) -> Result<(), Error> {
    let (mut jobs, repo) = files::select(&args.files, args.config.as_deref(), false)?;
    let ids = identities()?;
    let summary = batch::run(&mut jobs, repo.as_ref(), |job| {
        let (text, change) = rekey::rotate(&job.name, &job.text, job.syntax, None, &ids)?;
        Ok(Step {
            text: Some(text),
            change,
            line: format!("rotated {}", job.name),
            ..Step::default()
        })
    });
    if summary.failed.is_empty() {
        say(format!("{} file(s) rotated", summary.written));
    }
    summary.finish("rotate", "sealed rotate", "")
}
