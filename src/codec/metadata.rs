//! The `sops` metadata block (`stores/stores.go`): data key wrapped per recipient,
//! `lastmodified`, the encrypted `mac`, the value-selection rule and `version`, read from
//! and written to a JSON tree that each syntax serializes in its own way.

use serde_json::{Map, Value, json};

use super::CodecError;
use super::selection::Selection;

/// The SOPS version sealed writes into files (the format it is compatible with).
pub const SOPS_VERSION: &str = "3.11.0";

/// The name of sealed's own field in the metadata: an encrypted JSON object with what is
/// needed to restore the original spelling byte for byte. SOPS ignores unknown fields.
pub const SEALED_FIELD: &str = "sealed";

/// One age recipient with the data key (or its Shamir share) wrapped to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeEntry {
    /// `age1…`, `ssh-ed25519 …` or `ssh-rsa …`.
    pub recipient: String,
    /// Armored age file holding the wrapped key.
    pub enc: String,
}

/// A document's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// Key groups. A file with a plain `age:` list has exactly one group.
    pub groups: Vec<Vec<AgeEntry>>,
    /// Whether the groups are written as `key_groups` (Shamir) rather than `age`.
    pub shamir_threshold: Option<usize>,
    /// Number of master keys of kinds sealed does not handle (pgp, kms, vault…).
    pub foreign_keys: usize,
    /// `lastmodified`, as written.
    pub lastmodified: String,
    /// The encrypted MAC token.
    pub mac: String,
    /// Value-selection rules.
    pub selection: Selection,
    /// `version`.
    pub version: String,
    /// sealed's extra encrypted field, if present.
    pub sealed: Option<String>,
}

fn get_str<'a>(m: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    m.get(k).and_then(Value::as_str)
}

fn age_entries(v: Option<&Value>) -> Result<Vec<AgeEntry>, CodecError> {
    let Some(list) = v else { return Ok(vec![]) };
    let list = list
        .as_array()
        .ok_or_else(|| CodecError::Metadata("`age` is not a list".into()))?;
    list.iter()
        .map(|e| {
            let m = e
                .as_object()
                .ok_or_else(|| CodecError::Metadata("`age` entry is not a map".into()))?;
            match (get_str(m, "recipient"), get_str(m, "enc")) {
                (Some(_), Some(enc)) if enc.len() > crate::keys::MAX_ENC_LEN => {
                    Err(CodecError::Metadata(format!(
                        "an `enc` entry is {} bytes long, more than the {} KiB any wrapped \
                         data key needs (refused unread)",
                        enc.len(),
                        crate::keys::MAX_ENC_LEN / 1024
                    )))
                }
                (Some(r), Some(enc)) => Ok(AgeEntry {
                    recipient: r.to_string(),
                    enc: enc.to_string(),
                }),
                _ => Err(CodecError::Metadata(
                    "`age` entry needs `recipient` and `enc`".into(),
                )),
            }
        })
        .collect()
}

fn count_foreign(m: &Map<String, Value>) -> usize {
    ["pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms"]
        .iter()
        .filter_map(|k| m.get(*k).and_then(Value::as_array))
        .map(Vec::len)
        .sum()
}

impl Metadata {
    /// Reads the metadata tree.
    pub fn from_value(v: &Value) -> Result<Metadata, CodecError> {
        let m = v
            .as_object()
            .ok_or_else(|| CodecError::Metadata("`sops` is not a map".into()))?;
        let mut foreign = count_foreign(m);
        let mut groups = Vec::new();
        let shamir_threshold;
        if let Some(kg) = m.get("key_groups") {
            let kg = kg
                .as_array()
                .ok_or_else(|| CodecError::Metadata("`key_groups` is not a list".into()))?;
            for g in kg {
                let g = g
                    .as_object()
                    .ok_or_else(|| CodecError::Metadata("key group is not a map".into()))?;
                foreign += count_foreign(g);
                groups.push(age_entries(g.get("age"))?);
            }
            let t = m.get("shamir_threshold").and_then(|t| {
                t.as_u64()
                    .or_else(|| t.as_str().and_then(|s| s.parse().ok()))
            });
            shamir_threshold = Some(t.map_or(groups.len(), |t| t as usize));
        } else {
            groups.push(age_entries(m.get("age"))?);
            shamir_threshold = None;
        }
        let lastmodified = get_str(m, "lastmodified")
            .ok_or_else(|| CodecError::Metadata("no `lastmodified`".into()))?
            .to_string();
        let mac = get_str(m, "mac").unwrap_or_default().to_string();
        let s = |k: &str| get_str(m, k).map(str::to_string);
        let selection = Selection {
            unencrypted_suffix: s("unencrypted_suffix"),
            encrypted_suffix: s("encrypted_suffix"),
            unencrypted_regex: s("unencrypted_regex"),
            encrypted_regex: s("encrypted_regex"),
            unencrypted_comment_regex: s("unencrypted_comment_regex"),
            encrypted_comment_regex: s("encrypted_comment_regex"),
            mac_only_encrypted: match m.get("mac_only_encrypted") {
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) => s == "true",
                _ => false,
            },
        };
        // SOPS refuses a file without a version ("Version string empty"); so does sealed, which
        // also makes a file cut inside its metadata fail rather than decrypt.
        let version = s("version")
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| CodecError::Metadata("version missing".into()))?;
        Ok(Metadata {
            groups,
            shamir_threshold,
            foreign_keys: foreign,
            lastmodified,
            mac,
            selection,
            version,
            sealed: s(SEALED_FIELD),
        })
    }

    /// All recipients of all groups.
    pub fn recipients(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().flatten().map(|e| e.recipient.as_str())
    }

    /// The metadata tree, in the field order SOPS 3.11 writes.
    pub fn to_value(&self) -> Value {
        let entries = |g: &[AgeEntry]| -> Value {
            g.iter()
                .map(|e| json!({"recipient": e.recipient, "enc": e.enc}))
                .collect()
        };
        let mut m = Map::new();
        match self.shamir_threshold {
            Some(t) => {
                m.insert("shamir_threshold".into(), json!(t));
                let groups: Vec<Value> = self
                    .groups
                    .iter()
                    .map(|g| json!({"age": entries(g)}))
                    .collect();
                m.insert("key_groups".into(), Value::Array(groups));
            }
            None => {
                m.insert(
                    "age".into(),
                    entries(self.groups.first().map_or(&[], |g| g)),
                );
            }
        }
        m.insert("lastmodified".into(), json!(self.lastmodified));
        m.insert("mac".into(), json!(self.mac));
        let sel = &self.selection;
        let rule = [
            ("unencrypted_suffix", &sel.unencrypted_suffix),
            ("encrypted_suffix", &sel.encrypted_suffix),
            ("unencrypted_regex", &sel.unencrypted_regex),
            ("encrypted_regex", &sel.encrypted_regex),
            ("unencrypted_comment_regex", &sel.unencrypted_comment_regex),
            ("encrypted_comment_regex", &sel.encrypted_comment_regex),
        ];
        for (k, v) in rule {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        if sel.mac_only_encrypted {
            m.insert("mac_only_encrypted".into(), json!(true));
        }
        m.insert("version".into(), json!(self.version));
        if let Some(s) = &self.sealed {
            m.insert(SEALED_FIELD.into(), json!(s));
        }
        Value::Object(m)
    }
}

/// The selection SOPS writes when none is configured.
pub fn default_selection() -> Selection {
    Selection {
        unencrypted_suffix: Some("_unencrypted".into()),
        ..Selection::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_value() {
        let md = Metadata {
            groups: vec![vec![AgeEntry {
                recipient: "age1x".into(),
                enc: "-----BEGIN AGE ENCRYPTED FILE-----\n".into(),
            }]],
            shamir_threshold: None,
            foreign_keys: 0,
            lastmodified: "2026-01-01T00:00:00Z".into(),
            mac: "ENC[...]".into(),
            selection: default_selection(),
            version: SOPS_VERSION.into(),
            sealed: None,
        };
        let v = md.to_value();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "age",
                "lastmodified",
                "mac",
                "unencrypted_suffix",
                "version"
            ]
        );
        assert_eq!(Metadata::from_value(&v).unwrap(), md);
    }

    #[test]
    fn oversize_enc_entries_are_refused() {
        let md = |len: usize| {
            json!({"key_groups": [{"age": [{"recipient": "age1x", "enc": "A".repeat(len)}]}],
                   "lastmodified": "2026-01-01T00:00:00Z", "version": "3.11.0"})
        };
        assert!(Metadata::from_value(&md(crate::keys::MAX_ENC_LEN)).is_ok());
        let err = Metadata::from_value(&md(crate::keys::MAX_ENC_LEN + 1)).unwrap_err();
        assert!(err.to_string().contains("more than the 64 KiB"), "{err}");
    }

    #[test]
    fn a_missing_version_is_refused_like_sops() {
        let md = |v: serde_json::Value| json!({"key_groups": [], "lastmodified": "2026-01-01T00:00:00Z", "version": v});
        assert!(Metadata::from_value(&md(json!("3.11.0"))).is_ok());
        for bad in [json!(""), json!("  "), serde_json::Value::Null] {
            let err = Metadata::from_value(&md(bad)).unwrap_err();
            assert!(err.to_string().contains("version"), "{err}");
        }
    }
}
