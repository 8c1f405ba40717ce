//! `sealed git …`: repository setup, the filter/diff/merge drivers git calls, and the guard.

use std::path::PathBuf;

use crate::error::{Error, exit};
use crate::git::{check, filter::Filter, lock, merge, process, setup};

/// `sealed git`: keep protected files plaintext in the work tree and ciphertext in commits.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: GitCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
enum GitCommand {
    /// Set up this repository: .gitattributes entries for the files `.sops.yaml` rules match
    /// (or PATTERNs), filter/diff/merge drivers, a pre-commit guard, and decrypt the
    /// protected files into the work tree. Safe to run again; run it after `git clone`.
    Init {
        /// gitattributes patterns to protect (default: files matched by a creation rule with
        /// a path_regex).
        patterns: Vec<String>,
    },
    /// Which protected files are encrypted in the index, which would be refused, and for
    /// whom each is encrypted. Exits 1 when a file would be refused.
    Status {
        /// One JSON object for scripts: `{"files": [{"path", "state", "recipients",
        /// "problem"}], "refused": N}`.
        #[arg(long)]
        json: bool,
    },
    /// Turn the protected files of the work tree back into their ciphertext and remove the
    /// filter and merge drivers from .git/config (as `git-crypt lock`). Refuses when a
    /// protected file has changes that are not staged.
    Lock,
    /// Undo `sealed git lock`: the same as `sealed git init`.
    Unlock,
    /// Refuse plaintext blobs at protected paths: in the index (the pre-commit hook), or
    /// with --all in every commit reachable from HEAD, or in a range of commits.
    Check {
        /// Scan every commit reachable from HEAD.
        #[arg(long)]
        all: bool,
        /// Scan the commits of a range (e.g. `origin/main..HEAD`) or one revision.
        #[arg(long, value_name = "RANGE", conflicts_with = "all")]
        range: Option<String>,
    },
    /// git's long-running filter process (filter.sealed.process).
    #[command(hide = true)]
    FilterProcess {
        /// The `sealed-rules` driver: filter only what a `.sops.yaml` rule protects.
        #[arg(long)]
        by_rules: bool,
    },
    /// Clean filter for one file, stdin to stdout (filter.sealed.clean, for old git).
    #[command(hide = true)]
    Clean {
        /// The `sealed-rules` driver.
        #[arg(long)]
        by_rules: bool,
        /// The path in the repository (%f).
        path: String,
    },
    /// Smudge filter for one file, stdin to stdout (filter.sealed.smudge, for old git).
    #[command(hide = true)]
    Smudge {
        /// The `sealed-rules` driver.
        #[arg(long)]
        by_rules: bool,
        /// The path in the repository (%f).
        path: String,
    },
    /// Decrypt a file for display (diff.sealed.textconv).
    #[command(hide = true)]
    Textconv {
        /// The (temporary) file git hands over.
        file: PathBuf,
    },
    /// Three-way merge of decrypted values (merge.sealed.driver: %O %A %B %P).
    #[command(hide = true)]
    Merge {
        /// The `sealed-rules` driver: a file no rule protects gets git's own merge.
        #[arg(long)]
        by_rules: bool,
        /// %O: the common ancestor.
        base: PathBuf,
        /// %A: ours, and where the result goes.
        ours: PathBuf,
        /// %B: theirs.
        theirs: PathBuf,
        /// %P: the path in the repository.
        path: String,
    },
}

fn repo() -> Result<git2::Repository, Error> {
    git2::Repository::open_from_env()
        .map_err(|e| Error::other(exit::GENERIC, format!("git: {}", e.message())))
}

/// Runs `sealed git …`.
pub fn run(args: &Args) -> Result<(), Error> {
    match &args.command {
        GitCommand::Init { patterns } => {
            let report = setup::init(patterns)?;
            eprintln!("sealed: {}", report.summary());
            Ok(())
        }
        GitCommand::Unlock => {
            let report = setup::init(&[])?;
            eprintln!("sealed: unlocked: {}", report.summary());
            Ok(())
        }
        GitCommand::Lock => {
            let report = lock::lock()?;
            eprintln!(
                "sealed: locked: {} file(s) turned back into ciphertext ({} were already); \
                 the filter is off until `sealed git unlock`",
                report.locked, report.already
            );
            Ok(())
        }
        GitCommand::Status { json } => status(*json),
        GitCommand::Check { all, range } => {
            let repo = repo()?;
            let git = |e: git2::Error| Error::other(exit::GENERIC, format!("git: {}", e.message()));
            let findings = if *all || range.is_some() {
                let revs = check::commits(&repo, range.as_deref()).map_err(git)?;
                check::check_commits(&repo, &revs).map_err(git)?
            } else {
                check::check_index(&repo).map_err(git)?
            };
            for f in &findings {
                eprintln!("sealed: refused: {f}");
            }
            if findings.is_empty() {
                Ok(())
            } else {
                Err(Error::other(
                    exit::GENERIC,
                    format!("{} file(s) refused (reasons above)", findings.len()),
                ))
            }
        }
        GitCommand::FilterProcess { by_rules } => {
            let mut filter = filter(*by_rules);
            process::serve(
                std::io::stdin().lock(),
                std::io::stdout().lock(),
                &mut filter,
            )
            .map_err(|e| Error::other(exit::GENERIC, e.to_string()))
        }
        GitCommand::Clean { by_rules, path } => {
            let input = crate::fsutil::read_stdin()?;
            let out = filter(*by_rules)
                .clean(path, &input)
                .map_err(|e| Error::other(exit::GENERIC, e.to_string()))?;
            crate::fsutil::write_stdout(&out)
        }
        GitCommand::Smudge { by_rules, path } => {
            let input = crate::fsutil::read_stdin()?;
            let out = filter(*by_rules)
                .smudge(path, &input)
                .map_err(|e| Error::other(exit::GENERIC, e.to_string()))?;
            crate::fsutil::write_stdout(&zeroize::Zeroizing::new(out))
        }
        GitCommand::Textconv { file } => {
            let input =
                zeroize::Zeroizing::new(std::fs::read(file).map_err(|source| Error::Read {
                    file: file.display().to_string(),
                    source,
                })?);
            let out = Filter::new().textconv(&file.to_string_lossy(), &input);
            crate::fsutil::write_stdout(&out)
        }
        GitCommand::Merge {
            by_rules: true,
            base,
            ours,
            theirs,
            path,
        } if !check::Protection::new(&repo()?).covers(path) => line_merge(base, ours, theirs, path),
        GitCommand::Merge {
            base,
            ours,
            theirs,
            path,
            ..
        } => match merge::run(base, ours, theirs, path)? {
            merge::Outcome::Clean => Ok(()),
            merge::Outcome::Conflict => {
                Err(Error::other(exit::GENERIC, merge::conflict_message(path)))
            }
        },
    }
}

fn filter(by_rules: bool) -> Filter {
    if by_rules {
        Filter::by_rules()
    } else {
        Filter::new()
    }
}

/// git's own line merge (`git merge-file`) for a file the `sealed-rules` attribute covers
/// but no rule protects.
fn line_merge(
    base: &std::path::Path,
    ours: &std::path::Path,
    theirs: &std::path::Path,
    path: &str,
) -> Result<(), Error> {
    let status = std::process::Command::new("git")
        .args([
            "merge-file",
            "-L",
            "ours",
            "-L",
            "base",
            "-L",
            "theirs",
            "--",
        ])
        .args([ours, base, theirs])
        .status()
        .map_err(|e| Error::other(exit::GENERIC, format!("git merge-file: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::other(
            exit::GENERIC,
            format!(
                "{path}: conflicting changes; resolve the markers, then `git add -- {}`",
                setup::shell_quote(path)
            ),
        ))
    }
}

/// One protected file of the index, as `sealed git status` reports it.
#[derive(serde::Serialize)]
struct FileStatus {
    path: String,
    /// `encrypted` or `refused`.
    state: &'static str,
    recipients: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<String>,
}

fn status(json: bool) -> Result<(), Error> {
    let repo = repo()?;
    let protection = check::Protection::new(&repo);
    let index = repo
        .index()
        .map_err(|e| Error::other(exit::GENERIC, e.message().to_string()))?;
    let mut files = Vec::new();
    for entry in index.iter() {
        let path = String::from_utf8_lossy(&entry.path).into_owned();
        if !protection.covers(&path) {
            continue;
        }
        let Ok(blob) = repo.find_blob(entry.id) else {
            continue;
        };
        files.push(match check::check_blob(&path, blob.content()) {
            Some(problem) => FileStatus {
                problem: Some(format!(
                    "{problem}; stage it encrypted: {}",
                    check::restage_advice(&path)
                )),
                path,
                state: "refused",
                recipients: vec![],
            },
            None => {
                let text = String::from_utf8_lossy(blob.content());
                let syntax =
                    crate::format::Syntax::from_path(std::path::Path::new(&path)).expect("checked");
                let recipients = crate::engine::Sealed::parse(&text, syntax.format())
                    .map(|s| s.metadata.recipients().collect())
                    .unwrap_or_default();
                FileStatus {
                    path,
                    state: "encrypted",
                    recipients,
                    problem: None,
                }
            }
        });
    }
    let refused = files.iter().filter(|f| f.state == "refused").count();
    let out = if json {
        let mut text = serde_json::to_string_pretty(&serde_json::json!({
            "files": files,
            "refused": refused,
        }))
        .expect("plain data");
        text.push('\n');
        text
    } else {
        let mut out = String::new();
        for f in &files {
            match &f.problem {
                Some(problem) => out.push_str(&format!("REFUSED    {}: {problem}\n", f.path)),
                None => out.push_str(&format!(
                    "encrypted  {}  for: {}\n",
                    f.path,
                    f.recipients.join(", ")
                )),
            }
        }
        if out.is_empty() {
            out.push_str("no protected files in the index (run `sealed git init`)\n");
        }
        out
    };
    crate::fsutil::write_stdout(out.as_bytes())?;
    if refused > 0 {
        return Err(Error::other(
            exit::GENERIC,
            format!("{refused} protected file(s) would be refused (listed above)"),
        ));
    }
    Ok(())
}
