//! AWS credentials, from the sources of AWS's standard chain that need no service:
//! a named profile (`--aws-profile`, a trusted `aws_profile`), the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), then `AWS_PROFILE`
//! (else `default`) in `~/.aws/credentials` and `~/.aws/config` (`AWS_SHARED_CREDENTIALS_FILE`,
//! `AWS_CONFIG_FILE`). Not read: SSO, `credential_process`, web identity files, profiles
//! that assume a role themselves, and the instance or container metadata services.

use std::path::PathBuf;

use zeroize::Zeroizing;

/// An access key, its secret and an optional session token. Never printed: its `Debug`
/// shows the key id only.
#[derive(Clone)]
pub struct Credentials {
    access_key: String,
    secret: Zeroizing<String>,
    token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Credentials from their parts.
    pub fn new(access_key: String, secret: String, token: Option<String>) -> Credentials {
        Credentials {
            access_key,
            secret: Zeroizing::new(secret),
            token: token.filter(|t| !t.is_empty()).map(Zeroizing::new),
        }
    }

    /// The signing identity `aws-sigv4` takes.
    pub(super) fn identity(&self) -> aws_smithy_runtime_api::client::identity::Identity {
        aws_credential_types::Credentials::new(
            self.access_key.clone(),
            self.secret.to_string(),
            self.token.as_ref().map(|t| t.to_string()),
            None,
            "sealed",
        )
        .into()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}

fn home_file(var: &str, name: &str) -> Option<PathBuf> {
    env(var)
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".aws").join(name)))
}

/// The `key = value` pairs of section `section` of an INI file.
fn ini_section(text: &str, section: &str) -> Option<Vec<(String, String)>> {
    let mut inside = false;
    let mut found = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
            found |= inside;
            continue;
        }
        if inside && let Some((k, v)) = line.split_once('=') {
            out.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    found.then_some(out)
}

/// Static keys of profile `name` in the shared credentials file, then the config file.
fn from_profile(name: &str) -> Result<Option<Credentials>, String> {
    let sources = [
        (
            home_file("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
            name.to_string(),
        ),
        (
            home_file("AWS_CONFIG_FILE", "config"),
            if name == "default" {
                name.to_string()
            } else {
                format!("profile {name}")
            },
        ),
    ];
    let mut seen = false;
    for (path, section) in sources {
        let Some(path) = path else { continue };
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Some(pairs) = ini_section(&text, &section) else {
            continue;
        };
        seen = true;
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        if let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key")) {
            return Ok(Some(Credentials::new(id, secret, get("aws_session_token"))));
        }
    }
    if seen {
        Err(format!(
            "the AWS profile {name:?} has no aws_access_key_id and aws_secret_access_key \
             (sealed reads static keys only: not SSO, credential_process or role profiles)"
        ))
    } else {
        Ok(None)
    }
}

/// The credentials to sign with: `profile` when given, else the environment, else
/// `AWS_PROFILE` (or `default`) from the shared files.
pub fn resolve(profile: Option<&str>) -> Result<Credentials, String> {
    if let Some(p) = profile.filter(|p| !p.is_empty()) {
        return from_profile(p)?.ok_or_else(|| {
            format!(
                "the AWS profile {p:?} is not in ~/.aws/credentials or ~/.aws/config \
                 (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE)"
            )
        });
    }
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Ok(Credentials::new(id, secret, env("AWS_SESSION_TOKEN")));
    }
    let name = env("AWS_PROFILE").unwrap_or_else(|| "default".to_string());
    from_profile(&name)?.ok_or_else(|| {
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (CI: from OIDC), \
         or AWS_PROFILE with ~/.aws/credentials; sealed does not read SSO or the instance \
         metadata service"
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections_are_read() {
        let text = "[default]\naws_access_key_id = A\n# c\n[profile x]\nAWS_SECRET_ACCESS_KEY=s\n";
        assert_eq!(
            ini_section(text, "default").unwrap(),
            [("aws_access_key_id".to_string(), "A".to_string())]
        );
        assert_eq!(ini_section(text, "profile x").unwrap().len(), 1);
        assert!(ini_section(text, "y").is_none());
        let c = Credentials::new("AKID".into(), "SECRETVALUE".into(), None);
        assert!(!format!("{c:?}").contains("SECRETVALUE"));
    }
}
