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

pub use crate::keys::{AgeEntry, MasterKey, PgpEntry, ServiceEntry};
use crate::keys::{GROUP_ORDER, SERVICE_KINDS};

/// A document's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// Key groups, each with its master keys in sops's kind order. A file with plain
    /// `age:`/`pgp:`… lists has exactly one group.
    pub groups: Vec<Vec<MasterKey>>,
    /// Whether the groups are written as `key_groups` (Shamir) rather than flat lists.
    pub shamir_threshold: Option<usize>,
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

/// The master keys of one group (or of the flat metadata), in sops's kind order.
fn group_entries(m: &Map<String, Value>) -> Result<Vec<MasterKey>, CodecError> {
    let mut out = Vec::new();
    for kind in GROUP_ORDER {
        let list = match m.get(kind) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(list)) => list,
            Some(_) => return Err(CodecError::Metadata(format!("`{kind}` is not a list"))),
        };
        for e in list {
            if let Some(k) = MasterKey::from_json(kind, e).map_err(CodecError::Metadata)? {
                out.push(k);
            }
        }
    }
    Ok(out)
}

impl Metadata {
    /// Reads the metadata tree.
    pub fn from_value(v: &Value) -> Result<Metadata, CodecError> {
        let m = v
            .as_object()
            .ok_or_else(|| CodecError::Metadata("`sops` is not a map".into()))?;
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
                groups.push(group_entries(g)?);
            }
            let t = m.get("shamir_threshold").and_then(|t| {
                t.as_u64()
                    .or_else(|| t.as_str().and_then(|s| s.parse().ok()))
            });
            shamir_threshold = Some(t.map_or(groups.len(), |t| t as usize));
        } else {
            groups.push(group_entries(m)?);
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
            lastmodified,
            mac,
            selection,
            version,
            sealed: s(SEALED_FIELD),
        })
    }

    /// All recipients of all groups, as labels ([`MasterKey::label`]).
    pub fn recipients(&self) -> impl Iterator<Item = String> + '_ {
        self.groups.iter().flatten().map(MasterKey::label)
    }

    /// The entries of key services sealed does not reach (kms, vault…).
    pub fn service_entries(&self) -> impl Iterator<Item = &MasterKey> {
        self.groups
            .iter()
            .flatten()
            .filter(|e| matches!(e, MasterKey::Service(_)))
    }

    /// The metadata tree, in the field order SOPS 3.11 writes.
    pub fn to_value(&self) -> Value {
        let list = |g: &[MasterKey], kind: &str| -> Option<Value> {
            let v: Vec<Value> = g
                .iter()
                .filter(|e| e.kind() == kind)
                .map(MasterKey::to_json)
                .collect();
            (!v.is_empty()).then_some(Value::Array(v))
        };
        let mut m = Map::new();
        let flat = self.groups.first().map_or(&[][..], |g| g);
        match self.shamir_threshold {
            Some(t) => {
                m.insert("shamir_threshold".into(), json!(t));
                let groups: Vec<Value> = self
                    .groups
                    .iter()
                    .map(|g| {
                        let mut gm = Map::new();
                        for kind in GROUP_ORDER {
                            if let Some(v) = list(g, kind) {
                                gm.insert(kind.into(), v);
                            }
                        }
                        Value::Object(gm)
                    })
                    .collect();
                m.insert("key_groups".into(), Value::Array(groups));
            }
            None => {
                for (kind, _) in SERVICE_KINDS {
                    if let Some(v) = list(flat, kind) {
                        m.insert(kind.into(), v);
                    }
                }
                // Flat lists: services and age before `lastmodified`, pgp after `mac`;
                // empty ones are left out (sops's omitempty).
                if let Some(v) = list(flat, "age") {
                    m.insert("age".into(), v);
                }
            }
        }
        m.insert("lastmodified".into(), json!(self.lastmodified));
        m.insert("mac".into(), json!(self.mac));
        if self.shamir_threshold.is_none()
            && let Some(v) = list(flat, "pgp")
        {
            m.insert("pgp".into(), v);
        }
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
            groups: vec![vec![MasterKey::Age(AgeEntry {
                recipient: "age1x".into(),
                enc: "-----BEGIN AGE ENCRYPTED FILE-----\n".into(),
            })]],
            shamir_threshold: None,
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

    #[test]
    fn every_kind_is_kept_in_sops_order() {
        let kms = json!({"arn": "arn:aws:kms:us-east-1:1:key/x", "role": "", "context": null,
                         "created_at": "t", "enc": "AQI", "aws_profile": ""});
        let pgp = json!({"created_at": "t", "enc": "-----BEGIN PGP MESSAGE-----", "fp": "AB12"});
        let age = json!({"recipient": "age1x", "enc": "E"});
        let flat = json!({"kms": [kms], "age": [age], "lastmodified": "t", "mac": "m",
                          "pgp": [pgp], "unencrypted_suffix": "_unencrypted", "version": "3.11.0"});
        let md = Metadata::from_value(&flat).unwrap();
        let kinds: Vec<&str> = md.groups[0].iter().map(MasterKey::kind).collect();
        assert_eq!(kinds, ["pgp", "kms", "age"]);
        assert_eq!(md.to_value(), flat);
        assert_eq!(
            serde_json::to_string(&md.to_value()).unwrap(),
            serde_json::to_string(&flat).unwrap()
        );
        // kms is used (keys::kms), so it is no longer a kept-only service entry.
        assert_eq!(md.service_entries().count(), 0);
        let labels: Vec<String> = md.recipients().collect();
        assert_eq!(
            labels,
            ["pgp:AB12", "kms:arn:aws:kms:us-east-1:1:key/x", "age1x"]
        );

        let grouped = json!({"shamir_threshold": 2, "key_groups": [
            {"pgp": [pgp], "hc_vault": [{"vault_address": "http://v", "engine_path": "transit",
              "key_name": "k", "created_at": "t", "enc": "vault:v1:x"}], "age": [age]},
            {"age": [age]}], "lastmodified": "t", "mac": "m", "version": "3.11.0"});
        let md = Metadata::from_value(&grouped).unwrap();
        assert_eq!(md.groups[0].len(), 3);
        assert_eq!(md.to_value(), grouped);
    }
}
