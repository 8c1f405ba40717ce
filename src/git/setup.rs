//! `sealed git init`: `.gitattributes` entries, the filter/diff/merge drivers in
//! `.git/config`, a chained pre-commit guard, and a re-checkout that decrypts the files a
//! clone brought in encrypted. Idempotent: running it again changes nothing, so it is the
//! whole on-boarding of a new team member right after `git clone`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git2::{ConfigLevel, Repository, StatusOptions};

use super::globs::{ENCRYPTABLE, globs_for};
use crate::config::Config;
use crate::error::{Error, exit};

const BEGIN: &str = "# >>> sealed (managed by `sealed git init`)";
const END: &str = "# <<< sealed";
const HOOK_MARK: &str = "# sealed: pre-commit guard";
/// The attributes of a pattern named on the command line: every file it matches is
/// encrypted (the filter refuses what it cannot encrypt).
const ATTRS: &str = "filter=sealed diff=sealed merge=sealed";
/// The attributes of a pattern derived from `.sops.yaml`: the filter and the merge driver
/// ask the rules for each path and pass any other file through unchanged.
pub const RULES_ATTRS: &str = "filter=sealed-rules diff=sealed merge=sealed-rules";
/// Protected files are left out of `git archive` (which runs the smudge filter, so would
/// ship them decrypted).
const EXPORT: &str = "export-ignore";

pub(crate) fn git_err(e: git2::Error) -> Error {
    Error::other(exit::GENERIC, format!("git: {}", e.message()))
}

/// What `init` did.
#[derive(Debug, Default)]
pub struct InitReport {
    /// Patterns now in the managed `.gitattributes` block (named ones and rule globs).
    pub patterns: Vec<String>,
    /// `.sops.yaml` creation rules with a `path_regex` that the block follows.
    pub rules: usize,
    /// Whether some rule had no glob, so every YAML/JSON/.env file goes through the filter
    /// (which passes the files no rule matches through unchanged).
    pub broad: bool,
    /// Files decrypted into the work tree.
    pub decrypted: usize,
    /// Files left encrypted for want of an identity.
    pub left_encrypted: usize,
}

impl InitReport {
    /// One line for the user.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "protecting {} pattern(s) ({} from .sops.yaml creation rule(s){}); {} file(s) decrypted into the work tree",
            self.patterns.len(),
            self.rules,
            if self.broad {
                ", some checked per file by the filter"
            } else {
                ""
            },
            self.decrypted
        );
        if self.left_encrypted > 0 {
            s.push_str(&format!(
                ", {} left encrypted (no identity)",
                self.left_encrypted
            ));
        }
        s
    }
}

/// `path` quoted for a POSIX shell when it needs it.
pub fn shell_quote(path: &str) -> String {
    if !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=@%:,".contains(c))
    {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', "'\\''"))
    }
}

/// The wrapper git runs sealed through, in the repository's common git directory.
const WRAPPER: &str = "sealed/run";

/// The shell command git runs for `sealed ARGS`: the wrapper that [`write_wrapper`]
/// installs, found from the repository itself (git runs filter, textconv and merge driver
/// commands and hooks through `sh`, inside the work tree).
pub fn command_line(args: &str) -> String {
    format!("\"$(git rev-parse --git-common-dir)/{WRAPPER}\" {args}")
}

/// Writes the wrapper: this binary by its absolute path, else a `sealed` on `PATH`, else
/// one line naming the fix (exit 127) — a moved binary gives that message instead of
/// `…/sealed: not found` for every file.
fn write_wrapper(repo: &Repository) -> Result<(), Error> {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("sealed"));
    let exe = shell_quote(&exe.to_string_lossy());
    let text = format!(
        "#!/bin/sh\n\
         # Runs sealed for git's filter, diff and merge drivers and the pre-commit guard\n\
         # (written by `sealed git init`): the binary that set the repository up, else a\n\
         # sealed on PATH.\n\
         s={exe}\n\
         [ -x \"$s\" ] || s=$(command -v sealed) || {{\n\
         \techo \"sealed: \"{exe}\" (set up by \\`sealed git init\\`) is gone and no sealed is on PATH: install sealed, then run \\`sealed git init\\` in this repository\" >&2\n\
         \texit 127\n\
         }}\n\
         exec \"$s\" \"$@\"\n"
    );
    let path = repo.commondir().join(WRAPPER);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Write {
                file: dir.display().to_string(),
                source,
            })?;
        }
        crate::fsutil::write_atomic(&path, text.as_bytes())?;
    }
    set_executable(&path)
}

/// Paths (relative, `/`-separated) of tracked and untracked, not ignored files.
fn candidate_files(repo: &Repository) -> Result<Vec<String>, Error> {
    let mut files = BTreeSet::new();
    for e in repo.index().map_err(git_err)?.iter() {
        files.insert(String::from_utf8_lossy(&e.path).into_owned());
    }
    let mut opts = StatusOptions::new();
    opts.include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    for s in repo.statuses(Some(&mut opts)).map_err(git_err)?.iter() {
        if let Ok(p) = s.path() {
            files.insert(p.to_string());
        }
    }
    Ok(files.into_iter().collect())
}

/// What `.sops.yaml` asks to protect, as lines of the managed block.
#[derive(Debug, Default)]
struct RulePlan {
    /// Attribute lines (with comments naming the rules).
    lines: Vec<String>,
    /// Patterns for `export-ignore` in `info/attributes`.
    export: Vec<String>,
    /// Rule globs (for the report).
    globs: Vec<String>,
    /// Rules with a `path_regex` that decide protection.
    rules: usize,
    broad: bool,
}

/// The rules of `.sops.yaml` that protect paths: those with a valid `path_regex` before
/// the first rule without one (which catches every later path, protecting none).
fn protecting_rules(config: &Config) -> Vec<&str> {
    let mut out = Vec::new();
    for rule in &config.rules {
        match &rule.path_regex {
            None => break,
            Some(re) if regex::Regex::new(re).is_ok() => out.push(re.as_str()),
            Some(_) => {}
        }
    }
    out
}

fn rule_plan(repo: &Repository, root: &Path) -> Result<RulePlan, Error> {
    let mut plan = RulePlan::default();
    let Some(config_path) = Config::discover(root) else {
        return Ok(plan);
    };
    let config =
        Config::load(&config_path).map_err(|e| Error::other(exit::CONFIG, e.to_string()))?;
    // Rules are matched against paths relative to the `.sops.yaml` directory: globs work
    // only when that is the work tree's root.
    let at_root = config_path
        .parent()
        .and_then(|d| d.canonicalize().ok())
        .zip(root.canonicalize().ok())
        .is_some_and(|(a, b)| a == b);
    let rules = protecting_rules(&config);
    plan.rules = rules.len();
    for re in rules {
        plan.lines.push(format!(
            "# .sops.yaml path_regex: {}",
            re.replace('\n', " ")
        ));
        match globs_for(re).filter(|_| at_root) {
            Some((globs, exact)) => {
                for g in globs {
                    plan.lines.push(if exact {
                        format!("{g} {RULES_ATTRS} {EXPORT}")
                    } else {
                        format!("{g} {RULES_ATTRS}")
                    });
                    if exact {
                        plan.export.push(g.clone());
                    }
                    plan.globs.push(g);
                }
                if !exact {
                    plan.broad = true;
                }
            }
            None => {
                plan.broad = true;
                plan.lines
                    .push("#   (no glob: every YAML/JSON/.env file, decided per file)".into());
            }
        }
    }
    if plan.broad {
        for g in ENCRYPTABLE {
            plan.lines.push(format!("{g} {RULES_ATTRS}"));
            plan.globs.push((*g).to_string());
        }
        // What the broad attribute cannot mark for archives: the files it covers now. A
        // protected file of another name (sops's binary store) gets the filter by its path:
        // the broad globs name only the syntaxes sealed encrypts value by value.
        for p in candidate_files(repo)? {
            if super::check::rule_protects(&config, root, &p) {
                let exact = format!("/{}", p.replace(' ', "[[:space:]]"));
                if crate::format::Syntax::from_path(std::path::Path::new(&p)).is_none() {
                    plan.lines.push(format!("{exact} {RULES_ATTRS}"));
                    plan.globs.push(exact.clone());
                }
                plan.export.push(exact);
            }
        }
    }
    Ok(plan)
}

/// The named patterns of the managed block of `.gitattributes` (lines with [`ATTRS`]).
fn named_patterns(old: &str) -> Vec<String> {
    let mut patterns = Vec::new();
    let mut inside = false;
    for line in old.lines() {
        match (inside, line) {
            (false, BEGIN) => inside = true,
            (true, END) => inside = false,
            (true, l) => {
                let l = l.strip_suffix(EXPORT).unwrap_or(l).trim_end();
                if let Some(p) = l.strip_suffix(ATTRS) {
                    patterns.push(p.trim().to_string());
                }
            }
            _ => {}
        }
    }
    patterns
}

/// Replaces the managed block of the attributes file `path` with `lines` (creating the
/// directory when needed); text outside the block is kept.
fn write_block(path: &Path, lines: &[String]) -> Result<(), Error> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let mut before = String::new();
    let mut after = String::new();
    let mut state = 0;
    for line in old.lines() {
        match state {
            0 if line == BEGIN => state = 1,
            0 => {
                before.push_str(line);
                before.push('\n');
            }
            1 if line == END => state = 2,
            1 => {}
            _ => {
                after.push_str(line);
                after.push('\n');
            }
        }
    }
    let mut text = before;
    text.push_str(BEGIN);
    text.push('\n');
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    text.push_str(END);
    text.push('\n');
    text.push_str(&after);
    if text == old {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            file: dir.display().to_string(),
            source,
        })?;
    }
    crate::fsutil::write_atomic(path, text.as_bytes())
}

/// Writes the filter, diff and merge drivers into the repository's configuration.
fn configure(repo: &Repository) -> Result<(), Error> {
    let mut config = repo
        .config()
        .map_err(git_err)?
        .open_level(ConfigLevel::Local)
        .map_err(git_err)?;
    let set = |c: &mut git2::Config, k: &str, v: &str| c.set_str(k, v).map_err(git_err);
    for (driver, flag) in [("sealed", ""), ("sealed-rules", " --by-rules")] {
        set(
            &mut config,
            &format!("filter.{driver}.process"),
            &command_line(&format!("git filter-process{flag}")),
        )?;
        set(
            &mut config,
            &format!("filter.{driver}.clean"),
            &command_line(&format!("git clean{flag} %f")),
        )?;
        set(
            &mut config,
            &format!("filter.{driver}.smudge"),
            &command_line(&format!("git smudge{flag} %f")),
        )?;
        config
            .set_bool(&format!("filter.{driver}.required"), true)
            .map_err(git_err)?;
        set(
            &mut config,
            &format!("merge.{driver}.name"),
            "sealed: three-way merge of decrypted values",
        )?;
        set(
            &mut config,
            &format!("merge.{driver}.driver"),
            &command_line(&format!("git merge{flag} %O %A %B %P")),
        )?;
    }
    set(
        &mut config,
        "diff.sealed.textconv",
        &command_line("git textconv"),
    )?;
    // Caching textconv output would store plaintext under refs/notes/textconv.
    let _ = config.remove("diff.sealed.cachetextconv");
    Ok(())
}

/// Removes what [`configure`] wrote (`sealed git lock`): git then reads and writes the
/// protected files as they are.
pub(crate) fn unconfigure(repo: &Repository) -> Result<(), Error> {
    let mut config = repo
        .config()
        .map_err(git_err)?
        .open_level(ConfigLevel::Local)
        .map_err(git_err)?;
    let mut names = Vec::new();
    {
        let mut entries = config
            .entries(Some(r"^(filter|merge|diff)\.sealed(-rules)?\."))
            .map_err(git_err)?;
        while let Some(entry) = entries.next() {
            if let Ok(name) = entry.map_err(git_err)?.name() {
                names.push(name.to_string());
            }
        }
    }
    for name in names {
        config.remove(&name).map_err(git_err)?;
    }
    Ok(())
}

fn install_hook(repo: &Repository) -> Result<(), Error> {
    let hooks = repo
        .config()
        .ok()
        .and_then(|c| c.get_path("core.hooksPath").ok())
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                repo.workdir().unwrap_or(repo.path()).join(p)
            }
        })
        .unwrap_or_else(|| repo.path().join("hooks"));
    std::fs::create_dir_all(&hooks).map_err(|source| Error::Write {
        file: hooks.display().to_string(),
        source,
    })?;
    let hook = hooks.join("pre-commit");
    let text = format!(
        "#!/bin/sh\n{HOOK_MARK} (installed by `sealed git init`)\n\
         prev=\"$(dirname \"$0\")/pre-commit.before-sealed\"\n\
         if [ -x \"$prev\" ]; then \"$prev\" \"$@\" || exit $?; fi\n\
         exec {}\n",
        command_line("git check")
    );
    if let Ok(existing) = std::fs::read_to_string(&hook) {
        if existing == text {
            return Ok(());
        }
        if existing.contains(HOOK_MARK) {
            // sealed's own hook, from another binary or version.
            crate::fsutil::write_atomic(&hook, text.as_bytes())?;
            return set_executable(&hook);
        }
        let chained = hooks.join("pre-commit.before-sealed");
        std::fs::rename(&hook, &chained).map_err(|source| Error::Write {
            file: chained.display().to_string(),
            source,
        })?;
    }
    crate::fsutil::write_atomic(&hook, text.as_bytes())?;
    set_executable(&hook)
}

#[cfg(unix)]
fn set_executable(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|source| {
        Error::Write {
            file: path.display().to_string(),
            source,
        }
    })
}

#[cfg(not(unix))]
fn set_executable(_: &Path) -> Result<(), Error> {
    Ok(())
}

/// Runs `sealed git init` in the repository around the working directory.
pub fn init(patterns: &[String]) -> Result<InitReport, Error> {
    let repo = Repository::open_from_env().map_err(git_err)?;
    init_repo(repo, patterns)
}

/// Everything `sealed git init` does, for the repository that holds `dir` (the public
/// entry point for `sealed init`): the managed `.gitattributes` block, the drivers, the
/// guard, and the protected files decrypted into the work tree. Nothing to protect (no
/// `.sops.yaml` rule with a `path_regex`, no pattern given or kept) is an error, before
/// anything is written.
pub fn init_at(dir: &Path, patterns: &[String]) -> Result<InitReport, Error> {
    let repo = Repository::discover(dir).map_err(git_err)?;
    init_repo(repo, patterns)
}

/// The message for a setup with nothing to protect.
pub const NOTHING_TO_PROTECT: &str = "nothing to protect: no .sops.yaml creation rule has a path_regex and no pattern was given; \
     run `sealed init` to create one, or name the files to protect: `sealed git init 'secrets/*.yaml'`";

fn init_repo(repo: Repository, patterns: &[String]) -> Result<InitReport, Error> {
    let root = repo
        .workdir()
        .ok_or_else(|| {
            Error::other(
                exit::GENERIC,
                "a bare repository has no work tree to protect",
            )
        })?
        .to_path_buf();
    let attributes = root.join(".gitattributes");
    let old = std::fs::read_to_string(&attributes).unwrap_or_default();
    let mut named: BTreeSet<String> = named_patterns(&old).into_iter().collect();
    named.extend(patterns.iter().cloned());
    let plan = rule_plan(&repo, &root)?;
    if named.is_empty() && plan.rules == 0 {
        return Err(Error::other(exit::CONFIG, NOTHING_TO_PROTECT));
    }
    let mut lines: Vec<String> = named
        .iter()
        .map(|p| format!("{p} {ATTRS} {EXPORT}"))
        .collect();
    lines.extend(plan.lines.iter().cloned());
    write_block(&attributes, &lines)?;
    let export: Vec<String> = named
        .iter()
        .chain(&plan.export)
        .map(|p| format!("{p} {EXPORT}"))
        .collect();
    write_block(&repo.commondir().join("info").join("attributes"), &export)?;
    write_wrapper(&repo)?;
    configure(&repo)?;
    install_hook(&repo)?;
    let mut report = InitReport {
        patterns: named.into_iter().chain(plan.globs).collect(),
        rules: plan.rules,
        broad: plan.broad,
        ..InitReport::default()
    };
    // Re-open so that the new attributes and configuration are seen.
    let repo = Repository::open(repo.path()).map_err(git_err)?;
    super::worktree::recheckout(&repo, &root, &mut report)?;
    Ok(report)
}
