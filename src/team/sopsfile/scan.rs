//! Where the edits go: the `age` (or `pgp`) leaves of each creation rule and the registry's entries,
//! found in the outline of a `.sops.yaml`'s first document.

use super::REGISTRY_KEY;
use crate::edit::entries::{entry_key, leaves, split};
use crate::format::{Insertion, Item, Leaf, Outline, Scalar, Style};

/// The positions the edits need, from the outline of the first document.
pub(super) struct Scan<'a> {
    pub(super) rules: Vec<RuleScan<'a>>,
    pub(super) registry: Vec<(&'a str, &'a Leaf<'a>)>,
    pub(super) registry_null: Option<&'a Leaf<'a>>,
    pub(super) registry_present: bool,
    pub(super) insertion: Option<usize>,
    pub(super) single_doc: bool,
}

#[derive(Default)]
pub(super) struct RuleScan<'a> {
    /// The rule's own `age`: one scalar (depth 2) or list items (depth 3).
    pub(super) age: Vec<&'a Leaf<'a>>,
    /// `key_groups[g].age` list items, per group.
    pub(super) groups: Vec<Vec<&'a Leaf<'a>>>,
    /// Every leaf of an `age` field anywhere in the rule (merged groups included).
    pub(super) all_age: Vec<&'a Leaf<'a>>,
    /// The first one-line scalar entry of the rule mapping.
    pub(super) first_scalar: Option<&'a Leaf<'a>>,
}

impl<'a> Scan<'a> {
    /// The scan for recipients written under `field` in a rule and `group_field` in a key
    /// group (`age`, `pgp`, `kms`; `hc_vault_transit_uri` and `hc_vault`).
    pub(super) fn of(outline: &'a Outline<'a>, field: &str, group_field: &str) -> Scan<'a> {
        let mut scan = Scan {
            rules: vec![],
            registry: vec![],
            registry_null: None,
            registry_present: false,
            insertion: None,
            single_doc: outline.docs.len() == 1,
        };
        let Some(doc) = outline.docs.first() else {
            return scan;
        };
        if let Insertion::Block { at } = doc.insertion {
            scan.insertion = Some(at);
        }
        for top in split(&doc.items, 0) {
            match entry_key(top, 0) {
                Some("creation_rules") => {
                    scan.rules = split(top, 1)
                        .into_iter()
                        .map(|r| RuleScan::of(r, field, group_field))
                        .collect();
                }
                Some(REGISTRY_KEY) => {
                    scan.registry_present = true;
                    for leaf in leaves(top) {
                        if leaf.path.len() == 2 && leaf.depth == 1 {
                            scan.registry.push((&leaf.path[1], leaf));
                        } else if leaf.path.len() == 1 && leaf.value == Scalar::Null {
                            scan.registry_null = Some(leaf);
                        }
                    }
                }
                _ => {}
            }
        }
        scan
    }
}

impl<'a> RuleScan<'a> {
    pub(super) fn of(rule: &'a [Item], field: &str, group_field: &str) -> RuleScan<'a> {
        let mut out = RuleScan::default();
        for entry in split(rule, 2) {
            match entry_key(entry, 1) {
                Some(f) if f == field => {
                    out.age = leaves(entry)
                        .filter(|l| l.path.len() == 2 && (l.depth == 2 || l.depth == 3))
                        .collect();
                }
                Some("key_groups") => {
                    out.groups = split(entry, 3)
                        .into_iter()
                        .map(|g| {
                            leaves(g)
                                .filter(|l| {
                                    l.depth == 5
                                        && l.path.len() == 3
                                        && &l.path[1] == "key_groups"
                                        && &l.path[2] == group_field
                                })
                                .collect()
                        })
                        .collect();
                }
                _ => {}
            }
        }
        out.all_age = leaves(rule)
            .filter(|l| {
                l.path.len() >= 2
                    && (l.path.last() == Some(field) || l.path.last() == Some(group_field))
            })
            .collect();
        out.first_scalar = leaves(rule).find(|l| {
            l.depth == 2
                && l.path.len() == 2
                && !l.in_flow
                && !matches!(l.style, Style::Block(_))
                && !l.span.is_empty()
        });
        out
    }
}
