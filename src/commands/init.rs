//! `sealed init`: one command that sets a directory up for secrets, and does nothing the
//! second time. It never asks anything.
//!
//! 1. An identity: the ones sealed finds where sops looks; when there is none, a new one in
//!    `$XDG_CONFIG_HOME/sops/age/keys.txt` (default `~/.config/sops/age/keys.txt`, mode 0600).
//! 2. A `.sops.yaml` at the repository root (the git top level, else the working
//!    directory) when there is none: one creation rule for the patterns (default
//!    [`DEFAULT_PATTERNS`]) with the user's recipient, and the `sealed_members` entry that
//!    `sealed team` reads. An existing `.sops.yaml` is left as it is.
//! 3. Inside a git work tree, everything `sealed git init` does.
//! 4. A short summary, and the next steps.

use std::path::{Path, PathBuf};

use crate::config::{CONFIG_FILE_NAME, Config};
use crate::error::{Error, exit};
use crate::keys::{IdentitySet, Recipient};

/// The files protected by default: any `secrets/` folder, `.env` and `.env.*` files.
pub const DEFAULT_PATTERNS: &[&str] = &["secrets/", ".env", ".env.*"];

/// `sealed init`: set this directory (or git repository) up for secrets. Safe to run again.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The files to protect, as gitignore-style patterns (`secrets/` is any folder named
    /// secrets, `/config/*.yaml` is anchored at the root). Default: secrets/ .env .env.*
    /// Only used when .sops.yaml is created.
    #[arg(value_name = "PATTERN")]
    patterns: Vec<String>,
    /// Your recipient (age1… or an ssh public key), instead of the identity found.
    #[arg(long, value_name = "RECIPIENT")]
    age: Option<String>,
    /// Your name in sealed_members (default: `git config user.name`, else $USER).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
}

/// What one step did, for the summary.
struct Step {
    what: &'static str,
    changed: bool,
    detail: String,
}

/// Runs `sealed init`.
pub fn run(args: &Args) -> Result<(), Error> {
    let cwd = std::env::current_dir().map_err(|e| {
        Error::other(
            exit::GENERIC,
            format!("cannot read the working directory: {e}"),
        )
    })?;
    let repo = git2::Repository::discover(&cwd)
        .ok()
        .filter(|r| r.workdir().is_some());
    let root = match &repo {
        Some(r) => r
            .workdir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| cwd.clone()),
        None => cwd.clone(),
    };
    let mut steps = Vec::new();

    let (recipient, step) = identity(args.age.as_deref())?;
    steps.push(step);
    steps.push(sops_config(&root, args, &recipient, repo.as_ref())?);
    if repo.is_some() {
        steps.push(git_setup(&root)?);
    }
    let outsider = steps[1].detail.contains("not among its recipients");
    summarize(&steps, repo.is_some(), outsider);
    Ok(())
}

/// Step 1: the user's recipient, from `--age`, the identities found, or a new key file.
fn identity(explicit: Option<&str>) -> Result<(String, Step), Error> {
    if let Some(r) = explicit {
        let r = Recipient::parse(r).map_err(|e| Error::other(exit::GENERIC, e.to_string()))?;
        return Ok((
            r.text().to_string(),
            Step {
                what: "identity",
                changed: false,
                detail: format!("recipient {} (--age)", r.text()),
            },
        ));
    }
    let ids = IdentitySet::discover().map_err(|e| Error::other(exit::NO_KEY, e.to_string()))?;
    let publics = ids
        .public_keys_or_commands()
        .map_err(|e| Error::other(exit::NO_KEY, e.to_string()))?;
    if let Some(public) = publics.first() {
        let from = ids
            .searched()
            .iter()
            .find(|s| !s.ends_with("(not set)") && !s.ends_with("(not found)"))
            .cloned()
            .unwrap_or_default();
        return Ok((
            public.clone(),
            Step {
                what: "identity",
                changed: false,
                detail: format!("found: {from}; public key {public}"),
            },
        ));
    }
    if !ids.is_empty() {
        return Err(Error::other(
            exit::NO_KEY,
            format!(
                "your identity is passphrase-protected or held by an age plugin ({}), so its \
                 public key cannot be read here; \
                 pass it: sealed init --age age1…",
                ids.searched().join(", ")
            ),
        ));
    }
    let path = default_keys_file()?;
    let key =
        crate::keys::generate(Some(&path)).map_err(|e| Error::other(exit::WRITE, e.to_string()))?;
    Ok((
        key.public.clone(),
        Step {
            what: "identity",
            changed: true,
            detail: format!(
                "created {} (mode 0600; back it up: it is the only way to your secrets)\n  \
                 Public key: {}",
                home_relative(&path),
                key.public
            ),
        },
    ))
}

/// `$XDG_CONFIG_HOME/sops/age/keys.txt`, else `~/.config/sops/age/keys.txt`: where sops and
/// sealed look.
fn default_keys_file() -> Result<PathBuf, Error> {
    let config = match std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(x) if x.is_absolute() => x,
        _ => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".config"))
            .ok_or_else(|| {
                Error::other(
                    exit::NO_KEY,
                    "no identity found and no home directory to create one in; \
                     set HOME, or create one with: sealed keygen -o FILE, then set SOPS_AGE_KEY_FILE=FILE",
                )
            })?,
    };
    Ok(config.join("sops").join("age").join("keys.txt"))
}

/// `~/…` for paths under `$HOME`.
fn home_relative(path: &Path) -> String {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match home.as_deref().and_then(|h| path.strip_prefix(h).ok()) {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

/// Step 2: `.sops.yaml` at the root, created when missing.
fn sops_config(
    root: &Path,
    args: &Args,
    recipient: &str,
    repo: Option<&git2::Repository>,
) -> Result<Step, Error> {
    let path = root.join(CONFIG_FILE_NAME);
    if path.exists() {
        let config = Config::load(&path).map_err(|e| Error::other(exit::CONFIG, e.to_string()))?;
        let mut detail = format!("{} exists; left as it is", path.display());
        if !args.patterns.is_empty() {
            detail.push_str(" (the patterns given are not used: edit its creation_rules)");
        }
        let member = config
            .rules
            .iter()
            .any(|r| r.key_groups.iter().flatten().any(|k| k == recipient));
        if !member {
            detail.push_str(&format!(
                "\n  you are not among its recipients yet: ask a member to run\n    \
                 sealed team add {} '{recipient}'",
                member_name(args.name.as_deref(), repo)
            ));
        }
        return Ok(Step {
            what: CONFIG_FILE_NAME,
            changed: false,
            detail,
        });
    }
    let patterns: Vec<String> = if args.patterns.is_empty() {
        DEFAULT_PATTERNS.iter().map(|p| p.to_string()).collect()
    } else {
        args.patterns.clone()
    };
    let name = member_name(args.name.as_deref(), repo);
    crate::team::sopsfile::check_name(&name).map_err(Error::from)?;
    crate::team::sopsfile::check_recipient_text(recipient).map_err(Error::from)?;
    let text = sops_yaml_text(&patterns, recipient, &name)?;
    crate::fsutil::write_atomic(&path, text.as_bytes())?;
    Ok(Step {
        what: CONFIG_FILE_NAME,
        changed: true,
        detail: format!(
            "created {} : one creation rule for {} with your recipient; you are member {name}",
            path.display(),
            patterns.join(" ")
        ),
    })
}

/// The text of a new `.sops.yaml`.
pub fn sops_yaml_text(patterns: &[String], recipient: &str, name: &str) -> Result<String, Error> {
    let regex = patterns
        .iter()
        .map(|p| glob_to_regex(p))
        .collect::<Result<Vec<_>, _>>()?
        .join("|");
    regex::Regex::new(&regex).map_err(|e| {
        Error::other(
            exit::GENERIC,
            format!("the patterns give an invalid regular expression: {e}"),
        )
    })?;
    Ok(format!(
        "# Written by `sealed init`. sops and sealed encrypt files matching path_regex for the\n\
         # recipients under age. Patterns: {}\n\
         creation_rules:\n  - path_regex: '{}'\n    age:\n      - {recipient} # {name}\n\n\
         # Team members (`sealed team add/remove/list`); sops ignores this key.\n\
         sealed_members:\n  {name}: {recipient}\n",
        patterns.join(" "),
        regex.replace('\'', "''"),
    ))
}

/// A gitignore-style pattern as a `path_regex` (matched against the path relative to the
/// `.sops.yaml` directory, `/`-separated): a pattern with no `/` but a trailing one matches
/// at any depth; `dir/` is everything under a folder; `*` and `?` stay within one path
/// component, `**` crosses them.
pub fn glob_to_regex(pattern: &str) -> Result<String, Error> {
    let bad = |why: &str| {
        Error::other(
            exit::GENERIC,
            format!("pattern {pattern:?}: {why}; use e.g. secrets/ or .env or /config/*.yaml"),
        )
    };
    if pattern.is_empty() || pattern.contains('\n') {
        return Err(bad("empty or multi-line"));
    }
    if pattern.starts_with('!') {
        return Err(bad("negation is not supported"));
    }
    let folder = pattern.ends_with('/');
    let body = pattern.trim_end_matches('/');
    let anchored = body.starts_with('/') || body.contains('/');
    let body = body.trim_start_matches('/');
    if body.is_empty() {
        return Err(bad("names no file"));
    }
    let mut out = String::from(if anchored { "^" } else { "(^|/)" });
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                if chars.get(i + 2) == Some(&'/') {
                    out.push_str("(.*/)?");
                    i += 3;
                } else {
                    out.push_str(".*");
                    i += 2;
                }
                continue;
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out.push_str(if folder { "/" } else { "$" });
    Ok(out)
}

/// The member name: `--name`, else `git config user.name`, else `$USER`, made into a valid
/// name (lower case, other characters as `-`).
fn member_name(explicit: Option<&str>, repo: Option<&git2::Repository>) -> String {
    if let Some(n) = explicit {
        return n.to_string();
    }
    let from_git = repo
        .and_then(|r| r.config().ok())
        .or_else(|| git2::Config::open_default().ok())
        .and_then(|c| c.get_string("user.name").ok());
    let raw = from_git
        .into_iter()
        .chain(std::env::var("USER").ok())
        .map(|s| sanitize_name(&s))
        .find(|s| !s.is_empty());
    raw.unwrap_or_else(|| "me".to_string())
}

/// `Ada Lovelace` → `ada-lovelace`; empty when nothing usable is left.
fn sanitize_name(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || "._@+".contains(c) {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    let out = out.trim_start_matches(|c: char| !c.is_ascii_alphabetic());
    out.chars().take(64).collect()
}

/// The state `sealed git init` sets up: files and local configuration it writes.
fn git_state(root: &Path) -> Vec<Option<Vec<u8>>> {
    let mut state = vec![std::fs::read(root.join(".gitattributes")).ok()];
    if let Ok(repo) = git2::Repository::open(root) {
        let common = repo.commondir().to_path_buf();
        state.push(std::fs::read(common.join("info").join("attributes")).ok());
        state.push(std::fs::read(repo.path().join("hooks").join("pre-commit")).ok());
        if let Ok(config) = repo
            .config()
            .and_then(|c| c.open_level(git2::ConfigLevel::Local))
        {
            for driver in ["filter", "diff", "merge"] {
                let mut entries = Vec::new();
                if let Ok(mut it) = config.entries(Some(&format!("^{driver}\\.sealed\\."))) {
                    while let Some(Ok(e)) = it.next() {
                        entries.extend_from_slice(e.name_bytes());
                        entries.push(b'=');
                        entries.extend_from_slice(e.value_bytes());
                        entries.push(b'\n');
                    }
                }
                state.push(Some(entries));
            }
        }
    }
    state
}

/// Step 3: `sealed git init`.
fn git_setup(root: &Path) -> Result<Step, Error> {
    let before = git_state(root);
    let report = crate::git::setup::init(&[])?;
    let changed = git_state(root) != before || report.decrypted > 0;
    let mut detail = format!(
        "filter, diff and merge drivers and the pre-commit guard set up ({} pattern(s) in .gitattributes)",
        report.patterns.len()
    );
    if report.decrypted > 0 {
        detail.push_str(&format!(
            "; {} file(s) decrypted into the work tree",
            report.decrypted
        ));
    }
    if !changed {
        detail = "already set up (as `sealed git init` does it)".to_string();
    }
    Ok(Step {
        what: "git",
        changed,
        detail,
    })
}

/// Prints what was done and what to do next, on stderr.
fn summarize(steps: &[Step], git: bool, outsider: bool) {
    let changed = steps.iter().any(|s| s.changed);
    if changed {
        eprintln!("sealed init: done");
    } else {
        eprintln!("sealed init: nothing to do, everything was already set up (nothing changed)");
    }
    for s in steps {
        let mark = if s.changed { "+" } else { "=" };
        eprintln!("{mark} {}: {}", s.what, s.detail);
    }
    if outsider {
        eprintln!(
            "next: send your public key to a member; once they have run the command above and pushed:"
        );
        eprintln!("  git pull && sealed git init      # the protected files open for you");
        return;
    }
    if !changed || !steps[1].changed {
        return;
    }
    eprintln!("next:");
    eprintln!("  mkdir -p secrets && printf 'db_password: change-me\\n' > secrets/app.yaml");
    if git {
        eprintln!(
            "  git add .sops.yaml .gitattributes secrets/app.yaml && git commit -m 'Add secrets'"
        );
        eprintln!("      (committed encrypted; the file stays plaintext here)");
        eprintln!(
            "  sealed exec -f secrets/app.yaml -- ./your-program   # DB_PASSWORD in its environment"
        );
        eprintln!(
            "  a teammate: git clone …, sealed init, then a member runs: sealed team add NAME THEIR-KEY"
        );
    } else {
        eprintln!("  sealed encrypt -i secrets/app.yaml                  # encrypted in place");
        eprintln!(
            "  sealed exec -f secrets/app.yaml -- ./your-program   # DB_PASSWORD in its environment"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(patterns: &[&str], path: &str) -> bool {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        let re = patterns
            .iter()
            .map(|p| glob_to_regex(p).unwrap())
            .collect::<Vec<_>>()
            .join("|");
        regex::Regex::new(&re).unwrap().is_match(path)
    }

    #[test]
    fn default_patterns_match_secrets_and_env_files() {
        for yes in [
            "secrets/app.yaml",
            "secrets/deep/db.json",
            "config/secrets/x.yaml",
            ".env",
            "config/.env",
            ".env.production",
            "config/.env.production",
            ".env.example",
        ] {
            assert!(matches(DEFAULT_PATTERNS, yes), "{yes}");
        }
        for no in [
            "mysecrets/app.yaml",
            "secrets.yaml",
            "src/main.rs",
            ".envrc",
            "a.env",
            "env",
            "config/x.env.yaml",
        ] {
            assert!(!matches(DEFAULT_PATTERNS, no), "{no}");
        }
    }

    #[test]
    fn anchored_and_wildcard_patterns() {
        assert!(matches(&["/config/*.yaml"], "config/a.yaml"));
        assert!(!matches(&["/config/*.yaml"], "config/sub/a.yaml"));
        assert!(!matches(&["/config/*.yaml"], "x/config/a.yaml"));
        assert!(matches(&["config/**/*.yaml"], "config/a/b/c.yaml"));
        assert!(matches(&["config/**/*.yaml"], "config/c.yaml"));
        assert!(matches(&["*.enc.json"], "a/b/x.enc.json"));
        assert!(matches(&["db?.env"], "db1.env"));
        assert!(!matches(&["db?.env"], "db12.env"));
        assert!(glob_to_regex("!x").is_err());
        assert!(glob_to_regex("/").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(sanitize_name("Ada Lovelace"), "ada-lovelace");
        assert_eq!(sanitize_name("  Zoë O'Neil "), "zo-o-neil");
        assert_eq!(sanitize_name("42"), "");
        assert_eq!(sanitize_name("bob.smith@corp"), "bob.smith@corp");
    }

    #[test]
    fn the_new_config_reads_back() {
        let recipient = "age1yt3tfqlfrwdwx0z0ynwplcr6qxcxfaqycuprpmy89nr83ltx74tqdpszlw";
        let patterns: Vec<String> = DEFAULT_PATTERNS.iter().map(|p| p.to_string()).collect();
        let text = sops_yaml_text(&patterns, recipient, "ada").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE_NAME);
        std::fs::write(&path, &text).unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.rules.len(), 1);
        assert_eq!(
            config.rules[0].key_groups,
            vec![vec![recipient.to_string()]]
        );
        assert!(
            config
                .rule_for(&dir.path().join("secrets/app.yaml"))
                .is_some()
        );
        assert!(
            config
                .rule_for(&dir.path().join("config/.env.production"))
                .is_some()
        );
        assert!(config.rule_for(&dir.path().join("README.md")).is_none());
    }
}
