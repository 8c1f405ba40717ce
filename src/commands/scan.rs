//! `sealed scan`: look for the secret values of the repository's sealed files in clear
//! text in other files (work tree, index or history); exit 1 when one is found.

use crate::error::{Error, exit};
use crate::git::scan::{self, Scope};

/// `sealed scan`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Scan the index (what the next commit holds) instead of the work tree.
    #[arg(long, conflicts_with = "history")]
    staged: bool,
    /// Scan every commit reachable from HEAD (each blob once, reported at the commit
    /// that added it).
    #[arg(long)]
    history: bool,
    /// With --history: only the commits after REV (REV..HEAD), or of a range A..B.
    #[arg(long, value_name = "REV|A..B", requires = "history")]
    since: Option<String>,
    /// Values shorter than this many bytes are not looked for.
    #[arg(long, value_name = "N", default_value_t = scan::DEFAULT_MIN_LEN)]
    min_len: usize,
    /// One JSON object on stdout: {"findings": [{"path", "line", "commit", "source",
    /// "key_path"}], "unopened": [...], "values": N, "searched": N}.
    #[arg(long)]
    json: bool,
}

/// What a JSON report holds.
#[derive(serde::Serialize)]
struct Json<'a> {
    findings: &'a [scan::Finding],
    unopened: &'a [String],
    values: usize,
    searched: usize,
}

/// Runs `sealed scan`: exit 0 when nothing is found, 1 when a value is found.
pub fn run(args: &Args) -> Result<(), Error> {
    let repo = git2::Repository::open_from_env()
        .map_err(|e| Error::other(exit::GENERIC, format!("scan: git: {}", e.message())))?;
    let scope = if args.history {
        Scope::History(args.since.clone())
    } else if args.staged {
        Scope::Staged
    } else {
        Scope::WorkTree
    };
    let report = scan::scan(&repo, &scope, args.min_len)
        .map_err(|e| Error::other(exit::GENERIC, format!("scan: {e}")))?;
    if args.json {
        let json = Json {
            findings: &report.findings,
            unopened: &report.unopened,
            values: report.values,
            searched: report.searched,
        };
        println!(
            "{}",
            serde_json::to_string(&json).map_err(|e| Error::other(exit::GENERIC, e.to_string()))?
        );
    } else {
        for f in &report.findings {
            println!("{f}");
        }
    }
    for path in &report.unopened {
        eprintln!("sealed: warning: {path}: no identity opens it: its values were not looked for");
    }
    if report.findings.is_empty() {
        if !args.json {
            eprintln!(
                "sealed: scan: no secret value found ({} value(s) looked for in {} file(s))",
                report.values, report.searched
            );
        }
        Ok(())
    } else {
        Err(Error::other(
            exit::GENERIC,
            format!(
                "scan: {} secret value(s) found in clear text (listed on stdout); take them \
                 out, and rotate the files they come from (`sealed rotate FILE`)",
                report.findings.len()
            ),
        ))
    }
}
