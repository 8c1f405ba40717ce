//! AWS Secrets Manager as a `publish` destination: writes a decrypted document as one
//! secret's `SecretString` (`PutSecretValue`, or `CreateSecret` when the secret does not
//! exist yet), through the same signed-request client as KMS.
//!
//! Not wired to a command here: `sealed publish` (issue 18, the Vault half) calls
//! [`SecretsManager::from_env`] and [`SecretsManager::put`] for a destination rule that
//! names a secret (an ARN, or a name with a region).

use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{Credentials, credentials, endpoint, post};

/// The service's name in messages.
pub const SERVICE: &str = "AWS Secrets Manager";

/// A Secrets Manager endpoint and the credentials to sign with.
pub struct SecretsManager {
    region: String,
    url: String,
    creds: Credentials,
}

/// What [`SecretsManager::put`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// A new version of an existing secret.
    Updated,
    /// The secret did not exist and was created.
    Created,
}

/// The region of a secret ARN (`arn:aws:secretsmanager:REGION:…`), if it is one.
pub fn region_of(secret: &str) -> Option<&str> {
    let mut it = secret.split(':');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some("arn"), Some(_), Some("secretsmanager"), Some(r)) if !r.is_empty() => Some(r),
        _ => None,
    }
}

impl SecretsManager {
    /// An explicit endpoint and credentials (tests, callers with their own settings).
    pub fn new(region: &str, url: &str, creds: Credentials) -> SecretsManager {
        SecretsManager {
            region: region.to_string(),
            url: format!("{}/", url.trim_end_matches('/')),
            creds,
        }
    }

    /// The endpoint of `region` (`AWS_ENDPOINT_URL_SECRETSMANAGER`, `AWS_ENDPOINT_URL`, else
    /// AWS's own) and the default credentials (keys/aws/credentials.rs).
    pub fn from_env(region: &str) -> Result<SecretsManager, String> {
        let valid = !region.is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            return Err(format!("{SERVICE}: invalid region {region:?}"));
        }
        let url = endpoint("secretsmanager", "aws", region)?;
        let creds = credentials::resolve(None).map_err(|e| format!("{SERVICE}: {e}"))?;
        Ok(SecretsManager::new(region, &url, creds))
    }

    fn call(&self, action: &str, body: &Value) -> Result<(u16, Value), String> {
        let target = format!("secretsmanager.{action}");
        let payload = Zeroizing::new(serde_json::to_vec(body).unwrap_or_default());
        let (status, text) = post(
            SERVICE,
            "secretsmanager",
            &self.region,
            &self.url,
            &[
                ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", &target),
            ],
            &payload,
            &self.creds,
        )?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    fn refused(&self, action: &str, secret: &str, status: u16, v: &Value) -> String {
        let kind = v
            .get("__type")
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t))
            .unwrap_or("error");
        let msg = v
            .get("message")
            .or_else(|| v.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        format!(
            "{SERVICE} at {}: {action} of {secret} refused: HTTP {status} {}: {}",
            crate::keys::http::display_address(&self.url),
            crate::keys::http::clean(kind),
            crate::keys::http::clean(msg)
        )
    }

    /// Stores `value` as the secret `secret` (a name or an ARN): a new version when it
    /// exists, else a new secret. The value never appears in an error.
    pub fn put(&self, secret: &str, value: &str) -> Result<Put, String> {
        let body = json!({"SecretId": secret, "SecretString": value});
        let (status, v) = self.call("PutSecretValue", &body)?;
        if status == 200 {
            return Ok(Put::Updated);
        }
        let not_found = v
            .get("__type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with("ResourceNotFoundException"));
        if !not_found || region_of(secret).is_some() {
            return Err(self.refused("PutSecretValue", secret, status, &v));
        }
        let body = json!({"Name": secret, "SecretString": value});
        let (status, v) = self.call("CreateSecret", &body)?;
        if status == 200 {
            Ok(Put::Created)
        } else {
            Err(self.refused("CreateSecret", secret, status, &v))
        }
    }
}
