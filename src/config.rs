//! `.sops.yaml`: discovery upward from a directory, and `creation_rules` matching.
//! (stub: to be implemented)
//!
//! INTERFACE CONTRACT: [`Config::discover`], [`Config::load`], [`Config::rule_for`],
//! [`CreationRule`] fields.

use std::path::{Path, PathBuf};

/// The value-selection rules of SOPS (at most one of the suffix/regex fields is set).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// `unencrypted_suffix`.
    pub unencrypted_suffix: Option<String>,
    /// `encrypted_suffix`.
    pub encrypted_suffix: Option<String>,
    /// `unencrypted_regex`.
    pub unencrypted_regex: Option<String>,
    /// `encrypted_regex`.
    pub encrypted_regex: Option<String>,
    /// `unencrypted_comment_regex`.
    pub unencrypted_comment_regex: Option<String>,
    /// `encrypted_comment_regex`.
    pub encrypted_comment_regex: Option<String>,
    /// `mac_only_encrypted`.
    pub mac_only_encrypted: bool,
}

/// One entry of `creation_rules`.
#[derive(Debug, Clone, Default)]
pub struct CreationRule {
    /// `path_regex` (unanchored, matched against the path relative to the config file).
    pub path_regex: Option<String>,
    /// Key groups: a rule with plain `age:` has exactly one group; `key_groups:` gives several.
    /// Each group is a list of recipient strings (age1…, ssh-ed25519 …, ssh-rsa …).
    pub key_groups: Vec<Vec<String>>,
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

impl Config {
    /// Finds `.sops.yaml` in `start` or the nearest ancestor directory.
    pub fn discover(start: &Path) -> Option<PathBuf> {
        let _ = start;
        todo!()
    }

    /// Loads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let _ = path;
        todo!()
    }

    /// The first rule whose `path_regex` matches `file` (relative to the config's directory),
    /// or a rule without `path_regex`.
    pub fn rule_for(&self, file: &Path) -> Option<&CreationRule> {
        let _ = file;
        todo!()
    }
}
