//! What a file is encrypted to and which of its values: the recipients (`--age`,
//! `SOPS_AGE_RECIPIENTS`, the matching `.sops.yaml` rule) and the selection rules (flags or
//! the rule), for `sealed encrypt`, `edit` of a new file and the git filter's new files.

use std::path::{Path, PathBuf};

use crate::codec::metadata::default_selection;
use crate::config::{Config, CreationRule, Selection};
use crate::engine::KeyPlan;
use crate::error::{Error, exit};
use crate::keys::Recipient;

/// Options of `sealed encrypt` beyond input and output.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EncryptOptions {
    /// Age recipients, comma-separated (age1…, ssh-ed25519 …, ssh-rsa …).
    #[arg(short = 'a', long, value_name = "RECIPIENTS")]
    pub age: Option<String>,
    /// PGP key fingerprints, comma-separated (also `SOPS_PGP_FP`); used through `gpg`.
    #[arg(long, value_name = "FINGERPRINTS")]
    pub pgp: Option<String>,
    /// AWS KMS key ARNs, comma-separated, each optionally `ARN+ROLE_ARN` (also
    /// `SOPS_KMS_ARN`).
    #[arg(long, value_name = "ARNS")]
    pub kms: Option<String>,
    /// The KMS encryption context of --kms keys: `KEY:VALUE` pairs, comma-separated.
    #[arg(long, value_name = "CONTEXT")]
    pub encryption_context: Option<String>,
    /// The AWS profile (~/.aws/credentials) for --kms keys.
    #[arg(long, value_name = "PROFILE")]
    pub aws_profile: Option<String>,
    /// Vault transit key URIs, comma-separated (also `SOPS_VAULT_URIS`), e.g.
    /// `https://vault.example.com:8200/v1/transit/keys/NAME`.
    #[arg(long, value_name = "URIS")]
    pub hc_vault_transit: Option<String>,
    /// Use this .sops.yaml instead of searching for one (also `SOPS_CONFIG`, or
    /// `sealed --config FILE VERB`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Selection rules given on the command line.
    #[command(flatten)]
    pub selection: SelectionFlags,
    /// Shamir threshold when the rule has several key groups.
    #[arg(long = "shamir-secret-sharing-threshold", value_name = "N")]
    pub shamir_threshold: Option<usize>,
}

/// SOPS's selection flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SelectionFlags {
    /// Leave values whose key ends with this suffix in clear text (default `_unencrypted`).
    #[arg(long, value_name = "SUFFIX")]
    pub unencrypted_suffix: Option<String>,
    /// Encrypt only values whose key ends with this suffix.
    #[arg(long, value_name = "SUFFIX")]
    pub encrypted_suffix: Option<String>,
    /// Leave values whose key matches this regex in clear text.
    #[arg(long, value_name = "REGEX")]
    pub unencrypted_regex: Option<String>,
    /// Encrypt only values whose key matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub encrypted_regex: Option<String>,
    /// Leave values after a comment matching this regex in clear text.
    #[arg(long, value_name = "REGEX")]
    pub unencrypted_comment_regex: Option<String>,
    /// Encrypt only values after a comment matching this regex.
    #[arg(long, value_name = "REGEX")]
    pub encrypted_comment_regex: Option<String>,
    /// Compute the MAC over encrypted values only.
    #[arg(long)]
    pub mac_only_encrypted: bool,
}

impl SelectionFlags {
    /// As a [`Selection`].
    pub fn to_selection(&self) -> Selection {
        Selection {
            unencrypted_suffix: self.unencrypted_suffix.clone(),
            encrypted_suffix: self.encrypted_suffix.clone(),
            unencrypted_regex: self.unencrypted_regex.clone(),
            encrypted_regex: self.encrypted_regex.clone(),
            unencrypted_comment_regex: self.unencrypted_comment_regex.clone(),
            encrypted_comment_regex: self.encrypted_comment_regex.clone(),
            mac_only_encrypted: self.mac_only_encrypted,
        }
    }
}

/// Does `opts` name recipients or rules (which `--reuse-from` takes from the old file)?
pub fn has_key_or_rule_flags(opts: &EncryptOptions) -> bool {
    opts.age.is_some()
        || opts.pgp.is_some()
        || opts.kms.is_some()
        || opts.hc_vault_transit.is_some()
        || opts.config.is_some()
        || opts.shamir_threshold.is_some()
        || opts.selection.mac_only_encrypted
        || count(&opts.selection.to_selection()) > 0
}

/// The `.sops.yaml` rule for `file`: `--config`, else the nearest config above the file,
/// else above the working directory.
pub fn matching_rule(
    file: &Path,
    explicit: Option<&Path>,
) -> Result<(Option<CreationRule>, Option<PathBuf>), Error> {
    let path = match explicit
        .map(Path::to_path_buf)
        .or_else(crate::config::explicit_path)
    {
        Some(p) => Some(p),
        None => {
            let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
            let dir = abs.parent().map(Path::to_path_buf);
            dir.and_then(|d| Config::discover(&d)).or_else(|| {
                std::env::current_dir()
                    .ok()
                    .and_then(|d| Config::discover(&d))
            })
        }
    };
    let Some(path) = path else {
        return Ok((None, None));
    };
    let config = Config::load(&path).map_err(|e| Error::other(exit::CONFIG, e.to_string()))?;
    let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    Ok((config.rule_for(&abs).cloned(), Some(path)))
}

fn parse_list(list: &str) -> Result<Vec<Recipient>, Error> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Recipient::parse(s).map_err(|e| Error::other(exit::GENERIC, e.to_string())))
        .collect()
}

fn parse_vault_list(list: &str) -> Result<Vec<Recipient>, Error> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| Recipient::vault(s).map_err(|e| Error::other(exit::GENERIC, e.to_string())))
        .collect()
}

fn parse_pgp_list(list: &str) -> Result<Vec<Recipient>, Error> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| Recipient::pgp(s).map_err(|e| Error::other(exit::GENERIC, e.to_string())))
        .collect()
}

/// `--kms` (or `SOPS_KMS_ARN`) keys with `--encryption-context` and `--aws-profile`; their
/// roles and profiles become ones a file's entries may use (`keys::kms`).
fn parse_kms_list(opts: &EncryptOptions, list: &str) -> Result<Vec<Recipient>, Error> {
    use crate::keys::kms;
    let bad =
        |flag: &str, e: crate::keys::KeyError| Error::other(exit::GENERIC, format!("{flag}: {e}"));
    let context = kms::parse_context(opts.encryption_context.as_deref().unwrap_or_default())
        .map_err(|e| bad("--encryption-context", e))?;
    let keys = kms::parse_arn_list(
        list,
        &context,
        opts.aws_profile.as_deref().unwrap_or_default(),
    )
    .map_err(|e| bad("--kms", e))?;
    Ok(keys
        .into_iter()
        .map(|k| {
            kms::trust(&k);
            Recipient::kms(k)
        })
        .collect())
}

/// The value of a recipient variable, when set and not blank.
fn env_list(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|s| !s.trim().is_empty())
}

pub(crate) fn key_plan(
    opts: &EncryptOptions,
    rule: Option<&CreationRule>,
    config: Option<&Path>,
) -> Result<KeyPlan, Error> {
    // As sops: each kind's flag, else its variable; any of them replaces the rule.
    let age = opts.age.clone().or_else(|| env_list("SOPS_AGE_RECIPIENTS"));
    let pgp = opts.pgp.clone().or_else(|| env_list("SOPS_PGP_FP"));
    let kms = opts
        .kms
        .clone()
        .or_else(|| env_list(crate::keys::kms::ARN_VAR));
    let vault = opts
        .hc_vault_transit
        .clone()
        .or_else(|| env_list("SOPS_VAULT_URIS"));
    if age.is_some() || pgp.is_some() || kms.is_some() || vault.is_some() {
        if opts.age.is_none()
            && opts.pgp.is_none()
            && opts.kms.is_none()
            && opts.hc_vault_transit.is_none()
            && rule.is_some_and(|r| !r.key_groups.is_empty())
        {
            let var = if age.is_some() {
                "SOPS_AGE_RECIPIENTS"
            } else if pgp.is_some() {
                "SOPS_PGP_FP"
            } else if kms.is_some() {
                crate::keys::kms::ARN_VAR
            } else {
                "SOPS_VAULT_URIS"
            };
            note_env_override(var, config);
        }
        let mut group = parse_pgp_list(pgp.as_deref().unwrap_or_default())?;
        group.extend(parse_kms_list(opts, kms.as_deref().unwrap_or_default())?);
        group.extend(parse_vault_list(vault.as_deref().unwrap_or_default())?);
        group.extend(parse_list(age.as_deref().unwrap_or_default())?);
        return Ok(KeyPlan {
            groups: vec![group],
            threshold: None,
        });
    }
    let Some(rule) = rule else {
        return Err(Error::other(
            exit::NO_RECIPIENT,
            match config {
                Some(c) => format!("no creation rule in {} matches this file; pass --age or SOPS_AGE_RECIPIENTS (or --pgp, --kms)", c.display()),
                None => "no recipients: pass --age (or --pgp, --kms), set SOPS_AGE_RECIPIENTS, or add a .sops.yaml with creation_rules".to_string(),
            },
        ));
    };
    // As sops: `--encryption-context` applies to the KMS keys of a rule's own `kms:` (a
    // key group's `kms:` entries carry their own `context`).
    let context = match opts.encryption_context.as_deref() {
        Some(c) if !rule.grouped && !c.trim().is_empty() => Some(
            crate::keys::kms::parse_context(c)
                .map_err(|e| Error::other(exit::GENERIC, format!("--encryption-context: {e}")))?,
        ),
        _ => None,
    };
    let mut groups = Vec::new();
    for g in &rule.key_groups {
        let mut rs = Vec::new();
        for r in g {
            let mut recipient = Recipient::parse_any(r).map_err(|e| {
                Error::other(
                    exit::CONFIG,
                    format!(
                        "{}: {e}",
                        config.map(|c| c.display().to_string()).unwrap_or_default()
                    ),
                )
            })?;
            if let (Some(context), Some(key)) = (&context, recipient.kms_key()) {
                let key = crate::keys::kms::KmsKey {
                    context: context.clone(),
                    ..key.clone()
                };
                crate::keys::kms::trust(&key);
                recipient = Recipient::kms(key);
            }
            rs.push(recipient);
        }
        groups.push(rs);
    }
    if groups.iter().all(Vec::is_empty) {
        // sops's words for it, and its exit status (1, not 111: a rule was found).
        let msg = "the creation rule matching this file has no age, pgp or kms recipients \
                   (sops: Could not generate data key: [empty key group provided])";
        return Err(match config {
            Some(c) => Error::file(c.display().to_string(), exit::GENERIC, msg),
            None => Error::other(exit::GENERIC, msg),
        });
    }
    Ok(KeyPlan {
        groups,
        threshold: opts.shamir_threshold.or(rule.shamir_threshold),
    })
}

/// Says once per process, on stderr, that `SOPS_AGE_RECIPIENTS` wins over the matching
/// `.sops.yaml` rule (a variable left set from another project silently changes whom the
/// files are encrypted for).
fn note_env_override(var: &str, config: Option<&Path>) {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        eprintln!(
            "sealed: note: {var} overrides the recipients of the matching rule in {}; \
             unset {var} to use the rule",
            config.map_or_else(|| ".sops.yaml".to_string(), |c| c.display().to_string())
        );
    });
}

/// The "no rule matches" error, naming the file and listing the rules' patterns.
pub(crate) fn no_rule_error(e: Error, file: &Path, no_rule: bool, config: Option<&Path>) -> Error {
    let Some(config) = config.filter(|_| no_rule && e.exit_code() == exit::NO_RECIPIENT) else {
        return e;
    };
    match Config::load(config) {
        Ok(c) => Error::other(
            exit::NO_RECIPIENT,
            c.no_rule_message(&crate::error::display_path(file)),
        ),
        Err(_) => e,
    }
}

fn count(sel: &Selection) -> usize {
    [
        &sel.unencrypted_suffix,
        &sel.encrypted_suffix,
        &sel.unencrypted_regex,
        &sel.encrypted_regex,
        &sel.unencrypted_comment_regex,
        &sel.encrypted_comment_regex,
    ]
    .iter()
    .filter(|s| s.is_some())
    .count()
}

pub(crate) fn choose_selection(
    flags: &Selection,
    rule: Option<&Selection>,
) -> Result<Selection, Error> {
    if count(flags) > 1 {
        return Err(Error::other(
            exit::CONFLICT,
            "use only one of --unencrypted-suffix, --encrypted-suffix, --unencrypted-regex, --encrypted-regex, --unencrypted-comment-regex, --encrypted-comment-regex",
        ));
    }
    let mut sel = if count(flags) == 1 {
        flags.clone()
    } else if let Some(r) = rule.filter(|r| count(r) > 0) {
        r.clone()
    } else {
        default_selection()
    };
    sel.mac_only_encrypted = flags.mac_only_encrypted || rule.is_some_and(|r| r.mac_only_encrypted);
    Ok(sel)
}

/// The recipients and selection rules `sealed encrypt` would use for `file` (used by the
/// git filter for files new to the index).
pub fn plan_for(file: &Path, opts: &EncryptOptions) -> Result<(KeyPlan, Selection), Error> {
    let (rule, config_path) = matching_rule(file, opts.config.as_deref())?;
    let plan = key_plan(opts, rule.as_ref(), config_path.as_deref())
        .map_err(|e| no_rule_error(e, file, rule.is_none(), config_path.as_deref()))?;
    let selection = choose_selection(
        &opts.selection.to_selection(),
        rule.as_ref().map(|r| &r.selection),
    )?;
    Ok((plan, selection))
}
