//! TOML (1.0 and 1.1) as an [`Outline`].
//!
//! The reader is `toml_edit`'s parser (the one `cargo` uses): it validates the whole
//! document (duplicate keys, redefined tables, every string and datetime kind) and keeps
//! the byte span of every key and value. This module walks its tree and gives each scalar
//! as a leaf, in document order (byte order: a table may be reopened with dotted keys, so
//! the tree's order is not the file's); arrays and inline tables are collections like
//! YAML's flow collections. Comments are found by [`comments`], a scanner that skips
//! strings. Error messages are `toml_edit`'s fixed descriptions with a byte offset, never
//! source text.
//!
//! The metadata is sealed's own layout (sops has no TOML store): a `[sops]` table at the
//! end of the file ([`meta`]), documented in docs/format-preservation.md.

use super::*;

mod comments;
pub mod data;
mod meta;

use toml_edit::{Item as TItem, Table, Value as TValue};

/// The TOML syntax.
pub struct Toml;

impl Format for Toml {
    fn parse_detail<'s>(&self, src: &'s str, detail: Detail) -> Result<Outline<'s>, SyntaxError> {
        parse(src, detail)
    }

    fn layout_required(&self) -> bool {
        // sops has no TOML store: every TOML file with metadata is sealed's, and sealed
        // writes the layout digest (docs/security.md).
        true
    }

    fn load_tree(&self, src: &str) -> Result<tree::Node, tree::DataError> {
        data::load(src)
    }

    fn token_affixes<'l>(&self, _leaf: &'l Leaf<'_>) -> (&'l str, &'static str, Style) {
        // A token holds only base64 and ASCII punctuation: a basic string needs no escape.
        ("\"", "\"", Style::TomlString)
    }

    fn render(&self, _style: &Style, _in_flow: bool, value: &Scalar) -> String {
        match value {
            // TOML has no null; a null never comes from a TOML leaf.
            Scalar::Null => "\"\"".to_string(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => render_float(*f),
            Scalar::Str(s) => basic_string(s),
            Scalar::Time(t) => t.to_string(),
        }
    }

    fn metadata_text(&self, meta: &serde_json::Value, outline: &Outline, _: &Document) -> String {
        meta::text(meta, outline.eol)
    }
}

/// A float as TOML writes it: `inf`, `-inf`, `nan`, else Rust's shortest round-trip
/// spelling, which always has a `.` or an exponent (`1.0`, `1e100`).
fn render_float(f: f64) -> String {
    if f.is_nan() {
        "nan".to_string()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.to_string()
    } else {
        format!("{f:?}")
    }
}

/// `s` as a TOML basic string: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, and `\u00XX` for
/// the other control characters and DEL (which TOML forbids in a basic string).
pub fn basic_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_basic_string(s, &mut out);
    out
}

/// Appends `s` as a TOML basic string ([`basic_string`]).
pub fn push_basic_string(s: &str, out: &mut String) {
    super::quote::push_double_quoted(s, out, |c, out| {
        if (c as u32) >= 0x20 && c != '\u{7f}' {
            return false;
        }
        out.push_str(&format!("\\u{:04X}", c as u32));
        true
    });
}

/// A TOML key as written in sealed's output: bare when it can be, else a basic string.
pub fn key_text(k: &str) -> String {
    let bare = !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare { k.to_string() } else { basic_string(k) }
}

/// Parses the document with `toml_edit` (errors: its description and offset).
fn parse_doc(src: &str) -> Result<toml_edit::Document<&str>, SyntaxError> {
    let base = bom_len(src);
    if bom_len(&src[base..]) > 0 {
        return Err(SyntaxError::new(
            base,
            "a byte order mark may only start the file",
        ));
    }
    toml_edit::Document::parse(&src[base..]).map_err(|e| {
        let offset = base + e.span().map_or(0, |s| s.start);
        SyntaxError::new(offset, describe(e.message()))
    })
}

/// `toml_edit`'s message without the source text it may quote (between backticks) and
/// without its list of expected tokens.
fn describe(msg: &str) -> String {
    let first = msg.trim().lines().next().unwrap_or("");
    // What follows is the list of tokens the grammar expected: noise on one line.
    let first = first.split(", expected").next().unwrap_or(first);
    let mut out = String::new();
    for (i, part) in first.split('`').enumerate() {
        // A quoted grammar token (one punctuation character: `_`, `=`) is kept; anything
        // longer might be source text.
        let token = part.len() == 1 && part.bytes().all(|b| b.is_ascii_punctuation());
        if i % 2 == 0 {
            out.push_str(part);
        } else if token {
            out.push('`');
            out.push_str(part);
            out.push('`');
        } else {
            out.push('…');
        }
    }
    let line = out.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        "invalid TOML".to_string()
    } else {
        format!("invalid TOML: {line}")
    }
}

/// One value found by the walk (before sorting into byte order).
struct Found<'s> {
    /// Its index in walk order (what a node's `leaf` holds until the items are sorted).
    orig: usize,
    /// The top-level-of-its-table key/value pair it belongs to (its entry).
    entry: usize,
    leaf: Leaf<'s>,
}

/// The walk over `toml_edit`'s tree.
struct Walk<'s> {
    src: &'s str,
    base: usize,
    found: Vec<Found<'s>>,
    nodes: Vec<Node>,
    entry: usize,
    tree: bool,
}

fn parse(src: &str, detail: Detail) -> Result<Outline<'_>, SyntaxError> {
    let doc = parse_doc(src)?;
    let base = bom_len(src);
    let tree = detail == Detail::Tree;
    let mut walk = Walk {
        src,
        base,
        found: Vec::new(),
        nodes: Vec::new(),
        entry: 0,
        tree,
    };
    let root = doc.as_table();
    if tree {
        walk.nodes.push(Node {
            steps: Vec::new(),
            kind: NodeKind::Map,
            span: base..src.len(),
            entry_start: base,
            key: None,
            flow: false,
            header: None,
            leaf: None,
        });
    }
    let mut sops = None;
    for (k, item) in root.iter() {
        if k == "sops" {
            sops = Some(meta::entry(src, base, root, item)?);
            continue;
        }
        walk.item(root, k, item, &KeyPath::root(), &[])?;
    }
    let meta_start = sops
        .as_ref()
        .map_or(src.len(), |s: &SopsEntry| s.removal.start);
    if let Some(f) = walk.found.iter().find(|f| f.leaf.span.start >= meta_start) {
        return Err(SyntaxError::new(
            f.leaf.span.start,
            "the [sops] metadata table must be the last table of the file",
        ));
    }
    walk.found.sort_by_key(|f| f.leaf.span.start);
    let comments = comments::comments(src, base);
    let mut items = ItemList::new(detail, walk.found.len() * 2 + comments.len());
    let mut cs = comments
        .into_iter()
        .filter(|c| c.start < meta_start)
        .peekable();
    let mut leaf_index = vec![0; walk.found.len()];
    let mut found = walk.found.into_iter().peekable();
    while let Some(f) = found.next() {
        while let Some(c) = cs.next_if(|c| c.start < f.leaf.span.start) {
            items.push(Item::Comment(comment(c)));
        }
        leaf_index[f.orig] = items.len();
        let entry = f.entry;
        items.push(Item::Leaf(f.leaf));
        if found.peek().is_none_or(|next| next.entry != entry) {
            items.push(Item::EntryEnd(0));
        }
    }
    for c in cs {
        items.push(Item::Comment(comment(c)));
    }
    let mut nodes = walk.nodes;
    for node in &mut nodes {
        if let Some(l) = node.leaf.as_mut() {
            *l = leaf_index[*l];
        }
    }
    let insertion = Insertion::Block {
        at: content_end(src),
    };
    Ok(Outline {
        docs: vec![Document {
            items: items.into_vec(),
            nodes,
            sops,
            insertion,
            indent_unit: "  ".to_string(),
            member_indent: String::new(),
        }],
        eol: detect_eol(src),
        aliases: 0,
        loose: None,
    })
}

/// A comment item (sealed's TOML comments all apply at the top level, as in .env).
fn comment(span: Range<usize>) -> Comment {
    Comment {
        path: KeyPath::root(),
        span,
        depth: 0,
    }
}

/// The end of the document's content before its final line break.
pub(super) fn content_end(src: &str) -> usize {
    if let Some(s) = src.strip_suffix("\r\n") {
        s.len()
    } else if let Some(s) = src.strip_suffix('\n') {
        s.len()
    } else {
        src.len()
    }
}

impl<'s> Walk<'s> {
    fn span(&self, r: Option<Range<usize>>) -> Result<Range<usize>, SyntaxError> {
        let r = r.ok_or_else(|| SyntaxError::new(self.base, "internal error: no span"))?;
        Ok(self.base + r.start..self.base + r.end)
    }

    /// The entry `k` = `item` of `table`.
    fn item(
        &mut self,
        table: &Table,
        k: &str,
        item: &TItem,
        path: &KeyPath,
        steps: &[Step],
    ) -> Result<(), SyntaxError> {
        let path = path.child(k);
        let mut steps = steps.to_vec();
        steps.push(Step::Key(k.to_string()));
        let key = table
            .key(k)
            .and_then(|k| k.span())
            .map(|r| self.base + r.start..self.base + r.end);
        match item {
            TItem::None => Ok(()),
            TItem::Value(v) => {
                self.entry += 1;
                self.value(v, &path, steps, key, false)
            }
            TItem::Table(t) => self.table(t, &path, steps, key),
            TItem::ArrayOfTables(a) => {
                if self.tree {
                    let span = self.span(a.span()).unwrap_or(0..0);
                    self.node(steps.clone(), NodeKind::Seq, span, key, false, None);
                }
                for (i, t) in a.iter().enumerate() {
                    let mut s = steps.clone();
                    s.push(Step::Index(i));
                    self.table(t, &path, s, None)?;
                }
                Ok(())
            }
        }
    }

    fn table(
        &mut self,
        t: &Table,
        path: &KeyPath,
        steps: Vec<Step>,
        key: Option<Range<usize>>,
    ) -> Result<(), SyntaxError> {
        if self.tree {
            let span = t
                .span()
                .map_or(0..0, |r| self.base + r.start..self.base + r.end);
            self.node(steps.clone(), NodeKind::Map, span, key, false, None);
        }
        for (k, item) in t.iter() {
            self.item(t, k, item, path, &steps)?;
        }
        Ok(())
    }

    fn node(
        &mut self,
        steps: Vec<Step>,
        kind: NodeKind,
        span: Range<usize>,
        key: Option<Range<usize>>,
        flow: bool,
        leaf: Option<usize>,
    ) {
        let entry_start = key.as_ref().map_or(span.start, |k| k.start);
        self.nodes.push(Node {
            steps,
            kind,
            span,
            entry_start,
            key,
            flow,
            header: None,
            leaf,
        });
    }

    fn value(
        &mut self,
        v: &TValue,
        path: &KeyPath,
        steps: Vec<Step>,
        key: Option<Range<usize>>,
        in_flow: bool,
    ) -> Result<(), SyntaxError> {
        let span = self.span(v.span())?;
        let (value, style) = match v {
            TValue::Array(a) => {
                if self.tree {
                    self.node(steps.clone(), NodeKind::Seq, span, key, true, None);
                }
                for (i, x) in a.iter().enumerate() {
                    let mut s = steps.clone();
                    s.push(Step::Index(i));
                    self.value(x, path, s, None, true)?;
                }
                return Ok(());
            }
            TValue::InlineTable(t) => {
                if self.tree {
                    self.node(steps.clone(), NodeKind::Map, span, key, true, None);
                }
                for (k, x) in t.iter() {
                    let mut s = steps.clone();
                    s.push(Step::Key(k.to_string()));
                    let kspan = t.key(k).and_then(|k| k.span());
                    let kspan = kspan.map(|r| self.base + r.start..self.base + r.end);
                    self.value(x, &path.child(k), s, kspan, true)?;
                }
                return Ok(());
            }
            TValue::String(s) => (self.string(&span, s.value()), Style::TomlString),
            TValue::Integer(i) => (Scalar::Int(*i.value()), Style::TomlBare),
            TValue::Float(f) => (Scalar::Float(*f.value()), Style::TomlBare),
            TValue::Boolean(b) => (Scalar::Bool(*b.value()), Style::TomlBare),
            TValue::Datetime(d) => (
                Scalar::Time(Cow::Owned(d.value().to_string())),
                Style::TomlBare,
            ),
        };
        if self.tree {
            let leaf = self.found.len();
            self.node(
                steps,
                NodeKind::Scalar,
                span.clone(),
                key,
                in_flow,
                Some(leaf),
            );
        }
        self.found.push(Found {
            orig: self.found.len(),
            entry: self.entry,
            leaf: Leaf {
                path: path.clone(),
                span,
                value,
                style,
                in_flow,
                depth: 0,
                comment_item: None,
            },
        });
        Ok(())
    }

    /// A string value, borrowed from the source when it is written there as is.
    fn string(&self, span: &Range<usize>, value: &str) -> Scalar<'s> {
        let raw = &self.src[span.clone()];
        let inner = &raw[1.min(raw.len())..raw.len().saturating_sub(1)];
        let plain = (raw.starts_with('"') && !raw.starts_with("\"\"\"") && !inner.contains('\\'))
            || (raw.starts_with('\'') && !raw.starts_with("'''"));
        if plain && inner == value {
            Scalar::Str(Cow::Borrowed(inner))
        } else {
            Scalar::Str(Cow::Owned(value.to_string()))
        }
    }
}

#[cfg(test)]
mod tests;
