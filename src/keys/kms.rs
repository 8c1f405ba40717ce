//! AWS KMS master keys as sops writes them (`keysource/kms`): an entry holds the key's
//! `arn`, an optional IAM `role` to assume, an optional encryption `context`, `created_at`,
//! the KMS ciphertext of the data key in `enc` (base64) and `aws_profile`. Requests go to
//! the KMS JSON API (`TrentService.Encrypt`/`Decrypt`), signed with SigV4 ([`super::aws`]).
//!
//! The entry is unauthenticated: an editor of the file can change every field. What sealed
//! takes from it (docs/security.md, "AWS KMS"):
//! - `arn`: the key, and the region whose endpoint is asked; the host is always AWS's own
//!   (`kms.REGION.amazonaws.com`) or the one `AWS_ENDPOINT_URL[_KMS]` names, never one the
//!   file names. KMS itself checks that the ciphertext belongs to the key.
//! - `context`: sent to KMS, which refuses a context other than the one used to encrypt.
//! - `role`: assumed (STS) only when `.sops.yaml`, `--kms` or `SOPS_KMS_ARN` names the same
//!   role; a role named only by the file is refused.
//! - `aws_profile`: used only when `--aws-profile`, `AWS_PROFILE`, `.sops.yaml` or
//!   `SOPS_KMS_ARN`'s keys name it; otherwise the default credentials are used.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, Once, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::KeyError;
use super::aws::{self, Credentials};

/// The service's name in messages.
pub const SERVICE: &str = "AWS KMS";

/// The variable holding KMS keys to encrypt to (sops's name): `ARN[+ROLE],…`.
pub const ARN_VAR: &str = "SOPS_KMS_ARN";

/// A KMS key as a recipient: what an entry names besides its ciphertext.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KmsKey {
    /// The key's ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID` or an alias ARN).
    pub arn: String,
    /// An IAM role to assume for the request; empty for none.
    pub role: String,
    /// The encryption context (sorted, as Go writes a map).
    pub context: BTreeMap<String, String>,
    /// The AWS profile named with the key; empty for none.
    pub profile: String,
}

/// Characters escaped in a key's text form.
fn esc(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_control() || "%,:|=".contains(c) {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn unesc(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 3 <= bytes.len()
            && let Ok(b) = u8::from_str_radix(s.get(i + 1..i + 3).unwrap_or("zz"), 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The partition and region of a KMS key ARN.
fn arn_parts(arn: &str) -> Result<(&str, &str), KeyError> {
    let bad = || {
        let shown: String = arn.chars().take(120).collect();
        KeyError::BadKms(format!(
            "{shown:?}: expected an ARN, arn:aws:kms:REGION:ACCOUNT:key/ID (or alias/NAME)"
        ))
    };
    let mut it = arn.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("kms"), Some(region), Some(_), Some(_)) = (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    ) else {
        return Err(bad());
    };
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 32
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    };
    if !token(partition) || !token(region) {
        return Err(bad());
    }
    Ok((partition, region))
}

impl KmsKey {
    /// A key from its parts; the ARN is checked.
    pub fn new(
        arn: &str,
        role: &str,
        context: BTreeMap<String, String>,
        profile: &str,
    ) -> Result<KmsKey, KeyError> {
        let arn = arn.trim();
        arn_parts(arn)?;
        Ok(KmsKey {
            arn: arn.to_string(),
            role: role.trim().to_string(),
            context,
            profile: profile.trim().to_string(),
        })
    }

    /// The key's text, as recipients and labels name it:
    /// `kms:ARN[+ROLE][|context=K:V,…][|aws_profile=P]`.
    pub fn text(&self) -> String {
        let mut s = format!("{}{}", super::KMS_PREFIX, self.arn);
        if !self.role.is_empty() {
            s.push('+');
            s.push_str(&self.role);
        }
        if !self.context.is_empty() {
            let items: Vec<String> = self
                .context
                .iter()
                .map(|(k, v)| format!("{}:{}", esc(k), esc(v)))
                .collect();
            s.push_str("|context=");
            s.push_str(&items.join(","));
        }
        if !self.profile.is_empty() {
            s.push_str("|aws_profile=");
            s.push_str(&esc(&self.profile));
        }
        s
    }

    /// Reads [`KmsKey::text`] (without the `kms:` prefix).
    pub fn from_text(s: &str) -> Result<KmsKey, KeyError> {
        let mut parts = s.trim().split('|');
        let head = parts.next().unwrap_or_default();
        let (arn, role) = head.split_once('+').unwrap_or((head, ""));
        let mut context = BTreeMap::new();
        let mut profile = String::new();
        for p in parts {
            if let Some(list) = p.strip_prefix("context=") {
                for item in list.split(',').filter(|i| !i.is_empty()) {
                    let (k, v) = item.split_once(':').unwrap_or((item, ""));
                    context.insert(unesc(k), unesc(v));
                }
            } else if let Some(pr) = p.strip_prefix("aws_profile=") {
                profile = unesc(pr);
            }
        }
        KmsKey::new(arn, role, context, &profile)
    }

    /// The key an entry names (its fields as read; missing ones empty).
    pub fn from_fields(m: &Map<String, Value>) -> KmsKey {
        let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or_default();
        let context = match m.get("context") {
            Some(Value::Object(c)) => c
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect(),
            _ => BTreeMap::new(),
        };
        KmsKey {
            arn: s("arn").to_string(),
            role: s("role").to_string(),
            context,
            profile: s("aws_profile").to_string(),
        }
    }

    /// The key for messages: the ARN, and the role when there is one.
    pub fn describe(&self) -> String {
        if self.role.is_empty() {
            self.arn.clone()
        } else {
            format!("{} (role {})", self.arn, self.role)
        }
    }
}

/// Parses sops's key list: `ARN[+ROLE]` items separated by commas, each with `context`
/// and `profile` (`--encryption-context`, `--aws-profile`).
pub fn parse_arn_list(
    list: &str,
    context: &BTreeMap<String, String>,
    profile: &str,
) -> Result<Vec<KmsKey>, KeyError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            let (arn, role) = item.split_once('+').unwrap_or((item, ""));
            KmsKey::new(arn, role, context.clone(), profile)
        })
        .collect()
}

/// Parses `--encryption-context`: `KEY:VALUE` pairs separated by commas (sops's syntax).
pub fn parse_context(s: &str) -> Result<BTreeMap<String, String>, KeyError> {
    let mut out = BTreeMap::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item.split_once(':') {
            Some((k, v)) if !k.is_empty() && !v.contains(':') => {
                out.insert(k.to_string(), v.to_string());
            }
            _ => {
                let shown: String = item.chars().take(80).collect();
                return Err(KeyError::BadKms(format!(
                    "encryption context item {shown:?}: expected KEY:VALUE pairs separated \
                     by commas"
                )));
            }
        }
    }
    Ok(out)
}

// ---- What may be taken from a file: roles and profiles named outside it.

static TRUSTED: Mutex<Option<(HashSet<String>, HashSet<String>)>> = Mutex::new(None);
static LOADER: OnceLock<fn()> = OnceLock::new();
static LOADED: Once = Once::new();

/// Records that `key`'s role and profile were named by the user (`.sops.yaml`, the
/// command line, `SOPS_KMS_ARN`), so that a file's entry may use them.
pub fn trust(key: &KmsKey) {
    if let Ok(mut t) = TRUSTED.lock() {
        let (roles, profiles) = t.get_or_insert_with(Default::default);
        if !key.role.is_empty() {
            roles.insert(key.role.clone());
        }
        if !key.profile.is_empty() {
            profiles.insert(key.profile.clone());
        }
    }
}

/// Installs the function that registers the `.sops.yaml` in effect ([`trust`] for each of
/// its KMS keys); run once, the first time a file's role or profile is checked.
pub fn set_trust_loader(f: fn()) {
    let _ = LOADER.set(f);
}

fn is_trusted(role: Option<&str>, profile: Option<&str>) -> bool {
    LOADED.call_once(|| {
        if let Some(f) = LOADER.get() {
            f();
        }
        if let Ok(list) = std::env::var(ARN_VAR) {
            for k in parse_arn_list(&list, &BTreeMap::new(), "").unwrap_or_default() {
                trust(&k);
            }
        }
    });
    let env_profile = std::env::var("AWS_PROFILE").unwrap_or_default();
    let t = TRUSTED.lock().ok();
    let t = t.as_ref().and_then(|t| t.as_ref());
    match (role, profile) {
        (Some(r), _) => t.is_some_and(|(roles, _)| roles.contains(r)),
        (None, Some(p)) => p == env_profile || t.is_some_and(|(_, profiles)| profiles.contains(p)),
        (None, None) => true,
    }
}

// ---- Credentials, cached per (profile, role) for the run.

fn credentials_for(
    key: &KmsKey,
    partition: &str,
    region: &str,
    from_file: bool,
) -> Result<Credentials, KeyError> {
    static CACHE: Mutex<Option<HashMap<(String, String), Credentials>>> = Mutex::new(None);
    let profile = if !from_file || is_trusted(None, Some(&key.profile)) {
        key.profile.as_str()
    } else {
        ""
    };
    if from_file && !key.role.is_empty() && !is_trusted(Some(&key.role), None) {
        return Err(KeyError::Service(format!(
            "{SERVICE} key {}: the file asks to assume role {}, which neither .sops.yaml, \
             --kms nor {ARN_VAR} names; sealed does not assume a role named only by the \
             encrypted file (name it in the key's .sops.yaml rule, or set {ARN_VAR}='{}+{}')",
            key.arn, key.role, key.arn, key.role
        )));
    }
    let slot = (profile.to_string(), key.role.clone());
    if let Some(c) = CACHE
        .lock()
        .ok()
        .and_then(|c| c.as_ref().and_then(|m| m.get(&slot).cloned()))
    {
        return Ok(c);
    }
    let base = aws::credentials::resolve(Some(profile).filter(|p| !p.is_empty()))
        .map_err(|e| KeyError::Service(format!("{SERVICE} key {}: {e}", key.arn)))?;
    let creds = if key.role.is_empty() {
        base
    } else {
        aws::assume_role(&base, &key.role, partition, region).map_err(KeyError::Service)?
    };
    if let Ok(mut c) = CACHE.lock() {
        c.get_or_insert_with(HashMap::new)
            .insert(slot, creds.clone());
    }
    Ok(creds)
}

/// One TrentService call; the JSON answer, or one line naming the service and address.
fn call(
    key: &KmsKey,
    action: &str,
    mut body: Map<String, Value>,
    from_file: bool,
) -> Result<Value, KeyError> {
    let (partition, region) = arn_parts(&key.arn)?;
    let url = format!(
        "{}/",
        aws::endpoint("kms", partition, region).map_err(KeyError::Service)?
    );
    let creds = credentials_for(key, partition, region, from_file)?;
    if !key.context.is_empty() {
        body.insert("EncryptionContext".into(), json!(key.context));
    }
    let target = format!("TrentService.{action}");
    let payload = Zeroizing::new(serde_json::to_vec(&Value::Object(body)).unwrap_or_default());
    let (status, text) = aws::post(
        SERVICE,
        "kms",
        region,
        &url,
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &target),
        ],
        &payload,
        &creds,
    )
    .map_err(KeyError::Service)?;
    let text = Zeroizing::new(text);
    let address = super::http::display_address(&url);
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status != 200 {
        // KMS answers JSON; a front end (or an authentication failure) may answer XML.
        let kind = v
            .get("__type")
            .and_then(Value::as_str)
            .map(|t| t.rsplit('#').next().unwrap_or(t))
            .or_else(|| aws::xml_field(&text, "Code"))
            .unwrap_or("error");
        let msg = v
            .get("message")
            .or_else(|| v.get("Message"))
            .and_then(Value::as_str)
            .or_else(|| aws::xml_field(&text, "Message"))
            .unwrap_or_default();
        return Err(KeyError::Service(format!(
            "{SERVICE} at {address}: {action} with key {} refused: HTTP {status} {}{}{}",
            key.describe(),
            super::http::clean(kind),
            if msg.is_empty() { "" } else { ": " },
            super::http::clean(msg)
        )));
    }
    Ok(v)
}

/// Wraps `part` with KMS key `key`: the entry's fields in sops's order (`arn`, `role`,
/// `context` when set, `created_at`, `enc`, `aws_profile`).
pub fn encrypt(part: &[u8], key: &KmsKey) -> Result<Map<String, Value>, KeyError> {
    let mut body = Map::new();
    body.insert("KeyId".into(), json!(key.arn));
    body.insert("Plaintext".into(), json!(STANDARD.encode(part)));
    let v = call(key, "Encrypt", body, false)?;
    let blob = v
        .get("CiphertextBlob")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            KeyError::Service(format!(
                "{SERVICE}: the answer to Encrypt with key {} holds no ciphertext",
                key.arn
            ))
        })?;
    let mut m = Map::new();
    m.insert("arn".into(), json!(key.arn));
    if !key.role.is_empty() {
        m.insert("role".into(), json!(key.role));
    }
    if !key.context.is_empty() {
        m.insert("context".into(), json!(key.context));
    }
    m.insert(
        "created_at".into(),
        json!(humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()),
    );
    m.insert("enc".into(), json!(blob));
    m.insert("aws_profile".into(), json!(key.profile));
    Ok(m)
}

/// Unwraps a file's `kms` entry through KMS (see the module's rules on what is taken from
/// the entry).
pub fn decrypt(fields: &Map<String, Value>) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let key = KmsKey::from_fields(fields);
    let enc = fields
        .get("enc")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if STANDARD.decode(enc).is_err() || enc.is_empty() {
        return Err(KeyError::Service(format!(
            "{SERVICE} key {}: the wrapped data key (enc) is not base64",
            key.arn
        )));
    }
    let mut body = Map::new();
    body.insert("CiphertextBlob".into(), json!(enc));
    body.insert("KeyId".into(), json!(key.arn));
    let v = call(&key, "Decrypt", body, true)?;
    let plain = v
        .get("Plaintext")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let out = STANDARD.decode(plain).map_err(|_| {
        KeyError::Service(format!(
            "{SERVICE}: the answer to Decrypt with key {} holds no plaintext",
            key.arn
        ))
    })?;
    Ok(Zeroizing::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        let mut ctx = BTreeMap::new();
        ctx.insert("a,b".to_string(), "x:y|z=%".to_string());
        let k = KmsKey::new(
            "arn:aws:kms:eu-west-1:111:key/abc",
            "arn:aws:iam::111:role/r",
            ctx,
            "dev",
        )
        .unwrap();
        let t = k.text();
        assert_eq!(
            KmsKey::from_text(t.strip_prefix("kms:").unwrap()).unwrap(),
            k
        );
        assert!(
            KmsKey::new(
                "arn:aws:kms:evil.example/x#:1:key/a",
                "",
                BTreeMap::new(),
                ""
            )
            .is_err()
        );
        assert!(KmsKey::new("not-an-arn", "", BTreeMap::new(), "").is_err());
    }

    #[test]
    fn context_and_lists_parse_like_sops() {
        let c = parse_context("a:b, c:d").unwrap();
        assert_eq!(c.get("c").map(String::as_str), Some("d"));
        assert!(parse_context("a").is_err());
        let l = parse_arn_list(
            "arn:aws:kms:us-east-1:1:key/a+arn:aws:iam::1:role/r,arn:aws:kms:us-east-1:1:key/b",
            &c,
            "",
        )
        .unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].role, "arn:aws:iam::1:role/r");
        assert!(l[1].role.is_empty());
    }
}
