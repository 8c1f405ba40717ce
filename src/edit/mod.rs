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

pub mod entries;
pub mod external;
pub mod locate;
pub mod path;
pub mod render;
pub mod splice;
pub mod tree;

mod ops;
mod toml;

use std::ops::Range;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::format::{Document, Item, NodeKind, Outline, Scalar, Step, Style, Syntax, SyntaxError};
pub use locate::{Located, children, locate};
pub use path::{PathError, display as display_path, parse as parse_path};
use render::YamlIndent;

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
    if syntax == Syntax::Toml {
        let out = toml::set(src, steps, value)?;
        ed.verify(&out, |t| tree::put(t, steps, expected(value, syntax)))?;
        return Ok(out);
    }
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
    let out = splice_text(src, range, text)?;
    ed.verify(&out, |t| {
        tree::put(t, steps, expected(value, syntax));
    })?;
    Ok(out)
}

/// Removes the value at `steps` (and its key, line or comma) from the plaintext `src`.
pub fn unset(src: &str, syntax: Syntax, steps: &[Step]) -> Result<Zeroizing<String>, EditError> {
    let ed = Editor::new(src, syntax)?;
    if syntax == Syntax::Toml {
        let out = toml::unset(src, steps)?;
        ed.verify(&out, |t| tree::remove(t, steps))?;
        return Ok(out);
    }
    let Located::Found(n) = locate(ed.doc(), steps) else {
        return Err(EditError::NotFound {
            path: display_path(steps),
        });
    };
    let (range, text) = ed.remove(n)?;
    let out = splice_text(src, range, text)?;
    ed.verify(&out, |t| tree::remove(t, steps))?;
    Ok(out)
}

/// `src` with one replacement, through the one splice applier ([`splice::apply`]). A range
/// that is not in `src` would be the editor's bug: refused like an edit that does not
/// verify, never a panic.
fn splice_text(
    src: &str,
    range: Range<usize>,
    text: Zeroizing<String>,
) -> Result<Zeroizing<String>, EditError> {
    let one = splice::Splice { range, text };
    splice::apply(src, vec![one]).map_err(|_| EditError::Verify)
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
}

#[cfg(test)]
mod tests;
