//! `sealed git …`: repository setup, the filter/diff/merge drivers git calls, and the guard.

use std::path::PathBuf;

use crate::error::{Error, exit};
use crate::git::{check, filter::Filter, merge, process, setup};

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
    /// whom each is encrypted.
    Status,
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
    FilterProcess,
    /// Clean filter for one file, stdin to stdout (filter.sealed.clean, for old git).
    #[command(hide = true)]
    Clean {
        /// The path in the repository (%f).
        path: String,
    },
    /// Smudge filter for one file, stdin to stdout (filter.sealed.smudge, for old git).
    #[command(hide = true)]
    Smudge {
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
            eprintln!(
                "sealed: protecting {} pattern(s); {} file(s) decrypted into the work tree{}",
                report.patterns.len(),
                report.decrypted,
                if report.left_encrypted > 0 {
                    format!(", {} left encrypted (no identity)", report.left_encrypted)
                } else {
                    String::new()
                }
            );
            Ok(())
        }
        GitCommand::Status => status(),
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
        GitCommand::FilterProcess => {
            let mut filter = Filter::new();
            process::serve(
                std::io::stdin().lock(),
                std::io::stdout().lock(),
                &mut filter,
            )
            .map_err(|e| Error::other(exit::GENERIC, e.to_string()))
        }
        GitCommand::Clean { path } => {
            let input = crate::fsutil::read_stdin()?;
            let out = Filter::new()
                .clean(path, &input)
                .map_err(|e| Error::other(exit::GENERIC, e.to_string()))?;
            crate::fsutil::write_stdout(&out)
        }
        GitCommand::Smudge { path } => {
            let input = crate::fsutil::read_stdin()?;
            let out = Filter::new()
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
            base,
            ours,
            theirs,
            path,
        } => match merge::run(base, ours, theirs, path)? {
            merge::Outcome::Clean => Ok(()),
            merge::Outcome::Conflict => {
                Err(Error::other(exit::GENERIC, merge::conflict_message(path)))
            }
        },
    }
}

fn status() -> Result<(), Error> {
    let repo = repo()?;
    let protection = check::Protection::new(&repo);
    let index = repo
        .index()
        .map_err(|e| Error::other(exit::GENERIC, e.message().to_string()))?;
    let mut out = String::new();
    for entry in index.iter() {
        let path = String::from_utf8_lossy(&entry.path).into_owned();
        if !protection.covers(&path) {
            continue;
        }
        let Ok(blob) = repo.find_blob(entry.id) else {
            continue;
        };
        let line = match check::check_blob(&path, blob.content()) {
            Some(problem) => format!("REFUSED    {path}: {problem}\n"),
            None => {
                let text = String::from_utf8_lossy(blob.content());
                let syntax =
                    crate::format::Syntax::from_path(std::path::Path::new(&path)).expect("checked");
                let recipients = crate::engine::Sealed::parse(&text, syntax.format())
                    .map(|s| {
                        s.metadata
                            .recipients()
                            .map(str::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                format!("encrypted  {path}  for: {recipients}\n")
            }
        };
        out.push_str(&line);
    }
    if out.is_empty() {
        out.push_str("no protected files in the index (run `sealed git init`)\n");
    }
    crate::fsutil::write_stdout(out.as_bytes())
}
