//! The AWS KMS keys of a creation rule: the plain `kms:` string (`ARN[+ROLE],…`) with the
//! rule's `aws_profile`, and `kms:` lists of key groups (`arn`, `role`, `context`,
//! `aws_profile`), as sops reads them.

use serde_json::Value;

use super::{opt_string, recipients_field};

/// Appends AWS KMS keys as `kms:…` recipients, and records that `.sops.yaml` names their
/// roles and profiles (a file's entry may then use them: `keys::kms`).
fn push_kms(out: &mut Vec<String>, keys: Vec<crate::keys::kms::KmsKey>) {
    for k in keys {
        crate::keys::kms::trust(&k);
        out.push(k.text());
    }
}

/// A rule's plain `kms:` (`ARN[+ROLE],…`, a string or a list) with its `aws_profile`.
pub(super) fn plain_kms(rule: &serde_json::Map<String, Value>) -> Result<Vec<String>, String> {
    let profile = opt_string(rule, "aws_profile")?.unwrap_or_default();
    let mut out = Vec::new();
    for item in recipients_field(rule.get("kms"), "kms")? {
        let keys = crate::keys::kms::parse_arn_list(&item, &Default::default(), &profile)
            .map_err(|e| format!(".kms: {e}"))?;
        push_kms(&mut out, keys);
    }
    Ok(out)
}

/// A key group's `kms:` list: maps with `arn`, `role`, `context`, `aws_profile`.
pub(super) fn group_kms(
    items: &[Value],
    index: usize,
    out: &mut Vec<String>,
) -> Result<(), String> {
    let at = |f: &str| format!(".key_groups[{index}].kms{f}");
    for item in items {
        let Value::Object(m) = item else {
            return Err(format!(
                "{}: expected a list of mappings with `arn`",
                at("")
            ));
        };
        let field = |k: &str| -> Result<String, String> {
            opt_string(m, k)
                .map(Option::unwrap_or_default)
                .map_err(|e| format!("{}{e}", at("")))
        };
        let mut context = std::collections::BTreeMap::new();
        match m.get("context") {
            None | Some(Value::Null) => {}
            Some(Value::Object(c)) => {
                for (k, v) in c {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return Err(format!("{}: expected string values", at(".context"))),
                    };
                    context.insert(k.clone(), v);
                }
            }
            Some(_) => return Err(format!("{}: expected a mapping", at(".context"))),
        }
        let key = crate::keys::kms::KmsKey::new(
            &field("arn")?,
            &field("role")?,
            context,
            &field("aws_profile")?,
        )
        .map_err(|e| format!("{}: {e}", at("")))?;
        push_kms(out, vec![key]);
    }
    Ok(())
}
