//! The three-way merge of decrypted documents by key path, not by line.
//!
//! The three versions are compared as value trees ([`crate::edit::tree`]: digests, no
//! plaintext). Where only theirs changed a value (changed, added or removed it), the
//! change is taken; where only ours did, ours stays; where both made the same change it is
//! taken once. Mappings changed on both sides are compared member by member, so changes
//! to different keys merge however close their lines are. Anything else changed on both
//! sides differently conflicts: a scalar, a value whose type changed, a value changed on
//! one side and removed on the other, and a **sequence** (a list is one value: two
//! different changes to one list conflict on the whole list, as its items have no keys).
//!
//! The result is ours's text with theirs's changes spliced in: a changed value takes
//! theirs's spelling where it fits (the same syntax context), else it is written by the
//! format-preserving editor ([`crate::edit::set`]/[`crate::edit::unset`]); a new entry
//! goes after the sibling it follows in theirs. Every step is checked by parsing the
//! text again and comparing its tree with the expected one; a change that cannot be made
//! that way becomes a conflict on its entry rather than a wrong merge. A conflict leaves
//! standard markers around the whole lines of just the conflicting entries.

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::edit::render::SecretValue;
use crate::edit::{Located, children, locate, tree};
use crate::format::{Document, Item, NodeKind, Outline, Scalar, Step, Syntax};

/// The merged plaintext.
#[derive(Debug)]
pub enum Merged {
    /// No conflict: the merged document.
    Clean(Zeroizing<String>),
    /// Conflicting changes: ours's text with conflict markers around the conflicting
    /// entries (theirs's non-conflicting changes applied).
    Conflict(Zeroizing<String>),
}

/// One version of the document.
struct Side<'a> {
    src: &'a str,
    outline: Outline<'a>,
    tree: Value,
}

impl<'a> Side<'a> {
    fn parse(src: &'a str, syntax: Syntax) -> Option<Side<'a>> {
        let outline = syntax.format().parse_tree(src).ok()?;
        if outline.docs.len() != 1 || outline.aliases > 0 {
            return None;
        }
        let tree = tree::of_document(src, &outline.docs[0]);
        Some(Side { src, outline, tree })
    }

    fn doc(&self) -> &Document<'a> {
        &self.outline.docs[0]
    }

    fn node(&self, steps: &[Step]) -> Option<usize> {
        match locate(self.doc(), steps) {
            Located::Found(n) => Some(n),
            Located::Missing { .. } => None,
        }
    }

    /// The plaintext value at a node, for the editor; `None` for what it cannot write.
    fn value(&self, at: usize) -> Option<SecretValue> {
        let doc = self.doc();
        let depth = doc.nodes[at].steps.len();
        let mut root = Value::Null;
        for (i, node) in doc.nodes.iter().enumerate().skip(at) {
            if i > at && node.steps.len() <= depth {
                break;
            }
            let v = match node.kind {
                NodeKind::Map => Value::Object(Map::new()),
                NodeKind::Seq => Value::Array(Vec::new()),
                NodeKind::Alias => return None,
                NodeKind::Scalar => match node.leaf.and_then(|l| doc.items.get(l)) {
                    Some(Item::Leaf(l)) => match &l.value {
                        Scalar::Null => Value::Null,
                        Scalar::Str(s) => Value::String(s.to_string()),
                        Scalar::Int(n) => Value::from(*n),
                        Scalar::Float(f) => Value::Number(serde_json::Number::from_f64(*f)?),
                        Scalar::Bool(b) => Value::Bool(*b),
                        Scalar::Time(_) => return None,
                    },
                    _ => Value::Null,
                },
            };
            tree::put(&mut root, &node.steps[depth..], v);
        }
        Some(SecretValue(root))
    }
}

/// Where two versions differ.
enum Action {
    /// Theirs's value at the path (changed or added) goes into the result.
    Take(Vec<Step>),
    /// Theirs removed the value.
    Remove(Vec<Step>),
}

fn walk(
    b: Option<&Value>,
    o: Option<&Value>,
    t: Option<&Value>,
    path: &mut Vec<Step>,
    actions: &mut Vec<Action>,
    conflicts: &mut Vec<Vec<Step>>,
) {
    if o == t || b == t {
        return;
    }
    if b == o {
        actions.push(match t {
            Some(_) => Action::Take(path.clone()),
            None => Action::Remove(path.clone()),
        });
        return;
    }
    if let (Some(Value::Object(om)), Some(Value::Object(tm))) = (o, t) {
        let bm = match b {
            Some(Value::Object(m)) => Some(m),
            _ => None,
        };
        let keys: Vec<&String> = om
            .keys()
            .chain(tm.keys().filter(|k| !om.contains_key(*k)))
            .collect();
        for k in keys {
            path.push(Step::Key(k.clone()));
            walk(
                bm.and_then(|m| m.get(k)),
                om.get(k),
                tm.get(k),
                path,
                actions,
                conflicts,
            );
            path.pop();
        }
        return;
    }
    conflicts.push(path.clone());
}

/// Merges `ours` and `theirs` (decrypted) against `base` by key path. `None` when a
/// version cannot be merged this way (it does not parse, holds several YAML documents or
/// aliases): the caller merges lines instead.
pub fn merge(base: &str, ours: &str, theirs: &str, syntax: Syntax) -> Option<Merged> {
    let base_tree = if base.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        Side::parse(base, syntax)?.tree
    };
    let o = Side::parse(ours, syntax)?;
    let t = Side::parse(theirs, syntax)?;
    let (mut actions, mut conflicts) = (Vec::new(), Vec::new());
    walk(
        Some(&base_tree),
        Some(&o.tree),
        Some(&t.tree),
        &mut Vec::new(),
        &mut actions,
        &mut conflicts,
    );
    let mut expected = o.tree.clone();
    for a in &actions {
        match a {
            Action::Take(p) => tree::put(&mut expected, p, subtree(&t.tree, p).clone()),
            Action::Remove(p) => tree::remove(&mut expected, p),
        }
    }
    if conflicts.is_empty() {
        // A text merge that succeeds with the same values is what the user expects to
        // see (it keeps comment changes of both sides too).
        let mut opts = diffy::MergeOptions::new();
        opts.set_conflict_style(diffy::ConflictStyle::Merge);
        if let Ok(text) = opts.merge(base, ours, theirs) {
            let text = Zeroizing::new(text);
            if tree_of(&text, syntax).as_ref() == Some(&expected) {
                return Some(Merged::Clean(text));
            }
        }
    }
    let mut cur = Zeroizing::new(ours.to_string());
    let mut want = o.tree.clone();
    for a in &actions {
        let mut next_want = want.clone();
        let path = match a {
            Action::Take(p) => {
                tree::put(&mut next_want, p, subtree(&t.tree, p).clone());
                p
            }
            Action::Remove(p) => {
                tree::remove(&mut next_want, p);
                p
            }
        };
        match apply(&cur, &t, a, syntax, &next_want) {
            Some(text) => {
                cur = text;
                want = next_want;
            }
            None => conflicts.push(path.clone()),
        }
    }
    if conflicts.is_empty() {
        return Some(Merged::Clean(cur));
    }
    Some(Merged::Conflict(
        mark(&cur, &t, &conflicts, syntax).unwrap_or_else(|| whole(ours, theirs, o.outline.eol)),
    ))
}

fn subtree<'v>(root: &'v Value, steps: &[Step]) -> &'v Value {
    let mut at = root;
    for s in steps {
        at = match (at, s) {
            (Value::Object(m), Step::Key(k)) => m.get(k).unwrap_or(&Value::Null),
            (Value::Array(a), Step::Index(i)) => a.get(*i).unwrap_or(&Value::Null),
            _ => &Value::Null,
        };
    }
    at
}

fn tree_of(text: &str, syntax: Syntax) -> Option<Value> {
    let outline = syntax.format().parse_tree(text).ok()?;
    if outline.docs.len() != 1 || outline.docs[0].sops.is_some() {
        return None;
    }
    Some(tree::of_document(text, &outline.docs[0]))
}

/// One action on the current text, checked against the tree it must give.
fn apply(
    cur: &str,
    t: &Side<'_>,
    action: &Action,
    syntax: Syntax,
    want: &Value,
) -> Option<Zeroizing<String>> {
    let ok =
        |text: Zeroizing<String>| (tree_of(&text, syntax).as_ref() == Some(want)).then_some(text);
    match action {
        Action::Remove(p) => crate::edit::unset(cur, syntax, p).ok().and_then(ok),
        Action::Take(p) => {
            let tn = t.node(p)?;
            if let Some(text) = splice_theirs(cur, t, tn, p, syntax).and_then(ok) {
                return Some(text);
            }
            let value = t.value(tn)?;
            crate::edit::set(cur, syntax, p, &value.0).ok().and_then(ok)
        }
    }
}

/// Theirs's own text for the value at `p` (node `tn` of theirs), put into `cur`: over
/// ours's value, or as a new entry after the sibling it follows in theirs.
fn splice_theirs(
    cur: &str,
    t: &Side<'_>,
    tn: usize,
    p: &[Step],
    syntax: Syntax,
) -> Option<Zeroizing<String>> {
    let c = Side::parse(cur, syntax)?;
    let tnode = &t.doc().nodes[tn];
    if let Some(cn) = c.node(p) {
        let cnode = &c.doc().nodes[cn];
        let same_shape = cnode.kind == tnode.kind
            && cnode.flow == tnode.flow
            && cnode.header.is_none()
            && tnode.header.is_none()
            && (cnode.kind == NodeKind::Scalar
                || cnode.flow
                || column(cur, cnode.entry_start) == column(t.src, tnode.entry_start));
        if !same_shape || cnode.span.is_empty() || tnode.span.is_empty() {
            return None;
        }
        return Some(splice(cur, cnode.span.clone(), &t.src[tnode.span.clone()]));
    }
    // A new entry: whole lines of theirs, in a block mapping or .env file.
    if tnode.flow || !alone_on_lines(t.src, tnode.entry_start, tnode.span.end) {
        return None;
    }
    let (parent_steps, _) = p.split_at(p.len() - 1);
    let tp = t.node(parent_steps)?;
    let cp = c.node(parent_steps)?;
    if c.doc().nodes[cp].flow {
        return None;
    }
    let entry = lines(t.src, tnode.entry_start, tnode.span.end);
    let text = with_eol(&t.src[entry], c.outline.eol);
    let at = anchor(&c, t, tp, cp, tn)?;
    let cnode_col = children(c.doc(), cp)
        .first()
        .map(|&k| column(cur, c.doc().nodes[k].entry_start));
    if cnode_col.is_some_and(|col| col != column(t.src, tnode.entry_start)) {
        return None;
    }
    Some(splice_line(cur, at, &text, c.outline.eol))
}

/// Where in `c` an entry of theirs (node `tn`, child of `tp`; `cp` is the same parent in
/// `c`) goes: the start of the line after the sibling it follows in theirs, else the
/// start of the line of the sibling it precedes.
fn anchor(c: &Side<'_>, t: &Side<'_>, tp: usize, cp: usize, tn: usize) -> Option<usize> {
    let sibs = children(t.doc(), tp);
    let pos = sibs.iter().position(|&s| s == tn)?;
    let cur = c.src;
    for &s in sibs[..pos].iter().rev() {
        if let Some(n) = c.node(&t.doc().nodes[s].steps) {
            let node = &c.doc().nodes[n];
            if !alone_on_lines(cur, node.entry_start, node.span.end) {
                return None;
            }
            return Some(lines(cur, node.entry_start, node.span.end).end);
        }
    }
    for &s in &sibs[pos + 1..] {
        if let Some(n) = c.node(&t.doc().nodes[s].steps) {
            let node = &c.doc().nodes[n];
            if !alone_on_lines(cur, node.entry_start, node.span.end) {
                return None;
            }
            return Some(line_start(cur, node.entry_start));
        }
    }
    let kids = children(c.doc(), cp);
    let last = c.doc().nodes[*kids.last()?].clone();
    Some(lines(cur, last.entry_start, last.span.end).end)
}

/// Conflict markers around the whole lines of each conflicting entry of `cur` (ours with
/// theirs's clean changes), with theirs's lines of the same entry. `None` when entries
/// share lines with others (flow collections): the caller marks the whole file.
fn mark(
    cur: &str,
    t: &Side<'_>,
    conflicts: &[Vec<Step>],
    syntax: Syntax,
) -> Option<Zeroizing<String>> {
    let c = Side::parse(cur, syntax)?;
    let eol = c.outline.eol;
    let mut hunks: Vec<(std::ops::Range<usize>, Zeroizing<String>)> = Vec::new();
    for p in conflicts {
        let theirs_text = match t.node(p) {
            Some(n) => {
                let node = &t.doc().nodes[n];
                if !alone_on_lines(t.src, node.entry_start, node.span.end) {
                    return None;
                }
                with_eol(&t.src[lines(t.src, node.entry_start, node.span.end)], eol)
            }
            None => Zeroizing::new(String::new()),
        };
        let range = match c.node(p) {
            Some(n) => {
                let node = &c.doc().nodes[n];
                if !alone_on_lines(cur, node.entry_start, node.span.end) || p.is_empty() {
                    return None;
                }
                lines(cur, node.entry_start, node.span.end)
            }
            None => {
                let tn = t.node(p)?;
                let parent = &p[..p.len().checked_sub(1)?];
                let at = anchor(&c, t, t.node(parent)?, c.node(parent)?, tn)?;
                at..at
            }
        };
        let mut text = Zeroizing::new(format!("<<<<<<< ours{eol}"));
        text.push_str(&with_eol(&cur[range.clone()], eol));
        text.push_str(&format!("======={eol}"));
        text.push_str(&theirs_text);
        text.push_str(&format!(">>>>>>> theirs{eol}"));
        hunks.push((range, text));
    }
    hunks.sort_by_key(|(r, _)| (r.start, r.end));
    if hunks.windows(2).any(|w| w[0].0.end > w[1].0.start) {
        return None;
    }
    let mut out = Zeroizing::new(String::with_capacity(cur.len() + 256));
    let mut at = 0;
    for (range, text) in &hunks {
        out.push_str(&cur[at..range.start]);
        if range.start > 0 && !out.ends_with('\n') {
            out.push_str(eol);
        }
        out.push_str(text);
        at = range.end;
    }
    out.push_str(&cur[at..]);
    Some(out)
}

/// The whole of both sides between markers.
fn whole(ours: &str, theirs: &str, eol: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(format!("<<<<<<< ours{eol}"));
    out.push_str(&with_eol(ours, eol));
    out.push_str(&format!("======={eol}"));
    out.push_str(&with_eol(theirs, eol));
    out.push_str(&format!(">>>>>>> theirs{eol}"));
    out
}

// ---- text geometry ----

fn splice(src: &str, range: std::ops::Range<usize>, text: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(src.len() + text.len()));
    out.push_str(&src[..range.start]);
    out.push_str(text);
    out.push_str(&src[range.end..]);
    out
}

/// Inserts whole lines `text` at line start `at` (the end of a file without a final
/// line break gets one first).
fn splice_line(src: &str, at: usize, text: &str, eol: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(src.len() + text.len() + 2));
    out.push_str(&src[..at]);
    if at > 0 && !out.ends_with('\n') {
        out.push_str(eol);
        out.push_str(text.strip_suffix(eol).unwrap_or(text));
    } else {
        out.push_str(text);
    }
    out.push_str(&src[at..]);
    out
}

fn with_eol(text: &str, eol: &str) -> Zeroizing<String> {
    let mut s = Zeroizing::new(text.to_string());
    if !s.is_empty() && !s.ends_with('\n') {
        s.push_str(eol);
    }
    s
}

fn line_start(src: &str, at: usize) -> usize {
    src[..at].rfind('\n').map_or(0, |i| i + 1)
}

fn column(src: &str, at: usize) -> usize {
    src[line_start(src, at)..at].chars().count()
}

/// The whole lines from `start`'s through `end`'s, with the line break after them.
fn lines(src: &str, start: usize, end: usize) -> std::ops::Range<usize> {
    let ls = line_start(src, start);
    let le = src[end..].find('\n').map_or(src.len(), |i| end + i + 1);
    ls..le
}

/// Nothing but indentation before `start` on its line, and nothing but a comment after
/// `end` on its line.
fn alone_on_lines(src: &str, start: usize, end: usize) -> bool {
    let before = &src[line_start(src, start)..start];
    let rest = &src[end..];
    let after = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let after = after.trim();
    before.trim_start_matches('\u{feff}').trim().is_empty()
        && (after.is_empty() || after.starts_with('#') || after == ",")
}

#[cfg(test)]
mod tests;
