//! `.sops.yaml` as the team's membership list: a top-level `sealed_members:` mapping
//! (`name: recipient`, which sops ignores like any unknown top-level key) and the age
//! recipients of each creation rule, as a list (`- age1… # name`) or a comma-separated
//! string (plain, quoted or folded), or in a rule's `key_groups`.
//!
//! Edits are made by the format-preserving editor `set`/`unset` use ([`crate::edit`]):
//! [`crate::edit::entries`] places list items, comma-string recipients and mapping entries
//! at the byte spans the YAML outline gives, so comments, order, quoting and indentation
//! stay as they were, and [`crate::edit::splice::apply`] applies them. Every edit is checked by
//! reading the result back: the new file must hold exactly the old data with the intended
//! recipients added or removed, else nothing is written and the error says why (YAML
//! aliases for recipients, flow layouts sealed cannot extend, …).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::TeamError;
use crate::config::Config;
use crate::edit::entries::{self, is_block_item};
use crate::edit::splice::{Splice, apply};
use crate::format::lines::line_end;
use crate::format::{Item, Leaf, Outline, Scalar, Syntax, yaml_value};
pub use check::{check_name, check_recipient_text};
use model::{fields_of, has_key_groups, normalize, push_age, registry_mut, remove_age};
use scan::{RuleScan, Scan};

/// The top-level key of the member registry.
pub const REGISTRY_KEY: &str = "sealed_members";

/// One member of the team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's name (`[A-Za-z][A-Za-z0-9._@+-]*`).
    pub name: String,
    /// The recipient (`age1…`, `ssh-ed25519 …`, `ssh-rsa …`) as written.
    pub recipient: String,
}

/// A `.sops.yaml`: its text, its rules as sops reads them, and its first document as data.
pub struct SopsFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// The text.
    pub text: String,
    /// The creation rules, as sops reads them.
    pub config: Config,
    docs: Vec<Value>,
}

/// The new text of a `.sops.yaml` after adding or removing a member.
#[derive(Debug, Clone)]
pub struct Edit {
    /// The whole new text.
    pub text: String,
    /// Indexes of the creation rules whose recipients changed.
    pub rules_changed: Vec<usize>,
    /// Whether the registry changed.
    pub registry_changed: bool,
}

impl Edit {
    /// Whether anything changed at all.
    pub fn is_empty(&self) -> bool {
        self.rules_changed.is_empty() && !self.registry_changed
    }
}

impl SopsFile {
    /// Reads and validates a `.sops.yaml`.
    pub fn load(path: &Path) -> Result<SopsFile, TeamError> {
        let config = Config::load(path).map_err(|e| TeamError::Config {
            file: e.file,
            msg: e.msg,
        })?;
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| TeamError::Config {
            file: file.clone(),
            msg: format!("cannot read: {e}"),
        })?;
        let docs = yaml_value::load(&text).map_err(|e| TeamError::Config {
            file: file.clone(),
            msg: format!(
                "{}: {}",
                crate::error::Pos::of_offset(&text, e.offset),
                e.msg
            ),
        })?;
        let sops = SopsFile {
            path: path.to_path_buf(),
            text,
            config,
            docs,
        };
        sops.members()?;
        Ok(sops)
    }

    fn file(&self) -> String {
        self.path.display().to_string()
    }

    fn top(&self) -> Option<&Map<String, Value>> {
        self.docs.first().and_then(Value::as_object)
    }

    /// The registry (`sealed_members:`), in file order.
    pub fn members(&self) -> Result<Vec<Member>, TeamError> {
        let Some(reg) = self.top().and_then(|t| t.get(REGISTRY_KEY)) else {
            return Ok(vec![]);
        };
        let bad = |msg: String| TeamError::Config {
            file: self.file(),
            msg,
        };
        match reg {
            Value::Null => Ok(vec![]),
            Value::Object(map) => map
                .iter()
                .map(|(name, r)| match r {
                    Value::String(r) => Ok(Member {
                        name: name.clone(),
                        recipient: r.trim().to_string(),
                    }),
                    _ => Err(bad(format!(
                        "{REGISTRY_KEY}.{name}: expected a recipient string"
                    ))),
                })
                .collect(),
            _ => Err(bad(format!(
                "{REGISTRY_KEY}: expected a mapping of names to recipients"
            ))),
        }
    }

    /// Names written as comments after list items (`- age1… # alice`), in file order.
    pub fn comment_names(&self) -> Vec<Member> {
        let Ok(outline) = Syntax::Yaml.format().parse(&self.text) else {
            return vec![];
        };
        let mut out: Vec<Member> = Vec::new();
        for doc in outline.docs.iter().take(1) {
            for item in &doc.items {
                let Item::Leaf(leaf) = item else { continue };
                if leaf.path.first() != Some("creation_rules")
                    || leaf.path.last() != Some("age")
                    || !is_block_item(&self.text, leaf)
                {
                    continue;
                }
                let Scalar::Str(value) = &leaf.value else {
                    continue;
                };
                let rest = &self.text[leaf.span.end..line_end(&self.text, leaf.span.end)];
                let Some(name) = rest.trim_start().strip_prefix('#') else {
                    continue;
                };
                let name = name.trim();
                if check_name(name).is_ok() && !out.iter().any(|m| m.recipient == value.trim()) {
                    out.push(Member {
                        name: name.to_string(),
                        recipient: value.trim().to_string(),
                    });
                }
            }
        }
        out
    }

    /// The name of a recipient: from the registry, else from a list comment.
    pub fn name_of(&self, recipient: &str) -> Option<String> {
        self.members()
            .ok()?
            .into_iter()
            .chain(self.comment_names())
            .find(|m| m.recipient == recipient)
            .map(|m| m.name)
    }

    /// A member by name (registry first, then list comments).
    pub fn find(&self, name: &str) -> Option<Member> {
        self.members()
            .ok()?
            .into_iter()
            .chain(self.comment_names())
            .find(|m| m.name == name)
    }

    /// Indexes of the rules that give `recipient` (in any key group).
    pub fn rules_with(&self, recipient: &str) -> Vec<usize> {
        self.config
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.key_groups.iter().flatten().any(|x| x == recipient))
            .map(|(i, _)| i)
            .collect()
    }

    /// Indexes of the rules that have at least one age recipient.
    pub fn age_rules(&self) -> Vec<usize> {
        self.config
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.key_groups.iter().any(|g| !g.is_empty()))
            .map(|(i, _)| i)
            .collect()
    }

    /// Adds `member` to the registry and to key group `group` of each rule in `rules`
    /// (rules that already give the recipient are left alone).
    pub fn add(&self, member: &Member, rules: &[usize], group: usize) -> Result<Edit, TeamError> {
        check_name(&member.name)?;
        check_recipient_text(&member.recipient)?;
        let outline = self.outline()?;
        let (field, group_field, text) = fields_of(&member.recipient);
        let scan = Scan::of(&outline, field, group_field);
        let mut splices = Vec::new();
        let mut rules_changed = Vec::new();
        for &i in rules {
            let Some(rule) = self.config.rules.get(i) else {
                return Err(TeamError::Refused(format!(
                    "{}: there is no creation_rules[{i}] (it has {} rules)",
                    self.file(),
                    self.config.rules.len()
                )));
            };
            if rule
                .key_groups
                .iter()
                .flatten()
                .any(|r| r == &member.recipient)
            {
                continue;
            }
            let grouped = self.rule_has_key_groups(i);
            if grouped && field == "kms" {
                return Err(self.kms_group_refusal(i));
            }
            if !grouped && group != 0 {
                return Err(TeamError::Refused(format!(
                    "{}: creation_rules[{i}] has no key_groups, so --group {group} does not apply",
                    self.file()
                )));
            }
            if grouped && group >= rule.key_groups.len() {
                return Err(TeamError::Refused(format!(
                    "{}: creation_rules[{i}] has {} key groups; there is no group {group}",
                    self.file(),
                    rule.key_groups.len()
                )));
            }
            let found = scan
                .rules
                .get(i)
                .filter(|_| scan.rules.len() == self.config.rules.len());
            let Some(found) = found else {
                return Err(self.edit_error("cannot locate the creation rules in the text"));
            };
            let at = format!("creation_rules[{i}]");
            let splice = if grouped {
                let items = found.groups.get(group).map(Vec::as_slice).unwrap_or(&[]);
                if items.is_empty() {
                    return Err(self.edit_error(&format!(
                        "{at}.key_groups[{group}] has no {group_field} list to add to"
                    )));
                }
                self.add_to_list(items, text, &member.name, &at)?
            } else {
                match found.age.as_slice() {
                    [] => self.add_age_key(found, (field, text), &member.name, &at, outline.eol)?,
                    [one] if one.depth == 2 => self.add_to_string(one, text, &at, field)?,
                    items => self.add_to_list(items, text, &member.name, &at)?,
                }
            };
            splices.push(splice);
            rules_changed.push(i);
        }
        let registered = self.members()?;
        let registry_changed = match registered.iter().find(|m| m.name == member.name) {
            Some(m) if m.recipient == member.recipient => false,
            Some(_) => {
                return Err(TeamError::Refused(format!(
                    "{}: {} is already a member with another recipient; remove them first",
                    self.file(),
                    member.name
                )));
            }
            None => {
                if let Some(other) = registered.iter().find(|m| m.recipient == member.recipient) {
                    return Err(TeamError::Refused(format!(
                        "{}: this recipient is already the member {}",
                        self.file(),
                        other.name
                    )));
                }
                splices.push(self.registry_add(&scan, member, outline.eol)?);
                true
            }
        };
        self.edit(splices, rules_changed, registry_changed, |edit, docs| {
            if let Some(top) = docs.first_mut().and_then(Value::as_object_mut) {
                if let Some(Value::Array(rs)) = top.get_mut("creation_rules") {
                    for &i in &edit.rules_changed {
                        if let Some(Value::Object(rule)) = rs.get_mut(i) {
                            let (target, f) = if has_key_groups(rule) {
                                match rule.get_mut("key_groups").and_then(|g| g.get_mut(group)) {
                                    Some(Value::Object(g)) => (g, group_field),
                                    _ => continue,
                                }
                            } else {
                                (rule, field)
                            };
                            push_age(target, f, fields_of(&member.recipient).2);
                        }
                    }
                }
                if edit.registry_changed {
                    registry_mut(top)
                        .insert(member.name.clone(), Value::String(member.recipient.clone()));
                }
            }
        })
    }

    /// Removes `member` from every creation rule (lists, strings, key groups) and from the
    /// registry. Refused when a rule or key group would be left without age recipients.
    pub fn remove(&self, member: &Member) -> Result<Edit, TeamError> {
        for (i, rule) in self.config.rules.iter().enumerate() {
            for (g, group) in rule.key_groups.iter().enumerate() {
                if !group.is_empty() && group.iter().all(|r| r == &member.recipient) {
                    let which = if rule.key_groups.len() > 1 {
                        format!(" (key group {g})")
                    } else {
                        String::new()
                    };
                    return Err(TeamError::Refused(format!(
                        "{}: {} is the only age recipient of creation_rules[{i}]{which}; \
                         add another member there first",
                        self.file(),
                        member.name
                    )));
                }
            }
        }
        let (field, group_field, text) = fields_of(&member.recipient);
        if field == "kms"
            && let Some(i) = self
                .rules_with(&member.recipient)
                .into_iter()
                .find(|&i| self.rule_has_key_groups(i))
        {
            return Err(self.kms_group_refusal(i));
        }
        let outline = self.outline()?;
        let scan = Scan::of(&outline, field, group_field);
        let mut splices = Vec::new();
        let mut rules_changed = Vec::new();
        for (i, rule) in scan.rules.iter().enumerate() {
            let before = splices.len();
            for leaf in &rule.all_age {
                splices.extend(self.remove_from_leaf(leaf, text)?);
            }
            if splices.len() > before {
                rules_changed.push(i);
            }
        }
        let mut registry_changed = false;
        for (name, leaf) in &scan.registry {
            if *name == member.name {
                splices.push(self.remove_entry(leaf, '{')?);
                registry_changed = true;
            }
        }
        self.edit(splices, rules_changed, registry_changed, |_, docs| {
            if let Some(top) = docs.first_mut().and_then(Value::as_object_mut) {
                if let Some(Value::Array(rs)) = top.get_mut("creation_rules") {
                    for rule in rs.iter_mut() {
                        remove_age(rule, &member.recipient);
                    }
                }
                if let Some(Value::Object(reg)) = top.get_mut(REGISTRY_KEY) {
                    reg.shift_remove(&member.name);
                }
            }
        })
    }

    /// Applies `splices` to the file's text and verifies the result by reading it back:
    /// `expect` changes the old documents into what the new text must hold.
    fn edit(
        &self,
        splices: Vec<Splice>,
        rules_changed: Vec<usize>,
        registry_changed: bool,
        expect: impl FnOnce(&Edit, &mut Vec<Value>),
    ) -> Result<Edit, TeamError> {
        let text = apply(&self.text, splices)
            .map_err(|e| self.edit_error(&e.to_string()))?
            .to_string();
        let edit = Edit {
            text,
            rules_changed,
            registry_changed,
        };
        self.verify(&edit, |docs| expect(&edit, docs))?;
        Ok(edit)
    }

    /// Writes an edit atomically and reads the file back.
    pub fn save(&self, edit: &Edit) -> Result<SopsFile, crate::error::Error> {
        // Under the lock, the file must still be what the edit was computed from: another
        // change made meanwhile (another `team` run, a hand edit) is never overwritten.
        let _lock = crate::fsutil::lock(&self.path)?;
        if std::fs::read_to_string(&self.path).ok().as_deref() != Some(self.text.as_str()) {
            return Err(TeamError::Refused(format!(
                "{}: changed while sealed was working on it; nothing was written to it: run the command again",
                self.file()
            ))
            .into());
        }
        crate::fsutil::write_atomic(&self.path, edit.text.as_bytes())?;
        SopsFile::load(&self.path).map_err(Into::into)
    }

    fn outline(&self) -> Result<Outline<'_>, TeamError> {
        Syntax::Yaml
            .format()
            .parse(&self.text)
            .map_err(|e| TeamError::Config {
                file: self.file(),
                msg: format!(
                    "{}: {}",
                    crate::error::Pos::of_offset(&self.text, e.offset),
                    e.msg
                ),
            })
    }

    fn edit_error(&self, msg: &str) -> TeamError {
        TeamError::Edit {
            file: self.file(),
            msg: msg.to_string(),
        }
    }

    /// A key group's `kms:` entries are mappings (`arn`, `role`, `context`): not edited.
    fn kms_group_refusal(&self, i: usize) -> TeamError {
        TeamError::Refused(format!(
            "{}: creation_rules[{i}] has key_groups, whose kms entries (`- arn: …`) team does \
             not edit; change that group's kms list in .sops.yaml, then run `sealed updatekeys` \
             (or `sealed rotate` after a removal) on its files",
            self.file()
        ))
    }

    fn rule_has_key_groups(&self, i: usize) -> bool {
        self.top()
            .and_then(|t| t.get("creation_rules"))
            .and_then(|r| r.get(i))
            .and_then(Value::as_object)
            .is_some_and(has_key_groups)
    }

    /// Checks that `edit.text` holds the old data changed exactly as `expect` changes it.
    fn verify(&self, edit: &Edit, expect: impl FnOnce(&mut Vec<Value>)) -> Result<(), TeamError> {
        let aliases = Syntax::Yaml
            .format()
            .parse(&self.text)
            .map(|o| o.aliases)
            .unwrap_or(0);
        let hint = if aliases > 0 {
            " (it uses YAML aliases; sealed only edits recipients written out in full)"
        } else {
            ""
        };
        let new_docs = yaml_value::load(&edit.text).map_err(|_| {
            self.edit_error(&format!("the edited text would not be valid YAML{hint}"))
        })?;
        let mut expected: Vec<Value> = self.docs.iter().map(normalize).collect();
        expect(&mut expected);
        let actual: Vec<Value> = new_docs.iter().map(normalize).collect();
        if expected != actual {
            return Err(self.edit_error(&format!(
                "the recipients are written in a layout sealed cannot change safely{hint}"
            )));
        }
        Ok(())
    }

    // ----- splices (made by the format-preserving editor, `crate::edit::entries`) -----

    fn add_to_list(&self, items: &[&Leaf], text: &str, name: &str, at: &str) -> SpliceResult {
        let last = items[items.len() - 1];
        entries::append_item(&self.text, last, text, Some(name))
            .map_err(|m| self.edit_error(&format!("{at}: {m}")))
    }

    fn add_to_string(&self, leaf: &Leaf, text: &str, at: &str, field: &str) -> SpliceResult {
        entries::append_to_commas(&self.text, leaf, text)
            .map_err(|m| self.edit_error(&format!("{at}.{field} {m}")))
    }

    /// Adds an `age:` (or `pgp:`) list to a rule that has none, after its first one-line
    /// entry.
    fn add_age_key(
        &self,
        rule: &RuleScan<'_>,
        (field, text): (&str, &str),
        name: &str,
        at: &str,
        eol: &str,
    ) -> SpliceResult {
        let Some(first) = rule.first_scalar else {
            return Err(
                self.edit_error(&format!("{at} has no entry to place a {field} list after"))
            );
        };
        let item = format!("{text} # {name}");
        entries::insert_list_entry_after(&self.text, first, field, &item, eol)
            .map_err(|m| self.edit_error(&format!("{at}: {m}")))
    }

    fn registry_add(
        &self,
        scan: &Scan<'_>,
        member: &Member,
        eol: &str,
    ) -> Result<Splice, TeamError> {
        let entry = format!("{}: {}", member.name, member.recipient);
        if let Some((_, last)) = scan.registry.last() {
            return Ok(entries::append_member(&self.text, last, &entry));
        }
        if let Some(null) = scan.registry_null {
            return Ok(entries::fill_null_mapping(&self.text, null, &entry, eol));
        }
        if scan.registry_present {
            return Err(self.edit_error(&format!("{REGISTRY_KEY} has an unusual layout")));
        }
        let Some(at) = scan.insertion else {
            return Err(self.edit_error("the top level is not a block mapping"));
        };
        let block = format!(
            "# Team members (`sealed team add/remove/list`); sops ignores this key.{eol}\
             {REGISTRY_KEY}:{eol}  {entry}"
        );
        if scan.single_doc {
            // At the very end, after anything else inserted at the end of the last rule.
            let end = self.text.len();
            let lead = if self.text.ends_with('\n') {
                eol.to_string()
            } else {
                format!("{eol}{eol}")
            };
            return Ok(Splice::insert(end, format!("{lead}{block}{eol}")));
        }
        Ok(Splice::insert(at, format!("{eol}{eol}{block}")))
    }

    /// The splices that take `recipient` out of one `age` leaf (a list item or a
    /// comma-separated string); none when the leaf does not hold it.
    fn remove_from_leaf(&self, leaf: &Leaf, recipient: &str) -> Result<Vec<Splice>, TeamError> {
        entries::remove_from_commas(&self.text, leaf, recipient).map_err(|m| self.edit_error(m))
    }

    /// Removes a registry entry (its line, or the entry and one comma in flow style).
    fn remove_entry(&self, leaf: &Leaf, open: char) -> Result<Splice, TeamError> {
        entries::remove_entry(&self.text, leaf, open).map_err(|m| self.edit_error(m))
    }
}

type SpliceResult = Result<Splice, TeamError>;

mod check;
mod model;
mod scan;

#[cfg(test)]
mod tests;
