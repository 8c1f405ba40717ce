//! `sealed groups add|delete` (sops's `groups` subcommand): add a key group, or delete one,
//! and split the same data key anew (Shamir) for the groups that result.
//!
//! The data key and every value token stay as they are (the team re-wrap machinery,
//! `team::rekey`). As everywhere in sealed, whom the shares are wrapped to is decided by
//! authenticated sources only: the new group by the command line; in the groups kept (the
//! file's, in its order, which `delete INDEX` counts), only the recipients the file's
//! `.sops.yaml` creation rule names (one named only in the file is dropped with a warning,
//! or kept with `--keep-file-recipients`). The threshold: the flag, else the rule's, else
//! every group (a threshold written in the file is not authenticated).

use std::path::PathBuf;

use crate::error::{Error, exit};
use crate::keys::Recipient;
use crate::team::batch::{self, Step};
use crate::team::files;
use crate::team::identities;
use crate::team::rekey::{self, Layout};

/// `sealed groups`: add or delete a key group of an encrypted file.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Clone, clap::Subcommand)]
enum Action {
    /// Add a key group with the recipients given here, and split the data key anew.
    Add(AddArgs),
    /// Delete the key group at INDEX (from 0), and split the data key anew.
    Delete(DeleteArgs),
}

/// What both actions take.
#[derive(Debug, Clone, clap::Args)]
struct Common {
    /// The encrypted file.
    #[arg(long, value_name = "FILE")]
    file: PathBuf,
    /// Write the file in place (atomically) instead of printing it on stdout.
    #[arg(short, long)]
    in_place: bool,
    /// The Shamir threshold for the groups that result (default: the rule's; else every
    /// group is needed).
    #[arg(long, value_name = "N")]
    shamir_secret_sharing_threshold: Option<usize>,
    /// Use this .sops.yaml instead of the nearest one above the file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Keep the recipients named only in the file (not by .sops.yaml) in the groups kept.
    #[arg(long)]
    keep_file_recipients: bool,
}

#[derive(Debug, Clone, clap::Args)]
struct AddArgs {
    #[command(flatten)]
    common: Common,
    /// age recipients of the new group (repeat the flag, or separate with commas).
    #[arg(short = 'a', long, value_name = "RECIPIENT")]
    age: Vec<String>,
    /// PGP fingerprints of the new group.
    #[arg(long, value_name = "FINGERPRINT")]
    pgp: Vec<String>,
    /// AWS KMS key ARNs of the new group.
    #[arg(long, value_name = "ARN")]
    kms: Vec<String>,
    /// Vault transit key URIs of the new group.
    #[arg(long, value_name = "URI")]
    hc_vault_transit: Vec<String>,
}

#[derive(Debug, Clone, clap::Args)]
struct DeleteArgs {
    #[command(flatten)]
    common: Common,
    /// The index (from 0) of the key group to delete.
    #[arg(value_name = "INDEX")]
    index: usize,
}

/// Runs `sealed groups add|delete`.
pub fn run(args: &Args) -> Result<(), Error> {
    match &args.action {
        Action::Add(a) => {
            let group = new_group(a)?;
            let threshold = a.common.shamir_secret_sharing_threshold;
            apply(&a.common, move |_, mut layout| {
                layout.groups.push(group.clone());
                if threshold.is_some() {
                    layout.threshold = threshold;
                }
                Ok(layout)
            })
        }
        Action::Delete(d) => {
            let (index, threshold) = (d.index, d.common.shamir_secret_sharing_threshold);
            apply(&d.common, move |name, mut layout| {
                if index >= layout.groups.len() {
                    return Err(Error::file(
                        name,
                        exit::GENERIC,
                        format!(
                            "there is no key group {index}: the file has {} (counted from 0)",
                            layout.groups.len()
                        ),
                    ));
                }
                layout.groups.remove(index);
                if threshold.is_some() {
                    layout.threshold = threshold;
                }
                let n = layout.groups.len();
                if let Some(t) = layout.threshold.filter(|t| n > 1 && *t > n) {
                    return Err(Error::file(
                        name,
                        exit::GENERIC,
                        format!(
                            "removing this key group will make the Shamir threshold impossible \
                             to satisfy: Shamir threshold is {t}, but we only have {n} key groups \
                             (pass --shamir-secret-sharing-threshold {n})"
                        ),
                    ));
                }
                if n <= 1 {
                    layout.threshold = None;
                }
                Ok(layout)
            })
        }
    }
}

/// The new group's recipients, as the layout names them, from the command line only.
fn new_group(a: &AddArgs) -> Result<Vec<String>, Error> {
    let split = |list: &[String]| -> Vec<String> {
        list.iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let bad = |flag: &str, e: crate::keys::KeyError| {
        Error::other(exit::GENERIC, format!("groups add {flag}: {e}"))
    };
    let mut group: Vec<String> = Vec::new();
    for r in split(&a.age) {
        group.push(
            Recipient::parse(&r)
                .map_err(|e| bad("--age", e))?
                .text()
                .to_owned(),
        );
    }
    for fp in split(&a.pgp) {
        let r = Recipient::parse_any(&format!("{}{fp}", crate::keys::PGP_PREFIX));
        group.push(r.map_err(|e| bad("--pgp", e))?.text().to_owned());
    }
    for arn in split(&a.kms) {
        let r = Recipient::parse_any(&format!("{}{arn}", crate::keys::KMS_PREFIX));
        group.push(r.map_err(|e| bad("--kms", e))?.text().to_owned());
    }
    for uri in split(&a.hc_vault_transit) {
        let r = Recipient::parse_any(&uri);
        group.push(
            r.map_err(|e| bad("--hc-vault-transit", e))?
                .text()
                .to_owned(),
        );
    }
    group.dedup();
    if group.is_empty() {
        return Err(Error::other(
            exit::GENERIC,
            "groups add: the new key group has no recipients: pass --age, --pgp, --kms or \
             --hc-vault-transit",
        ));
    }
    Ok(group)
}

/// The file's key groups (their number and order are what `groups delete INDEX` counts),
/// each with only the recipients the matching rule names (in any group): a recipient named
/// only in the file is left out, and returned, unless `keep_file` (and never an age plugin
/// recipient, whose label would pick the program that runs). The threshold is the rule's;
/// without one, every group is needed.
fn trusted_groups(
    md: &crate::codec::metadata::Metadata,
    rule: Option<&Layout>,
    keep_file: bool,
) -> (Layout, Vec<String>) {
    let mut dropped: Vec<String> = Vec::new();
    let file = Layout::of_file(md);
    let groups = file
        .groups
        .iter()
        .map(|g| {
            g.iter()
                .filter(|r| {
                    let trusted = rule.is_some_and(|l| l.contains(r));
                    let ok = trusted || (keep_file && !crate::keys::plugin::is_recipient(r));
                    if !ok && !dropped.contains(&shown(r)) {
                        dropped.push(shown(r));
                    }
                    ok
                })
                .cloned()
                .collect()
        })
        .collect();
    let layout = Layout {
        groups,
        threshold: rule.and_then(|l| l.threshold),
    };
    (layout, dropped)
}

/// A label from the file as shown in a message: control characters as `?`, at most 100
/// characters (the file can hold anything there).
fn shown(r: &str) -> String {
    let c: String = r
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(100)
        .collect();
    c
}

/// Re-splits the data key of `common.file` for the groups `edit` makes of those the rules
/// give; writes the file in place, or prints it.
fn apply(
    common: &Common,
    edit: impl Fn(&str, Layout) -> Result<Layout, Error> + Sync,
) -> Result<(), Error> {
    let config = common.config.clone().or_else(crate::config::explicit_path);
    let (mut jobs, repo) =
        files::select(std::slice::from_ref(&common.file), config.as_deref(), false)?;
    let ids = identities()?;
    let keep_file = common.keep_file_recipients;
    let work = |job: &files::Job| -> Result<Step, Error> {
        let rule = job.rule.as_ref().map(|r| &r.layout);
        let mut warning = None;
        let out = rekey::rewrap(
            &job.name,
            &job.text,
            job.syntax,
            |md| {
                let (layout, dropped) = trusted_groups(md, rule, keep_file);
                let layout = edit(&job.name, layout)?;
                if !dropped.is_empty() {
                    let list = dropped.join(", ");
                    if let Some(g) = layout.groups.iter().position(Vec::is_empty) {
                        return Err(Error::file(
                            &job.name,
                            exit::NO_RECIPIENT,
                            format!(
                                "key group {g} would keep no recipient: {list} named only in the \
                                 file (not by .sops.yaml), and sealed never wraps a key to those \
                                 (anyone who can edit the file can add one); add them to \
                                 .sops.yaml, or pass --keep-file-recipients"
                            ),
                        ));
                    }
                    warning = Some(format!(
                        "{}: dropped {list} (named only in the file, not by .sops.yaml or the \
                         command line; add them to .sops.yaml, or pass --keep-file-recipients \
                         to keep them)",
                        job.name
                    ));
                }
                Ok(layout)
            },
            &ids,
        )?;
        Ok(match out {
            Some((text, change)) => Step {
                line: format!("updated {}", job.name),
                text: Some(text),
                change,
                warning,
                ..Step::default()
            },
            None => Step {
                warning,
                ..Step::default()
            },
        })
    };
    if !common.in_place {
        let mut job = jobs
            .into_iter()
            .next()
            .ok_or_else(|| Error::other(exit::READ, "no file to work on"))?;
        if let Some(e) = job.problem.take() {
            return Err(e);
        }
        let step = work(&job)?;
        if let Some(w) = &step.warning {
            eprintln!("sealed: warning: {w}");
        }
        let text = step.text.as_deref().unwrap_or(&job.text);
        use std::io::Write;
        return std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .map_err(|e| Error::other(exit::WRITE, format!("cannot write to stdout: {e}")));
    }
    let summary = batch::run(&mut jobs, repo.as_ref(), work);
    match summary.failed.into_iter().next() {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}
