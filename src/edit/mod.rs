//! The format-preserving plaintext editor behind `sealed set` and `sealed unset`, and the
//! editor session behind `sealed edit`.
//!
//! [`set`] and [`unset`] change one value of a decrypted document by splicing its text:
//! only the value's own bytes are replaced; a new key is written with the indentation,
//! quoting and separators of its siblings; a removed entry takes its line (or its comma)
//! with it. Every edit is then checked by parsing the result and comparing its tree with
//! the expected one ([`tree`]): an edit that would disturb any other value is refused
//! rather than written. The engine's [`crate::engine::reencrypt`] then re-encrypts only
//! what changed.
//!
//! Multi-document YAML: paths address the first document, as in SOPS.

pub mod external;
pub mod locate;
pub mod path;
pub mod render;
pub mod tree;

use std::ops::Range;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::engine;
use crate::format::{Document, Item, NodeKind, Outline, Scalar, Step, Style, Syntax, SyntaxError};
pub use locate::{Located, children, locate};
pub use path::{PathError, display as display_path, parse as parse_path};
use render::{JsonLayout, YamlIndent};

/// SOPS's exit codes for the editing verbs (`cmd/sops/codes`).
pub mod exit {
    /// A `set` value that is not valid JSON.
    pub const INVALID_SET_FORMAT: i32 = 7;
    /// A tree path that cannot be read.
    pub const INVALID_TREE_PATH: i32 = 91;
    /// `sealed edit` ended with the file unchanged.
    pub const FILE_NOT_MODIFIED: i32 = 200;
    /// The editor could not be started.
    pub const NO_EDITOR: i32 = 201;
}

/// Why an in-place edit could not be made. No variant carries a value; key names are not
/// secret and may appear.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The path is not valid SOPS path syntax.
    #[error("{0}")]
    Path(#[from] PathError),
    /// The plaintext does not parse.
    #[error("{}", .0.msg)]
    Syntax(SyntaxError),
    /// `unset` of a value that does not exist.
    #[error("no value at {path}")]
    NotFound {
        /// The path, in SOPS syntax.
        path: String,
    },
    /// A step does not fit the value it goes through.
    #[error("cannot use {path}: the value at {at} is {found}, not {expected}")]
    Kind {
        /// The requested path.
        path: String,
        /// The path of the value in the way.
        at: String,
        /// What that value is.
        found: &'static str,
        /// What the step needs.
        expected: &'static str,
    },
    /// Something the syntax cannot hold or sealed will not write.
    #[error("{0}")]
    Unsupported(&'static str),
    /// The edit would have changed more than the value it names.
    #[error("this change cannot be made in place without altering other values; use `sealed edit`")]
    Verify,
}

impl EditError {
    /// SOPS's exit code for the failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            EditError::Path(_) => exit::INVALID_TREE_PATH,
            _ => crate::error::exit::GENERIC,
        }
    }
}

/// Sets the value at `steps` to `value` in the plaintext `src`, creating missing keys (and
/// appending to a sequence for an index past its end, as SOPS does). The result equals
/// `src` when the value is already there.
pub fn set(
    src: &str,
    syntax: Syntax,
    steps: &[Step],
    value: &Value,
) -> Result<Zeroizing<String>, EditError> {
    if let [Step::Key(k), ..] = steps
        && k == "sops"
        && syntax != Syntax::Dotenv
    {
        return Err(EditError::Unsupported(
            "the top-level key sops is reserved for the encryption metadata",
        ));
    }
    let ed = Editor::new(src, syntax)?;
    let splice = match locate(ed.doc(), steps) {
        Located::Found(n) => ed.replace_value(n, value)?,
        Located::Missing { parent, matched } => {
            let node = &ed.doc().nodes[parent];
            let rest = &steps[matched..];
            let inner = nest(&rest[1..], value);
            match (node.kind, &rest[0]) {
                (NodeKind::Map, Step::Key(k)) => ed.insert_member(parent, k, &inner)?,
                (NodeKind::Seq, Step::Index(_)) => ed.append_item(parent, &inner)?,
                (NodeKind::Scalar, _) if ed.is_null(parent) => {
                    ed.replace_value(parent, &nest(rest, value))?
                }
                (kind, step) => {
                    return Err(EditError::Kind {
                        path: display_path(steps),
                        at: display_path(&steps[..matched]),
                        found: kind_name(kind),
                        expected: match step {
                            Step::Key(_) => "a mapping",
                            Step::Index(_) => "a sequence",
                        },
                    });
                }
            }
        }
    };
    let Some((range, text)) = splice else {
        return Ok(Zeroizing::new(src.to_string()));
    };
    let out = splice_text(src, range, &text)?;
    ed.verify(&out, |t| {
        tree::put(t, steps, expected(value, syntax));
    })?;
    Ok(out)
}

/// Removes the value at `steps` (and its key, line or comma) from the plaintext `src`.
pub fn unset(src: &str, syntax: Syntax, steps: &[Step]) -> Result<Zeroizing<String>, EditError> {
    let ed = Editor::new(src, syntax)?;
    let Located::Found(n) = locate(ed.doc(), steps) else {
        return Err(EditError::NotFound {
            path: display_path(steps),
        });
    };
    let (range, text) = ed.remove(n)?;
    let out = splice_text(src, range, &text)?;
    ed.verify(&out, |t| tree::remove(t, steps))?;
    Ok(out)
}

/// `src` with `range` replaced by `text` (the engine's splice applier). A range that is not
/// in `src` would be the editor's bug: refused like an edit that does not verify.
fn splice_text(src: &str, range: Range<usize>, text: &str) -> Result<Zeroizing<String>, EditError> {
    engine::apply_splices(src, &[(range, text)])
        .map(|(out, _)| out)
        .map_err(|_| EditError::Verify)
}

/// `value` wrapped in the collections the remaining steps name.
fn nest(steps: &[Step], value: &Value) -> Value {
    steps.iter().rev().fold(value.clone(), |v, s| match s {
        Step::Key(k) => {
            let mut m = serde_json::Map::new();
            m.insert(k.clone(), v);
            Value::Object(m)
        }
        Step::Index(_) => Value::Array(vec![v]),
    })
}

fn kind_name(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Map => "a mapping",
        NodeKind::Seq => "a sequence",
        NodeKind::Scalar => "a scalar value",
        NodeKind::Alias => "an alias",
    }
}

/// The scalar a syntax reads back for a value `set` writes.
fn expected_scalar(v: &Value, syntax: Syntax) -> Scalar<'_> {
    match syntax {
        Syntax::Dotenv => Scalar::Str(match v {
            Value::String(s) => s.as_str().into(),
            other => render::dotenv(other).unwrap_or_default().into(),
        }),
        _ => render::to_scalar(v).unwrap_or(Scalar::Null),
    }
}

/// The comparable tree of a value `set` writes.
fn expected(v: &Value, syntax: Syntax) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), expected(v, syntax)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| expected(v, syntax)).collect()),
        scalar => tree::scalar(&expected_scalar(scalar, syntax)),
    }
}

/// One replacement: the range and its new text.
type Splice = (Range<usize>, Zeroizing<String>);

/// A parsed plaintext and the helpers that edit it.
struct Editor<'a> {
    src: &'a str,
    syntax: Syntax,
    outline: Outline<'a>,
}

impl<'a> Editor<'a> {
    fn new(src: &'a str, syntax: Syntax) -> Result<Editor<'a>, EditError> {
        let outline = syntax.format().parse_tree(src).map_err(EditError::Syntax)?;
        Ok(Editor {
            src,
            syntax,
            outline,
        })
    }

    fn doc(&self) -> &Document<'_> {
        &self.outline.docs[0]
    }

    fn eol(&self) -> &'static str {
        self.outline.eol
    }

    /// The new text must parse, hold no metadata, and have exactly the old tree with
    /// `change` applied.
    fn verify(&self, out: &str, change: impl FnOnce(&mut Value)) -> Result<(), EditError> {
        let new = self
            .syntax
            .format()
            .parse_tree(out)
            .map_err(|_| EditError::Verify)?;
        if new.docs.iter().any(|d| d.sops.is_some()) {
            return Err(EditError::Unsupported(
                "the top-level key sops is reserved for the encryption metadata",
            ));
        }
        let mut want: Vec<Value> = self
            .outline
            .docs
            .iter()
            .map(|d| tree::of_document(self.src, d))
            .collect();
        change(&mut want[0]);
        let got: Vec<Value> = new.docs.iter().map(|d| tree::of_document(out, d)).collect();
        if got == want {
            Ok(())
        } else {
            Err(EditError::Verify)
        }
    }

    fn leaf_value(&self, n: usize) -> Option<(&Scalar<'_>, &Style)> {
        let node = &self.doc().nodes[n];
        match node.leaf.and_then(|i| self.doc().items.get(i)) {
            Some(Item::Leaf(l)) => Some((&l.value, &l.style)),
            _ => None,
        }
    }

    fn is_null(&self, n: usize) -> bool {
        self.syntax != Syntax::Dotenv && matches!(self.leaf_value(n), Some((Scalar::Null, _)))
    }

    // ---- text geometry ----

    fn line_start(&self, at: usize) -> usize {
        self.src[..at].rfind('\n').map_or(0, |i| i + 1)
    }

    fn line_end(&self, at: usize) -> usize {
        let e = self.src[at..].find('\n').map_or(self.src.len(), |i| at + i);
        if e > at && self.src.as_bytes()[e - 1] == b'\r' {
            e - 1
        } else {
            e
        }
    }

    fn column(&self, at: usize) -> usize {
        let ls = self.line_start(at);
        self.src[ls..at]
            .chars()
            .filter(|&c| c != '\u{feff}')
            .count()
    }

    fn line_indent(&self, at: usize) -> &str {
        let ls = self.line_start(at);
        let line = self.src[ls..at].trim_start_matches('\u{feff}');
        let n = line.len() - line.trim_start_matches([' ', '\t']).len();
        &line[..n]
    }

    fn at_line_start(&self, at: usize) -> bool {
        let ls = self.line_start(at);
        self.src[ls..at]
            .trim_start_matches('\u{feff}')
            .chars()
            .all(|c| c == ' ' || c == '\t')
    }

    /// Just after the indicator of a node's entry: the `:` after its key, the `-` of a
    /// block sequence item; else the value's start.
    fn lead(&self, n: usize) -> usize {
        let node = &self.doc().nodes[n];
        let b = self.src.as_bytes();
        if let Some(k) = &node.key {
            let mut i = k.end;
            while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\r' | b'\n') {
                i += 1;
            }
            if b.get(i) == Some(&b':') {
                return i + 1;
            }
            return k.end;
        }
        if b.get(node.entry_start) == Some(&b'-') && node.entry_start < node.span.start {
            return node.entry_start + 1;
        }
        node.span.start
    }

    /// The whole lines from `start`'s through `end`'s with one line break: the one after
    /// them, or the one before them on the last line of a file without a final one.
    fn lines(&self, start: usize, end: usize) -> Range<usize> {
        let ls = self.line_start(start);
        let le = self.line_end(end);
        let next = self.src[le..].find('\n').map(|i| le + i + 1);
        match next {
            Some(nl) => ls..nl,
            None if ls > 0 => {
                let before = if self.src[..ls].ends_with("\r\n") {
                    2
                } else {
                    1
                };
                ls - before..le
            }
            None => ls..le,
        }
    }

    // ---- YAML layout ----

    /// The indentation steps the document uses for nested block collections.
    fn yaml_indent(&self) -> YamlIndent {
        let (mut unit, mut seq) = (None, None);
        for node in &self.doc().nodes {
            if node.flow
                || node.key.is_none()
                || !matches!(node.kind, NodeKind::Map | NodeKind::Seq)
            {
                continue;
            }
            if self.line_start(node.span.start) == self.line_start(node.entry_start) {
                continue;
            }
            let d = self
                .column(node.span.start)
                .saturating_sub(self.column(node.entry_start));
            match node.kind {
                NodeKind::Map if d > 0 => {
                    unit.get_or_insert(d);
                }
                NodeKind::Seq => {
                    seq.get_or_insert(d);
                }
                _ => {}
            }
            if unit.is_some() && seq.is_some() {
                break;
            }
        }
        let unit = unit.unwrap_or(2);
        YamlIndent {
            unit,
            seq: seq.unwrap_or(unit),
        }
    }

    /// The text after `key:` (or after `-` for an item) for a value whose entry is at
    /// column `col` of a block collection.
    fn yaml_after_indicator(&self, v: &Value, col: usize, item: bool) -> String {
        let eol = self.eol();
        let ind = self.yaml_indent();
        if !render::is_collection(v) {
            let s = render::to_scalar(v).unwrap_or(Scalar::Null);
            return format!(" {}", render::yaml_scalar(&s, false));
        }
        if render::is_empty_collection(v) {
            return format!(" {}", render::yaml_flow(v));
        }
        if item {
            let lines = render::yaml_block(v, col + 2, ind);
            let mut out = String::from(" ");
            for (i, l) in lines.iter().enumerate() {
                if i == 0 {
                    out.push_str(l.trim_start_matches(' '));
                } else {
                    out.push_str(eol);
                    out.push_str(l);
                }
            }
            return out;
        }
        let c = col + if v.is_array() { ind.seq } else { ind.unit };
        let mut out = String::new();
        for l in render::yaml_block(v, c, ind) {
            out.push_str(eol);
            out.push_str(&l);
        }
        out
    }

    /// The new text of a YAML block scalar (from its header indicator) holding `s`.
    fn yaml_block_scalar(&self, n: usize, s: &Scalar) -> Zeroizing<String> {
        let node = &self.doc().nodes[n];
        let header = node
            .header
            .clone()
            .unwrap_or(node.span.start..node.span.start);
        let tail = &self.src[header.end..self.line_end(header.end)];
        let eol = self.eol();
        if let Scalar::Str(text) = s {
            let body = text.trim_end_matches('\n');
            let trailing = text.len() - body.len();
            let fits = body.contains('\n')
                && trailing <= 1
                && !body.starts_with([' ', '\t'])
                && !text
                    .chars()
                    .any(|c| c != '\n' && c != '\t' && (c.is_control() || c == '\u{feff}'));
            if fits {
                let indent = match self.leaf_value(n) {
                    Some((_, Style::Block(b))) => b.indent.clone(),
                    _ => " ".repeat(self.column(node.entry_start) + self.yaml_indent().unit),
                };
                let mut out = Zeroizing::new(String::new());
                out.push_str(if trailing == 0 { "|-" } else { "|" });
                out.push_str(tail);
                for line in body.split('\n') {
                    out.push_str(eol);
                    if !line.is_empty() {
                        out.push_str(&indent);
                        out.push_str(line);
                    }
                }
                return out;
            }
        }
        Zeroizing::new(format!("{}{tail}", render::yaml_scalar(s, false)))
    }

    // ---- operations ----

    /// Replaces the value of node `n` with `v`; `None` when it already holds it.
    fn replace_value(&self, n: usize, v: &Value) -> Result<Option<Splice>, EditError> {
        let doc = self.doc();
        let node = &doc.nodes[n];
        let parent_flow = locate::parent(doc, n).is_some_and(|p| doc.nodes[p].flow);
        let new_scalar = (!render::is_collection(v)).then(|| expected_scalar(v, self.syntax));
        if let (NodeKind::Scalar, Some(s)) = (node.kind, &new_scalar) {
            if self
                .leaf_value(n)
                .is_some_and(|(old, _)| old == s && !(self.syntax == Syntax::Dotenv && v.is_null()))
            {
                return Ok(None);
            }
            let text = match self.syntax {
                Syntax::Dotenv => Zeroizing::new(render::dotenv(v).unwrap_or_default()),
                Syntax::Json => {
                    Zeroizing::new(render::json(v, &JsonLayout::Inline { spaced: true }))
                }
                Syntax::Yaml if node.header.is_some() => self.yaml_block_scalar(n, s),
                Syntax::Yaml => {
                    let style = match self.leaf_value(n) {
                        Some((_, st @ (Style::SingleQuoted | Style::DoubleQuoted))) => st.clone(),
                        _ => Style::Plain,
                    };
                    let t = self.syntax.format().render(&style, parent_flow, s);
                    Zeroizing::new(if node.span.is_empty() {
                        format!(" {t}")
                    } else {
                        t
                    })
                }
            };
            return Ok(Some((node.span.clone(), text)));
        }
        let text = match self.syntax {
            Syntax::Dotenv => {
                return Err(EditError::Unsupported(
                    "a .env file holds only text values under top-level keys",
                ));
            }
            Syntax::Json => {
                let p = locate::parent(doc, n).unwrap_or(0);
                let ptext = &self.src[doc.nodes[p].span.clone()];
                let layout = if ptext.contains('\n') {
                    JsonLayout::Pretty {
                        indent: self.line_indent(node.entry_start).to_string(),
                        unit: self.json_unit(),
                        eol: self.eol(),
                    }
                } else {
                    JsonLayout::Inline {
                        spaced: ptext.contains(", ") || ptext.contains(": "),
                    }
                };
                render::json(v, &layout)
            }
            Syntax::Yaml if parent_flow || (node.flow && node.kind != NodeKind::Scalar) => {
                render::yaml_flow(v)
            }
            Syntax::Yaml => {
                let from = self.lead(n);
                let text =
                    self.yaml_after_indicator(v, self.column(node.entry_start), node.key.is_none());
                return Ok(Some((from..node.span.end.max(from), Zeroizing::new(text))));
            }
        };
        Ok(Some((node.span.clone(), Zeroizing::new(text))))
    }

    fn json_unit(&self) -> String {
        match self.doc().indent_unit.as_str() {
            "" => "  ".to_string(),
            u => u.to_string(),
        }
    }

    /// The separator between the members of flow collection `p` (which has members).
    fn flow_sep(&self, p: usize, kids: &[usize]) -> String {
        let nodes = &self.doc().nodes;
        if let [.., a, b] = kids {
            let s = &self.src[nodes[*a].span.end..nodes[*b].entry_start.max(nodes[*a].span.end)];
            if s.trim() == "," {
                return s.to_string();
            }
        }
        let open = nodes[p].span.start + 1;
        let first = nodes[kids[0]].entry_start.max(open);
        let lead = &self.src[open..first];
        let spaced = || {
            let last = &nodes[kids[kids.len() - 1]];
            self.syntax == Syntax::Yaml
                || last
                    .key
                    .as_ref()
                    .is_some_and(|k| self.src[k.end..last.span.start.max(k.end)].contains(' '))
        };
        if lead.is_empty() && !spaced() {
            ",".to_string()
        } else if lead.trim().is_empty() && !lead.is_empty() {
            format!(",{lead}")
        } else {
            ", ".to_string()
        }
    }

    /// The text of a member or item `entry` added to the empty flow collection `p`.
    fn fill_empty_flow(&self, p: usize, entry: impl Fn(&JsonLayout) -> String) -> Splice {
        let node = &self.doc().nodes[p];
        let inner = node.span.start + 1..node.span.end.saturating_sub(1).max(node.span.start + 1);
        let pretty = self.syntax == Syntax::Json && !self.doc().indent_unit.is_empty();
        let text = if pretty {
            let indent = self.line_indent(node.span.start).to_string();
            let unit = self.json_unit();
            let eol = self.eol();
            let layout = JsonLayout::Pretty {
                indent: format!("{indent}{unit}"),
                unit,
                eol,
            };
            format!(
                "{eol}{indent}{}{}{eol}{indent}",
                self.json_unit(),
                entry(&layout)
            )
        } else {
            entry(&JsonLayout::Inline {
                spaced: self.syntax == Syntax::Yaml,
            })
        };
        (inner, Zeroizing::new(text))
    }

    /// Adds `key: v` at the end of mapping `p`.
    fn insert_member(&self, p: usize, key: &str, v: &Value) -> Result<Option<Splice>, EditError> {
        let doc = self.doc();
        let nodes = &doc.nodes;
        let kids = children(doc, p);
        let eol = self.eol();
        if self.syntax == Syntax::Dotenv {
            let raw = render::dotenv(v).ok_or(EditError::Unsupported(
                "a .env file holds only text values under top-level keys",
            ))?;
            if key.trim().is_empty()
                || key.contains(['=', '\n', '\r'])
                || key.trim_start().starts_with('#')
                || key.starts_with("sops_")
            {
                return Err(EditError::Unsupported(
                    "a .env key must be non-empty, without '=' or line breaks, not start with '#' or sops_",
                ));
            }
            let at = match doc.insertion {
                crate::format::Insertion::Block { at } => at,
                crate::format::Insertion::Flow { at, .. } => at,
            };
            return Ok(Some((at..at, Zeroizing::new(format!("{eol}{key}={raw}")))));
        }
        let like = kids
            .first()
            .and_then(|&k| nodes[k].key.clone())
            .map(|r| &self.src[r]);
        let pnode = &nodes[p];
        if pnode.flow {
            let key_text = match self.syntax {
                Syntax::Json => render::json_string(key),
                _ => render::yaml_key(key, true, like),
            };
            let value_text = |layout: &JsonLayout| match self.syntax {
                Syntax::Json => render::json(v, layout),
                _ => render::yaml_flow(v),
            };
            let Some(&last) = kids.last() else {
                let colon = if self.syntax == Syntax::Json && self.doc().indent_unit.is_empty() {
                    ":"
                } else {
                    ": "
                };
                return Ok(Some(self.fill_empty_flow(p, |l| {
                    format!("{key_text}{colon}{}", value_text(l))
                })));
            };
            let ln = &nodes[last];
            let sep = self.flow_sep(p, &kids);
            let colon = match &ln.key {
                Some(k) if ln.span.start >= k.end => {
                    let s = &self.src[k.end..ln.span.start];
                    if s.trim() == ":" && !s.contains('\n') {
                        s.to_string()
                    } else {
                        ": ".to_string()
                    }
                }
                _ => ": ".to_string(),
            };
            let layout = if self.src[pnode.span.clone()].contains('\n') {
                JsonLayout::Pretty {
                    indent: self.line_indent(ln.entry_start).to_string(),
                    unit: self.json_unit(),
                    eol,
                }
            } else {
                JsonLayout::Inline {
                    spaced: sep.contains(' '),
                }
            };
            let at = ln.span.end;
            let text = format!("{sep}{key_text}{colon}{}", value_text(&layout));
            return Ok(Some((at..at, Zeroizing::new(text))));
        }
        // A YAML block mapping: a new line after the last entry, at its members' column.
        let (Some(&first), Some(&last)) = (kids.first(), kids.last()) else {
            return Err(EditError::Verify);
        };
        let col = self.column(nodes[first].entry_start);
        let at = self.line_end(nodes[last].span.end);
        let text = format!(
            "{eol}{}{}:{}",
            " ".repeat(col),
            render::yaml_key(key, false, like),
            self.yaml_after_indicator(v, col, false)
        );
        Ok(Some((at..at, Zeroizing::new(text))))
    }

    /// Appends `v` to sequence `p`.
    fn append_item(&self, p: usize, v: &Value) -> Result<Option<Splice>, EditError> {
        let doc = self.doc();
        let nodes = &doc.nodes;
        let kids = children(doc, p);
        let pnode = &nodes[p];
        let value_text = |layout: &JsonLayout| match self.syntax {
            Syntax::Json => render::json(v, layout),
            _ => render::yaml_flow(v),
        };
        if pnode.flow {
            let Some(&last) = kids.last() else {
                return Ok(Some(self.fill_empty_flow(p, value_text)));
            };
            let ln = &nodes[last];
            let sep = self.flow_sep(p, &kids);
            let layout = if self.src[pnode.span.clone()].contains('\n') {
                JsonLayout::Pretty {
                    indent: self.line_indent(ln.entry_start).to_string(),
                    unit: self.json_unit(),
                    eol: self.eol(),
                }
            } else {
                JsonLayout::Inline {
                    spaced: sep.contains(' '),
                }
            };
            let at = ln.span.end;
            return Ok(Some((
                at..at,
                Zeroizing::new(format!("{sep}{}", value_text(&layout))),
            )));
        }
        let Some(&last) = kids.last() else {
            return Err(EditError::Verify);
        };
        let col = self.column(nodes[last].entry_start);
        let at = self.line_end(nodes[last].span.end);
        let text = format!(
            "{}{}-{}",
            self.eol(),
            " ".repeat(col),
            self.yaml_after_indicator(v, col, true)
        );
        Ok(Some((at..at, Zeroizing::new(text))))
    }

    /// Removes node `n` with its key, line or separator.
    fn remove(&self, n: usize) -> Result<Splice, EditError> {
        let doc = self.doc();
        let nodes = &doc.nodes;
        let empty = || Zeroizing::new(String::new());
        let Some(p) = locate::parent(doc, n) else {
            return Err(EditError::Unsupported("cannot remove the whole document"));
        };
        let kids = children(doc, p);
        let pos = kids.iter().position(|&k| k == n).unwrap_or(0);
        let node = &nodes[n];
        let pnode = &nodes[p];
        if self.syntax == Syntax::Dotenv {
            if kids.len() == 1 {
                return Err(EditError::Unsupported(
                    "cannot remove the only entry of a .env file",
                ));
            }
            return Ok((self.lines(node.entry_start, node.span.end), empty()));
        }
        if pnode.flow {
            let range = if kids.len() == 1 {
                pnode.span.start + 1..pnode.span.end.saturating_sub(1)
            } else if pos + 1 < kids.len() {
                node.entry_start..nodes[kids[pos + 1]].entry_start
            } else {
                nodes[kids[pos - 1]].span.end..node.span.end
            };
            return Ok((range, empty()));
        }
        if kids.len() == 1 {
            let text = if pnode.kind == NodeKind::Seq {
                "[]"
            } else {
                "{}"
            };
            if pnode.steps.is_empty() {
                return Ok((pnode.span.clone(), Zeroizing::new(text.to_string())));
            }
            let from = self.lead(p);
            return Ok((
                from..pnode.span.end.max(from),
                Zeroizing::new(format!(" {text}")),
            ));
        }
        if !self.at_line_start(node.entry_start) && pos == 0 {
            return Ok((node.entry_start..nodes[kids[1]].entry_start, empty()));
        }
        Ok((self.lines(node.entry_start, node.span.end), empty()))
    }
}

#[cfg(test)]
mod tests;
