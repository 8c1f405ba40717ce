//! `sealed updatekeys [FILE…]`: re-wrap each file's data key to the recipients its
//! `.sops.yaml` rule gives now (after a hand edit), as `sops updatekeys` does: the data key
//! and every value token stay the same. The changes are shown first; writing needs `-y`
//! or a "y" typed on the terminal.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use crate::engine::Sealed;
use crate::error::{Error, exit};
use crate::team::batch::{self, Step};
use crate::team::files::{self, Job};
use crate::team::rekey::{self, Change, plan};
use crate::team::say;
use crate::team::sopsfile::SopsFile;
use crate::team::{config_path, identities};

/// `sealed updatekeys`: re-wrap data keys to the recipients `.sops.yaml` gives now.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The files (default: every tracked sealed file a `.sops.yaml` rule matches).
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Apply without asking.
    #[arg(short, long)]
    yes: bool,
    /// Use this .sops.yaml for every file instead of the nearest one above each.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

fn describe(change: &Change, names: Option<&SopsFile>, grouped: bool) -> Vec<String> {
    let label = |r: &str| match names.and_then(|s| s.name_of(r)) {
        Some(n) => format!("{r} ({n})"),
        None => r.to_string(),
    };
    let group = |g: usize| {
        if grouped {
            format!("[group {g}] ")
        } else {
            String::new()
        }
    };
    let mut out = Vec::new();
    for (g, r) in &change.added {
        out.push(format!("  + {}{}", group(*g), label(r)));
    }
    for (g, r) in &change.removed {
        out.push(format!("  - {}{}", group(*g), label(r)));
    }
    if change.resplit {
        out.push(
            "  key groups or threshold changed: the key is split anew and every entry re-wrapped"
                .into(),
        );
    }
    out
}

fn short_change(change: &Change) -> String {
    let mut parts = Vec::new();
    if !change.added.is_empty() {
        parts.push(format!("+{}", change.added.len()));
    }
    if !change.removed.is_empty() {
        parts.push(format!("-{}", change.removed.len()));
    }
    if change.resplit {
        parts.push("re-split".into());
    }
    parts.join(" ")
}

/// Runs `sealed updatekeys`.
pub fn run(args: &Args) -> Result<(), Error> {
    // --config, else sops's global --config or SOPS_CONFIG.
    let config = args.config.clone().or_else(crate::config::explicit_path);
    let (jobs, repo) = files::select(&args.files, config.as_deref(), false)?;
    let names = config_path(config.as_deref())
        .ok()
        .and_then(|p| SopsFile::load(&p).ok());
    let mut pending: Vec<Job> = Vec::new();
    let mut problems = Vec::new();
    let total = jobs.len();
    for job in jobs {
        let Some(rule) = &job.rule else {
            problems.push(Error::file(
                &job.name,
                exit::CONFIG,
                "no .sops.yaml creation rule matches this file",
            ));
            continue;
        };
        if rule.layout.groups.iter().all(Vec::is_empty) {
            problems.push(Error::file(
                &job.name,
                exit::CONFIG,
                format!(
                    "creation_rules[{}] of {} has no age recipients",
                    rule.index,
                    rule.config.display()
                ),
            ));
            continue;
        }
        let sealed = match Sealed::parse(&job.text, job.syntax.format()) {
            Ok(s) => s,
            Err(e) => {
                problems.push(crate::commands::engine_error(&job.name, &job.text, e));
                continue;
            }
        };
        let change = plan(&sealed.metadata, &rule.layout);
        if change.is_empty() {
            continue;
        }
        let grouped = sealed.metadata.groups.len() > 1 || rule.layout.groups.len() > 1;
        say(format!("{}:", job.name));
        for line in describe(&change, names.as_ref(), grouped) {
            say(line);
        }
        drop(sealed);
        pending.push(job);
    }
    for e in &problems {
        eprintln!("sealed: {e}");
    }
    if pending.is_empty() {
        if problems.is_empty() {
            say(format!("all {total} file(s) already match .sops.yaml"));
            return Ok(());
        }
        return Err(Error::other(
            problems[0].exit_code(),
            format!(
                "updatekeys: {} file(s) could not be checked (listed above)",
                problems.len()
            ),
        ));
    }
    if !args.yes {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(Error::other(
                exit::GENERIC,
                format!(
                    "updatekeys: {} file(s) would change (shown above); nothing was written: \
                     pass -y to apply (standard input is not a terminal, so sealed cannot ask)",
                    pending.len()
                ),
            ));
        }
        eprint!("Apply these changes to {} file(s)? [y/N] ", pending.len());
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
            say("nothing was changed");
            return Ok(());
        }
    }
    let ids = identities()?;
    let summary = batch::run(&mut pending, repo.as_ref(), |job| {
        let layout = job
            .rule
            .as_ref()
            .map(|r| r.layout.clone())
            .ok_or_else(|| Error::file(&job.name, exit::CONFIG, "no creation rule matches"))?;
        let out = rekey::rewrap(&job.name, &job.text, job.syntax, |_| Ok(layout), &ids)?;
        Ok(match out {
            Some((text, change)) => Step {
                line: format!("updated {} ({})", job.name, short_change(&change)),
                text: Some(text),
                change,
                ..Step::default()
            },
            None => Step::default(),
        })
    });
    if summary.failed.is_empty() && problems.is_empty() {
        say(format!("{} file(s) updated", summary.written));
    }
    summary.finish("updatekeys", "sealed updatekeys", "")?;
    if let Some(e) = problems.into_iter().next() {
        return Err(Error::other(
            e.exit_code(),
            "updatekeys: some files could not be checked (listed above); the others are updated",
        ));
    }
    Ok(())
}
