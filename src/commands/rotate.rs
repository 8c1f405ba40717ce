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

/// `--pgp`'s, `--kms`'s and `--age`'s comma-separated recipients (in sops's kind order),
/// in their canonical spelling.
fn parse_recipients(
    pgp: Option<&str>,
    kms: Option<&str>,
    vault: Option<&str>,
    age: Option<&str>,
) -> Result<Vec<String>, Error> {
    let split = |list: Option<&str>| -> Vec<String> {
        list.unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut out = Vec::new();
    for fp in split(pgp) {
        let r =
            Recipient::pgp(&fp).map_err(|e| Error::other(exit::GENERIC, format!("--pgp: {e}")))?;
        out.push(r.text().to_string());
    }
    let keys = crate::keys::kms::parse_arn_list(kms.unwrap_or_default(), &Default::default(), "")
        .map_err(|e| Error::other(exit::GENERIC, format!("--kms: {e}")))?;
    for k in keys {
        crate::keys::kms::trust(&k);
        out.push(k.text());
    }
    for uri in split(vault) {
        let r = Recipient::vault(&uri)
            .map_err(|e| Error::other(exit::GENERIC, format!("--hc-vault-transit: {e}")))?;
        out.push(r.text().to_string());
    }
    for s in split(age) {
        let r =
            Recipient::parse(&s).map_err(|e| Error::other(exit::GENERIC, format!("--age: {e}")))?;
        out.push(r.text().to_string());
    }
    if out.is_empty() {
        let flag = if age.is_some() {
            "--age"
        } else if kms.is_some() {
            "--kms"
        } else if pgp.is_some() {
            "--pgp"
        } else {
            "--hc-vault-transit"
        };
        return Err(Error::other(
            exit::NO_RECIPIENT,
            format!("{flag}: no recipient given"),
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
    /// Encrypt the new data key to these PGP keys (fingerprints, comma-separated; with
    /// --age, in the same key group) instead of the rule's.
    #[arg(long, value_name = "FINGERPRINTS")]
    pgp: Option<String>,
    /// Encrypt the new data key to these AWS KMS keys (`ARN[+ROLE_ARN]`, comma-separated;
    /// with --age or --pgp, in the same key group) instead of the rule's.
    #[arg(long, value_name = "ARNS")]
    kms: Option<String>,
    /// Encrypt the new data key with these Vault transit keys (URIs, comma-separated; with
    /// --age/--pgp, in the same key group) instead of the rule's.
    #[arg(long, value_name = "URIS")]
    hc_vault_transit: Option<String>,
    /// Also keep the recipients named only in a file (not by `.sops.yaml` or --age); for a
    /// file no rule matches, keep its recipients, key groups and threshold as they are.
    /// They are not authenticated: check the warning that lists them.
    #[arg(long)]
    keep_file_recipients: bool,
}

/// Runs `sealed rotate`.
pub fn run(args: &Args) -> Result<(), Error> {
    let flag = match (&args.pgp, &args.kms, &args.hc_vault_transit, &args.age) {
        (None, None, None, None) => None,
        (pgp, kms, vault, age) => Some(Layout {
            groups: vec![parse_recipients(
                pgp.as_deref(),
                kms.as_deref(),
                vault.as_deref(),
                age.as_deref(),
            )?],
            threshold: None,
        }),
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
