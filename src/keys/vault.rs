//! HashiCorp Vault (and OpenBao) transit keys, as sops uses them (`keysource/hcvault`):
//! the data key is sent to `POST {address}/v1/{engine}/encrypt/{key}` and the `hc_vault`
//! entry keeps the address, engine path, key name, time and ciphertext. Authentication as
//! the Vault CLI: `VAULT_TOKEN`, else `~/.vault-token`; `VAULT_NAMESPACE`; TLS from
//! `VAULT_CACERT`/`VAULT_CAPATH`/`VAULT_SKIP_VERIFY`.
//!
//! Decrypting uses the address stored in the file, as sops does. An editor of the file can
//! change it without a key, so sealed sends the token only to an address it trusts (see
//! [`check_trusted`] and docs/security.md): `VAULT_ADDR`, an address of a loaded
//! `.sops.yaml`, or `SOPS_HC_VAULT_ALLOWLIST` (sops 3.13's variable) when set.

use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use regex::Regex;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::KeyError;
use super::http;

/// The service's name in messages.
pub const SERVICE: &str = "Vault transit";

/// sops 3.13's allowlist of Vault addresses (`all`, `none`, or comma-separated prefixes).
pub const ALLOWLIST_VAR: &str = "SOPS_HC_VAULT_ALLOWLIST";

/// A Vault transit key: where it lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VaultKey {
    /// `https://host:8200` (scheme, host, port; no path).
    pub address: String,
    /// The transit engine's mount path (`transit`, or nested `a/b`).
    pub engine_path: String,
    /// The key's name.
    pub key_name: String,
}

/// One `hc_vault` entry of a key group (fields in sops's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultEntry {
    /// The key the data key was wrapped with.
    pub key: VaultKey,
    /// When the entry was written (RFC 3339, UTC).
    pub created_at: String,
    /// Vault's ciphertext (`vault:v1:…`).
    pub enc: String,
}

fn bad_uri(uri: &str, why: &str) -> KeyError {
    let shown: String = uri.chars().take(120).collect();
    KeyError::BadVaultUri(format!(
        "{shown:?}: {why} (expected like https://vault.example.com:8200/v1/transit/keys/NAME)"
    ))
}

/// Whether `s` is a safe path segment for a Vault API path (no `.`/`..`, no `?`/`#`).
fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+'))
}

impl VaultKey {
    /// Parses a transit key URI as sops does: `SCHEME://HOST[:PORT]/v1/ENGINE…/keys/NAME`
    /// (the engine path may have several segments; a prefix before `/v1` is refused).
    pub fn parse_uri(uri: &str) -> Result<VaultKey, KeyError> {
        let uri = uri.trim();
        let Some((scheme, rest)) = uri.split_once("://") else {
            return Err(bad_uri(uri, "missing scheme"));
        };
        if !matches!(scheme, "http" | "https") {
            return Err(bad_uri(uri, "the scheme must be http or https"));
        }
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let path = path.split(['?', '#']).next().unwrap_or_default();
        if host.is_empty() || host.contains('@') {
            return Err(bad_uri(uri, "no host"));
        }
        static PREFIXED: OnceLock<Regex> = OnceLock::new();
        static SHAPE: OnceLock<Regex> = OnceLock::new();
        let prefixed = PREFIXED
            .get_or_init(|| Regex::new(r"/[^/]+/v[\d]+/[^/]+/[^/]+/[^/]+").expect("static regex"));
        let shape =
            SHAPE.get_or_init(|| Regex::new(r"/v[\d]+/[^/]+/[^/]+/[^/]+").expect("static regex"));
        if prefixed.is_match(path) {
            return Err(bad_uri(
                uri,
                "a Vault behind a prefixed URL is not supported",
            ));
        }
        if !shape.is_match(path) {
            return Err(bad_uri(uri, "the path is not formatted correctly"));
        }
        let dirs: Vec<&str> = path.trim_matches('/').split('/').collect();
        let key_name = dirs[dirs.len() - 1].to_string();
        let engine: Vec<&str> = dirs[1..dirs.len() - 2]
            .iter()
            .copied()
            .filter(|s| !s.is_empty())
            .collect();
        if !engine.iter().all(|s| is_segment(s)) || !is_segment(&key_name) {
            return Err(bad_uri(
                uri,
                "unexpected characters in the engine path or key name",
            ));
        }
        Ok(VaultKey {
            address: format!("{scheme}://{host}"),
            engine_path: engine.join("/"),
            key_name,
        })
    }

    /// The key's URI, as sops prints it: `{address}/v1/{engine}/keys/{name}`.
    pub fn uri(&self) -> String {
        format!(
            "{}/v1/{}/keys/{}",
            self.address, self.engine_path, self.key_name
        )
    }

    /// Refuses a key whose engine path or name could steer the request elsewhere.
    fn check_paths(&self) -> Result<(), KeyError> {
        if self.engine_path.split('/').all(is_segment) && is_segment(&self.key_name) {
            Ok(())
        } else {
            Err(KeyError::Service(format!(
                "{SERVICE} at {}: the file's engine path or key name has unexpected \
                 characters; refused",
                shown_address(&self.address)
            )))
        }
    }
}

/// An address for messages: printable characters only, bounded.
fn shown_address(a: &str) -> String {
    a.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(120)
        .collect()
}

/// Comparable form of an address: lower-case, no trailing `/`.
fn normalize(a: &str) -> String {
    a.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Addresses trusted because a loaded `.sops.yaml` names them.
static CONFIG_ADDRESSES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Where more trusted addresses come from when an address is not trusted yet (set by
/// `main`: the `.sops.yaml` found from the working directory).
static TRUST_SOURCE: OnceLock<fn() -> Vec<String>> = OnceLock::new();

/// Trusts the Vault addresses of a `.sops.yaml` (its rules' and destinations' addresses).
pub fn trust_addresses<I: IntoIterator<Item = String>>(addresses: I) {
    if let Ok(mut list) = CONFIG_ADDRESSES.lock() {
        for a in addresses {
            let a = normalize(&a);
            if !list.contains(&a) {
                list.push(a);
            }
        }
    }
}

/// Names the function giving more trusted addresses on demand (called once, lazily).
pub fn set_trust_source(f: fn() -> Vec<String>) {
    let _ = TRUST_SOURCE.set(f);
}

/// Whether the token may be sent to `address`: with `SOPS_HC_VAULT_ALLOWLIST` set, as sops
/// 3.13 decides (`all`, `none`, or prefixes); otherwise when it is `VAULT_ADDR` or an
/// address of a loaded `.sops.yaml`.
pub fn check_trusted(address: &str) -> Result<(), KeyError> {
    let addr = normalize(address);
    let shown = shown_address(address);
    if let Some(list) = std::env::var(ALLOWLIST_VAR).ok().filter(|s| !s.is_empty()) {
        let ok = match list.trim() {
            "all" => true,
            "none" => false,
            l => l.split(',').map(str::trim).any(|p| {
                let p = p.to_ascii_lowercase();
                let p = if p.ends_with('/') { p } else { p + "/" };
                !p.is_empty() && format!("{addr}/").starts_with(&p)
            }),
        };
        return if ok {
            Ok(())
        } else {
            Err(KeyError::Service(format!(
                "{SERVICE} at {shown}: the address is not in {ALLOWLIST_VAR}; the token is \
                 not sent there"
            )))
        };
    }
    let env = std::env::var("VAULT_ADDR").ok().map(|a| normalize(&a));
    let trusted = |list: &Vec<String>| env.as_deref() == Some(&addr) || list.contains(&addr);
    let known = CONFIG_ADDRESSES
        .lock()
        .map(|l| trusted(&l))
        .unwrap_or(false);
    if known {
        return Ok(());
    }
    static LOADED: OnceLock<()> = OnceLock::new();
    LOADED.get_or_init(|| {
        if let Some(f) = TRUST_SOURCE.get() {
            trust_addresses(f());
        }
    });
    if CONFIG_ADDRESSES
        .lock()
        .map(|l| trusted(&l))
        .unwrap_or(false)
    {
        return Ok(());
    }
    Err(KeyError::Service(format!(
        "{SERVICE} at {shown}: the file names this address, but neither VAULT_ADDR nor \
         .sops.yaml does, so sealed does not send the Vault token there (an editor of the \
         file can change it); if you trust it: VAULT_ADDR={shown} or \
         {ALLOWLIST_VAR}={shown}"
    )))
}

/// The token: `VAULT_TOKEN`, else `~/.vault-token` (trimmed).
fn token(address: &str) -> Result<Zeroizing<String>, KeyError> {
    if let Some(t) = std::env::var("VAULT_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Ok(Zeroizing::new(t.trim().to_string()));
    }
    if let Some(home) = std::env::var_os("HOME") {
        let path = std::path::Path::new(&home).join(".vault-token");
        match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => return Ok(Zeroizing::new(t.trim().to_string())),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(KeyError::Service(format!(
                    "{SERVICE} at {}: cannot read {}: {e}",
                    shown_address(address),
                    path.display()
                )));
            }
        }
    }
    Err(KeyError::Service(format!(
        "{SERVICE} at {}: no token: set VAULT_TOKEN, or log in (`bao login` / `vault login` \
         write ~/.vault-token)",
        shown_address(address)
    )))
}

/// TLS as the Vault CLI configures it from the environment.
fn tls_config() -> Result<ureq::tls::TlsConfig, String> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig, parse_pem};
    let mut b = TlsConfig::builder();
    let skip = std::env::var("VAULT_SKIP_VERIFY")
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "t"))
        .unwrap_or(false);
    if skip {
        b = b.disable_verification(true);
    }
    let mut files = Vec::new();
    if let Some(f) = std::env::var_os("VAULT_CACERT").filter(|f| !f.is_empty()) {
        files.push(std::path::PathBuf::from(f));
    } else if let Some(d) = std::env::var_os("VAULT_CAPATH").filter(|f| !f.is_empty()) {
        let rd = std::fs::read_dir(&d)
            .map_err(|e| format!("VAULT_CAPATH {}: {e}", std::path::Path::new(&d).display()))?;
        files.extend(rd.filter_map(|e| e.ok()).map(|e| e.path()));
    }
    if !files.is_empty() {
        let mut certs = Vec::new();
        for f in &files {
            let pem = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
            for item in parse_pem(&pem) {
                if let Ok(PemItem::Certificate(c)) = item {
                    certs.push(c);
                }
            }
        }
        if certs.is_empty() {
            return Err(format!(
                "no certificate in {}",
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        b = b.root_certs(RootCerts::new_with_certs(&certs));
    }
    Ok(b.build())
}

/// The one agent of the process (connections are reused across files and threads).
fn agent(address: &str) -> Result<&'static ureq::Agent, KeyError> {
    static AGENT: OnceLock<Result<ureq::Agent, String>> = OnceLock::new();
    AGENT
        .get_or_init(|| tls_config().map(http::agent_with_tls))
        .as_ref()
        .map_err(|e| {
            KeyError::Service(format!(
                "{SERVICE} at {}: TLS settings: {e}",
                shown_address(address)
            ))
        })
}

/// A Vault client for one address: the token, namespace and TLS of the environment.
pub struct Client {
    address: String,
    service: &'static str,
    token: Zeroizing<String>,
}

impl Client {
    /// A client for `address` (trusted by the caller), named `service` in messages.
    pub fn new(address: &str, service: &'static str) -> Result<Client, KeyError> {
        Ok(Client {
            address: address.trim_end_matches('/').to_string(),
            service,
            token: token(address)?,
        })
    }

    fn fail(&self, why: impl std::fmt::Display) -> KeyError {
        KeyError::Service(format!(
            "{} at {}: {why}",
            self.service,
            shown_address(&self.address)
        ))
    }

    /// Sends `body` (or nothing) to `/v1/{path}` with `method`; the response's JSON, or
    /// `None` for 404 on a GET and for an empty body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>, KeyError> {
        let agent = agent(&self.address)?;
        let url = format!("{}/v1/{}", self.address, path);
        let mut builder = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("X-Vault-Token", self.token.as_str())
            .header("X-Vault-Request", "true");
        if let Some(ns) = std::env::var("VAULT_NAMESPACE")
            .ok()
            .filter(|n| !n.trim().is_empty())
        {
            builder = builder.header("X-Vault-Namespace", ns.trim());
        }
        let text = body.map(Value::to_string).unwrap_or_default();
        let request = builder
            .header("Content-Type", "application/json")
            .body(text)
            .map_err(|_| self.fail("not a valid address"))?;
        let mut response = agent.run(request).map_err(|e| {
            KeyError::Service(http::describe_error(
                self.service,
                &shown_address(&self.address),
                &e,
            ))
        })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(1024 * 1024)
            .read_to_string()
            .map_err(|e| {
                KeyError::Service(http::describe_error(
                    self.service,
                    &shown_address(&self.address),
                    &e,
                ))
            })?;
        let json: Option<Value> = serde_json::from_str(&text).ok();
        if (200..300).contains(&status) {
            return Ok(json);
        }
        if status == 404 && method == "GET" {
            return Ok(None);
        }
        let detail = json
            .as_ref()
            .and_then(|j| j.get("errors"))
            .and_then(Value::as_array)
            .and_then(|e| {
                e.iter()
                    .filter_map(Value::as_str)
                    .find(|s| !s.trim().is_empty())
            })
            .map(|s| {
                s.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(200)
                    .collect::<String>()
            });
        let mut why = format!("HTTP {status}");
        if let Some(d) = detail {
            why.push_str(&format!(": {d}"));
        }
        if status == 403 {
            why.push_str(" (check VAULT_TOKEN or ~/.vault-token, and the token's policy)");
        }
        Err(self.fail(why))
    }
}

/// The string at `data.FIELD` of a response.
fn data_field(v: Option<&Value>, field: &str) -> Option<String> {
    v?.get("data")?.get(field)?.as_str().map(str::to_string)
}

/// Wraps `part` with the transit key: the new `hc_vault` entry.
pub fn encrypt(part: &[u8], key: &VaultKey) -> Result<VaultEntry, KeyError> {
    key.check_paths()?;
    let client = Client::new(&key.address, SERVICE)?;
    let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(part));
    let body = json!({ "plaintext": b64.as_str() });
    let out = client.call(
        "POST",
        &format!("{}/encrypt/{}", key.engine_path, key.key_name),
        Some(&body),
    );
    let mut body = body;
    // serde_json's copy of the base64 data key.
    if let Some(Value::String(s)) = body.get_mut("plaintext") {
        zeroize::Zeroize::zeroize(s);
    }
    let out = out?;
    let enc = data_field(out.as_ref(), "ciphertext")
        .ok_or_else(|| client.fail("the answer has no ciphertext"))?;
    Ok(VaultEntry {
        key: key.clone(),
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        enc,
    })
}

/// Unwraps an `hc_vault` entry through the address it names, when that address is trusted.
pub fn decrypt(entry: &VaultEntry) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let key = &entry.key;
    check_trusted(&key.address)?;
    key.check_paths()?;
    let client = Client::new(&key.address, SERVICE)?;
    let body = json!({ "ciphertext": entry.enc });
    let out = client.call(
        "POST",
        &format!("{}/decrypt/{}", key.engine_path, key.key_name),
        Some(&body),
    )?;
    let b64 = Zeroizing::new(
        data_field(out.as_ref(), "plaintext")
            .ok_or_else(|| client.fail("the answer has no plaintext"))?,
    );
    let mut value = out;
    if let Some(Value::String(s)) = value
        .as_mut()
        .and_then(|v| v.get_mut("data"))
        .and_then(|d| d.get_mut("plaintext"))
    {
        zeroize::Zeroize::zeroize(s);
    }
    base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| client.fail("the answer's plaintext is not base64"))
}

#[cfg(test)]
mod tests;
