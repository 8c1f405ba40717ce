//! `.sops.yaml`: discovery upward from a directory, and `creation_rules` matching.
//!
//! Mirrors `config/config.go` of SOPS:
//!
//! - Discovery looks for a file named exactly `.sops.yaml` in the start directory and up to
//!   [`MAX_LOOKUP_DEPTH`] levels of ancestors. `.sops.yml` is **not** a config file for SOPS
//!   (it only warns about it since 3.10); [`Config::lookup`] reports the same warning.
//! - Only the first YAML document is read; unknown keys (`stores`, `destination_rules`, …)
//!   are ignored, duplicate keys are an error (as with yaml.v3).
//! - A rule's recipients come from `key_groups` when that list is non-empty (one group per
//!   entry, `merge:` entries flattened into their group, duplicates removed), otherwise from
//!   `pgp` and `age` (each a comma-separated string or a list), forming a single group.
//!   List entries are split on commas too (SOPS joins and re-splits them); entries are
//!   trimmed and empty ones dropped. PGP fingerprints become `pgp:FINGERPRINT` recipients.
//!   Other key types (`kms`, `gcp_kms`, `azure_keyvault`, `hc_vault…`, `hckms`, `plugins`)
//!   are accepted and ignored, so a rule can end up with no recipient sealed can wrap to
//!   at all: see [`CreationRule::key_groups`].
//! - At most one of the `*_suffix` / `*_regex` selection options per rule, with SOPS's error
//!   message. `shamir_threshold: 0` means "not set".
//! - Regular expressions (path and selection) are compiled with the `regex` crate, whose
//!   syntax is close to Go's RE2; every one is checked at load time (SOPS only compiles a
//!   `path_regex` when matching reaches it), and an invalid one names its rule.
//!
//! Differences from yaml.v3 decoding, all in corner cases: a non-string scalar given where
//! a string is expected is converted from its typed value (`0x10` becomes `"16"`, `True`
//! becomes `"true"`) rather than taken verbatim.

use std::path::{Component, Path, PathBuf};

use regex::Regex;
use serde_json::Value;

/// The `.sops.yaml` named by a global `--config` before the verb (set once by `main`).
static GLOBAL_CONFIG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Names the `.sops.yaml` every verb uses instead of searching: sops's global `--config`.
pub fn set_global_path(path: PathBuf) {
    let _ = GLOBAL_CONFIG.set(path);
}

/// The config named explicitly, as sops reads it: the global `--config`, else
/// `SOPS_CONFIG` (when not empty). Either replaces the search upward.
pub fn explicit_path() -> Option<PathBuf> {
    GLOBAL_CONFIG.get().cloned().or_else(|| {
        std::env::var_os("SOPS_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
}

use crate::format::yaml_value;

mod kms;

/// The file name SOPS discovers.
pub const CONFIG_FILE_NAME: &str = ".sops.yaml";

/// The name SOPS warns about but never uses.
pub const IGNORED_CONFIG_FILE_NAME: &str = ".sops.yml";

/// How many directories (the start directory included) discovery visits, as in SOPS.
pub const MAX_LOOKUP_DEPTH: usize = 100;

pub use crate::codec::selection::Selection;

/// One entry of `creation_rules`.
#[derive(Debug, Clone, Default)]
pub struct CreationRule {
    /// `path_regex` (unanchored, matched against the path relative to the config file).
    /// `None` when absent or empty: the rule matches every file.
    pub path_regex: Option<String>,
    /// Key groups: a rule with plain `age:` has exactly one group; `key_groups:` gives several.
    /// Each group is a list of recipient strings (age1…, ssh-ed25519 …, ssh-rsa …, and
    /// `pgp:FINGERPRINT`; see `keys::Recipient::parse_any`), pgp keys first as sops orders them.
    ///
    /// Only age and pgp recipients are collected. A plain rule without any (e.g. one with
    /// only `kms:`) has **no** group, and a `key_groups:` entry without age or pgp keys is an
    /// **empty** group (kept so that indexes and the group count match the file). Callers
    /// must refuse to encrypt with either.
    pub key_groups: Vec<Vec<String>>,
    /// Whether the rule has `key_groups:` (else its one group comes from its own `age:`,
    /// `pgp:`, `kms:`… fields, whose KMS keys take `--encryption-context`, as in sops).
    pub grouped: bool,
    /// `shamir_threshold` (None: number of groups).
    pub shamir_threshold: Option<usize>,
    /// Value-selection rules.
    pub selection: Selection,
}

/// A loaded `.sops.yaml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    /// `creation_rules` in order.
    pub rules: Vec<CreationRule>,
    /// `destination_rules` in order (for `sealed publish`).
    pub destinations: Vec<destination::DestinationRule>,
    /// Each rule's `path_regex`, compiled once (a repository of 1000 files asks 1000 times).
    path_res: Vec<Option<Regex>>,
}

/// Errors of configuration loading; messages name the config file.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {msg}")]
pub struct ConfigError {
    /// The config file.
    pub file: String,
    /// What is wrong (with line:column when known).
    pub msg: String,
}

/// The outcome of [`Config::lookup`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookup {
    /// The `.sops.yaml` found, if any.
    pub path: Option<PathBuf>,
    /// SOPS's warning when a `.sops.yml` was passed over on the way (it is never used).
    pub warning: Option<String>,
}

impl Config {
    /// Finds `.sops.yaml` in `start` or the nearest ancestor directory.
    ///
    /// `start` is a directory (usually the working directory); a relative one is taken from
    /// the working directory. At most [`MAX_LOOKUP_DEPTH`] directories are visited.
    pub fn discover(start: &Path) -> Option<PathBuf> {
        Config::lookup(start).path
    }

    /// Like [`Config::discover`], and also reports the warning SOPS prints when it passes a
    /// `.sops.yml` (which SOPS does not read) on the way up.
    pub fn lookup(start: &Path) -> Lookup {
        let mut dir = absolute_clean(start);
        let mut alternate: Option<PathBuf> = None;
        for _ in 0..MAX_LOOKUP_DEPTH {
            let candidate = dir.join(CONFIG_FILE_NAME);
            if std::fs::metadata(&candidate).is_ok() {
                let warning = alternate.map(|alt| {
                    format!(
                        "ignoring {} when searching for config file; the config file must be \
                         called {CONFIG_FILE_NAME}; using {} instead",
                        alt.display(),
                        candidate.display()
                    )
                });
                return Lookup {
                    path: Some(candidate),
                    warning,
                };
            }
            if alternate.is_none() {
                let alt = dir.join(IGNORED_CONFIG_FILE_NAME);
                if std::fs::metadata(&alt).is_ok() {
                    alternate = Some(alt);
                }
            }
            if !dir.pop() {
                break;
            }
        }
        Lookup {
            path: None,
            warning: alternate.map(|alt| {
                format!(
                    "ignoring {} when searching for config file; the config file must be \
                     called {CONFIG_FILE_NAME}",
                    alt.display()
                )
            }),
        }
    }

    /// Loads and validates a config file.
    ///
    /// Errors name the file; YAML syntax errors also give `line:column` (1-based), and
    /// errors in a rule name it as `creation_rules[N]` (0-based).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let fail = |msg: String| ConfigError {
            file: path.display().to_string(),
            msg,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let src = String::from_utf8(bytes).map_err(|_| fail("not valid UTF-8".to_owned()))?;
        Config::parse(path, &src).map_err(fail)
    }

    /// Parses config text (as if read from `path`).
    fn parse(path: &Path, src: &str) -> Result<Config, String> {
        let docs = yaml_value::load(src).map_err(|e| {
            let (line, col) = line_col(src, e.offset);
            format!("{line}:{col}: {}", e.msg)
        })?;
        let rules = match docs.first() {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(top)) => match top.get("creation_rules") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        parse_rule(item).map_err(|msg| format!("creation_rules[{i}]{msg}"))
                    })
                    .collect::<Result<_, _>>()?,
                Some(_) => return Err("creation_rules: expected a list".to_owned()),
            },
            Some(_) => return Err("the top level is not a mapping".to_owned()),
        };
        let destinations = match docs.first() {
            Some(Value::Object(top)) => destination::parse_all(top.get("destination_rules"))?,
            _ => Vec::new(),
        };
        // The Vault addresses this config names are trusted with the Vault token.
        crate::keys::vault::trust_addresses(
            rules
                .iter()
                .flat_map(|r: &CreationRule| r.key_groups.iter().flatten())
                .filter_map(|r| crate::keys::VaultKey::parse_uri(r).ok())
                .map(|k| k.address)
                .chain(destinations.iter().filter_map(|d| d.vault_address.clone())),
        );
        let path_res = rules
            .iter()
            .map(|r| r.path_regex.as_deref().and_then(|re| Regex::new(re).ok()))
            .collect();
        Ok(Config {
            path: path.to_path_buf(),
            rules,
            destinations,
            path_res,
        })
    }

    /// The first rule whose `path_regex` matches `file` (relative to the config's directory),
    /// or a rule without `path_regex`.
    ///
    /// As SOPS does, both paths are made absolute (from the working directory) and cleaned
    /// lexically, without resolving symbolic links; the config directory plus a separator is
    /// then removed from the front of the file path. A file outside the config's directory
    /// is therefore matched by its absolute path.
    pub fn rule_for(&self, file: &Path) -> Option<&CreationRule> {
        let file = absolute_clean(file);
        let dir = absolute_clean(self.path.parent().unwrap_or(Path::new("")));
        let subject = match file.strip_prefix(&dir) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
            _ => file.to_string_lossy().into_owned(),
        };
        self.rules
            .iter()
            .zip(&self.path_res)
            .find(|(rule, re)| match (&rule.path_regex, re) {
                (None, _) => true,
                (Some(_), Some(re)) => re.is_match(&subject),
                (Some(_), None) => false,
            })
            .map(|(rule, _)| rule)
    }
}

impl Config {
    /// The `path_regex` of every rule, in order (`(any file)` for a rule without one).
    pub fn patterns(&self) -> Vec<String> {
        self.rules
            .iter()
            .map(|r| match &r.path_regex {
                Some(re) => re.clone(),
                None => "(any file)".to_string(),
            })
            .collect()
    }

    /// The message for a file no rule matches: names the file, the config and the rules'
    /// patterns, and the ways out.
    pub fn no_rule_message(&self, file: &str) -> String {
        let patterns = self.patterns();
        let listed = if patterns.is_empty() {
            "it has no creation_rules".to_string()
        } else {
            format!(
                "its path_regex patterns: {}",
                patterns
                    .iter()
                    .map(|p| format!("'{p}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        format!(
            "no creation rule matches {file} in {} ({listed}); move the file to a path a rule \
             matches, add a rule for it, or pass --age RECIPIENT",
            self.path.display()
        )
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..]
        .trim_start_matches('\u{feff}')
        .chars()
        .count()
        + 1;
    (line, col)
}

/// `path` made absolute from the working directory and cleaned like Go's `filepath.Abs`.
fn absolute_clean(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        match std::env::current_dir() {
            Ok(cwd) => cwd.join(path),
            Err(_) => path.to_path_buf(),
        }
    };
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A string option: `None` when absent, null or empty. Non-string scalars are converted.
fn opt_string(rule: &serde_json::Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    let s = match rule.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(_) => return Err(format!(".{key}: expected a string")),
    };
    Ok(if s.is_empty() { None } else { Some(s) })
}

/// Splits a recipients string on commas, trimming and dropping empty entries.
fn push_recipients(out: &mut Vec<String>, s: &str) {
    out.extend(
        s.split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned),
    );
}

/// Appends PGP fingerprints (comma-separated) as `pgp:FINGERPRINT` recipients.
fn push_pgp(out: &mut Vec<String>, s: &str) {
    out.extend(
        s.split(',')
            .map(crate::keys::pgp::normalize_fingerprint)
            .filter(|r| !r.is_empty())
            .map(|fp| format!("{}{fp}", crate::keys::PGP_PREFIX)),
    );
}

/// Appends Vault transit key URIs (comma-separated), each as sops prints it.
fn push_vault(out: &mut Vec<String>, s: &str) -> Result<(), String> {
    for uri in s.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let key = crate::keys::VaultKey::parse_uri(uri).map_err(|e| e.to_string())?;
        out.push(key.uri());
    }
    Ok(())
}

/// `age:` of a rule: a comma-separated string or a list of strings.
fn recipients_field(value: Option<&Value>, key: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    match value {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => push_recipients(&mut out, s),
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(s) => push_recipients(&mut out, s),
                    _ => return Err(format!(".{key}: expected a string in the list")),
                }
            }
        }
        Some(_) => return Err(format!(".{key}: expected a string or a list of strings")),
    }
    Ok(out)
}

/// The age recipients of one `key_groups` entry, `merge:` entries included, deduplicated.
fn parse_group(group: &Value, index: usize) -> Result<Vec<String>, String> {
    let mut recipients = Vec::new();
    collect_group(group, index, &mut recipients)?;
    Ok(dedup(recipients))
}

/// Appends a group's age recipients in SOPS's order: merged groups first, then its own.
/// Recursion depth is bounded by the YAML loader's nesting limit.
fn collect_group(group: &Value, index: usize, out: &mut Vec<String>) -> Result<(), String> {
    let map = match group {
        Value::Null => return Ok(()),
        Value::Object(map) => map,
        _ => return Err(format!(".key_groups[{index}]: expected a mapping")),
    };
    match map.get("merge") {
        None | Some(Value::Null) => {}
        Some(Value::Array(merged)) => {
            for m in merged {
                collect_group(m, index, out)?;
            }
        }
        Some(_) => return Err(format!(".key_groups[{index}].merge: expected a list")),
    }
    // sops's key group order: pgp keys, kms, Vault transit keys, then age.
    for kind in ["pgp", "kms", "hc_vault", "age"] {
        match map.get(kind) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if kind == "kms" => kms::group_kms(items, index, out)?,
            Some(Value::Array(items)) => {
                for item in items {
                    match item {
                        Value::String(s) if kind == "pgp" => push_pgp(out, s),
                        Value::String(s) if kind == "hc_vault" => push_vault(out, s)
                            .map_err(|e| format!(".key_groups[{index}].hc_vault: {e}"))?,
                        Value::String(s) => push_recipients(out, s),
                        _ => {
                            return Err(format!(
                                ".key_groups[{index}].{kind}: expected a list of strings"
                            ));
                        }
                    }
                }
            }
            Some(_) => {
                return Err(format!(
                    ".key_groups[{index}].{kind}: expected a list of strings"
                ));
            }
        }
    }
    Ok(())
}

/// Removes repeated recipients, keeping the first occurrence.
fn dedup(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for r in list {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// YAML 1.1 booleans that yaml.v3 still accepts when decoding into a Go `bool`.
fn bool_field(rule: &serde_json::Map<String, Value>, key: &str) -> Result<bool, String> {
    match rule.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => match s.as_str() {
            "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Ok(true),
            "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Ok(false),
            _ => Err(format!(".{key}: expected a boolean")),
        },
        Some(_) => Err(format!(".{key}: expected a boolean")),
    }
}

/// One entry of `creation_rules`; errors start with the field path (`.field: …`).
fn parse_rule(item: &Value) -> Result<CreationRule, String> {
    let empty = serde_json::Map::new();
    let rule = match item {
        Value::Null => &empty,
        Value::Object(map) => map,
        _ => return Err(": expected a mapping".to_owned()),
    };

    let path_regex = opt_string(rule, "path_regex")?;
    if let Some(re) = &path_regex {
        Regex::new(re).map_err(|e| format!(".path_regex: invalid regular expression: {e}"))?;
    }

    let key_groups = match rule.get("key_groups") {
        None | Some(Value::Null) => None,
        Some(Value::Array(groups)) if groups.is_empty() => None,
        Some(Value::Array(groups)) => Some(
            groups
                .iter()
                .enumerate()
                .map(|(i, g)| parse_group(g, i))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(_) => return Err(".key_groups: expected a list".to_owned()),
    };
    // Validate the plain `age` field even when key_groups wins (SOPS ignores it then, but
    // a malformed value is still worth reporting).
    let mut plain = Vec::new();
    for fp in recipients_field(rule.get("pgp"), "pgp")? {
        push_pgp(&mut plain, &fp);
    }
    plain.extend(kms::plain_kms(rule)?);
    for uri in recipients_field(rule.get("hc_vault_transit_uri"), "hc_vault_transit_uri")? {
        push_vault(&mut plain, &uri).map_err(|e| format!(".hc_vault_transit_uri: {e}"))?;
    }
    plain.extend(recipients_field(rule.get("age"), "age")?);
    let plain = dedup(plain);
    let grouped = key_groups.is_some();
    let key_groups = match key_groups {
        Some(groups) => groups,
        None if plain.is_empty() => Vec::new(),
        None => vec![plain],
    };

    let shamir_threshold = match rule.get("shamir_threshold") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => None,
            Some(t) => {
                Some(usize::try_from(t).map_err(|_| ".shamir_threshold: too large".to_owned())?)
            }
            None => return Err(".shamir_threshold: expected a non-negative integer".to_owned()),
        },
        Some(_) => return Err(".shamir_threshold: expected a non-negative integer".to_owned()),
    };

    let selection = Selection {
        unencrypted_suffix: opt_string(rule, "unencrypted_suffix")?,
        encrypted_suffix: opt_string(rule, "encrypted_suffix")?,
        unencrypted_regex: opt_string(rule, "unencrypted_regex")?,
        encrypted_regex: opt_string(rule, "encrypted_regex")?,
        unencrypted_comment_regex: opt_string(rule, "unencrypted_comment_regex")?,
        encrypted_comment_regex: opt_string(rule, "encrypted_comment_regex")?,
        mac_only_encrypted: bool_field(rule, "mac_only_encrypted")?,
    };
    let set = [
        selection.unencrypted_suffix.is_some(),
        selection.encrypted_suffix.is_some(),
        selection.unencrypted_regex.is_some(),
        selection.encrypted_regex.is_some(),
        selection.unencrypted_comment_regex.is_some(),
        selection.encrypted_comment_regex.is_some(),
    ];
    if set.iter().filter(|s| **s).count() > 1 {
        return Err(
            ": cannot use more than one of encrypted_suffix, unencrypted_suffix, \
                    encrypted_regex, unencrypted_regex, encrypted_comment_regex, or \
                    unencrypted_comment_regex for the same rule"
                .to_owned(),
        );
    }
    for (key, value) in [
        ("unencrypted_regex", &selection.unencrypted_regex),
        ("encrypted_regex", &selection.encrypted_regex),
        (
            "unencrypted_comment_regex",
            &selection.unencrypted_comment_regex,
        ),
        (
            "encrypted_comment_regex",
            &selection.encrypted_comment_regex,
        ),
    ] {
        if let Some(re) = value {
            Regex::new(re).map_err(|e| format!(".{key}: invalid regular expression: {e}"))?;
        }
    }

    Ok(CreationRule {
        path_regex,
        key_groups,
        grouped,
        shamir_threshold,
        selection,
    })
}

pub mod destination;

#[cfg(test)]
mod tests;
