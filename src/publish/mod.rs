//! Where `sealed publish` sends a decrypted file (sops's `publish` package): one module
//! per destination. Vault KV (v1, v2) is here; sops's S3 and GCS destinations, and AWS
//! Secrets Manager, would each be one more module and one more arm in [`upload`].

use serde_json::Value;

use crate::config::destination::Destination;
use crate::keys::KeyError;
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
        Destination::Unsupported(kind) => Err(PublishError::Unsupported(kind)),
    }
}
