//! Master keys as a file's metadata holds them: one entry per recipient, of one kind each
//! (age, pgp, AWS KMS, or a key service sealed keeps byte for byte but does not reach
//! yet), read
//! from and written to the JSON shapes sops 3.11 uses.

use serde_json::{Map, Value, json};

/// One age recipient with the data key (or its Shamir share) wrapped to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeEntry {
    /// `age1…`, `ssh-ed25519 …` or `ssh-rsa …`.
    pub recipient: String,
    /// Armored age file holding the wrapped key.
    pub enc: String,
}

/// One PGP key (sops's `pgp` entry: `created_at`, `enc`, `fp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgpEntry {
    /// The key's fingerprint, as given when the file was encrypted.
    pub fp: String,
    /// The armored PGP message holding the wrapped key.
    pub enc: String,
    /// When the entry was written (RFC 3339, UTC).
    pub created_at: String,
}

/// An entry of a key service sealed does not reach yet (kms, gcp_kms, azure_kv, hc_vault,
/// hckms): kept as the JSON object it was read as, fields in their order.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceEntry {
    /// The metadata field it sits under (`kms`, `hc_vault`…).
    pub kind: String,
    /// The entry as read.
    pub fields: Map<String, Value>,
}

/// One AWS KMS key (sops's `kms` entry: `arn`, `role`, `context`, `created_at`, `enc`,
/// `aws_profile`): kept as the JSON object it was read or built as, fields in their order.
#[derive(Debug, Clone, PartialEq)]
pub struct KmsEntry {
    /// The entry's fields.
    pub fields: Map<String, Value>,
}

/// A master key entry of a key group.
#[derive(Debug, Clone, PartialEq)]
pub enum MasterKey {
    /// An age (X25519, ssh) recipient.
    Age(AgeEntry),
    /// A PGP key, used through `gpg`.
    Pgp(PgpEntry),
    /// An AWS KMS key.
    Kms(KmsEntry),
    /// A HashiCorp Vault / OpenBao transit key.
    Vault(super::vault::VaultEntry),
    /// A key service entry, kept as it is.
    Service(ServiceEntry),
}

/// The key services sops knows, by metadata field: the order sops 3.11 writes them in
/// (within a key group, after `pgp` and before `age`) and the service's name.
pub const SERVICE_KINDS: [(&str, &str); 5] = [
    ("kms", "AWS KMS"),
    ("gcp_kms", "GCP KMS"),
    ("hckms", "HuaweiCloud KMS"),
    ("azure_kv", "Azure Key Vault"),
    ("hc_vault", "HashiCorp Vault transit"),
];

/// The fields that name a service entry's key, per kind (the entry's label).
fn service_label_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "kms" => &["arn"],
        "gcp_kms" => &["resource_id"],
        "hckms" => &["key_id"],
        "azure_kv" => &["vault_url", "name", "version"],
        "hc_vault" => &["vault_address", "engine_path", "key_name"],
        _ => &[],
    }
}

/// The prefix of a PGP recipient's label (`pgp:FINGERPRINT`).
pub const PGP_PREFIX: &str = "pgp:";

impl MasterKey {
    /// The metadata field of this entry's kind (`age`, `pgp`, `kms`…).
    pub fn kind(&self) -> &str {
        match self {
            MasterKey::Age(_) => "age",
            MasterKey::Pgp(_) => "pgp",
            MasterKey::Kms(_) => "kms",
            MasterKey::Vault(_) => "hc_vault",
            MasterKey::Service(s) => &s.kind,
        }
    }

    /// Who the entry is for, one string per key: the age recipient as written,
    /// `pgp:FINGERPRINT`, or `KIND:` and the fields naming a service key.
    pub fn label(&self) -> String {
        match self {
            MasterKey::Age(a) => a.recipient.clone(),
            MasterKey::Pgp(p) => format!("{PGP_PREFIX}{}", p.fp),
            MasterKey::Kms(k) => super::kms::KmsKey::from_fields(&k.fields).text(),
            MasterKey::Vault(v) => v.key.uri(),
            MasterKey::Service(s) => {
                let parts: Vec<&str> = service_label_fields(&s.kind)
                    .iter()
                    .filter_map(|f| s.fields.get(*f).and_then(Value::as_str))
                    .collect();
                format!("{}:{}", s.kind, parts.join("/"))
            }
        }
    }

    /// The wrapped data key, for the kinds that hold it in `enc`.
    pub fn enc(&self) -> Option<&str> {
        match self {
            MasterKey::Age(a) => Some(&a.enc),
            MasterKey::Pgp(p) => Some(&p.enc),
            MasterKey::Kms(KmsEntry { fields: f })
            | MasterKey::Service(ServiceEntry { fields: f, .. }) => {
                f.get("enc").and_then(Value::as_str)
            }
            MasterKey::Vault(v) => Some(&v.enc),
        }
    }

    /// The service's name, for entries sealed does not reach.
    pub fn service_name(&self) -> Option<&'static str> {
        match self {
            MasterKey::Service(s) => SERVICE_KINDS
                .iter()
                .find(|(k, _)| *k == s.kind)
                .map(|(_, n)| *n),
            _ => None,
        }
    }

    /// The entry as sops writes it.
    pub fn to_json(&self) -> Value {
        match self {
            MasterKey::Age(a) => json!({"recipient": a.recipient, "enc": a.enc}),
            MasterKey::Pgp(p) => json!({"created_at": p.created_at, "enc": p.enc, "fp": p.fp}),
            MasterKey::Kms(k) => Value::Object(k.fields.clone()),
            MasterKey::Vault(v) => json!({
                "vault_address": v.key.address,
                "engine_path": v.key.engine_path,
                "key_name": v.key.key_name,
                "created_at": v.created_at,
                "enc": v.enc,
            }),
            MasterKey::Service(s) => Value::Object(s.fields.clone()),
        }
    }

    /// Reads one entry of the list under metadata field `kind`; `None` for a field that
    /// holds no master keys.
    pub fn from_json(kind: &str, v: &Value) -> Result<Option<MasterKey>, String> {
        let m = v
            .as_object()
            .ok_or_else(|| format!("`{kind}` entry is not a map"))?;
        let s = |k: &str| m.get(k).and_then(Value::as_str);
        let checked = |enc: &str| -> Result<String, String> {
            if enc.len() > super::MAX_ENC_LEN {
                Err(format!(
                    "an `enc` entry is {} bytes long, more than the {} KiB any wrapped \
                     data key needs (refused unread)",
                    enc.len(),
                    super::MAX_ENC_LEN / 1024
                ))
            } else {
                Ok(enc.to_string())
            }
        };
        Ok(Some(match kind {
            "age" => match (s("recipient"), s("enc")) {
                (Some(r), Some(enc)) => MasterKey::Age(AgeEntry {
                    recipient: r.to_string(),
                    enc: checked(enc)?,
                }),
                _ => return Err("`age` entry needs `recipient` and `enc`".into()),
            },
            "pgp" => match (s("fp"), s("enc")) {
                (Some(fp), Some(enc)) => MasterKey::Pgp(PgpEntry {
                    fp: fp.to_string(),
                    enc: checked(enc)?,
                    created_at: s("created_at").unwrap_or_default().to_string(),
                }),
                _ => return Err("`pgp` entry needs `fp` and `enc`".into()),
            },
            "kms" => {
                if let Some(enc) = s("enc") {
                    checked(enc)?;
                }
                if s("arn").is_none() {
                    return Err("`kms` entry needs `arn`".into());
                }
                MasterKey::Kms(KmsEntry { fields: m.clone() })
            }
            "hc_vault" => match (
                s("vault_address"),
                s("engine_path"),
                s("key_name"),
                s("enc"),
            ) {
                (Some(a), Some(p), Some(k), Some(enc)) => {
                    MasterKey::Vault(super::vault::VaultEntry {
                        key: super::vault::VaultKey {
                            address: a.to_string(),
                            engine_path: p.to_string(),
                            key_name: k.to_string(),
                        },
                        created_at: s("created_at").unwrap_or_default().to_string(),
                        enc: checked(enc)?,
                    })
                }
                _ => {
                    return Err(
                        "`hc_vault` entry needs `vault_address`, `engine_path`, `key_name` and `enc`"
                            .into(),
                    );
                }
            },
            k if SERVICE_KINDS.iter().any(|(s, _)| *s == k) => {
                if let Some(enc) = s("enc") {
                    checked(enc)?;
                }
                MasterKey::Service(ServiceEntry {
                    kind: k.to_string(),
                    fields: m.clone(),
                })
            }
            _ => return Ok(None),
        }))
    }
}

/// The order sops 3.11 writes the kinds of a key group in (`key_groups` entries).
pub const GROUP_ORDER: [&str; 7] = [
    "pgp", "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "age",
];
