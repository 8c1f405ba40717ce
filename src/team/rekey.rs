//! One file's data key: re-wrapped to other recipients, or rotated.
//!
//! **Re-wrapping** keeps the data key, so every value token stays byte for byte what it
//! was; only the metadata's recipient entries change. An entry whose recipient stays is
//! kept as it is; a new recipient gets the data key (or, with Shamir key groups, its key
//! group's share) wrapped to it, which needs one of the caller's identities in that group.
//! Dropping recipients needs no key at all. When the number of key groups or the
//! threshold changes, the key is split anew and every entry re-wrapped (as sops does).
//!
//! **Rotating** decrypts the file (MAC verified), draws a new data key and encrypts every
//! value again for the same recipients (minus one, when a member leaves), keeping the key
//! groups, the threshold and the selection rules. The plaintext does not change.

use serde_json::Value;

mod layout;
pub use layout::{Layout, Source};

use crate::codec::mac::open_mac;
use crate::codec::metadata::{MasterKey, Metadata};
use crate::codec::shamir;
use crate::codec::token::DataKey;
use crate::engine::engine_error;
use crate::engine::{self, EngineError, KeyPlan, Sealed, unwrap_data_key};
use crate::error::{Error, exit};
use crate::format::Syntax;
use crate::keys::{
    GROUP_ORDER, IdentitySet, Recipient, describe, unwrap_cost, unwrap_entry, wrap_entry,
};

/// What changes in a file's recipients.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// Recipients added, with their key group.
    pub added: Vec<(usize, String)>,
    /// Recipients removed, with their key group.
    pub removed: Vec<(usize, String)>,
    /// The key is split anew (key groups or threshold changed): every entry is re-wrapped.
    pub resplit: bool,
    /// A new data key and new value ciphertext.
    pub rotated: bool,
}

impl Change {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && !self.resplit && !self.rotated
    }
}

/// The change from what a file is encrypted for to `target`. Needs no key.
pub fn plan(md: &Metadata, target: &Layout) -> Change {
    let now = Layout::of_file(md);
    let mut change = Change {
        resplit: now.groups.len() != target.groups.len()
            || now.effective_threshold() != target.effective_threshold(),
        ..Change::default()
    };
    let empty = Vec::new();
    for g in 0..now.groups.len().max(target.groups.len()) {
        let (old, new) = (
            now.groups.get(g).unwrap_or(&empty),
            target.groups.get(g).unwrap_or(&empty),
        );
        for r in new.iter().filter(|r| !old.contains(r)) {
            change.added.push((g, r.clone()));
        }
        for r in old.iter().filter(|r| !new.contains(r)) {
            change.removed.push((g, r.clone()));
        }
    }
    change
}

fn parse_recipient(name: &str, r: &str) -> Result<Recipient, Error> {
    Recipient::parse_any(r).map_err(|e| Error::file(name, exit::CONFIG, e.to_string()))
}

/// The data key (or share) of key group `g`, from the first entry an identity opens.
fn unwrap_part(
    name: &str,
    md: &Metadata,
    g: usize,
    ids: &IdentitySet,
) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    let group = md.groups.get(g).map(Vec::as_slice).unwrap_or(&[]);
    let mut order: Vec<&MasterKey> = group.iter().collect();
    order.sort_by_key(|e| unwrap_cost(e));
    for e in order {
        if let Ok(part) = unwrap_entry(ids, e) {
            return Ok(part);
        }
    }
    let e = EngineError::NoKey {
        recipients: group.iter().map(describe).collect(),
        searched: ids.searched().to_vec(),
        groups: String::new(),
    };
    let msg = if md.groups.len() > 1 {
        format!("cannot add to key group {g}: {e}")
    } else {
        e.to_string()
    };
    Err(Error::file(name, exit::NO_KEY, msg))
}

/// Checks a data key against the file's MAC.
fn verify_key(name: &str, md: &Metadata, key: &DataKey) -> Result<(), Error> {
    open_mac(&md.mac, key, &md.lastmodified).map(|_| ()).map_err(|_| {
        Error::file(
            name,
            exit::MAC_MISMATCH,
            "the data key unwrapped from the metadata does not match the file's MAC (file altered?)",
        )
    })
}

/// The flat metadata fields in the order sops 3.11 writes them; fields not listed follow
/// in their order.
const FLAT_ORDER: [&str; 19] = [
    "shamir_threshold",
    "key_groups",
    "kms",
    "gcp_kms",
    "hckms",
    "azure_kv",
    "hc_vault",
    "age",
    "lastmodified",
    "mac",
    "pgp",
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
    "mac_only_encrypted",
    "version",
];

/// Sets the age, pgp, AWS KMS and Vault transit entries of a map (a key group, or the flat
/// metadata) and puts its fields in sops's order; other kinds' lists are left as they are.
fn set_kinds(map: &mut serde_json::Map<String, Value>, entries: &[MasterKey], order: &[&str]) {
    for kind in ["pgp", "kms", "hc_vault", "age"] {
        let list: Vec<Value> = entries
            .iter()
            .filter(|e| e.kind() == kind)
            .map(MasterKey::to_json)
            .collect();
        if list.is_empty() {
            map.shift_remove(kind);
        } else {
            map.insert(kind.into(), Value::Array(list));
        }
    }
    let mut old = std::mem::take(map);
    for k in order {
        if let Some(v) = old.shift_remove(*k) {
            map.insert((*k).to_string(), v);
        }
    }
    map.extend(old);
}

/// Sets the age and pgp entries of key group `g` in a metadata tree.
fn set_group(tree: &mut Value, g: usize, entries: &[MasterKey]) {
    let Some(map) = tree.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(groups)) = map.get_mut("key_groups") {
        if let Some(Value::Object(group)) = groups.get_mut(g) {
            set_kinds(group, entries, &GROUP_ORDER);
        }
    } else {
        set_kinds(map, entries, &FLAT_ORDER);
    }
}

/// Re-wraps the data key of `text` to the layout `target` gives for the file's metadata,
/// keeping the data key (and so every value token). `None` when the file already has
/// exactly these recipients.
pub fn rewrap(
    name: &str,
    text: &str,
    syntax: Syntax,
    target: impl FnOnce(&Metadata) -> Result<Layout, Error>,
    ids: &IdentitySet,
) -> Result<Option<(String, Change)>, Error> {
    let sealed = Sealed::parse(text, syntax.format()).map_err(|e| engine_error(name, text, e))?;
    let md = &sealed.metadata;
    let target = &target(md)?;
    let change = plan(md, target);
    if change.is_empty() {
        return Ok(None);
    }
    target.check(name)?;
    let mut tree = sealed.metadata_value();
    if change.resplit {
        tree = resplit(name, &sealed, target, ids, tree)?;
    } else {
        for (g, wanted) in target.groups.iter().enumerate() {
            let old = &md.groups[g];
            // Entries of services sealed does not reach stay as they are.
            let kept =
                |e: &MasterKey| matches!(e, MasterKey::Service(_)) || wanted.contains(&e.label());
            let added: Vec<&String> = wanted
                .iter()
                .filter(|r| !old.iter().any(|e| &e.label() == *r))
                .collect();
            let removed = old.iter().any(|e| !kept(e));
            if added.is_empty() && !removed {
                continue;
            }
            let mut entries: Vec<MasterKey> = old.iter().filter(|e| kept(e)).cloned().collect();
            if !added.is_empty() {
                let part = unwrap_part(name, md, g, ids)?;
                if md.groups.len() == 1 {
                    let key = DataKey::from_slice(&part).map_err(|e| {
                        Error::file(name, exit::GENERIC, format!("the wrapped data key: {e}"))
                    })?;
                    verify_key(name, md, &key)?;
                } else if let Ok(key) = unwrap_data_key(md, ids) {
                    verify_key(name, md, &key)?;
                }
                for r in added {
                    let recipient = parse_recipient(name, r)?;
                    entries.push(
                        wrap_entry(&part, &recipient)
                            .map_err(|e| Error::file(name, exit::GENERIC, e.to_string()))?,
                    );
                }
            }
            set_group(&mut tree, g, &entries);
        }
    }
    let out = sealed
        .with_metadata(&tree)
        .map_err(|e| engine_error(name, text, e))?;
    Ok(Some((out.to_string(), change)))
}

/// A new split of the same data key into `target`'s groups, every entry wrapped anew.
fn resplit(
    name: &str,
    sealed: &Sealed<'_>,
    target: &Layout,
    ids: &IdentitySet,
    old_tree: Value,
) -> Result<Value, Error> {
    let md = &sealed.metadata;
    if let Some(service) = md.service_entries().find_map(MasterKey::service_name) {
        return Err(Error::file(
            name,
            exit::GENERIC,
            format!(
                "the key groups change, and the file also has {service} keys, which sealed \
                 does not reach yet; use `sops updatekeys` for this file"
            ),
        ));
    }
    let key =
        unwrap_data_key(md, ids).map_err(|e| Error::file(name, e.exit_code(), e.to_string()))?;
    verify_key(name, md, &key)?;
    let threshold = target.effective_threshold();
    let parts: Vec<zeroize::Zeroizing<Vec<u8>>> = match threshold {
        Some(t) => shamir::split(key.as_bytes(), target.groups.len(), t)
            .map_err(|e| Error::file(name, exit::GENERIC, e.to_string()))?
            .into_iter()
            .map(zeroize::Zeroizing::new)
            .collect(),
        None => vec![zeroize::Zeroizing::new(key.as_bytes().to_vec())],
    };
    let mut groups = Vec::new();
    for (group, part) in target.groups.iter().zip(&parts) {
        let mut entries = Vec::new();
        for r in group {
            let recipient = parse_recipient(name, r)?;
            entries.push(
                wrap_entry(part, &recipient)
                    .map_err(|e| Error::file(name, exit::GENERIC, e.to_string()))?,
            );
        }
        groups.push(entries);
    }
    let mut fresh = Metadata {
        groups,
        shamir_threshold: threshold,
        ..md.clone()
    }
    .to_value();
    // Keep fields sealed does not model, in their place at the end.
    if let (Some(new), Some(old)) = (fresh.as_object_mut(), old_tree.as_object()) {
        for (k, v) in old {
            if !new.contains_key(k)
                && !["age", "pgp", "hc_vault", "key_groups", "shamir_threshold"]
                    .contains(&k.as_str())
            {
                new.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(fresh)
}

/// Rotates the data key of `text`: decrypts (MAC verified), then encrypts every value under
/// a new key for the recipients, key groups and threshold `target` gives for the file's
/// metadata, with the same selection rules.
pub fn rotate(
    name: &str,
    text: &str,
    syntax: Syntax,
    target: impl FnOnce(&Metadata) -> Result<Layout, Error>,
    ids: &IdentitySet,
) -> Result<(String, Change), Error> {
    let sealed = Sealed::parse(text, syntax.format()).map_err(|e| engine_error(name, text, e))?;
    let md = &sealed.metadata;
    if let Some(service) = md.service_entries().find_map(MasterKey::service_name) {
        return Err(Error::file(
            name,
            exit::GENERIC,
            format!(
                "the file also has {service} keys, which sealed does not reach yet, so it \
                 cannot wrap a new data key to them; rotate it with `sops rotate`"
            ),
        ));
    }
    let target = target(md)?;
    target.check(name)?;
    let key = unwrap_data_key(md, ids).map_err(|e| engine_error(name, text, e))?;
    let plain = sealed
        .decrypt(&key)
        .map_err(|e| engine_error(name, text, e))?;
    let groups = target
        .groups
        .iter()
        .map(|g| g.iter().map(|r| parse_recipient(name, r)).collect())
        .collect::<Result<Vec<Vec<Recipient>>, Error>>()?;
    let plan_ = KeyPlan {
        groups,
        threshold: target.effective_threshold(),
    };
    let (out, _) = engine::encrypt(&plain, syntax.format(), &plan_, &md.selection)
        .map_err(|e| Error::file(name, e.exit_code(), e.to_string()))?;
    let mut change = plan(md, &target);
    change.rotated = true;
    Ok((out.to_string(), change))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::metadata::default_selection;
    use age::secrecy::ExposeSecret;

    struct Key {
        secret: String,
        public: String,
    }

    fn key() -> Key {
        let id = age::x25519::Identity::generate();
        Key {
            secret: id.to_string().expose_secret().to_string(),
            public: id.to_public().to_string(),
        }
    }

    fn ids(keys: &[&Key]) -> IdentitySet {
        let text: String = keys.iter().map(|k| format!("{}\n", k.secret)).collect();
        IdentitySet::from_keys_text(&text, "test").unwrap()
    }

    fn tokens(text: &str) -> Vec<&str> {
        text.match_indices("ENC[")
            .map(|(i, _)| &text[i..i + text[i..].find(']').unwrap() + 1])
            .collect()
    }

    const PLAIN: &str = "a: 1\nb: two # note\n";

    fn encrypt_for(k: &Key) -> String {
        let plan = KeyPlan {
            groups: vec![vec![Recipient::parse(&k.public).unwrap()]],
            threshold: None,
        };
        let (out, _) =
            engine::encrypt(PLAIN, Syntax::Yaml.format(), &plan, &default_selection()).unwrap();
        out.to_string()
    }

    fn decrypt(text: &str, with: &[&Key]) -> Option<String> {
        let sealed = Sealed::parse(text, Syntax::Yaml.format()).ok()?;
        let key = unwrap_data_key(&sealed.metadata, &ids(with)).ok()?;
        sealed.decrypt(&key).ok().map(|p| p.to_string())
    }

    fn layout(groups: &[&[&Key]], threshold: Option<usize>) -> Layout {
        Layout {
            groups: groups
                .iter()
                .map(|g| g.iter().map(|k| k.public.clone()).collect())
                .collect(),
            threshold,
        }
    }

    #[test]
    fn rewrap_keeps_every_token_and_resplits_when_groups_change() {
        let (alice, bob) = (key(), key());
        let enc = encrypt_for(&alice);
        let both = layout(&[&[&alice, &bob]], None);
        let (added, change) = rewrap(
            "f",
            &enc,
            Syntax::Yaml,
            |_| Ok(both.clone()),
            &ids(&[&alice]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(change.added, vec![(0, bob.public.clone())]);
        assert_eq!(tokens(&added), tokens(&enc));
        assert_eq!(decrypt(&added, &[&bob]).as_deref(), Some(PLAIN));
        // Nothing to do the second time.
        assert!(
            rewrap(
                "f",
                &added,
                Syntax::Yaml,
                |_| Ok(both.clone()),
                &ids(&[&bob])
            )
            .unwrap()
            .is_none()
        );
        // Dropping needs no key at all.
        let only_bob = layout(&[&[&bob]], None);
        let (dropped, _) = rewrap("f", &added, Syntax::Yaml, |_| Ok(only_bob), &ids(&[]))
            .unwrap()
            .unwrap();
        assert!(decrypt(&dropped, &[&alice]).is_none());
        // Two groups, threshold 2: split anew, same value tokens.
        let split = layout(&[&[&alice], &[&bob]], Some(2));
        let (shamir, change) = rewrap("f", &added, Syntax::Yaml, |_| Ok(split), &ids(&[&alice]))
            .unwrap()
            .unwrap();
        assert!(change.resplit);
        assert_eq!(tokens(&shamir)[..3], tokens(&enc)[..3]);
        assert!(decrypt(&shamir, &[&alice]).is_none());
        assert_eq!(decrypt(&shamir, &[&alice, &bob]).as_deref(), Some(PLAIN));
    }

    #[test]
    fn rotate_changes_every_token_and_refuses_an_empty_group() {
        let alice = key();
        let enc = encrypt_for(&alice);
        let same = |md: &Metadata| Ok(Layout::of_file(md));
        let (rotated, change) = rotate("f", &enc, Syntax::Yaml, same, &ids(&[&alice])).unwrap();
        assert!(change.rotated);
        let old = tokens(&enc);
        assert!(tokens(&rotated).iter().all(|t| !old.contains(t)));
        assert_eq!(decrypt(&rotated, &[&alice]).as_deref(), Some(PLAIN));
        let e = rotate(
            "f",
            &enc,
            Syntax::Yaml,
            |md: &Metadata| Ok(Layout::of_file(md).without(&alice.public)),
            &ids(&[&alice]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("without any age recipient"), "{e}");
    }

    #[test]
    fn recipients_come_from_the_rules_never_from_the_file() {
        let (alice, bob, mallory) = (key(), key(), key());
        let md = Metadata {
            groups: vec![vec![
                MasterKey::Age(crate::keys::AgeEntry {
                    recipient: alice.public.clone(),
                    enc: String::new(),
                }),
                MasterKey::Age(crate::keys::AgeEntry {
                    recipient: mallory.public.clone(),
                    enc: String::new(),
                }),
            ]],
            ..Sealed::parse(&encrypt_for(&alice), Syntax::Yaml.format())
                .unwrap()
                .metadata
        };
        let rule = layout(&[&[&alice, &bob]], None);
        let source = Source {
            given: Some(rule.clone()),
            ..Source::default()
        };
        let (got, warning) = source.layout("f", &md).unwrap();
        assert_eq!(got, rule);
        let warning = warning.unwrap();
        assert!(
            warning.contains(&format!("dropped {}", mallory.public)),
            "{warning}"
        );
        let keep = Source {
            keep_file: true,
            ..source.clone()
        };
        let (got, warning) = keep.layout("f", &md).unwrap();
        assert!(got.contains(&mallory.public) && got.contains(&bob.public));
        assert!(warning.unwrap().contains("kept"));
        // Nothing given: refused, unless the user opts in.
        let none = Source {
            how: "pass --age".into(),
            ..Source::default()
        };
        let e = none.layout("f", &md).unwrap_err().to_string();
        assert!(e.contains("pass --age"), "{e}");
        let (got, _) = Source {
            keep_file: true,
            without: Some(mallory.public.clone()),
            ..none
        }
        .layout("f", &md)
        .unwrap();
        assert_eq!(got, layout(&[&[&alice]], None));
    }
}
