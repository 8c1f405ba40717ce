//! The data model used to check edits: `.sops.yaml` as data with every recipient field
//! (`age`, `pgp`, a plain `kms`, `hc_vault_transit_uri`, a group's `hc_vault`) a list of
//! single recipients, and the changes `add` and `remove` should make to it.

use serde_json::{Map, Value};

use super::REGISTRY_KEY;

pub(super) fn has_key_groups(rule: &Map<String, Value>) -> bool {
    matches!(rule.get("key_groups"), Some(Value::Array(g)) if !g.is_empty())
}

/// The fields that hold recipients as strings (a key group's `kms` holds mappings).
const FIELDS: [&str; 5] = ["age", "pgp", "kms", "hc_vault_transit_uri", "hc_vault"];

pub(super) fn split_recipients(v: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut push = |s: &str| {
        out.extend(
            s.split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(|r| Value::String(r.to_string())),
        );
    };
    match v {
        Value::String(s) => push(s),
        Value::Array(items) => {
            for i in items {
                if let Value::String(s) = i {
                    push(s);
                }
            }
        }
        _ => {}
    }
    out
}

/// Every `age` field under `creation_rules` (rules, key groups, merged groups) as a list of
/// single recipients, and a null registry as an empty mapping.
pub(super) fn normalize(doc: &Value) -> Value {
    fn ages(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    if FIELDS.contains(&k.as_str()) {
                        *child = Value::Array(split_recipients(child));
                    } else {
                        ages(child);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(ages),
            _ => {}
        }
    }
    let mut doc = doc.clone();
    if let Some(top) = doc.as_object_mut() {
        if let Some(rules) = top.get_mut("creation_rules") {
            ages(rules);
        }
        if let Some(reg @ Value::Null) = top.get_mut(REGISTRY_KEY) {
            *reg = Value::Object(Map::new());
        }
    }
    doc
}

/// The `.sops.yaml` fields a recipient label is written under, in a rule and in a key
/// group, and its text there: `pgp` and the fingerprint for `pgp:FINGERPRINT`, `kms` and
/// `ARN[+ROLE]` for `kms:ARN[+ROLE]` (a group's `kms` is a list of mappings, which `team`
/// does not edit), `hc_vault_transit_uri` / `hc_vault` for a Vault transit URI, else `age`.
pub(crate) fn fields_of(recipient: &str) -> (&'static str, &'static str, &str) {
    if let Some(fp) = recipient.strip_prefix(crate::keys::PGP_PREFIX) {
        return ("pgp", "pgp", fp);
    }
    if let Some(k) = recipient.strip_prefix(crate::keys::KMS_PREFIX) {
        return ("kms", "kms", k);
    }
    if recipient.starts_with("https://") || recipient.starts_with("http://") {
        return ("hc_vault_transit_uri", "hc_vault", recipient);
    }
    ("age", "age", recipient)
}

/// Adds `recipient` (its text in `.sops.yaml`) to the list `field` of `target`.
pub(super) fn push_age(target: &mut Map<String, Value>, field: &str, recipient: &str) {
    let list = target.entry(field).or_insert_with(|| Value::Array(vec![]));
    if !list.is_array() {
        *list = Value::Array(vec![]);
    }
    if let Value::Array(items) = list
        && !items.iter().any(|v| v.as_str() == Some(recipient))
    {
        items.push(Value::String(recipient.to_string()));
    }
}

pub(super) fn remove_age(v: &mut Value, recipient: &str) {
    let (field, group_field, text) = fields_of(recipient);
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if k == field || k == group_field {
                    let recipient = text;
                    if let Value::Array(items) = child {
                        items.retain(|r| r.as_str() != Some(recipient));
                    }
                } else {
                    remove_age(child, recipient);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| remove_age(i, recipient)),
        _ => {}
    }
}

pub(super) fn registry_mut(top: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let reg = top
        .entry(REGISTRY_KEY)
        .or_insert_with(|| Value::Object(Map::new()));
    if !reg.is_object() {
        *reg = Value::Object(Map::new());
    }
    reg.as_object_mut().expect("made an object above")
}
