//! `sealed rotate [FILE…]`: a new data key for each file and every value encrypted again
//! under it, for the same recipients, key groups and selection rules; the plaintext stays
//! the same. Use it when a data key may have leaked (e.g. after `team remove --no-rotate`).

use std::path::PathBuf;

use crate::error::{Error, exit};
use crate::keys::Recipient;
use crate::team::batch::{self, Step};
use crate::team::files;
use crate::team::rekey::{Layout, Source};
use crate::team::say;
use crate::team::{identities, rekey};

/// `--age`'s comma-separated recipients, in their canonical spelling.
fn parse_recipients(list: &str) -> Result<Vec<String>, Error> {
    let out = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            Recipient::parse(s)
                .map(|r| r.text().to_string())
                .map_err(|e| Error::other(exit::GENERIC, format!("--age: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if out.is_empty() {
        return Err(Error::other(
            exit::NO_RECIPIENT,
            "--age: no recipient given",
        ));
    }
    Ok(out)
}

/// `sealed rotate`: new data keys, every value re-encrypted.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The files (default: every tracked sealed file a `.sops.yaml` rule matches).
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Use this .sops.yaml to pick the files instead of the nearest one above each.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Encrypt the new data key to these age recipients (comma-separated, one key group)
    /// instead of those of the matching `.sops.yaml` rule; needed for a file no rule
    /// matches.
    #[arg(long, value_name = "RECIPIENTS")]
    age: Option<String>,
    /// Also keep the recipients named only in a file (not by `.sops.yaml` or --age); for a
    /// file no rule matches, keep its recipients, key groups and threshold as they are.
    /// They are not authenticated: check the warning that lists them.
    #[arg(long)]
    keep_file_recipients: bool,
}

/// Runs `sealed rotate`.
pub fn run(args: &Args) -> Result<(), Error> {
    let flag = match &args.age {
        Some(list) => Some(Layout {
            groups: vec![parse_recipients(list)?],
            threshold: None,
        }),
        None => None,
    };
    // --config, else sops's global --config or SOPS_CONFIG.
    let config = args.config.clone().or_else(crate::config::explicit_path);
    let (mut jobs, repo) = files::select(&args.files, config.as_deref(), false)?;
    let ids = identities()?;
    let summary = batch::run(&mut jobs, repo.as_ref(), |job| {
        let source = Source {
            given: flag
                .clone()
                .or_else(|| job.rule.as_ref().map(|r| r.layout.clone())),
            keep_file: args.keep_file_recipients,
            without: None,
            how: format!(
                "pass them with `sealed rotate --age RECIPIENT[,RECIPIENT…] {name}`, or keep \
                 the file's own with `sealed rotate --keep-file-recipients {name}`",
                name = job.name
            ),
        };
        let mut warning = None;
        let target = |md: &crate::codec::metadata::Metadata| {
            let (layout, w) = source.layout(&job.name, md)?;
            warning = w;
            Ok(layout)
        };
        let (text, change) = rekey::rotate(&job.name, &job.text, job.syntax, target, &ids)?;
        Ok(Step {
            text: Some(text),
            change,
            line: format!("rotated {}", job.name),
            warning,
            ..Step::default()
        })
    });
    if summary.failed.is_empty() {
        say(format!("{} file(s) rotated", summary.written));
    }
    summary.finish("rotate", "sealed rotate", "")
}
