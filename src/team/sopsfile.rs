//! `.sops.yaml` as the team's membership list: a top-level `sealed_members:` mapping
//! (`name: recipient`, which sops ignores like any unknown top-level key) and the age
//! recipients of each creation rule, as a list (`- age1… # name`) or a comma-separated
//! string (plain, quoted or folded), or in a rule's `key_groups`.
//!
//! Edits are splices into the original text at the byte spans the YAML outline gives, so
//! comments, order, quoting and indentation stay as they were. Every edit is checked by
//! reading the result back: the new file must hold exactly the old data with the intended
//! recipients added or removed, else nothing is written and the error says why (YAML
//! aliases for recipients, flow layouts sealed cannot extend, …).

use crate::format::lines::{line_end, line_start, next_line};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::TeamError;
use crate::config::Config;
use crate::format::{Insertion, Item, Leaf, Outline, Scalar, Style, Syntax, yaml_value};

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

/// Checks a member name: a letter, then letters, digits and `._@+-` (at most 64).
pub fn check_name(name: &str) -> Result<(), TeamError> {
    let ok = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(TeamError::Refused(format!(
            "invalid member name {:?}: use a letter, then letters, digits and . _ @ + - (at most 64)",
            name.chars().take(64).collect::<String>()
        )))
    }
}

/// Checks that a recipient can be written into `.sops.yaml` as it is: no comma (sops splits
/// on commas), no quote, backslash or `#`, single spaces only.
pub fn check_recipient_text(recipient: &str) -> Result<(), TeamError> {
    let ok = !recipient.is_empty()
        && recipient
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=@._:- ".contains(c))
        && !recipient.contains("  ")
        && !recipient.contains(": ")
        && recipient.trim() == recipient;
    if ok {
        Ok(())
    } else {
        Err(TeamError::Refused(
            "this recipient cannot be written into .sops.yaml safely (it holds a comma, quote, \
             `#`, `: ` or repeated spaces); drop or simplify the ssh key's comment"
                .to_string(),
        ))
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
        let scan = Scan::of(&outline);
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
                        "{at}.key_groups[{group}] has no age list to add to"
                    )));
                }
                self.add_to_list(items, member, &at)?
            } else {
                match found.age.as_slice() {
                    [] => self.add_age_key(found, member, &at, outline.eol)?,
                    [one] if one.depth == 2 => self.add_to_string(one, member, &at)?,
                    items => self.add_to_list(items, member, &at)?,
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
        let text = apply(&self.text, splices).map_err(|m| self.edit_error(m))?;
        let edit = Edit {
            text,
            rules_changed,
            registry_changed,
        };
        self.verify(&edit, |docs| {
            if let Some(top) = docs.first_mut().and_then(Value::as_object_mut) {
                if let Some(Value::Array(rs)) = top.get_mut("creation_rules") {
                    for &i in &edit.rules_changed {
                        if let Some(Value::Object(rule)) = rs.get_mut(i) {
                            let target = if has_key_groups(rule) {
                                match rule.get_mut("key_groups").and_then(|g| g.get_mut(group)) {
                                    Some(Value::Object(g)) => g,
                                    _ => continue,
                                }
                            } else {
                                rule
                            };
                            push_age(target, &member.recipient);
                        }
                    }
                }
                if edit.registry_changed {
                    registry_mut(top)
                        .insert(member.name.clone(), Value::String(member.recipient.clone()));
                }
            }
        })?;
        Ok(edit)
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
        let outline = self.outline()?;
        let scan = Scan::of(&outline);
        let mut splices = Vec::new();
        let mut rules_changed = Vec::new();
        for (i, rule) in scan.rules.iter().enumerate() {
            let before = splices.len();
            for leaf in &rule.all_age {
                splices.extend(self.remove_from_leaf(leaf, &member.recipient)?);
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
        let text = apply(&self.text, splices).map_err(|m| self.edit_error(m))?;
        let edit = Edit {
            text,
            rules_changed,
            registry_changed,
        };
        self.verify(&edit, |docs| {
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
        })?;
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

    // ----- splices -----

    fn add_to_list(&self, items: &[&Leaf], member: &Member, at: &str) -> Result<Splice, TeamError> {
        let last = items[items.len() - 1];
        if last.in_flow {
            return Ok(Splice::insert(
                last.span.end,
                format!(", {}", member.recipient),
            ));
        }
        let ls = line_start(&self.text, last.span.start);
        let prefix = &self.text[ls..last.span.start];
        if !is_item_prefix(prefix) {
            return Err(self.edit_error(&format!("{at}: unusual list layout")));
        }
        let line = format!("{prefix}{} # {}", member.recipient, member.name);
        Ok(self.insert_line_after(last.span.end, line))
    }

    /// A new line after the line holding `at`, in the file's line break.
    fn insert_line_after(&self, at: usize, line: String) -> Splice {
        let eol = crate::format::detect_eol(&self.text);
        let pos = next_line(&self.text, at);
        if pos == self.text.len() && !self.text.ends_with('\n') {
            Splice::insert(pos, format!("{eol}{line}"))
        } else {
            Splice::insert(pos, format!("{line}{eol}"))
        }
    }

    fn add_to_string(&self, leaf: &Leaf, member: &Member, at: &str) -> Result<Splice, TeamError> {
        let r = &member.recipient;
        let current = match &leaf.value {
            Scalar::Str(s) => s.as_ref(),
            Scalar::Null => "",
            _ => return Err(self.edit_error(&format!("{at}.age is not a string"))),
        };
        let sep = if current.contains(", ") { ", " } else { "," };
        let (start, end) = self.content(leaf);
        if current.trim().is_empty() {
            return match leaf.style {
                Style::Plain if leaf.span.is_empty() => {
                    Ok(Splice::insert(self.after_colon(start), format!(" {r}")))
                }
                Style::Plain | Style::SingleQuoted | Style::DoubleQuoted => {
                    Ok(Splice::insert(start, r.clone()))
                }
                _ => Err(self.edit_error(&format!("{at}.age is an empty block scalar"))),
            };
        }
        match &leaf.style {
            Style::Block(b) => {
                let (eol, indent) = (b.eol, &b.indent);
                Ok(Splice::insert(end, format!(",{eol}{indent}{r}")))
            }
            Style::Plain | Style::SingleQuoted | Style::DoubleQuoted => {
                Ok(Splice::insert(end, format!("{sep}{r}")))
            }
            _ => Err(self.edit_error(&format!("{at}.age has an unusual style"))),
        }
    }

    /// Adds an `age:` list to a rule that has none, after its first one-line entry.
    fn add_age_key(
        &self,
        rule: &RuleScan<'_>,
        member: &Member,
        at: &str,
        eol: &str,
    ) -> Result<Splice, TeamError> {
        let Some(first) = rule.first_scalar else {
            return Err(self.edit_error(&format!("{at} has no entry to place an age list after")));
        };
        let ls = line_start(&self.text, first.span.start);
        let before = &self.text[ls..first.span.start];
        let stripped = before.trim_start_matches([' ', '-']);
        let key_col = before.len() - stripped.len();
        if !before[..key_col].chars().all(|c| c == ' ' || c == '-')
            || self.text[first.span.clone()].contains('\n')
        {
            return Err(self.edit_error(&format!("{at}: unusual layout")));
        }
        let pad = " ".repeat(key_col);
        let line = format!(
            "{pad}age:{eol}{pad}  - {} # {}",
            member.recipient, member.name
        );
        Ok(self.insert_line_after(first.span.end, line))
    }

    fn registry_add(
        &self,
        scan: &Scan<'_>,
        member: &Member,
        eol: &str,
    ) -> Result<Splice, TeamError> {
        let entry = format!("{}: {}", member.name, member.recipient);
        if let Some((_, last)) = scan.registry.last() {
            if last.in_flow {
                return Ok(Splice::insert(last.span.end, format!(", {entry}")));
            }
            let ls = line_start(&self.text, last.span.start);
            let indent: String = self.text[ls..].chars().take_while(|c| *c == ' ').collect();
            return Ok(self.insert_line_after(last.span.end, format!("{indent}{entry}")));
        }
        if let Some(null) = scan.registry_null {
            let at = line_end(&self.text, null.span.start);
            return Ok(Splice::insert(at, format!("{eol}  {entry}")));
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
        let Scalar::Str(value) = &leaf.value else {
            return Ok(vec![]);
        };
        if !value.split(',').any(|r| r.trim() == recipient) {
            return Ok(vec![]);
        }
        let is_item = is_block_item(&self.text, leaf) || is_flow_item(&self.text, leaf);
        if is_item && value.trim() == recipient {
            return Ok(vec![self.remove_entry(leaf, '[')?]);
        }
        let (start, end) = self.content(leaf);
        let src = &self.text[start..end];
        let ws = |c: char| c.is_ascii_whitespace();
        let mut out = Vec::new();
        for (i, _) in src.match_indices(recipient) {
            let (s, e) = (start + i, start + i + recipient.len());
            let p = start + self.text[start..s].trim_end_matches(ws).len();
            let n = e + (self.text[e..end].len() - self.text[e..end].trim_start_matches(ws).len());
            let prev_comma = p > start && self.text.as_bytes()[p - 1] == b',';
            let next_comma = n < end && self.text.as_bytes()[n] == b',';
            if !(p == start || prev_comma) || !(n == end || next_comma) {
                continue;
            }
            let range = if next_comma {
                let after = n + 1;
                let skip = self.text[after..end].len()
                    - self.text[after..end].trim_start_matches(ws).len();
                s..after + skip
            } else if prev_comma {
                p - 1..e
            } else {
                s..e
            };
            out.push(Splice {
                range,
                text: String::new(),
            });
        }
        if out.is_empty() {
            return Err(self.edit_error("a recipient string has an unusual spelling"));
        }
        Ok(out)
    }

    /// Removes a list item or mapping entry: its whole line in block style, or the entry
    /// and one comma in flow style (`open` is `[` or `{`).
    fn remove_entry(&self, leaf: &Leaf, open: char) -> Result<Splice, TeamError> {
        if leaf.in_flow {
            let before = &self.text[..leaf.span.start];
            let Some(at) = before.rfind([',', open]) else {
                return Err(self.edit_error("unusual flow layout"));
            };
            if before.as_bytes()[at] == b',' {
                return Ok(Splice {
                    range: at..leaf.span.end,
                    text: String::new(),
                });
            }
            let rest = &self.text[leaf.span.end..];
            let trimmed = rest.trim_start();
            let end = match trimmed.strip_prefix(',') {
                Some(after) => {
                    let after_trim = after.trim_start();
                    self.text.len() - after_trim.len()
                }
                None => leaf.span.end,
            };
            return Ok(Splice {
                range: at + 1..end,
                text: String::new(),
            });
        }
        let ls = line_start(&self.text, leaf.span.start);
        let prefix = &self.text[ls..leaf.span.start];
        let simple_key = prefix.trim_end().ends_with(':')
            && !prefix.trim_start().starts_with('-')
            && !prefix.trim().trim_end_matches(':').contains([':', ' ']);
        if !(is_item_prefix(prefix) || simple_key) {
            return Err(self.edit_error("unusual layout around an entry"));
        }
        Ok(Splice {
            range: ls..next_line(&self.text, leaf.span.end),
            text: String::new(),
        })
    }

    /// Just after the `:` of an implicit null's key (its empty span is at or before it).
    fn after_colon(&self, at: usize) -> usize {
        let end = line_end(&self.text, at);
        self.text[at..end].find(':').map_or(at, |i| at + i + 1)
    }

    /// The range of a scalar's content: inside the quotes, or the block's lines without the
    /// final line break.
    fn content(&self, leaf: &Leaf) -> (usize, usize) {
        let s = &leaf.span;
        match leaf.style {
            Style::SingleQuoted | Style::DoubleQuoted if s.len() >= 2 => (s.start + 1, s.end - 1),
            Style::Block(_) => {
                let t = self.text[s.clone()].trim_end_matches(['\n', '\r']);
                (s.start, s.start + t.len())
            }
            _ => (s.start, s.end),
        }
    }
}

/// The positions the edits need, from the outline of the first document.
struct Scan<'a> {
    rules: Vec<RuleScan<'a>>,
    registry: Vec<(&'a str, &'a Leaf<'a>)>,
    registry_null: Option<&'a Leaf<'a>>,
    registry_present: bool,
    insertion: Option<usize>,
    single_doc: bool,
}

#[derive(Default)]
struct RuleScan<'a> {
    /// The rule's own `age`: one scalar (depth 2) or list items (depth 3).
    age: Vec<&'a Leaf<'a>>,
    /// `key_groups[g].age` list items, per group.
    groups: Vec<Vec<&'a Leaf<'a>>>,
    /// Every leaf of an `age` field anywhere in the rule (merged groups included).
    all_age: Vec<&'a Leaf<'a>>,
    /// The first one-line scalar entry of the rule mapping.
    first_scalar: Option<&'a Leaf<'a>>,
}

impl<'a> Scan<'a> {
    fn of(outline: &'a Outline<'a>) -> Scan<'a> {
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
                    scan.rules = split(top, 1).into_iter().map(RuleScan::of).collect();
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
    fn of(rule: &'a [Item]) -> RuleScan<'a> {
        let mut out = RuleScan::default();
        for entry in split(rule, 2) {
            match entry_key(entry, 1) {
                Some("age") => {
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
                                        && &l.path[2] == "age"
                                })
                                .collect()
                        })
                        .collect();
                }
                _ => {}
            }
        }
        out.all_age = leaves(rule)
            .filter(|l| l.path.len() >= 2 && l.path.last() == Some("age"))
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

/// The entries of a collection at `depth`: the items up to each `EntryEnd(depth)`.
fn split<'a>(items: &'a [Item<'a>], depth: usize) -> Vec<&'a [Item<'a>]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, item) in items.iter().enumerate() {
        if matches!(item, Item::EntryEnd(d) if *d == depth) {
            out.push(&items[start..=i]);
            start = i + 1;
        }
    }
    out
}

fn leaves<'a>(items: &'a [Item<'a>]) -> impl Iterator<Item = &'a Leaf<'a>> {
    items.iter().filter_map(|i| match i {
        Item::Leaf(l) => Some(l),
        _ => None,
    })
}

/// The key (at path position `level`) of the entry these items belong to.
fn entry_key<'a>(items: &'a [Item<'a>], level: usize) -> Option<&'a str> {
    leaves(items)
        .find(|l| l.path.len() > level)
        .map(|l| &l.path[level])
}

/// `  - ` : indentation, a dash, spaces.
fn is_item_prefix(prefix: &str) -> bool {
    let t = prefix.trim_start_matches(' ');
    t.strip_prefix('-')
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c == ' ' || c == '\t'))
}

fn is_block_item(src: &str, leaf: &Leaf) -> bool {
    !leaf.in_flow && is_item_prefix(&src[line_start(src, leaf.span.start)..leaf.span.start])
}

fn is_flow_item(src: &str, leaf: &Leaf) -> bool {
    leaf.in_flow
        && matches!(
            src[..leaf.span.start].trim_end().chars().next_back(),
            Some('[' | ',')
        )
}

/// One replacement of a byte range.
#[derive(Debug, Clone)]
struct Splice {
    range: Range<usize>,
    text: String,
}

impl Splice {
    fn insert(at: usize, text: String) -> Splice {
        Splice {
            range: at..at,
            text,
        }
    }
}

/// `src` with `splices` applied by the engine's splice applier.
fn apply(src: &str, splices: Vec<Splice>) -> Result<String, &'static str> {
    let edits: Vec<(Range<usize>, &str)> = splices
        .iter()
        .map(|s| (s.range.clone(), s.text.as_str()))
        .collect();
    let (mut out, _) =
        crate::engine::apply_splices(src, &edits).map_err(|_| "two edits overlap")?;
    Ok(std::mem::take(&mut *out))
}

// ----- the data model used to check edits -----

fn has_key_groups(rule: &Map<String, Value>) -> bool {
    matches!(rule.get("key_groups"), Some(Value::Array(g)) if !g.is_empty())
}

fn split_recipients(v: &Value) -> Vec<Value> {
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
fn normalize(doc: &Value) -> Value {
    fn ages(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    if k == "age" {
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

fn push_age(target: &mut Map<String, Value>, recipient: &str) {
    let list = target.entry("age").or_insert_with(|| Value::Array(vec![]));
    if !list.is_array() {
        *list = Value::Array(vec![]);
    }
    if let Value::Array(items) = list
        && !items.iter().any(|v| v.as_str() == Some(recipient))
    {
        items.push(Value::String(recipient.to_string()));
    }
}

fn remove_age(v: &mut Value, recipient: &str) {
    match v {
        Value::Object(m) => {
            for (k, child) in m.iter_mut() {
                if k == "age" {
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

fn registry_mut(top: &mut Map<String, Value>) -> &mut Map<String, Value> {
    let reg = top
        .entry(REGISTRY_KEY)
        .or_insert_with(|| Value::Object(Map::new()));
    if !reg.is_object() {
        *reg = Value::Object(Map::new());
    }
    reg.as_object_mut().expect("made an object above")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> (tempfile::TempDir, SopsFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".sops.yaml");
        std::fs::write(&path, text).unwrap();
        let sops = SopsFile::load(&path).unwrap();
        (dir, sops)
    }

    fn member(name: &str, r: &str) -> Member {
        Member {
            name: name.into(),
            recipient: r.into(),
        }
    }

    fn add(text: &str, rules: &[usize], group: usize) -> String {
        let (_d, s) = load(text);
        s.add(&member("carol", "age1ccc"), rules, group)
            .unwrap_or_else(|e| panic!("{e}"))
            .text
    }

    fn remove(text: &str, r: &str) -> String {
        let (_d, s) = load(text);
        s.remove(&member("bob", r))
            .unwrap_or_else(|e| panic!("{e}"))
            .text
    }

    const LIST: &str = "# c\ncreation_rules:\n  - path_regex: a/.*\n    age:\n      - age1aaa # alice\n      - age1bbb # bob\n  - path_regex: b/.*\n    age: age1aaa,age1bbb\n";

    #[test]
    fn add_to_lists_and_strings_keeps_everything_else() {
        let out = add(LIST, &[0, 1], 0);
        assert_eq!(
            out,
            "# c\ncreation_rules:\n  - path_regex: a/.*\n    age:\n      - age1aaa # alice\n      - age1bbb # bob\n      - age1ccc # carol\n  - path_regex: b/.*\n    age: age1aaa,age1bbb,age1ccc\n\n# Team members (`sealed team add/remove/list`); sops ignores this key.\nsealed_members:\n  carol: age1ccc\n"
        );
        // Only the first rule.
        let out = add(LIST, &[0], 0);
        assert!(out.contains("    age: age1aaa,age1bbb\n"));
        // Again: nothing to do.
        let (_d, s) = load(&out);
        let e = s.add(&member("carol", "age1ccc"), &[0], 0).unwrap();
        assert!(e.is_empty());
    }

    #[test]
    fn add_to_quoted_folded_and_flow() {
        let q = "creation_rules:\n  - age: \"age1aaa, age1bbb\"\n";
        assert!(
            add(q, &[0], 0)
                .starts_with("creation_rules:\n  - age: \"age1aaa, age1bbb, age1ccc\"\n")
        );
        let f = "creation_rules:\n  - age: >-\n      age1aaa,\n      age1bbb\n    path_regex: x\n";
        assert!(add(f, &[0], 0).starts_with(
            "creation_rules:\n  - age: >-\n      age1aaa,\n      age1bbb,\n      age1ccc\n    path_regex: x\n"
        ));
        let fl = "creation_rules: [{age: [age1aaa, age1bbb]}]\n";
        assert!(
            add(fl, &[0], 0).starts_with("creation_rules: [{age: [age1aaa, age1bbb, age1ccc]}]\n")
        );
        let crlf = "creation_rules:\r\n  - age:\r\n      - age1aaa\r\n";
        assert_eq!(
            add(crlf, &[0], 0),
            "creation_rules:\r\n  - age:\r\n      - age1aaa\r\n      - age1ccc # carol\r\n\r\n# Team members (`sealed team add/remove/list`); sops ignores this key.\r\nsealed_members:\r\n  carol: age1ccc\r\n"
        );
        let no_eol = "creation_rules:\n  - age:\n      - age1aaa";
        assert!(
            add(no_eol, &[0], 0).starts_with(
                "creation_rules:\n  - age:\n      - age1aaa\n      - age1ccc # carol\n"
            )
        );
    }

    #[test]
    fn add_to_key_groups() {
        let kg = "creation_rules:\n  - path_regex: x\n    shamir_threshold: 2\n    key_groups:\n      - age:\n          - age1aaa\n        pgp: [abc]\n      - age:\n          - age1bbb\n";
        let out = add(kg, &[0], 1);
        assert!(out.starts_with("creation_rules:\n  - path_regex: x\n    shamir_threshold: 2\n    key_groups:\n      - age:\n          - age1aaa\n        pgp: [abc]\n      - age:\n          - age1bbb\n          - age1ccc # carol\n"));
        let (_d, s) = load(kg);
        assert!(s.add(&member("carol", "age1ccc"), &[0], 2).is_err());
    }

    #[test]
    fn add_to_a_null_age() {
        let t = "creation_rules:\n  - path_regex: x\n    age:\n    pgp: abc\n";
        assert!(
            add(t, &[0], 0).starts_with(
                "creation_rules:\n  - path_regex: x\n    age: age1ccc\n    pgp: abc\n"
            )
        );
    }

    #[test]
    fn add_age_list_to_a_rule_without_one() {
        let t = "creation_rules:\n  - path_regex: x\n    pgp: abc\n";
        assert!(add(t, &[0], 0).starts_with(
            "creation_rules:\n  - path_regex: x\n    age:\n      - age1ccc # carol\n    pgp: abc\n"
        ));
    }

    #[test]
    fn registry_is_extended_in_place() {
        let t = "creation_rules:\n  - age: age1aaa\nsealed_members:\n    alice: age1aaa   # lead\nother: 1\n";
        assert_eq!(
            add(t, &[0], 0),
            "creation_rules:\n  - age: age1aaa,age1ccc\nsealed_members:\n    alice: age1aaa   # lead\n    carol: age1ccc\nother: 1\n"
        );
        let null = "creation_rules:\n  - age: age1aaa\nsealed_members:\n";
        assert_eq!(
            add(null, &[0], 0),
            "creation_rules:\n  - age: age1aaa,age1ccc\nsealed_members:\n  carol: age1ccc\n"
        );
        let (_d, s) = load(t);
        assert!(
            s.add(&member("alice", "age1zzz"), &[0], 0).is_err(),
            "name taken"
        );
        assert!(
            s.add(&member("al", "age1aaa"), &[0], 0).is_err(),
            "recipient taken"
        );
    }

    #[test]
    fn remove_from_every_layout() {
        let out = remove(LIST, "age1bbb");
        assert_eq!(
            out,
            "# c\ncreation_rules:\n  - path_regex: a/.*\n    age:\n      - age1aaa # alice\n  - path_regex: b/.*\n    age: age1aaa\n"
        );
        let s = "creation_rules:\n  - age: \"age1bbb, age1aaa\"\n  - age: >-\n      age1aaa,\n      age1bbb,\n      age1ccc\n  - age: [age1bbb, age1aaa]\n  - age: [age1aaa, age1bbb]\nsealed_members: {alice: age1aaa, bob: age1bbb}\n";
        assert_eq!(
            remove(s, "age1bbb"),
            "creation_rules:\n  - age: \"age1aaa\"\n  - age: >-\n      age1aaa,\n      age1ccc\n  - age: [age1aaa]\n  - age: [age1aaa]\nsealed_members: {alice: age1aaa}\n"
        );
        let kg = "creation_rules:\n  - key_groups:\n      - age:\n          - age1aaa\n          - age1bbb # bob\n        merge:\n          - age: [age1bbb, age1ddd]\n      - age:\n          - age1ccc\nsealed_members:\n  bob: age1bbb\n  alice: age1aaa\n";
        assert_eq!(
            remove(kg, "age1bbb"),
            "creation_rules:\n  - key_groups:\n      - age:\n          - age1aaa\n        merge:\n          - age: [age1ddd]\n      - age:\n          - age1ccc\nsealed_members:\n  alice: age1aaa\n"
        );
    }

    #[test]
    fn refuses_what_it_cannot_do_safely() {
        let (_d, s) = load("creation_rules:\n  - age: age1bbb\n");
        let e = s.remove(&member("bob", "age1bbb")).unwrap_err().to_string();
        assert!(e.contains("only age recipient"), "{e}");
        let aliased =
            "keys:\n  - &bob age1bbb\ncreation_rules:\n  - age:\n      - age1aaa\n      - *bob\n";
        let (_d, s) = load(aliased);
        let e = s.remove(&member("bob", "age1bbb")).unwrap_err().to_string();
        assert!(
            e.contains("aliases") && e.contains("nothing was changed"),
            "{e}"
        );
        assert!(check_name("1abc").is_err() && check_name("a b").is_err());
        assert!(check_recipient_text("ssh-ed25519 AAAA x,y").is_err());
    }

    #[test]
    fn names_from_registry_and_comments() {
        let (_d, s) = load(
            "creation_rules:\n  - age:\n      - age1aaa # alice\n      - age1bbb\nsealed_members:\n  bob: age1bbb\n",
        );
        assert_eq!(s.name_of("age1aaa").as_deref(), Some("alice"));
        assert_eq!(
            s.find("bob").map(|m| m.recipient).as_deref(),
            Some("age1bbb")
        );
        assert_eq!(s.rules_with("age1bbb"), vec![0]);
    }
}
