//! `destination_rules` of `.sops.yaml`: where `sealed publish` sends a file (sops's
//! `config.destinationRule` and `publish` package).
//!
//! As sops: the first rule without `path_regex`, or whose `path_regex` matches the path as
//! given on the command line, wins; a rule names at most one destination.

use regex::Regex;
use serde_json::{Map, Value};

/// Where a file is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Vault (or OpenBao) KV: the decrypted data as a secret.
    VaultKv {
        /// `vault_address`, else `VAULT_ADDR`, else Vault's default.
        address: Option<String>,
        /// `vault_path`, ending in `/`.
        path: String,
        /// `vault_kv_mount_name`, ending in `/` (default `secret/`).
        mount: String,
        /// 1 or 2 (anything else is 2, as sops).
        version: u8,
    },
    /// AWS Secrets Manager (sealed's own fields; sops has no such destination): the
    /// decrypted data as one secret's `SecretString` (JSON).
    SecretsManager {
        /// `aws_secrets_manager_secret`: one secret (a name or an ARN) for every file of
        /// the rule; `None`: the file's name after `prefix`.
        secret: Option<String>,
        /// `aws_secrets_manager_prefix` (may be empty), before the file's name.
        prefix: String,
        /// `aws_secrets_manager_region`, else the ARN's, else `AWS_REGION`/`AWS_DEFAULT_REGION`.
        region: Option<String>,
    },
    /// A destination sops knows that sealed does not publish to yet (`s3_bucket`,
    /// `gcs_bucket`).
    Unsupported(&'static str),
}

/// One entry of `destination_rules`.
#[derive(Debug, Clone)]
pub struct DestinationRule {
    /// `path_regex`, compiled (`None`: matches every file).
    pub path_regex: Option<Regex>,
    /// The destination (`None`: the rule names none).
    pub destination: Option<Destination>,
    /// `vault_address`, for the trusted addresses.
    pub vault_address: Option<String>,
    /// `omit_extensions`.
    pub omit_extensions: bool,
}

fn string(m: &Map<String, Value>, k: &str, i: usize) -> Result<Option<String>, String> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("destination_rules[{i}].{k}: expected a string")),
    }
}

fn with_slash(s: String) -> String {
    if s.ends_with('/') { s } else { s + "/" }
}

/// Parses `destination_rules` (absent or null: none).
pub fn parse_all(v: Option<&Value>) -> Result<Vec<DestinationRule>, String> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err("destination_rules: expected a list".to_string()),
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::Object(m) = item else {
            return Err(format!("destination_rules[{i}]: expected a mapping"));
        };
        let path_regex = match string(m, "path_regex", i)? {
            None => None,
            Some(re) => Some(Regex::new(&re).map_err(|e| {
                format!("destination_rules[{i}].path_regex: invalid regular expression: {e}")
            })?),
        };
        let vault_path = string(m, "vault_path", i)?;
        let vault_address = string(m, "vault_address", i)?;
        let sm_secret = string(m, "aws_secrets_manager_secret", i)?;
        let sm_prefix = string(m, "aws_secrets_manager_prefix", i)?;
        let sm_region = string(m, "aws_secrets_manager_region", i)?;
        if sm_secret.is_some() && sm_prefix.is_some() {
            return Err(format!(
                "destination_rules[{i}]: aws_secrets_manager_secret and \
                 aws_secrets_manager_prefix exclude each other (one secret for every file, or \
                 one per file)"
            ));
        }
        let sm = sm_secret.is_some() || sm_prefix.is_some() || sm_region.is_some();
        let kinds = [
            ("s3_bucket", string(m, "s3_bucket", i)?.is_some()),
            ("gcs_bucket", string(m, "gcs_bucket", i)?.is_some()),
            ("vault_path", vault_path.is_some()),
            ("aws_secrets_manager", sm),
        ];
        if kinds.iter().filter(|(_, set)| *set).count() > 1 {
            return Err(format!(
                "destination_rules[{i}]: more than one destinations were found in a single \
                 destination rule, you can only use one per rule"
            ));
        }
        let destination = if let Some(path) = vault_path {
            let version = match m.get("vault_kv_version") {
                None | Some(Value::Null) => 2,
                Some(Value::Number(n)) if n.as_u64() == Some(1) => 1,
                Some(Value::Number(_)) => 2,
                Some(_) => {
                    return Err(format!(
                        "destination_rules[{i}].vault_kv_version: expected an integer"
                    ));
                }
            };
            let mount = string(m, "vault_kv_mount_name", i)?.unwrap_or_else(|| "secret/".into());
            Some(Destination::VaultKv {
                address: vault_address.clone(),
                path: with_slash(path),
                mount: with_slash(mount),
                version,
            })
        } else if sm {
            Some(Destination::SecretsManager {
                secret: sm_secret,
                prefix: sm_prefix.unwrap_or_default(),
                region: sm_region,
            })
        } else {
            kinds
                .iter()
                .find(|(_, set)| *set)
                .map(|(k, _)| Destination::Unsupported(k))
        };
        let omit_extensions = matches!(m.get("omit_extensions"), Some(Value::Bool(true)));
        out.push(DestinationRule {
            path_regex,
            destination,
            vault_address,
            omit_extensions,
        });
    }
    Ok(out)
}

/// The rule for `file` (the path as given): the first without `path_regex` or whose
/// `path_regex` matches.
pub fn rule_for<'a>(rules: &'a [DestinationRule], file: &str) -> Option<&'a DestinationRule> {
    rules
        .iter()
        .find(|r| r.path_regex.as_ref().is_none_or(|re| re.is_match(file)))
}

#[cfg(test)]
mod tests;
