//! `sealed git init`: `.gitattributes` entries, the filter/diff/merge drivers in
//! `.git/config`, a chained pre-commit guard, and a re-checkout that decrypts the files a
//! clone brought in encrypted. Idempotent: running it again changes nothing, so it is the
//! whole on-boarding of a new team member right after `git clone`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use git2::{ConfigLevel, Repository, StatusOptions};

use crate::config::Config;
use crate::engine::{Sealed, unwrap_data_key};
use crate::error::{Error, exit};
use crate::format::Syntax;
use crate::keys::IdentitySet;

const BEGIN: &str = "# >>> sealed (managed by `sealed git init`)";
const END: &str = "# <<< sealed";
const HOOK_MARK: &str = "# sealed: pre-commit guard";
const ATTRS: &str = "filter=sealed diff=sealed merge=sealed";
/// Protected files are left out of `git archive` (which runs the smudge filter, so would
/// ship them decrypted).
const EXPORT: &str = "export-ignore";

fn git_err(e: git2::Error) -> Error {
    Error::other(exit::GENERIC, format!("git: {}", e.message()))
}

/// What `init` did.
#[derive(Debug, Default)]
pub struct InitReport {
    /// Patterns now in the managed `.gitattributes` block.
    pub patterns: Vec<String>,
    /// Files decrypted into the work tree.
    pub decrypted: usize,
    /// Files left encrypted for want of an identity.
    pub left_encrypted: usize,
}

/// The command git should run for this binary (absolute, shell-quoted).
fn self_command() -> String {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("sealed"));
    let s = exe.to_string_lossy();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
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

/// Files that a `.sops.yaml` creation rule with a `path_regex` matches.
fn files_from_rules(repo: &Repository, root: &Path) -> Result<Vec<String>, Error> {
    let Some(config_path) = Config::discover(root) else {
        return Ok(vec![]);
    };
    let config =
        Config::load(&config_path).map_err(|e| Error::other(exit::CONFIG, e.to_string()))?;
    Ok(candidate_files(repo)?
        .into_iter()
        .filter(|p| Syntax::from_path(Path::new(p)).is_some())
        .filter(|p| {
            config
                .rule_for(&root.join(p))
                .is_some_and(|r| r.path_regex.is_some())
        })
        .map(|p| format!("/{}", p.replace(' ', "[[:space:]]")))
        .collect())
}

/// Rewrites the managed block of `.gitattributes` with the union of its old and new patterns.
fn write_attributes(root: &Path, new: &[String]) -> Result<Vec<String>, Error> {
    let path = root.join(".gitattributes");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let mut before = Vec::new();
    let mut after = Vec::new();
    let mut patterns = BTreeSet::new();
    let mut state = 0;
    for line in old.lines() {
        match state {
            0 if line == BEGIN => state = 1,
            0 => before.push(line.to_string()),
            1 if line == END => state = 2,
            1 => {
                let line = line.strip_suffix(EXPORT).unwrap_or(line).trim_end();
                if let Some(p) = line.strip_suffix(ATTRS) {
                    patterns.insert(p.trim().to_string());
                }
            }
            _ => after.push(line.to_string()),
        }
    }
    patterns.extend(new.iter().cloned());
    let mut text = String::new();
    for l in before.iter().chain(std::iter::once(&BEGIN.to_string())) {
        text.push_str(l);
        text.push('\n');
    }
    for p in &patterns {
        text.push_str(&format!("{p} {ATTRS} {EXPORT}\n"));
    }
    text.push_str(END);
    text.push('\n');
    for l in &after {
        text.push_str(l);
        text.push('\n');
    }
    if text != old {
        crate::fsutil::write_atomic(&path, text.as_bytes())?;
    }
    Ok(patterns.into_iter().collect())
}

/// Writes `<pattern> export-ignore` for every protected pattern into the managed block of
/// `$GIT_COMMON_DIR/info/attributes`, which git reads for every tree it archives: commits
/// made before `.gitattributes` carried `export-ignore` are archived without the files too.
fn write_info_attributes(repo: &Repository, patterns: &[String]) -> Result<(), Error> {
    let path = repo.commondir().join("info").join("attributes");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let mut text = String::new();
    let mut inside = false;
    for line in old.lines() {
        match (inside, line) {
            (false, BEGIN) => inside = true,
            (true, END) => inside = false,
            (false, l) => {
                text.push_str(l);
                text.push('\n');
            }
            (true, _) => {}
        }
    }
    text.push_str(BEGIN);
    text.push('\n');
    for p in patterns {
        text.push_str(&format!("{p} {EXPORT}\n"));
    }
    text.push_str(END);
    text.push('\n');
    if text == old {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            file: dir.display().to_string(),
            source,
        })?;
    }
    crate::fsutil::write_atomic(&path, text.as_bytes())
}

fn configure(repo: &Repository) -> Result<(), Error> {
    let cmd = self_command();
    let mut config = repo
        .config()
        .map_err(git_err)?
        .open_level(ConfigLevel::Local)
        .map_err(git_err)?;
    let set = |c: &mut git2::Config, k: &str, v: &str| c.set_str(k, v).map_err(git_err);
    set(
        &mut config,
        "filter.sealed.process",
        &format!("{cmd} git filter-process"),
    )?;
    set(
        &mut config,
        "filter.sealed.clean",
        &format!("{cmd} git clean %f"),
    )?;
    set(
        &mut config,
        "filter.sealed.smudge",
        &format!("{cmd} git smudge %f"),
    )?;
    config
        .set_bool("filter.sealed.required", true)
        .map_err(git_err)?;
    set(
        &mut config,
        "diff.sealed.textconv",
        &format!("{cmd} git textconv"),
    )?;
    // Caching textconv output would store plaintext under refs/notes/textconv.
    let _ = config.remove("diff.sealed.cachetextconv");
    set(
        &mut config,
        "merge.sealed.name",
        "sealed: three-way merge of decrypted values",
    )?;
    set(
        &mut config,
        "merge.sealed.driver",
        &format!("{cmd} git merge %O %A %B %P"),
    )?;
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
    if let Ok(existing) = std::fs::read_to_string(&hook) {
        if existing.contains(HOOK_MARK) {
            return Ok(());
        }
        let chained = hooks.join("pre-commit.before-sealed");
        std::fs::rename(&hook, &chained).map_err(|source| Error::Write {
            file: chained.display().to_string(),
            source,
        })?;
    }
    let text = format!(
        "#!/bin/sh\n{HOOK_MARK} (installed by `sealed git init`)\n\
         prev=\"$(dirname \"$0\")/pre-commit.before-sealed\"\n\
         if [ -x \"$prev\" ]; then \"$prev\" \"$@\" || exit $?; fi\n\
         exec {} git check\n",
        self_command()
    );
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

/// Decrypts into the work tree every protected file that still holds its index blob
/// (ciphertext), as git's smudge filter does on checkout, and records each file's new stat
/// data in the index, as checkout does, so that git sees it clean (its blob, the
/// ciphertext, is unchanged).
///
/// The files are rewritten in place rather than removed and checked out again: deleting
/// and creating a thousand files makes ext4 search its recently freed inodes on every
/// creation, which cost more than all the decryption (docs/performance.md).
fn recheckout(repo: &Repository, root: &Path, report: &mut InitReport) -> Result<(), Error> {
    let protection = super::check::Protection::new(repo);
    let mut index = repo.index().map_err(git_err)?;
    // Only files this user can open are decrypted; the others stay as they are. The
    // identities are looked for only if there is a candidate.
    let mut identities: Option<Option<IdentitySet>> = None;
    let entries: Vec<git2::IndexEntry> = index.iter().collect();
    for mut entry in entries {
        let path = String::from_utf8_lossy(&entry.path).into_owned();
        // Regular files only: never write through a symbolic link or into a submodule.
        if entry.mode & 0o170000 != 0o100000 || !protection.covers(&path) {
            continue;
        }
        let Some(syntax) = Syntax::from_path(Path::new(&path)) else {
            continue;
        };
        let file = root.join(&path);
        let Ok(work) = std::fs::read(&file) else {
            continue;
        };
        let Ok(blob) = repo.find_blob(entry.id) else {
            continue;
        };
        if work != blob.content() {
            continue;
        }
        let Some(sealed) = std::str::from_utf8(&work)
            .ok()
            .and_then(|t| Sealed::parse(t, syntax.format()).ok())
        else {
            continue;
        };
        let ids = identities.get_or_insert_with(|| IdentitySet::discover().ok());
        let Some(key) = ids
            .as_ref()
            .and_then(|ids| unwrap_data_key(&sealed.metadata, ids).ok())
        else {
            report.left_encrypted += 1;
            continue;
        };
        let plain = match sealed.decrypt(&key) {
            Ok(plain) => plain,
            Err(e) => {
                eprintln!("sealed: warning: {path}: {e}; left encrypted in the work tree");
                continue;
            }
        };
        write_in_place(&file, plain.as_bytes()).map_err(|source| Error::Write {
            file: path.clone(),
            source,
        })?;
        let meta = std::fs::symlink_metadata(&file).map_err(|source| Error::Read {
            file: path.clone(),
            source,
        })?;
        restat(&mut entry, &meta);
        index.add(&entry).map_err(git_err)?;
        report.decrypted += 1;
    }
    if report.left_encrypted > 0 {
        eprintln!(
            "sealed: warning: no identity opens {} protected file(s); they stay encrypted in the work tree \
             (set SOPS_AGE_KEY_FILE, then run `sealed git init` again)",
            report.left_encrypted
        );
    }
    if report.decrypted > 0 {
        index.write().map_err(git_err)?;
    }
    Ok(())
}

/// Replaces the contents of the existing file `path` (same inode, same mode).
fn write_in_place(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    f.write_all(data)
}

/// Copies a file's stat data into its index entry (what git compares to decide that a
/// file is unchanged without reading it).
fn restat(entry: &mut git2::IndexEntry, meta: &std::fs::Metadata) {
    use std::os::unix::fs::MetadataExt;
    entry.ctime = git2::IndexTime::new(meta.ctime() as i32, meta.ctime_nsec() as u32);
    entry.mtime = git2::IndexTime::new(meta.mtime() as i32, meta.mtime_nsec() as u32);
    entry.dev = meta.dev() as u32;
    entry.ino = meta.ino() as u32;
    entry.uid = meta.uid();
    entry.gid = meta.gid();
    entry.file_size = meta.len() as u32;
}

/// Runs `sealed git init` in the repository around the working directory.
pub fn init(patterns: &[String]) -> Result<InitReport, Error> {
    let repo = Repository::open_from_env().map_err(git_err)?;
    let root = repo
        .workdir()
        .ok_or_else(|| {
            Error::other(
                exit::GENERIC,
                "a bare repository has no work tree to protect",
            )
        })?
        .to_path_buf();
    let mut new = patterns.to_vec();
    if new.is_empty() {
        new = files_from_rules(&repo, &root)?;
    }
    let mut report = InitReport {
        patterns: write_attributes(&root, &new)?,
        ..InitReport::default()
    };
    write_info_attributes(&repo, &report.patterns)?;
    configure(&repo)?;
    install_hook(&repo)?;
    // Re-open so that the new attributes and configuration are seen.
    let repo = Repository::open(repo.path()).map_err(git_err)?;
    recheckout(&repo, &root, &mut report)?;
    Ok(report)
}
