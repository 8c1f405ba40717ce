//! Where `sealed publish` sends a decrypted file (sops's `publish` package): one module
//! per destination. Vault KV (v1, v2) is here, AWS Secrets Manager's client is
//! keys/aws/secretsmanager.rs (it signs as KMS does); sops's S3 and GCS destinations would
//! each be one more module and one more arm in [`upload`].

use serde_json::Value;

use crate::config::destination::Destination;
use crate::keys::KeyError;
use crate::keys::aws::secretsmanager::{SERVICE as SECRETS_MANAGER, SecretsManager, region_of};
use crate::keys::vault::Client;

/// The service's name in messages.
pub const VAULT_KV: &str = "Vault KV";

/// Vault's default address when neither the rule nor `VAULT_ADDR` gives one (the Vault
/// CLI's and sops's default).
pub const DEFAULT_VAULT_ADDR: &str = "https://127.0.0.1:8200";

/// Errors of publishing (one line naming the service and address, never a value).
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The service refused or could not be reached.
    #[error("{0}")]
    Service(#[from] KeyError),
    /// AWS Secrets Manager refused, could not be reached, or has no region.
    #[error("{0}")]
    Aws(String),
    /// A destination sealed does not publish to yet.
    #[error("the {0} destination is not supported by sealed yet (use `sops publish`)")]
    Unsupported(&'static str),
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The secret was written.
    Written,
    /// The secret already held the same data: nothing was written (as sops).
    UpToDate,
}

/// The address of a Vault destination: the rule's, else `VAULT_ADDR`, else the default.
pub fn vault_address(rule_address: Option<&str>) -> String {
    rule_address
        .map(str::to_string)
        .or_else(|| {
            std::env::var("VAULT_ADDR")
                .ok()
                .filter(|a| !a.trim().is_empty())
        })
        .unwrap_or_else(|| DEFAULT_VAULT_ADDR.to_string())
        .trim_end_matches('/')
        .to_string()
}

/// The region of a Secrets Manager destination: the rule's, else the secret ARN's, else
/// `AWS_REGION`, else `AWS_DEFAULT_REGION` (as AWS's SDKs).
pub fn aws_region(rule_region: Option<&str>, secret: &str) -> Result<String, PublishError> {
    rule_region
        .map(str::to_string)
        .or_else(|| region_of(secret).map(str::to_string))
        .or_else(|| {
            ["AWS_REGION", "AWS_DEFAULT_REGION"].iter().find_map(|v| {
                std::env::var(v)
                    .ok()
                    .map(|r| r.trim().to_string())
                    .filter(|r| !r.is_empty())
            })
        })
        .ok_or_else(|| {
            PublishError::Aws(format!(
                "{SECRETS_MANAGER}: no region for {secret}: set aws_secrets_manager_region in \
                 the destination rule, or AWS_REGION"
            ))
        })
}

/// The secret a Secrets Manager destination writes `name` to.
pub fn aws_secret(secret: Option<&str>, prefix: &str, name: &str) -> String {
    secret.map_or_else(|| format!("{prefix}{name}"), str::to_string)
}

/// The API path of a secret (`secret/data/app/file` for KV v2), as sops builds it.
pub fn secret_path(mount: &str, path: &str, version: u8, name: &str) -> String {
    if version == 1 {
        format!("{mount}{path}{name}")
    } else {
        format!("{mount}data/{path}{name}")
    }
}

/// Where `name` would be published, for the prompt: `ADDRESS/v1/PATH`.
pub fn describe(dest: &Destination, name: &str) -> String {
    match dest {
        Destination::VaultKv {
            address,
            path,
            mount,
            version,
        } => format!(
            "{}/v1/{}",
            vault_address(address.as_deref()),
            secret_path(mount, path, *version, name)
        ),
        Destination::SecretsManager {
            secret,
            prefix,
            region,
        } => {
            let secret = aws_secret(secret.as_deref(), prefix, name);
            match aws_region(region.as_deref(), &secret) {
                Ok(r) => format!("{SECRETS_MANAGER} secret {secret} in {r}"),
                Err(_) => format!("{SECRETS_MANAGER} secret {secret}"),
            }
        }
        Destination::Unsupported(kind) => format!("{kind} (unsupported)"),
    }
}

/// Sends `data` (the decrypted document as a JSON object) to `dest` under `name`.
pub fn upload(dest: &Destination, name: &str, data: &Value) -> Result<Outcome, PublishError> {
    match dest {
        Destination::VaultKv {
            address,
            path,
            mount,
            version,
        } => {
            let address = vault_address(address.as_deref());
            let client = Client::new(&address, VAULT_KV)?;
            let api = secret_path(mount, path, *version, name);
            // As sops: an unchanged secret gets no new version.
            if let Ok(Some(existing)) = client.call("GET", &api, None) {
                let current = existing.get("data").map(|d| match version {
                    1 => d,
                    _ => d.get("data").unwrap_or(&Value::Null),
                });
                if current == Some(data) {
                    return Ok(Outcome::UpToDate);
                }
            }
            let body = match version {
                1 => data.clone(),
                _ => serde_json::json!({ "data": data }),
            };
            client.call("PUT", &api, Some(&body))?;
            Ok(Outcome::Written)
        }
        Destination::SecretsManager {
            secret,
            prefix,
            region,
        } => {
            let secret = aws_secret(secret.as_deref(), prefix, name);
            let region = aws_region(region.as_deref(), &secret)?;
            let client = SecretsManager::from_env(&region).map_err(PublishError::Aws)?;
            let json = zeroize::Zeroizing::new(data.to_string());
            client.put(&secret, &json).map_err(PublishError::Aws)?;
            Ok(Outcome::Written)
        }
        Destination::Unsupported(kind) => Err(PublishError::Unsupported(kind)),
    }
}
